/* SPDX-License-Identifier: MIT */
/* Seed 000 "创建进程方法二" and seed 002 "自定义进程类": Python subclasses
 * Process and overrides run(). In C the object is a struct carried in the
 * argument bytes, and run() is the target that receives it. */
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

/* Seed 000's MyProcess: no state of its own. */
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

/* Seed 002's MyProcess(value): state set in the constructor, and methods
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
