/* SPDX-License-Identifier: MIT */
/*
 * Lock and RLock, and the crash-aware lock beneath every shared object.
 *
 * Owner death is policy and lives here: with the backend's native lock
 * (robust mutexes) the kernel reports it; otherwise the lock word holds the
 * owner's pid and a waiter that finds that process gone takes the lock with
 * MPROC_EOWNERDEAD.
 */
#include "shared.h"

/* How often a waiter on the owner-pid lock asks whether the owner lives. */
#define MPROC__OWNER_CHECK_NS 5000000LL

int mproc__xlock_init(mproc__xlock_t *l) {
  if (mproc__native_lock_available()) {
    l->native = 1;
    return mproc__native_lock_init(l->native_mem);
  }
  l->native = 0;
  return 0;
}

int mproc__pid_lock_acquire(mproc__xlock_t *l, int64_t deadline_ns) {
  uint32_t me = mproc__self_pid(), cur = 0;
  int64_t next_check = 0;
  for (;;) {
    cur = 0;
    if (mproc__cas32_acq(&l->word, &cur, me)) {
      mproc__store32_rlx(&l->thread, mproc__thread_token());
      return 0;
    }
    if (cur == me && mproc__load32_rlx(&l->thread) == mproc__thread_token())
      return deadline_ns == MPROC_INFINITE ? MPROC_ESTATE : MPROC_ETIMEDOUT;
    /* Ask the system about the owner only now and then: the common case,
     * a live owner, costs a system call each time. */
    if (mproc__clock_ns() >= next_check) {
      if (!mproc__pid_alive((mproc_pid_t)cur)) {
        uint32_t dead = cur;
        if (mproc__cas32_acq(&l->word, &dead, me)) {
          mproc__store32_rlx(&l->thread, mproc__thread_token());
          return MPROC_EOWNERDEAD;
        }
        continue;
      }
      next_check = mproc__clock_ns() + MPROC__OWNER_CHECK_NS;
    }
    if (deadline_ns != MPROC_INFINITE && mproc__clock_ns() >= deadline_ns)
      return MPROC_ETIMEDOUT;
    {
      /* Sleep no longer than the next liveness check. */
      int64_t until = next_check;
      if (deadline_ns != MPROC_INFINITE && deadline_ns < until)
        until = deadline_ns;
      mproc__add32(&l->waiters, 1);
      if (mproc__load32(&l->word) == cur)
        mproc__wait32(&l->word, cur, until);
      mproc__sub32(&l->waiters, 1);
    }
  }
}

int mproc__pid_lock_release(mproc__xlock_t *l) {
  uint32_t me = mproc__self_pid();
  if (mproc__load32_rlx(&l->word) != me ||
      mproc__load32_rlx(&l->thread) != mproc__thread_token())
    return MPROC_ENOTOWNER;
  mproc__store32_rlx(&l->thread, 0);
  mproc__store32(&l->word, 0);
  if (mproc__load32(&l->waiters))
    mproc__wake32(&l->word);
  return 0;
}

/* Release, then make the Condition wake-ups this thread put off until
 * now (shared.h). Out of line: the common release has none to make. */
MPROC__NOINLINE static int release_then_wake(mproc__xlock_t *x) {
  int rc = mproc__xlock_release(x);
  mproc__condition_wake_deferred();
  return rc;
}

static int release(mproc__xlock_t *x) {
  return mproc__wakes_deferred() ? release_then_wake(x)
                                 : mproc__xlock_release(x);
}

static int check_timeout(int64_t timeout_ms) {
  return timeout_ms < 0 && timeout_ms != MPROC_INFINITE ? MPROC_EINVAL : 0;
}

/* The common case, an untimed acquire, needs no clock. */
static int64_t deadline_of(int64_t timeout_ms) {
  return timeout_ms == MPROC_INFINITE
             ? MPROC_INFINITE
             : mproc__deadline_from_timeout(timeout_ms);
}

/* ---- Lock ------------------------------------------------------------- */

