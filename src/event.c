/* SPDX-License-Identifier: MIT */
/* Event: a flag in shared memory, slept on with the wait/wake primitive. */
#include "shared.h"

typedef struct event_body {
  mproc__atomic_u32 flag;
  mproc__atomic_u32 waiters;
} event_body_t;

int mproc_event_create(mproc_event_t *out) {
  event_body_t *b;
  int rc = mproc__object_create(out, MPROC__KIND_EVENT, sizeof *b, (void **)&b);
  if (rc != 0)
    return rc;
  mproc__object_publish(b);
  return 0;
}

int mproc_event_set(mproc_event_t *ev) {
  event_body_t *b;
  int rc = mproc__object_get(ev, MPROC__KIND_EVENT, (void **)&b);
  if (rc != 0)
    return rc;
  /* The flag is stored before the waiter count is read, and a waiter
   * counts itself before reading the flag: one of the two sees the other. */
  mproc__store32(&b->flag, 1);
  if (mproc__load32(&b->waiters))
    mproc__wake32(&b->flag);
  return 0;
}

int mproc_event_clear(mproc_event_t *ev) {
  event_body_t *b;
  int rc = mproc__object_get(ev, MPROC__KIND_EVENT, (void **)&b);
  if (rc != 0)
    return rc;
  mproc__store32(&b->flag, 0);
  return 0;
}

int mproc_event_is_set(mproc_event_t *ev, int *is_set) {
  event_body_t *b;
  int rc;
  if (!is_set)
    return MPROC_EINVAL;
  rc = mproc__object_get(ev, MPROC__KIND_EVENT, (void **)&b);
  if (rc != 0)
    return rc;
  *is_set = mproc__load32(&b->flag) != 0;
  return 0;
}

int mproc_event_wait(mproc_event_t *ev, int64_t timeout_ms) {
  event_body_t *b;
  int64_t deadline;
  int rc;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE)
    return MPROC_EINVAL;
  rc = mproc__object_get(ev, MPROC__KIND_EVENT, (void **)&b);
  if (rc != 0)
    return rc;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  for (;;) {
    if (mproc__load32(&b->flag))
      return 0;
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    if (deadline != MPROC_INFINITE && mproc__clock_ns() >= deadline)
      return MPROC_ETIMEDOUT;
    mproc__add32(&b->waiters, 1);
    if (mproc__load32(&b->flag) == 0)
      mproc__wait32(&b->flag, 0, deadline);
    mproc__sub32(&b->waiters, 1);
  }
}

static void event_wake(void *body) {
  mproc__wake32(&((event_body_t *)body)->flag);
}

int mproc_event_destroy(mproc_event_t *ev) {
  return mproc__object_destroy(ev, MPROC__KIND_EVENT, event_wake);
}
