/* SPDX-License-Identifier: MIT */
/* The classic lost update: four processes add one to a shared Value many
 * times. Without its lock, two processes read the same old value and one
 * of the two additions is lost, so the total comes out short (by how much
 * depends on the machine and the moment); with the lock, it is exact. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

#define WORKERS 4
/* Enough rounds without the lock that the workers run at the same time
 * for many scheduler slices; fewer with it, where each round costs more. */
#define ROUNDS_UNLOCKED 5000000
#define ROUNDS_LOCKED 250000

typedef struct counter_args {
  mproc_value_t counter;
  mproc_event_t go; /* all start counting together */
  int use_lock;
  int rounds;
} counter_args_t;

static int add(const void *arg, size_t size) {
  counter_args_t a;
  volatile int64_t *v;
  void *p;
  int i;
  if (size != sizeof a)
    return 2;
  memcpy(&a, arg, sizeof a);
  if (mproc_array_ptr(&a.counter, &p) != 0)
    return 1;
  v = (volatile int64_t *)p;
  if (mproc_event_wait(&a.go, MPROC_INFINITE) != 0)
    return 1;
  for (i = 0; i < a.rounds; i++) {
    if (a.use_lock && mproc_array_acquire(&a.counter, MPROC_INFINITE) != 0)
      return 1;
    *v = *v + 1; /* read, add, write: three steps another process can split */
    if (a.use_lock)
      mproc_array_release(&a.counter);
  }
  return 0;
}
MPROC_TARGET(add);

/* Runs the workers and returns the total, or -1. */
static int64_t run(int use_lock) {
  mproc_process_t *p[WORKERS];
  counter_args_t a;
  int64_t *v, total = -1;
  int i, started = 0, failed = 0;
  memset(&a, 0, sizeof a);
  a.use_lock = use_lock;
  a.rounds = use_lock ? ROUNDS_LOCKED : ROUNDS_UNLOCKED;
  if (mproc_value_create(&a.counter, sizeof(int64_t), NULL) != 0)
    return -1;
  if (mproc_event_create(&a.go) != 0) {
    mproc_array_destroy(&a.counter);
    return -1;
  }
  for (i = 0; i < WORKERS; i++) {
    if (mproc_process_create(&p[i], add, &a, sizeof a, NULL) != 0)
      break;
    if (mproc_process_start(p[i]) != 0) {
      mproc_process_free(p[i]);
      break;
    }
    started++;
  }
  mproc_event_set(&a.go);
  for (i = 0; i < started; i++) {
    int code = -1;
    mproc_process_join(p[i], MPROC_INFINITE);
    mproc_process_exitcode(p[i], &code);
    failed |= code != 0;
    mproc_process_free(p[i]);
  }
  if (!failed && started == WORKERS &&
      mproc_array_ptr(&a.counter, (void **)&v) == 0)
    total = *v;
  mproc_array_destroy(&a.counter);
  mproc_event_destroy(&a.go);
  return total;
}

int main(int argc, char **argv) {
  int64_t unlocked, locked;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  unlocked = run(0);
  printf("without the lock: %lld of %d\n", (long long)unlocked,
         WORKERS * ROUNDS_UNLOCKED);
  locked = run(1);
  printf("with the lock: %lld of %d\n", (long long)locked,
         WORKERS * ROUNDS_LOCKED);
  return unlocked < 0 || locked != WORKERS * ROUNDS_LOCKED;
}
