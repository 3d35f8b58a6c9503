/* SPDX-License-Identifier: MIT */
/*
 * What waiting on many objects at once (src/wait.c) needs from the objects
 * it waits on: a word in shared memory that changes when the object may
 * have become ready, and whether it is ready now.
 */
#ifndef MPROC_WAITABLE_H
#define MPROC_WAITABLE_H

#include <stdint.h>

#include "platform.h"

/* One object being watched. Between watch-on and watch-off, whatever makes
 * the object ready changes `*word` away from `seq` and wakes its sleepers,
 * so a sleep on (word, seq) never misses it. */
typedef struct mproc__watch {
  void *word;
  uint32_t seq;
  int ready; /* a get or recv would return at once */
} mproc__watch_t;

/* A queue's side for data: watch-on (on != 0) raises the queue's watch
 * flag, so that the next put wakes every sleeper on its data word, and
 * fills *w; watch-off has nothing to undo (a flag left raised costs one
 * needless wake). Ready: a message is queued or the queue is closed.
 * Returns 0, MPROC_EINVAL, MPROC_EBADHANDLE. */
int mproc__queue_watch(const mproc_queue_t *q, int on, mproc__watch_t *w);

/* A connection end's receiving side, as a queue's; also ready once the
 * other end is closed or its process died. Returns 0, MPROC_EINVAL (an end
 * that only sends), MPROC_EBADHANDLE (never created, or closed). */
int mproc__connection_watch(const mproc_connection_t *c, int on, int thorough,
                            mproc__watch_t *w);

/* A process for a wait on many: watch-on (on != 0) marks it in use (so
 * that mproc_process_free() refuses it meanwhile), sets *ended when it has
 * ended and *sentinel to its sentinel; watch-off (ended and sentinel NULL)
 * lets it go. Returns 0, MPROC_EBADHANDLE, MPROC_ESTATE (never started),
 * MPROC_ENOMEM, MPROC_EOS. */
int mproc__process_watch(mproc_process_t *p, int on, int *ended,
                         mproc__pipe_t *sentinel);

/* Called by the backend when it has reaped a child, under the lock that
 * mproc__child_wait() takes to see it reaped: wakes waits on many that
 * include processes (src/wait.c). */
void mproc__process_reaped(void);

/* The word mproc__process_reaped() changes. */
void *mproc__process_reaped_word(void);

#endif
