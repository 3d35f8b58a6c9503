/* SPDX-License-Identifier: MIT */
/* Five children of different durations, each reported as it ends, through
 * one wait on all of them (Python's `multiprocessing.connection.wait` over
 * `Process.sentinel`s). Child k sleeps (5 - k) * 60 ms, so they end in the
 * reverse order of their start. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

#define N 5

static int nap(const void *arg, size_t size) {
  int k;
  if (size != sizeof k)
    return 255;
  memcpy(&k, arg, sizeof k);
  sleep_ms((N - k) * 60L);
  return k;
}
MPROC_TARGET(nap);

int main(int argc, char **argv) {
  mproc_process_t *kids[N];
  mproc_wait_item_t items[N];
  size_t left = N, i;
  int k;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  for (k = 0; k < N; k++) {
    if (mproc_process_create(&kids[k], nap, &k, sizeof k, NULL) != 0 ||
        mproc_process_start(kids[k]) != 0)
      return 1;
    memset(&items[k], 0, sizeof items[k]);
    items[k].kind = MPROC_WAIT_PROCESS;
    items[k].process = kids[k];
  }
  while (left > 0) {
    if (mproc_wait(items, left, MPROC_INFINITE, NULL) != 0)
      return 1;
    for (i = 0; i < left;) {
      int code = -1;
      if (!items[i].ready) {
        i++;
        continue;
      }
      mproc_process_join(items[i].process, MPROC_INFINITE);
      mproc_process_exitcode(items[i].process, &code);
      printf("%s ended with %d\n", mproc_process_name(items[i].process), code);
      fflush(stdout);
      mproc_process_free(items[i].process);
      items[i] = items[--left]; /* no longer waited on */
    }
  }
  return 0;
}
