/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "进程PID号" (process ids): the pids of a child and its parent,
 * is_alive, and terminate. terminate() asks the OS to end the child; join()
 * then waits until it has, so is_alive() is false right after.
 *
 * Output: the child's name, PID and PPID (its parent's pid, the same as
 * the parent's "main---PID"), "alive: True" while it runs, "alive: False"
 * after terminate and join, its exit code -15 (ended by SIGTERM, -N for
 * signal N as in Python; on Windows the terminate code), and the parent's
 * own PID and PPID. */
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

static int func(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  printf("func---name: %s\n", mproc_current_process_name());
  printf("func---PID: %lld\n", (long long)mproc_getpid());
  printf("func---PPID: %lld\n", (long long)mproc_getppid());
  fflush(stdout);
  sleep_ms(10000);
  return 0;
}
MPROC_TARGET(func);

int main(int argc, char **argv) {
  mproc_process_t *p;
  int alive = 0, code = 0;
  mproc_init(&argc, &argv);
  if (mproc_process_create(&p, func, NULL, 0, NULL) != 0 ||
      mproc_process_start(p) != 0)
    return 1;
  mproc_process_is_alive(p, &alive);
  printf("alive: %s\n", alive ? "True" : "False");
  fflush(stdout);
  sleep_ms(300); /* let the child print before it is terminated */
  mproc_process_terminate(p);
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_is_alive(p, &alive);
  mproc_process_exitcode(p, &code);
  printf("alive: %s\n", alive ? "True" : "False");
  printf("child PID: %lld exitcode: %d\n", (long long)mproc_process_pid(p),
         code);
  printf("main---PID: %lld\n", (long long)mproc_getpid());
  printf("main---PPID: %lld\n", (long long)mproc_getppid());
  mproc_process_free(p);
  return 0;
}
