/* SPDX-License-Identifier: MIT */
/* Workers in lock-step phases: each does its part of a phase, then waits
 * at a Barrier until every worker has done its part. The barrier's action
 * runs once per phase, in the last worker to arrive, before any worker
 * starts the next phase: no line of phase k+1 can come before the line
 * that closes phase k. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

#define WORKERS 3
#define PHASES 3

typedef struct worker_args {
  mproc_barrier_t barrier;
  int worker;
} worker_args_t;

/* The action: its argument is the Value that counts finished phases. */
static int close_phase(const void *arg, size_t size) {
  mproc_value_t phases;
  int *done;
  if (size != sizeof phases)
    return 1;
  memcpy(&phases, arg, sizeof phases);
  if (mproc_array_ptr(&phases, (void **)&done) != 0)
    return 1;
  printf("all %d workers finished phase %d\n", WORKERS, ++*done);
  fflush(stdout);
  return 0;
}
MPROC_TARGET(close_phase);

static int work(const void *arg, size_t size) {
  worker_args_t a;
  int phase;
  if (size != sizeof a)
    return 2;
  memcpy(&a, arg, sizeof a);
  for (phase = 1; phase <= PHASES; phase++) {
    printf("worker %d: phase %d\n", a.worker, phase);
    fflush(stdout);
    if (mproc_barrier_wait(&a.barrier, MPROC_INFINITE, NULL) != 0)
      return 1;
  }
  return 0;
}
MPROC_TARGET(work);

int main(int argc, char **argv) {
  mproc_process_t *p[WORKERS];
  mproc_barrier_options_t o;
  mproc_value_t phases;
  worker_args_t a;
  int i, started = 0, failed = 0;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  if (mproc_value_create(&phases, sizeof(int), NULL) != 0)
    return 1;
  memset(&o, 0, sizeof o);
  o.action = close_phase;
  o.action_arg = &phases;
  o.action_arg_size = sizeof phases;
  memset(&a, 0, sizeof a);
  if (mproc_barrier_create(&a.barrier, WORKERS, &o) != 0)
    return 1;
  for (i = 0; i < WORKERS; i++) {
    a.worker = i + 1;
    if (mproc_process_create(&p[i], work, &a, sizeof a, NULL) != 0)
      break;
    if (mproc_process_start(p[i]) != 0) {
      mproc_process_free(p[i]);
      break;
    }
    started++;
  }
  /* A worker that could not start would leave the others waiting: the
   * barrier is aborted, and they stop with an error. */
  if (started != WORKERS)
    mproc_barrier_abort(&a.barrier);
  for (i = 0; i < started; i++) {
    int code = -1;
    mproc_process_join(p[i], MPROC_INFINITE);
    mproc_process_exitcode(p[i], &code);
    failed |= code != 0;
    mproc_process_free(p[i]);
  }
  mproc_barrier_destroy(&a.barrier);
  mproc_array_destroy(&phases);
  return failed || started != WORKERS;
}
