/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "守护进程" (daemon processes: they live and die with their
 * parent). The flag must be set before start, as Python asserts.
 *
 * Output: "daemon after start: wrong lifecycle state" (setting the flag
 * after start is refused); "Lin 存活" (Lin is alive) and two seconds later
 * "Lin 死亡" (Lin dies), since the parent joins that child; "main"; then
 * "Jon 存活" and "main exits": the parent does not join Jon and returns, so
 * Jon is ended with it and never prints "Jon 死亡". */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

static int func(const void *arg, size_t size) {
  printf("%.*s 存活\n", (int)size, (const char *)arg);
  fflush(stdout);
  sleep_ms(2000);
  printf("%.*s 死亡\n", (int)size, (const char *)arg);
  return 0;
}
MPROC_TARGET(func);

int main(int argc, char **argv) {
  mproc_process_t *p, *q;
  mproc_process_options_t daemon = {0};
  int r;
  mproc_init(&argc, &argv);

  /* Joined: the daemon runs to its end. */
  if (mproc_process_create(&p, func, "Lin", 3, NULL) != 0)
    return 1;
  mproc_process_set_daemon(p, 1); /* must come before start */
  if (mproc_process_start(p) != 0)
    return 1;
  r = mproc_process_set_daemon(p, 1);
  printf("daemon after start: %s\n", mproc_strerror(r));
  fflush(stdout);
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);
  printf("main\n");
  fflush(stdout);

  /* Not joined: the daemon is terminated when main returns, so "Jon 死亡"
   * is never printed. */
  daemon.daemon = 1;
  if (mproc_process_create(&q, func, "Jon", 3, &daemon) != 0 ||
      mproc_process_start(q) != 0)
    return 1;
  sleep_ms(300);
  printf("main exits\n");
  return 0;
}
