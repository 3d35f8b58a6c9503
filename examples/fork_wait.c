/* SPDX-License-Identifier: MIT */
/* Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "fork使用" (using fork): parent and child run side by side; each
 * prints its own line and both finish. With mproc the child is a Process
 * whose target is the tutorial's `pid == 0` branch.
 *
 * Output: "The new process" and "Fork test over" from the child, then
 * "The old process" and "Fork test over" from the parent. */
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

static int child(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  sleep_ms(3000);
  printf("The new process\n");
  printf("Fork test over\n");
  return 0;
}

int main(int argc, char **argv) {
  mproc_process_t *p;
  int r;
  mproc_init(&argc, &argv);
  r = mproc_process_create(&p, child, NULL, 0, NULL);
  if (r == 0)
    r = mproc_process_start(p);
  if (r != 0) {
    printf("Create process failed: %s\n", mproc_strerror(r));
    return 1;
  }
  sleep_ms(4000);
  printf("The old process\n");
  printf("Fork test over\n");
  return 0;
}
