/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "进程间相互隔离" (processes are isolated from each other), and
 * Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "Process创建多进程" (creating processes with Process). A child has
 * memory of its own (a copy of the parent's under fork, a fresh start of the
 * program under spawn); what it changes, the parent never sees.
 *
 * Output: "func lin" (the child changed its name) then "main jon" (the
 * parent's is unchanged); then the tutorial's strings "开始一个进程"
 * (a process starts), "a =  1", "子进程函数" (the child's function), and
 * from the parent "父进程那点事" (the parent's business) and "a: 1": the
 * child's a = 10000 never reached the parent. */
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

static const char *name = "jon";
static int a = 1;

static int func(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  name = "lin";
  printf("func %s\n", name);
  return 0;
}
MPROC_TARGET(func);

static int fun(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  printf("开始一个进程\n");
  fflush(stdout);
  sleep_ms(2000);
  printf("a =  %d\n", a);
  a = 10000;
  printf("子进程函数\n");
  return 0;
}
MPROC_TARGET(fun);

int main(int argc, char **argv) {
  mproc_process_t *p;
  mproc_init(&argc, &argv);

  if (mproc_process_create(&p, func, NULL, 0, NULL) != 0 ||
      mproc_process_start(p) != 0)
    return 1;
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);
  printf("main %s\n", name);
  fflush(stdout);

  if (mproc_process_create(&p, fun, NULL, 0, NULL) != 0 ||
      mproc_process_start(p) != 0)
    return 1;
  sleep_ms(3000);
  printf("父进程那点事\n");
  fflush(stdout);
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);
  printf("a: %d\n", a);
  return 0;
}
