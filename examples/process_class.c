/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "创建进程方法二" (way two: a subclass of Process), and
 * Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "自定义进程类" (a custom process class). Python subclasses Process
 * and overrides run(); in C the object is a struct carried in the argument
 * bytes, and run() is the target that receives it.
 *
 * Output: "main" from the parent, "hkw", "1", "2" from the first child; then
 * the second child (value 2) prints its two steps twice: "第一步" (step one)
 * and "第二步" (step two), the tutorial's own strings. */
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

/* Tutorial 1's MyProcess: no state of its own. */
static int my_process_run(const void *self, size_t size) {
  (void)self;
  (void)size;
  printf("hkw\n");
  fflush(stdout);
  sleep_ms(1000);
  printf("1\n");
  fflush(stdout);
  sleep_ms(1000);
  printf("2\n");
  return 0;
}
MPROC_TARGET(my_process_run);

/* Tutorial 2's MyProcess(value): state set in the constructor, and methods
 * that run() calls. */
typedef struct {
  int value;
} my_process_t;

static void fun1(const my_process_t *self) {
  (void)self;
  sleep_ms(1000);
  printf("第一步\n");
  fflush(stdout);
}

static void fun2(const my_process_t *self) {
  (void)self;
  sleep_ms(800);
  printf("第二步\n");
  fflush(stdout);
}

static int my_value_process_run(const void *arg, size_t size) {
  const my_process_t *self = arg;
  int i;
  if (size != sizeof *self)
    return 2;
  for (i = 0; i < self->value; i++) {
    fun1(self);
    fun2(self);
  }
  return 0;
}
MPROC_TARGET(my_value_process_run);

int main(int argc, char **argv) {
  mproc_process_t *p;
  my_process_t two = {2};
  int r;
  mproc_init(&argc, &argv);

  r = mproc_process_create(&p, my_process_run, NULL, 0, NULL);
  if (r == 0)
    r = mproc_process_start(p);
  if (r != 0)
    return fprintf(stderr, "%s\n", mproc_strerror(r)), 1;
  printf("main\n");
  fflush(stdout);
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);

  r = mproc_process_create(&p, my_value_process_run, &two, sizeof two, NULL);
  if (r == 0)
    r = mproc_process_start(p);
  if (r != 0)
    return fprintf(stderr, "%s\n", mproc_strerror(r)), 1;
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);
  return 0;
}