typedef struct lock_body {
  mproc__xlock_t x;
} lock_body_t;

int mproc_lock_create(mproc_lock_t *out) {
  lock_body_t *b;
  int rc = mproc__object_create(out, MPROC__KIND_LOCK, sizeof *b, (void **)&b);
  if (rc != 0)
    return rc;
  rc = mproc__xlock_init(&b->x);
  mproc__object_publish(b);
  if (rc != 0)
    mproc__object_destroy(out, MPROC__KIND_LOCK, NULL);
  return rc;
}

/* Every case but the common one: a timeout, a handle not in the cache
 * (or a bad one), deferred Condition wake-ups. Out of line, so that the
 * common case of the two calls below makes no call but the lock's own. */
MPROC__NOINLINE static int lock_acquire_slow(mproc_lock_t *lock,
                                             int64_t timeout_ms) {
  lock_body_t *b;
  int rc = check_timeout(timeout_ms);
  if (rc == 0)
    rc = mproc__object_get(lock, MPROC__KIND_LOCK, (void **)&b);
  if (rc != 0)
    return rc;
  return mproc__xlock_acquire(&b->x, deadline_of(timeout_ms));
}

MPROC__NOINLINE static int lock_release_slow(mproc_lock_t *lock) {
  lock_body_t *b;
  int rc = mproc__object_get(lock, MPROC__KIND_LOCK, (void **)&b);
  if (rc != 0)
    return rc;
  return release(&b->x);
}

int mproc_lock_acquire(mproc_lock_t *lock, int64_t timeout_ms) {
  lock_body_t *b =
      timeout_ms == MPROC_INFINITE
          ? (lock_body_t *)mproc__object_cached(lock, MPROC__KIND_LOCK)
          : NULL;
  if (b)
    return mproc__xlock_acquire(&b->x, MPROC_INFINITE);
  return lock_acquire_slow(lock, timeout_ms);
}

int mproc_lock_release(mproc_lock_t *lock) {
  lock_body_t *b = (lock_body_t *)mproc__object_cached(lock, MPROC__KIND_LOCK);
  if (b && !mproc__wakes_deferred())
    return mproc__xlock_release(&b->x);
  return lock_release_slow(lock);
}

int mproc_lock_destroy(mproc_lock_t *lock) {
  return mproc__object_destroy(lock, MPROC__KIND_LOCK, NULL);
}

/* ---- RLock ------------------------------------------------------------ */

/* The owner is a thread of a process instance (a random id per process,
 * never reused the way a pid is), so a fork child never believes it holds
 * its parent's RLock. Only the owner writes these fields while it holds
 * the lock; anyone may read them to learn that it is not the owner. */
typedef struct rlock_body {
  mproc__xlock_t x;
  mproc__atomic_u64 owner_instance;
  mproc__atomic_u32 owner_thread;
  mproc__atomic_u32 depth;
} rlock_body_t;

static int rlock_mine(rlock_body_t *b, const mproc__thread_id_t *me) {
  return mproc__load64_rlx(&b->owner_instance) == me->instance &&
         mproc__load32_rlx(&b->owner_thread) == me->token;
}

/* Make the calling thread the owner, at depth. After an owner's death the
 * fields still name it; they are all overwritten. */
static void rlock_own(rlock_body_t *b, const mproc__thread_id_t *me,
                      uint32_t depth) {
  mproc__store32_rlx(&b->depth, depth);
  mproc__store32_rlx(&b->owner_thread, me->token);
  mproc__store64_rlx(&b->owner_instance, me->instance);
}

static void rlock_disown(rlock_body_t *b) {
  mproc__store32_rlx(&b->depth, 0);
  mproc__store64_rlx(&b->owner_instance, 0);
  mproc__store32_rlx(&b->owner_thread, 0);
}

