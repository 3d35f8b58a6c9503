/* SPDX-License-Identifier: MIT */
/*
 * Semaphore: a counter in shared memory, taken with compare-and-swap and
 * slept on with the wait/wake primitive. No process owns a unit, so a
 * process killed at any instant leaves the count consistent (a unit it had
 * taken is gone with it, as in Python).
 */
#include "shared.h"

typedef struct semaphore_body {
  mproc__atomic_u32 value;
  mproc__atomic_u32 waiters;
  uint32_t maximum; /* 0: unbounded */
} semaphore_body_t;

int mproc_semaphore_create(mproc_semaphore_t *out, unsigned initial,
                           unsigned maximum) {
  semaphore_body_t *b;
  int rc;
  if (!out)
    return MPROC_EINVAL;
  if (initial > (unsigned)INT32_MAX || maximum > (unsigned)INT32_MAX ||
      (maximum != 0 && initial > maximum))
    return MPROC_EINVAL;
  rc = mproc__object_create(out, MPROC__KIND_SEMAPHORE, sizeof *b, (void **)&b);
  if (rc != 0)
    return rc;
  mproc__store32(&b->value, initial);
  b->maximum = maximum;
  mproc__object_publish(b);
  return 0;
}

static int try_take(semaphore_body_t *b) {
  uint32_t v = mproc__load32_rlx(&b->value);
  while (v > 0) {
    if (mproc__cas32_acq(&b->value, &v, v - 1))
      return 1;
  }
  return 0;
}

int mproc_semaphore_acquire(mproc_semaphore_t *sem, int64_t timeout_ms) {
  semaphore_body_t *b;
  int64_t deadline;
  int rc;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE)
    return MPROC_EINVAL;
  rc = mproc__object_get(sem, MPROC__KIND_SEMAPHORE, (void **)&b);
  if (rc != 0)
    return rc;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  for (;;) {
    /* Try first, even after a timed-out sleep, so that a unit released
     * just before the deadline is not left behind. */
    if (try_take(b))
      return 0;
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    if (deadline != MPROC_INFINITE && mproc__clock_ns() >= deadline)
      return MPROC_ETIMEDOUT;
    mproc__add32(&b->waiters, 1);
    if (mproc__load32(&b->value) == 0)
      mproc__wait32(&b->value, 0, deadline);
    mproc__sub32(&b->waiters, 1);
  }
}

int mproc_semaphore_release(mproc_semaphore_t *sem) {
  semaphore_body_t *b;
  uint32_t v;
  int rc = mproc__object_get(sem, MPROC__KIND_SEMAPHORE, (void **)&b);
  if (rc != 0)
    return rc;
  v = mproc__load32_rlx(&b->value);
  for (;;) {
    if ((b->maximum != 0 && v >= b->maximum) || v >= (uint32_t)INT32_MAX)
      return MPROC_EOVERFLOW;
    if (mproc__cas32(&b->value, &v, v + 1))
      break;
  }
  /* Every sleeper is woken, not one: a sleeper that was woken and then
   * killed must not strand the unit while others sleep. */
  if (mproc__load32(&b->waiters))
    mproc__wake32(&b->value);
  return 0;
}

int mproc_semaphore_value(mproc_semaphore_t *sem, unsigned *value) {
  semaphore_body_t *b;
  int rc;
  if (!value)
    return MPROC_EINVAL;
  rc = mproc__object_get(sem, MPROC__KIND_SEMAPHORE, (void **)&b);
  if (rc != 0)
    return rc;
  *value = mproc__load32(&b->value);
  return 0;
}

static void semaphore_wake(void *body) {
  mproc__wake32(&((semaphore_body_t *)body)->value);
}

int mproc_semaphore_destroy(mproc_semaphore_t *sem) {
  return mproc__object_destroy(sem, MPROC__KIND_SEMAPHORE, semaphore_wake);
}
