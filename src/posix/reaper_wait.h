/* SPDX-License-Identifier: MIT */
/*
 * How the POSIX reaper thread waits for its children: the reaper's state
 * and core (reaper.c) on one side, and one waiting mechanism, picked by the
 * build's file list, on the other: an epoll set (reaper_epoll.c, Linux) or
 * a poll set rebuilt on every round (reaper_poll.c, everywhere else).
 */
#ifndef MPROC_POSIX_REAPER_WAIT_H
#define MPROC_POSIX_REAPER_WAIT_H

#include <pthread.h>

#include "child.h"

/* The reaper's state (reaper.c). Every field is guarded by lock. */
typedef struct mproc__reaper {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* broadcast whenever a child is reaped */
  int cond_ready;
  int running;
  int wake[2];          /* a byte here wakes the reaper thread */
  mproc__child_t *head; /* children not yet retired */
} mproc__reaper_t;

extern mproc__reaper_t mproc__reaper;

/* ---- the core, for the mechanism (reaper.c); called with the lock ---- */

/* Try to reap c without blocking. */
void mproc__reaper_try_reap(mproc__child_t *c);

/* Retire every reaped child that nobody polls: off the list, its
 * descriptors closed. */
void mproc__reaper_retire_done(void);

/* Milliseconds until the soonest waitpid retry is due (0 when one is due
 * now), or -1 when none is pending. */
int mproc__reaper_retry_timeout_ms(void);

/* Try every child whose waitpid retry is due. */
void mproc__reaper_retry_due(void);

/* Wake the reaper thread. */
void mproc__reaper_wake(void);

/* Read away the bytes that woke the reaper thread. */
void mproc__reaper_drain_wake(void);

/* ---- the mechanism (reaper_epoll.c or reaper_poll.c) ----------------- */

/* Set up before the reaper thread first starts. Returns 0 or an MPROC_E*
 * code (the thread is then not started; joins reap on their own). */
int mproc__reaper_wait_init(void);

/* The reaper thread's body: takes the lock and never returns. */
void *mproc__reaper_wait_main(void *unused);

/* Watch c's descriptor (watch = 1: a child newly added, or no joiner polls
 * it any more) or stop watching it (0: a joiner polls it, or it is being
 * retired). */
void mproc__reaper_wait_watch(mproc__child_t *c, int watch);

/* In a child after fork: drop the parent's mechanism. */
void mproc__reaper_wait_after_fork_child(void);

#endif