int mproc_rlock_create(mproc_rlock_t *out) {
  rlock_body_t *b;
  int rc = mproc__object_create(out, MPROC__KIND_RLOCK, sizeof *b, (void **)&b);
  if (rc != 0)
    return rc;
  rc = mproc__xlock_init(&b->x);
  mproc__object_publish(b);
  if (rc != 0)
    mproc__object_destroy(out, MPROC__KIND_RLOCK, NULL);
  return rc;
}

int mproc_rlock_acquire(mproc_rlock_t *lock, int64_t timeout_ms) {
  const mproc__thread_id_t *me;
  rlock_body_t *b;
  uint32_t depth;
  int rc = check_timeout(timeout_ms);
  if (rc == 0)
    rc = mproc__object_get(lock, MPROC__KIND_RLOCK, (void **)&b);
  if (rc != 0)
    return rc;
  me = mproc__thread_id();
  if (rlock_mine(b, me)) {
    depth = mproc__load32_rlx(&b->depth);
    if (depth == UINT32_MAX)
      return MPROC_EOVERFLOW;
    mproc__store32_rlx(&b->depth, depth + 1);
    return 0;
  }
  rc = mproc__xlock_acquire(&b->x, deadline_of(timeout_ms));
  if (rc != 0 && rc != MPROC_EOWNERDEAD)
    return rc;
  rlock_own(b, me, 1);
  return rc;
}

int mproc_rlock_release(mproc_rlock_t *lock) {
  rlock_body_t *b;
  uint32_t depth;
  int rc = mproc__object_get(lock, MPROC__KIND_RLOCK, (void **)&b);
  if (rc != 0)
    return rc;
  if (!rlock_mine(b, mproc__thread_id()))
    return MPROC_ENOTOWNER;
  depth = mproc__load32_rlx(&b->depth);
  if (depth > 1) {
    mproc__store32_rlx(&b->depth, depth - 1);
    return 0;
  }
  rlock_disown(b);
  return release(&b->x);
}

int mproc_rlock_destroy(mproc_rlock_t *lock) {
  return mproc__object_destroy(lock, MPROC__KIND_RLOCK, NULL);
}

/* ---- the lock under a Condition (condition.c) -------------------------- */

int mproc__lock_held(const void *handle, unsigned kind) {
  void *body;
  mproc__xlock_t *x;
  if (mproc__object_get(handle, kind, &body) != 0)
    return 0;
  if (kind == MPROC__KIND_RLOCK)
    return rlock_mine((rlock_body_t *)body, mproc__thread_id());
  x = &((lock_body_t *)body)->x;
  if (x->native)
    return mproc__native_lock_held(x->native_mem);
  return mproc__load32_rlx(&x->word) == mproc__self_pid() &&
         mproc__load32_rlx(&x->thread) == mproc__thread_token();
}

int mproc__lock_release_all(const void *handle, unsigned kind,
                            uint32_t *depth) {
  rlock_body_t *r;
  void *body;
  int rc = mproc__object_get(handle, kind, &body);
  if (rc != 0)
    return rc;
  *depth = 1;
  if (kind == MPROC__KIND_LOCK)
    return release(&((lock_body_t *)body)->x);
  r = (rlock_body_t *)body;
  if (!rlock_mine(r, mproc__thread_id()))
    return MPROC_ENOTOWNER;
  *depth = mproc__load32_rlx(&r->depth);
  rlock_disown(r);
  return release(&r->x);
}

int mproc__lock_reacquire(const void *handle, unsigned kind, uint32_t depth) {
  rlock_body_t *r;
  void *body;
  int rc = mproc__object_get(handle, kind, &body);
  if (rc != 0)
    return rc;
  if (kind == MPROC__KIND_LOCK)
    return mproc__xlock_acquire(&((lock_body_t *)body)->x, MPROC_INFINITE);
  r = (rlock_body_t *)body;
  rc = mproc__xlock_acquire(&r->x, MPROC_INFINITE);
  if (rc != 0 && rc != MPROC_EOWNERDEAD)
    return rc;
  rlock_own(r, mproc__thread_id(), depth);
  return rc;
}
