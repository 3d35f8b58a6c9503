/* SPDX-License-Identifier: MIT */
/*
 * When a Queue's consumer waits a little before it looks at the tail
 * (src/queue.c, wait_data), as pure functions of the consumers' streak, so
 * that the policy is tested on its own (tests/queue_test.cpp).
 *
 * A consumer that keeps up with a steady producer would look at the tail
 * for every message, taking its cache line from the producer each time
 * (docs/shared-objects.md, "A consumer that keeps up"). After
 * MPROC__STREAK_BATCH short waits (at most MPROC__KEPT_UP_PAUSES) that
 * found more than one message queued, a get that finds the ring empty
 * first pauses MPROC__BATCH_PAUSES times. A look after that pause that
 * finds one message, a longer wait or a sleep ends the streak; a request
 * and its answer, one message queued at a time, never start one.
 */
#ifndef MPROC_QUEUE_BATCH_H
#define MPROC_QUEUE_BATCH_H

#include <stdint.h>

#define MPROC__STREAK_BATCH 16u
#define MPROC__BATCH_PAUSES 32
#define MPROC__KEPT_UP_PAUSES 32

/* Whether a wait at this streak starts with MPROC__BATCH_PAUSES. */
static inline int mproc__queue_batching(uint32_t streak) {
  return streak >= MPROC__STREAK_BATCH;
}

/* The streak after a wait that found data after `spins` pauses, with
 * `queued` messages there; `batch`: the wait began with the batch pause. */
static inline uint32_t mproc__queue_streak_after(uint32_t streak, int batch,
                                                 int spins, uint64_t queued) {
  if (spins > MPROC__KEPT_UP_PAUSES || (batch && spins > 0 && queued <= 1))
    return 0;
  if (queued <= 1)
    return streak;
  return streak < MPROC__STREAK_BATCH ? streak + 1 : streak;
}

#endif
