/* SPDX-License-Identifier: MIT */
/*
 * Barrier: a count of arrivals and a round number in shared memory, under
 * a crash-aware lock. The last of `parties` arrivals runs the action, then
 * ends the round: it bumps the round number (the word waiters sleep on)
 * and records in a 64-bit history whether the round completed or broke,
 * so a waiter that wakes after the round ended learns its outcome.
 *
 * Beyond Python, a participant that dies while others wait breaks the
 * barrier for them: the pids of this round's arrivals are in the body,
 * and every 20 ms a waiter takes the lock if it is free, checks those pids
 * and the lock itself (a holder that died), and breaks the round when one
 * is gone.
 */
#include <string.h>

#include "shared.h"
#include "targets.h"

#define CHECK_NS ((int64_t)20000000)
#define ACTION_NAME_MAX 63
#define MAX_PARTIES (1u << 20)

typedef struct barrier_body {
  mproc__xlock_t lock;
  uint32_t parties;
  uint32_t count;                  /* arrivals in this round (lock) */
  mproc__atomic_u32 round;         /* rounds ended; waiters sleep on it */
  mproc__atomic_u32 broken;        /* broken until reset */
  mproc__atomic_u64 broken_rounds; /* bit r % 64: round r ended broken */
  int64_t timeout_ms;              /* the default for waits */
  uint32_t action_arg_size;
  char action[ACTION_NAME_MAX + 1]; /* the action's registered name */
  unsigned char action_arg[MPROC_BARRIER_ACTION_ARG_MAX];
  mproc__atomic_u32 pids[]; /* this round's arrivals, [0, count) */
} barrier_body_t;

static int get(mproc_barrier_t *barrier, barrier_body_t **b) {
  return mproc__object_get(barrier, MPROC__KIND_BARRIER, (void **)b);
}

/* Under the lock: end this round, completed or broken, and wake its
 * waiters. The outcome is recorded before the round number moves. */
static void end_round(barrier_body_t *b, int broken) {
  uint32_t r = mproc__load32(&b->round), i;
  uint64_t bit = (uint64_t)1 << (r % 64), bits;
  for (i = 0; i < b->count; i++)
    mproc__store32_rlx(&b->pids[i], 0);
  b->count = 0;
  bits = mproc__load64(&b->broken_rounds);
  mproc__store64(&b->broken_rounds, broken ? bits | bit : bits & ~bit);
  mproc__store32(&b->round, r + 1);
  mproc__wake32(&b->round);
}

/* Under the lock: broken until reset, and the waiters told. */
static void break_locked(barrier_body_t *b) {
  mproc__store32(&b->broken, 1);
  if (b->count > 0)
    end_round(b, 1);
}

/* Take the lock; a holder that died leaves the barrier broken. Returns 0
 * or the lock's error. */
static int lock_barrier(barrier_body_t *b, int64_t deadline_ns) {
  int rc = mproc__xlock_acquire(&b->lock, deadline_ns);
  if (rc == MPROC_EOWNERDEAD) {
    break_locked(b);
    rc = 0;
  }
  return rc;
}

/* The last arrival: run the action, if any, here. 0 when it succeeded. */
static int run_action(barrier_body_t *b) {
  mproc_target_fn fn;
  if (b->action[0] == 0)
    return 0;
  fn = mproc__target_lookup(b->action);
  return fn ? fn(b->action_arg, b->action_arg_size) : -1;
}

/* When the lock is free: break the round if one of its arrivals (or the
 * lock's last holder) died. */
static void check_arrivals(barrier_body_t *b, uint32_t r) {
  uint32_t i;
  if (lock_barrier(b, mproc__clock_ns()) != 0)
    return;
  if (mproc__load32(&b->round) == r) {
    for (i = 0; i < b->count; i++) {
      if (!mproc__pid_alive((mproc_pid_t)mproc__load32_rlx(&b->pids[i]))) {
        break_locked(b);
        break;
      }
    }
  }
  mproc__xlock_release(&b->lock);
}

/* Sleep until round r ends; its outcome, or the timeout's or the
 * destroy's. */
static int wait_round(barrier_body_t *b, uint32_t r, int64_t deadline) {
  int64_t next_check = mproc__clock_ns() + CHECK_NS;
  for (;;) {
    int64_t now, until;
    if (mproc__load32(&b->round) != r) {
      uint64_t bits = mproc__load64(&b->broken_rounds);
      return bits >> (r % 64) & 1 ? MPROC_EBROKEN : 0;
    }
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    now = mproc__clock_ns();
    if (deadline != MPROC_INFINITE && now >= deadline) {
      /* Python breaks the barrier for everyone on a timeout. */
      if (lock_barrier(b, MPROC_INFINITE) == 0) {
        if (mproc__load32(&b->round) == r)
          break_locked(b);
        mproc__xlock_release(&b->lock);
      }
      continue;
    }
    if (now >= next_check) {
      check_arrivals(b, r);
      next_check = now + CHECK_NS;
    }
    until = deadline != MPROC_INFINITE && deadline < next_check ? deadline
                                                                : next_check;
    mproc__wait32(&b->round, r, until);
  }
}

