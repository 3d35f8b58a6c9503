/* SPDX-License-Identifier: MIT */
/* Seed 000 "进程间相互隔离" and seed 002 "Process创建多进程": a child has
 * memory of its own (a copy of the parent's under fork, a fresh start of the
 * program under spawn); what it changes, the parent never sees. */
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
