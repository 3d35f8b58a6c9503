/* SPDX-License-Identifier: MIT */
/* Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "模拟僵尸进程产生" (making a zombie, and avoiding it by ignoring
 * SIGCHLD): the parent ignores SIGCHLD so the kernel reaps its children
 * itself and none stays a zombie. mproc keeps working: join returns when the
 * child ends (Python's would fail), and the exit code still arrives, because
 * the child reports it on its own.
 *
 * Output: "Child PID: N" from the child, then "join: success, exit code 2"
 * from the parent (the tutorial's child calls sys.exit(2)). */
#include <signal.h>
#include <stdio.h>

#include "mproc.h"
#include "portable.h"

static int child(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  sleep_ms(4000);
  printf("Child PID: %lld\n", (long long)mproc_getpid());
  return 2; /* the tutorial's sys.exit(2) */
}

int main(int argc, char **argv) {
  mproc_process_t *p;
  int code = 0, r;
  mproc_init(&argc, &argv);
  signal(SIGCHLD, SIG_IGN);

  r = mproc_process_create(&p, child, NULL, 0, NULL);
  if (r == 0)
    r = mproc_process_start(p);
  if (r != 0)
    return 1;
  /* The tutorial spins forever here; we wait for the child instead. */
  r = mproc_process_join(p, 10000);
  mproc_process_exitcode(p, &code);
  printf("join: %s, exit code %d\n", mproc_strerror(r), code);
  mproc_process_free(p);
  return 0;
}
