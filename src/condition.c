/* SPDX-License-Identifier: MIT */
/*
 * Condition: waiters in a table of slots in shared memory, bound to a Lock
 * or an RLock (its handle is kept in the body).
 *
 * A waiter claims a free slot while it holds the lock, writing its pid and
 * "waiting" in one 64-bit compare-and-swap, then releases the lock and
 * sleeps on its slot's wake word. notify(n) marks up to n waiting slots
 * "notified" (each with one compare-and-swap) and wakes exactly those. The
 * waiter, once it holds the lock again, frees its slot with one more
 * compare-and-swap, which settles a race with a notifier: a slot still
 * "waiting" timed out, a "notified" one was notified. Every change of a
 * slot is one compare-and-swap, so a process killed at any instant leaves
 * each slot in a state others understand.
 *
 * Deaths: notify(n) skips (and frees) a waiting slot whose process is gone,
 * so a dead waiter takes no notification from the living. A waiter killed
 * after it was notified but before it took its notification would strand
 * it: every sleeping waiter looks every 100 ms for notified slots of dead
 * processes and hands each such notification on to a living waiter.
 */
#include <string.h>

#include "shared.h"

#define SLOTS MPROC_CONDITION_MAX_WAITERS
#define SLOT_FREE 0u
#define SLOT_WAITING 1u
#define SLOT_NOTIFIED 2u
#define STATE_MASK 3u
/* How often a sleeping waiter looks for notifications dead processes
 * stranded. */
#define RESCUE_NS ((int64_t)100000000)

typedef struct cond_slot {
  mproc__atomic_u64 word; /* pid << 32 | state */
  mproc__atomic_u32 wake; /* bumped after the slot is notified */
  uint32_t reserved;
} cond_slot_t;

typedef union bound_lock {
  mproc_lock_t lock;
  mproc_rlock_t rlock;
} bound_lock_t;

typedef struct condition_body {
  uint32_t lock_kind;       /* MPROC__KIND_LOCK or MPROC__KIND_RLOCK */
  uint32_t owns_lock;       /* made with the condition, destroyed with it */
  mproc__atomic_u32 used;   /* slots [0, used) have been claimed once */
  mproc__atomic_u32 cursor; /* where the next notify starts looking */
  uint64_t reserved[6];
  bound_lock_t lock; /* the bound lock's handle */
  cond_slot_t slots[SLOTS];
} condition_body_t;

static uint64_t slot_word(uint32_t pid, uint32_t state) {
  return (uint64_t)pid << 32 | state;
}

static int slot_pid_alive(uint64_t word) {
  return mproc__pid_alive((mproc_pid_t)(word >> 32));
}

static void wake_slot(cond_slot_t *s) {
  mproc__add32(&s->wake, 1);
  mproc__wake32(&s->wake);
}

/* ---- wake-ups put off until the notifier lets go of the lock ------------ */

/* Which slot of which Condition, by what its handle names, so that a
 * Condition destroyed (and unmapped) meanwhile is found gone rather than
 * touched. */
typedef struct deferred_wake {
  uint64_t generation;
  uint64_t size;
  uint32_t creator_pid;
  uint32_t slot;
} deferred_wake_t;

/* Enough for the usual notify(1) or two; beyond it, a waiter is woken at
 * once as before. The count is mproc__self_thread.wakes_deferred. */
#define DEFERRED_MAX 8
static MPROC__THREAD_LOCAL deferred_wake_t deferred[DEFERRED_MAX];

/* 1 when the wake-up of slot i of the Condition `handle` was put off. */
static int defer_wake(const mproc_condition_t *handle, uint32_t i) {
  mproc__handle_t h;
  uint32_t n = mproc__self_thread.wakes_deferred;
  if (n == DEFERRED_MAX)
    return 0;
  memcpy(&h, handle, sizeof h);
  deferred[n].generation = h.generation;
  deferred[n].size = h.size;
  deferred[n].creator_pid = h.creator_pid;
  deferred[n].slot = i;
  mproc__self_thread.wakes_deferred = n + 1;
  return 1;
}

void mproc__condition_wake_deferred(void) {
  uint32_t n = mproc__self_thread.wakes_deferred, i;
  mproc__self_thread.wakes_deferred = 0;
  for (i = 0; i < n; i++) {
    mproc__handle_t h;
    condition_body_t *b;
    memset(&h, 0, sizeof h);
    h.magic = MPROC__HANDLE_MAGIC;
    h.kind = MPROC__KIND_CONDITION;
    h.version = 1;
    h.creator_pid = deferred[i].creator_pid;
    h.generation = deferred[i].generation;
    h.size = deferred[i].size;
    /* A Condition destroyed meanwhile has woken all its sleepers. A slot
     * taken meanwhile by another waiter wakes it for nothing, and that
     * waiter goes back to sleep. */
    if (mproc__object_get(&h, MPROC__KIND_CONDITION, (void **)&b) == 0)
      wake_slot(&b->slots[deferred[i].slot]);
  }
}

