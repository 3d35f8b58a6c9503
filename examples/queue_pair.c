/* SPDX-License-Identifier: MIT */
/* Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "进程间通讯" (communication between processes): a Queue between
 * two processes. `request` puts six random pairs with short pauses; `handle`
 * takes them with a timeout and prints each sum, and stops at the first get
 * that times out, printing the error as the tutorial prints its exception.
 *
 * The tutorial pauses 1-16 s between puts and waits 8 s per get; here the
 * pauses are 10-100 ms and the wait 800 ms, so every pair arrives and the
 * program ends in about a second.
 *
 * Output: six lines "x+y=sum", then "queue empty" (the timed-out get). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

typedef struct pair {
  int x, y;
} pair_t;

static int randint(int lo, int hi) { return lo + rand() % (hi - lo + 1); }

static int handle(const void *arg, size_t size) {
  mproc_queue_t q;
  if (size != sizeof q)
    return 2;
  memcpy(&q, arg, sizeof q);
  for (;;) {
    pair_t p;
    size_t got;
    int rc = mproc_queue_get_into(&q, &p, sizeof p, &got, 800);
    if (rc != 0) {
      printf("%s\n", mproc_strerror(rc));
      break;
    }
    printf("%d+%d=%d\n", p.x, p.y, p.x + p.y);
    fflush(stdout);
  }
  return 0;
}
MPROC_TARGET(handle);

static int request(const void *arg, size_t size) {
  mproc_queue_t q;
  int i;
  if (size != sizeof q)
    return 2;
  memcpy(&q, arg, sizeof q);
  srand((unsigned)mproc_getpid());
  for (i = 0; i < 6; i++) {
    pair_t p;
    sleep_ms(randint(10, 100));
    p.x = randint(1, 100);
    p.y = randint(1, 100);
    if (mproc_queue_put(&q, &p, sizeof p, MPROC_INFINITE) != 0)
      return 1;
  }
  return 0;
}
MPROC_TARGET(request);

int main(int argc, char **argv) {
  mproc_queue_options_t options = {.maxsize = 3}; /* Queue(3) */
  mproc_queue_t q;
  mproc_process_t *p1, *p2;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  if (mproc_queue_create(&q, &options) != 0)
    return 1;

  if (mproc_process_create(&p1, handle, &q, sizeof q, NULL) != 0 ||
      mproc_process_create(&p2, request, &q, sizeof q, NULL) != 0)
    return 1;
  if (mproc_process_start(p1) != 0 || mproc_process_start(p2) != 0)
    return 1;
  mproc_process_join(p1, MPROC_INFINITE);
  mproc_process_join(p2, MPROC_INFINITE);
  mproc_process_free(p1);
  mproc_process_free(p2);
  mproc_queue_destroy(&q);
  return 0;
}
