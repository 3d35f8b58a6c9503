/* SPDX-License-Identifier: MIT */
/*
 * When a Connection's receive spins before it sleeps (src/connection.c),
 * as pure functions of the end's two counters, so that the policy is
 * tested on its own (tests/connection_test.cpp).
 *
 * A receive that finds nothing looks again, without a system call, for up
 * to MPROC__SPIN_NS before it sleeps in the kernel: when the sender runs
 * on another processor, its answer comes in a microsecond or two, and
 * neither side pays for a sleep and a wake-up. A spin that sees nothing
 * raises the end's level and the end's next 2^level - 1 receives sleep at
 * once; a spin that sees data lowers the level. So a sender that is not
 * running (the machine is busy, or it is waiting on this very processor)
 * soon costs the receiver one spin in 2^MPROC__SPIN_LEVEL_MAX receives,
 * and a fast peer is back to spinning after one spin that pays.
 */
#ifndef MPROC_CONNECTION_SPIN_H
#define MPROC_CONNECTION_SPIN_H

#include <stdint.h>

/* The longest spin: beyond the time an idle processor takes to wake a
 * sleeping peer and have it answer, so that one spin catches a peer that
 * slept, and two ends that both spin find each other again. */
#define MPROC__SPIN_NS 50000LL

/* The most failed spins counted: then one receive in 1024 spins. */
#define MPROC__SPIN_LEVEL_MAX 10u

/* One receive's turn: 1 when it is to spin, else 0 and one turn less to
 * skip. */
static inline int mproc__spin_turn(uint32_t *skip) {
  if (*skip == 0)
    return 1;
  (*skip)--;
  return 0;
}

/* After a spin: one that saw data lowers the level; one that did not
 * raises it and skips the next 2^level - 1 receives. */
static inline void mproc__spin_done(int saw_data, uint32_t *level,
                                    uint32_t *skip) {
  if (saw_data) {
    if (*level > 0)
      (*level)--;
    *skip = 0;
    return;
  }
  if (*level < MPROC__SPIN_LEVEL_MAX)
    (*level)++;
  *skip = (1u << *level) - 1u;
}

#endif