/* Mark one waiting slot notified and wake its sleeper, or with `handle`
 * (the notifier holds the lock) put the wake-up off until the lock is let
 * go. 0 when another change came first. */
static int notify_slot(cond_slot_t *s, uint64_t word,
                       const mproc_condition_t *handle, uint32_t i) {
  uint64_t expected = word;
  if (!mproc__cas64(&s->word, &expected,
                    (word & ~(uint64_t)STATE_MASK) | SLOT_NOTIFIED))
    return 0;
  if (!handle || !defer_wake(handle, i))
    wake_slot(s);
  return 1;
}

/* Notify up to n waiting slots, starting where the last notify stopped so
 * that no slot is always last. With check_alive, slots of dead processes
 * are freed instead of notified (a slot of this process needs no check).
 * With `handle`, the wake-ups are put off (notify_slot). Returns how many
 * were notified. */
static uint32_t notify_some(condition_body_t *b, uint32_t n, int check_alive,
                            const mproc_condition_t *handle) {
  uint32_t used = mproc__load32(&b->used), done = 0, i, start;
  if (used == 0 || n == 0)
    return 0;
  start = mproc__add32(&b->cursor, 1) % used;
  for (i = 0; i < used && done < n; i++) {
    uint32_t at = (start + i) % used;
    cond_slot_t *s = &b->slots[at];
    uint64_t w = mproc__load64(&s->word);
    if ((w & STATE_MASK) != SLOT_WAITING)
      continue;
    if (check_alive && (uint32_t)(w >> 32) != mproc__self_pid() &&
        !slot_pid_alive(w)) {
      mproc__cas64(&s->word, &w, 0);
      continue;
    }
    done += (uint32_t)notify_slot(s, w, handle, at);
  }
  return done;
}

/* Free the slots of dead processes; a notification one of them had not
 * taken goes to a living waiter. */
static void rescue(condition_body_t *b) {
  uint32_t used = mproc__load32(&b->used), i;
  for (i = 0; i < used; i++) {
    cond_slot_t *s = &b->slots[i];
    uint64_t w = mproc__load64(&s->word);
    if ((w & STATE_MASK) == SLOT_FREE || slot_pid_alive(w))
      continue;
    if (mproc__cas64(&s->word, &w, 0) && (w & STATE_MASK) == SLOT_NOTIFIED)
      notify_some(b, 1, 1, NULL);
  }
}

/* Claim a free slot for this process: its index, or -1 when all are taken
 * by live waiters. */
static int claim(condition_body_t *b) {
  uint64_t mine = slot_word(mproc__self_pid(), SLOT_WAITING);
  int pass, i;
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < SLOTS; i++) {
      uint64_t expected = 0;
      uint32_t used;
      if (mproc__load64_rlx(&b->slots[i].word) != 0 ||
          !mproc__cas64(&b->slots[i].word, &expected, mine))
        continue;
      used = mproc__load32(&b->used);
      while (used < (uint32_t)i + 1 &&
             !mproc__cas32(&b->used, &used, (uint32_t)i + 1)) {
      }
      return i;
    }
    rescue(b);
  }
  return -1;
}

/* Give the slot up: 1 when it had been notified (the notification is
 * taken), 0 when it was still waiting. */
static int release_slot(cond_slot_t *s) {
  uint64_t expected = slot_word(mproc__self_pid(), SLOT_WAITING);
  if (mproc__cas64(&s->word, &expected, 0))
    return 0;
  mproc__store64(&s->word, 0);
  return 1;
}

/* ---- the API ------------------------------------------------------------ */

static int get(mproc_condition_t *c, condition_body_t **b) {
  return mproc__object_get(c, MPROC__KIND_CONDITION, (void **)b);
}

int mproc_condition_create(mproc_condition_t *out,
                           const mproc_condition_options_t *options) {
  condition_body_t *b;
  bound_lock_t lock;
  unsigned kind = MPROC__KIND_RLOCK;
  int owns = 0, rc;
  void *lock_body;
  if (!out || (options && options->lock && options->rlock) ||
      (options &&
       !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS)))
    return MPROC_EINVAL;
  if (options && options->lock) {
    kind = MPROC__KIND_LOCK;
    lock.lock = *options->lock;
  } else if (options && options->rlock) {
    lock.rlock = *options->rlock;
  } else {
    rc = mproc_rlock_create(&lock.rlock);
    if (rc != 0)
      return rc;
    owns = 1;
  }
  rc = mproc__object_get(&lock, kind, &lock_body);
  if (rc == 0)
    rc = mproc__object_create(out, MPROC__KIND_CONDITION, sizeof *b,
                              (void **)&b);
  if (rc != 0) {
    if (owns)
      mproc_rlock_destroy(&lock.rlock);
    return rc;
  }
  b->lock_kind = kind;
  b->owns_lock = (uint32_t)owns;
  b->lock = lock;
  mproc__object_publish(b);
  return 0;
}