int mproc_barrier_wait(mproc_barrier_t *barrier, int64_t timeout_ms,
                       unsigned *index) {
  barrier_body_t *b;
  uint32_t r, i;
  int rc;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE &&
      timeout_ms != MPROC_BARRIER_DEFAULT_TIMEOUT)
    return MPROC_EINVAL;
  rc = get(barrier, &b);
  if (rc != 0)
    return rc;
  if (timeout_ms == MPROC_BARRIER_DEFAULT_TIMEOUT)
    timeout_ms = b->timeout_ms;
  rc = lock_barrier(b, MPROC_INFINITE);
  if (rc != 0)
    return rc;
  if (mproc__load32(&b->broken)) {
    mproc__xlock_release(&b->lock);
    return MPROC_EBROKEN;
  }
  r = mproc__load32(&b->round);
  i = b->count;
  mproc__store32_rlx(&b->pids[i], mproc__self_pid());
  b->count = i + 1;
  if (b->count == b->parties) {
    if (run_action(b) != 0) {
      break_locked(b);
      rc = MPROC_EBROKEN;
    } else {
      end_round(b, 0);
    }
    mproc__xlock_release(&b->lock);
  } else {
    mproc__xlock_release(&b->lock);
    rc = wait_round(b, r, mproc__deadline_from_timeout(timeout_ms));
  }
  if (rc == 0 && index)
    *index = i;
  return rc;
}

int mproc_barrier_create(mproc_barrier_t *out, unsigned parties,
                         const mproc_barrier_options_t *options) {
  mproc_barrier_options_t o;
  barrier_body_t *b;
  const char *name = NULL;
  int rc;
  memset(&o, 0, sizeof o);
  if (options)
    o = *options;
  if (!out || parties == 0 || parties > MAX_PARTIES || o.timeout_ms < 0 ||
      o.action_arg_size > MPROC_BARRIER_ACTION_ARG_MAX ||
      (o.action_arg_size > 0 && !o.action_arg) ||
      !mproc__reserved_zero(o.reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;
  if (o.action) {
    name = mproc__target_name(o.action);
    if (!name)
      return MPROC_ENOTREG;
    if (strlen(name) > ACTION_NAME_MAX)
      return MPROC_EINVAL;
  }
  rc = mproc__object_create(out, MPROC__KIND_BARRIER,
                            sizeof *b + (size_t)parties * sizeof b->pids[0],
                            (void **)&b);
  if (rc != 0)
    return rc;
  rc = mproc__xlock_init(&b->lock);
  b->parties = parties;
  b->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : MPROC_INFINITE;
  if (name)
    memcpy(b->action, name, strlen(name) + 1);
  if (o.action_arg_size)
    memcpy(b->action_arg, o.action_arg, o.action_arg_size);
  b->action_arg_size = (uint32_t)o.action_arg_size;
  mproc__object_publish(b);
  if (rc != 0)
    mproc__object_destroy(out, MPROC__KIND_BARRIER, NULL);
  return rc;
}

int mproc_barrier_abort(mproc_barrier_t *barrier) {
  barrier_body_t *b;
  int rc = get(barrier, &b);
  if (rc == 0)
    rc = lock_barrier(b, MPROC_INFINITE);
  if (rc != 0)
    return rc;
  break_locked(b);
  mproc__xlock_release(&b->lock);
  return 0;
}

int mproc_barrier_reset(mproc_barrier_t *barrier) {
  barrier_body_t *b;
  int rc = get(barrier, &b);
  if (rc == 0)
    rc = lock_barrier(b, MPROC_INFINITE);
  if (rc != 0)
    return rc;
  /* Whoever waits now gets the broken code; the next round starts empty. */
  if (b->count > 0)
    end_round(b, 1);
  mproc__store32(&b->broken, 0);
  mproc__xlock_release(&b->lock);
  return 0;
}

int mproc_barrier_state(mproc_barrier_t *barrier, unsigned *parties,
                        unsigned *n_waiting, int *broken) {
  barrier_body_t *b;
  int rc = get(barrier, &b);
  if (rc == 0)
    rc = lock_barrier(b, MPROC_INFINITE);
  if (rc != 0)
    return rc;
  if (parties)
    *parties = b->parties;
  if (n_waiting)
    *n_waiting = b->count;
  if (broken)
    *broken = mproc__load32(&b->broken) != 0;
  mproc__xlock_release(&b->lock);
  return 0;
}

static void barrier_wake(void *body) {
  mproc__wake32(&((barrier_body_t *)body)->round);
}

int mproc_barrier_destroy(mproc_barrier_t *barrier) {
  return mproc__object_destroy(barrier, MPROC__KIND_BARRIER, barrier_wake);
}