int mproc_condition_acquire(mproc_condition_t *c, int64_t timeout_ms) {
  condition_body_t *b;
  int rc = get(c, &b);
  if (rc != 0)
    return rc;
  return b->lock_kind == MPROC__KIND_LOCK
             ? mproc_lock_acquire(&b->lock.lock, timeout_ms)
             : mproc_rlock_acquire(&b->lock.rlock, timeout_ms);
}

int mproc_condition_release(mproc_condition_t *c) {
  condition_body_t *b;
  int rc = get(c, &b);
  if (rc != 0)
    return rc;
  return b->lock_kind == MPROC__KIND_LOCK ? mproc_lock_release(&b->lock.lock)
                                          : mproc_rlock_release(&b->lock.rlock);
}

/* Sleep on the slot until it is notified, the deadline passes or the
 * condition is destroyed; rescue stranded notifications meanwhile. */
static void sleep_on_slot(condition_body_t *b, cond_slot_t *s, uint32_t wake,
                          int64_t deadline) {
  int64_t next_rescue = mproc__clock_ns() + RESCUE_NS;
  for (;;) {
    int64_t now, until;
    if ((mproc__load64(&s->word) & STATE_MASK) == SLOT_NOTIFIED ||
        mproc__object_destroyed(b))
      return;
    now = mproc__clock_ns();
    if (deadline != MPROC_INFINITE && now >= deadline)
      return;
    if (now >= next_rescue) {
      rescue(b);
      next_rescue = now + RESCUE_NS;
    }
    until = deadline != MPROC_INFINITE && deadline < next_rescue ? deadline
                                                                 : next_rescue;
    mproc__wait32(&s->wake, wake, until);
    wake = mproc__load32(&s->wake);
  }
}

int mproc_condition_wait(mproc_condition_t *c, int64_t timeout_ms) {
  condition_body_t *b;
  cond_slot_t *s;
  uint32_t depth = 0, wake;
  int64_t deadline;
  int rc, slot, notified;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE)
    return MPROC_EINVAL;
  rc = get(c, &b);
  if (rc != 0)
    return rc;
  if (mproc__lock_held(&b->lock, b->lock_kind) == 0)
    return MPROC_ENOTOWNER;
  /* Registered while the lock is held: a notify after the caller's last
   * look at its predicate finds this slot. */
  slot = claim(b);
  if (slot < 0)
    return MPROC_EOVERFLOW;
  s = &b->slots[slot];
  wake = mproc__load32(&s->wake);
  rc = mproc__lock_release_all(&b->lock, b->lock_kind, &depth);
  if (rc != 0) {
    /* Not the holder after all (a backend that cannot tell): a
     * notification this slot caught meanwhile belongs to someone else. */
    if (release_slot(s))
      notify_some(b, 1, 1, NULL);
    return rc;
  }
  deadline = mproc__deadline_from_timeout(timeout_ms);
  sleep_on_slot(b, s, wake, deadline);
  if (mproc__object_destroyed(b)) {
    release_slot(s);
    return MPROC_EBADHANDLE;
  }
  rc = mproc__lock_reacquire(&b->lock, b->lock_kind, depth);
  notified = release_slot(s);
  if (rc != 0)
    return rc; /* MPROC_EOWNERDEAD: held, and a holder died meanwhile */
  return notified ? 0 : MPROC_ETIMEDOUT;
}

static int notify(mproc_condition_t *c, uint32_t n, int check_alive) {
  condition_body_t *b;
  int held, rc = get(c, &b);
  if (rc != 0)
    return rc;
  held = mproc__lock_held(&b->lock, b->lock_kind);
  if (held == 0)
    return MPROC_ENOTOWNER;
  /* Wake-ups wait for the release of a lock this thread is known to hold;
   * when the backend cannot tell, they are made at once. */
  notify_some(b, n, check_alive, held == 1 ? c : NULL);
  return 0;
}

int mproc_condition_notify(mproc_condition_t *c, unsigned n) {
  return notify(c, n, 1);
}

/* Every waiting slot, dead or alive: a dead one's slot is freed by the
 * next rescue, and no liveness check is needed to wake everyone. */
int mproc_condition_notify_all(mproc_condition_t *c) {
  return notify(c, UINT32_MAX, 0);
}

static void condition_wake(void *body) {
  condition_body_t *b = (condition_body_t *)body;
  uint32_t used = mproc__load32(&b->used), i;
  for (i = 0; i < used; i++) {
    mproc__add32(&b->slots[i].wake, 1);
    mproc__wake32(&b->slots[i].wake);
  }
}

int mproc_condition_destroy(mproc_condition_t *c) {
  condition_body_t *b;
  bound_lock_t lock;
  int owns, rc = get(c, &b);
  if (rc != 0)
    return rc;
  owns = b->owns_lock != 0;
  lock = b->lock;
  rc = mproc__object_destroy(c, MPROC__KIND_CONDITION, condition_wake);
  if (rc == 0 && owns)
    mproc_rlock_destroy(&lock.rlock);
  return rc;
}
