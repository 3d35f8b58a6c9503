/* SPDX-License-Identifier: MIT */
/*
 * The common runtime of mproc's shared objects (Lock, RLock, Semaphore,
 * Event, Queue): segments and their names, value handles, the per-process
 * attach cache, owner identity, the crash-aware lock they are built on, and
 * reclamation of what crashed processes left behind.
 */
#ifndef MPROC_SHARED_H
#define MPROC_SHARED_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "atomics.h"
#include "internal.h"
#include "platform.h"

/* Kinds of shared object; a handle of one kind is refused by another's
 * functions. */
enum {
  MPROC__KIND_LOCK = 1,
  MPROC__KIND_RLOCK = 2,
  MPROC__KIND_SEMAPHORE = 3,
  MPROC__KIND_EVENT = 4,
  MPROC__KIND_QUEUE = 5,
  MPROC__KIND_CONDITION = 16,
  MPROC__KIND_BARRIER = 17,
  MPROC__KIND_ARRAY = 18,
  MPROC__KIND_CONNECTION = 32
};

/* Segment names: "/mproc-<creator pid, hex>-<48 bits of generation, hex>",
 * at most 28 characters. The creator's pid in the name is what lets
 * mproc__shm_reclaim() find what a dead creator left. */
#define MPROC__SHM_PREFIX "mproc-"
void mproc__shm_name(char name[MPROC__SHM_NAME_MAX + 1], uint32_t creator_pid,
                     uint64_t generation);

/* A random, non-zero 64-bit value; unique enough to name segments (their
 * creation also fails on a name that exists, and is retried). */
uint64_t mproc__random64(void);

/* This process's pid, cached (and renewed in a fork child). */
uint32_t mproc__self_pid(void);
/* A random id of this process, renewed in a fork child: unlike a pid, never
 * reused by a later process. */
uint64_t mproc__self_instance(void);

/* Who the calling thread is, for owners of RLocks and of the owner-pid
 * lock: its process's instance and a token unique among the process's
 * threads (never 0). Kept per thread so that an owner check costs two
 * loads; a fork child's only thread has its instance renewed by the fork
 * handler, like the process's. */
typedef struct mproc__thread_id {
  uint64_t instance; /* 0 until first asked (and again in a fork child) */
  uint32_t token;    /* 0 until first asked */
  /* Condition wake-ups this thread's notify put off until it lets go of
   * a lock (condition.c); 0 in a fork child. */
  uint32_t wakes_deferred;
} mproc__thread_id_t;
extern MPROC__THREAD_LOCAL mproc__thread_id_t mproc__self_thread;

/* Fill mproc__self_thread (shared.c); returns it. */
const mproc__thread_id_t *mproc__thread_id_fill(void);

static inline const mproc__thread_id_t *mproc__thread_id(void) {
  if (mproc__self_thread.instance == 0)
    return mproc__thread_id_fill();
  return &mproc__self_thread;
}

/* An id of the calling thread, unique within the process, never 0. */
static inline uint32_t mproc__thread_token(void) {
  return mproc__thread_id()->token;
}

/* ---- objects: one segment each --------------------------------------- */

/* Create a segment holding a zeroed body of body_size bytes, fill the
 * 64-byte handle, and return the body. The caller initialises the body and
 * then calls mproc__object_publish(). */
int mproc__object_create(void *handle, unsigned kind, size_t body_size,
                         void **body);
void mproc__object_publish(void *body);

/* As mproc__object_create, with the segment backed at once: a body the
 * system cannot hold fails with MPROC_ENOMEM here, not with a fault when it
 * is first touched. For bodies whose size the caller chooses (Array). */
int mproc__object_create_reserved(void *handle, unsigned kind, size_t body_size,
                                  void **body);

#define MPROC__HANDLE_MAGIC 0x6d70534fu  /* "mpSO" */
#define MPROC__SEGMENT_MAGIC 0x6d705347u /* "mpSG" */
#define MPROC__HEADER_BYTES 64

/* What a public handle holds; the public types are the same 64 bytes. */
typedef struct mproc__handle {
  uint32_t magic;
  uint16_t kind;
  uint16_t version;
  uint32_t creator_pid;
  uint32_t reserved0;
  uint64_t generation;
  uint64_t size; /* of the whole segment */
  uint64_t reserved[4];
} mproc__handle_t;

_Static_assert(sizeof(mproc__handle_t) == 64, "handles are 64 bytes");
_Static_assert(sizeof(mproc_lock_t) == 64 && sizeof(mproc_queue_t) == 64,
               "public handles are 64 bytes");

/* The first 64 bytes of every segment. */
typedef struct mproc__segment_header {
  mproc__atomic_u32 magic; /* written last at creation */
  uint32_t kind;
  uint64_t generation;
  uint64_t size;
  uint32_t creator_pid;
  mproc__atomic_u32 destroyed;
  uint64_t reserved[4];
} mproc__segment_header_t;

_Static_assert(sizeof(mproc__segment_header_t) == MPROC__HEADER_BYTES,
               "the header keeps bodies 64-byte aligned");

/* The direct-mapped front of the per-process attach cache (shared.c): each
 * slot holds a generation and a base, written under a lock as
 * "generation 0, base, generation" and read without one. */
#define MPROC__SLOTS 256
typedef struct mproc__slot {
  mproc__atomic_u64 generation;
  mproc__atomic_u64 base;
} mproc__slot_t;
extern mproc__slot_t mproc__slots[MPROC__SLOTS];

/* The whole lookup: validates the handle, attaches on first use. */
int mproc__object_get_slow(const void *handle, unsigned kind, void **body);

/* The common case of mproc__object_get, on its own: the body of a valid
 * handle of this kind whose segment is in the cache, or NULL, and then
 * mproc__object_get_slow() decides. A caller that takes this path first
 * and the slow one apart keeps its fast path free of calls. */
static inline void *mproc__object_cached(const void *handle, unsigned kind) {
  const unsigned char *p = (const unsigned char *)handle;
  mproc__slot_t *s;
  mproc__segment_header_t *hd;
  uint32_t words[2], want;
  uint16_t kind_version[2];
  uint64_t generation, size;
  if (!p)
    return NULL;
  /* Field by field through memcpy: the public handle is another type, and
   * these compile to plain loads. The magic, kind and version (1, the only
   * one) are compared as one 64-bit word; a zero generation matches no
   * cached segment (a slot being rewritten holds 0, but then the header's
   * generation, never 0, disagrees). */
  memcpy(words, p + offsetof(mproc__handle_t, magic), sizeof words);
  kind_version[0] = (uint16_t)kind;
  kind_version[1] = 1;
  memcpy(&want, kind_version, sizeof want);
  memcpy(&generation, p + offsetof(mproc__handle_t, generation),
         sizeof generation);
  memcpy(&size, p + offsetof(mproc__handle_t, size), sizeof size);
  s = &mproc__slots[generation % MPROC__SLOTS];
  if (words[0] != MPROC__HANDLE_MAGIC || words[1] != want ||
      size <= MPROC__HEADER_BYTES ||
      mproc__load64_acq(&s->generation) != generation)
    return NULL;
  hd = (mproc__segment_header_t *)(uintptr_t)mproc__load64_acq(&s->base);
  if (!hd || mproc__load32_acq(&hd->magic) != MPROC__SEGMENT_MAGIC ||
      hd->generation != generation || hd->kind != kind ||
      mproc__load32_rlx(&hd->destroyed))
    return NULL;
  return (unsigned char *)hd + MPROC__HEADER_BYTES;
}

/* Find the body of a handle in this process, attaching its segment on
 * first use. Returns 0, MPROC_EINVAL (NULL handle), MPROC_EBADHANDLE
 * (zeroed, wrong kind, destroyed, or never created).
 *
 * Every call on a shared object starts here, so the common case (a valid
 * handle of a segment already in the cache) is inline and checks exactly
 * what the slow path checks: the handle's magic, kind, generation and size,
 * then the segment header's magic, generation, kind and destroyed mark.
 * Anything else takes the slow path, which decides. */
static inline int mproc__object_get(const void *handle, unsigned kind,
                                    void **body) {
  void *found = mproc__object_cached(handle, kind);
  int rc;
  if (found) {
    *body = found;
    return 0;
  }
  /* Through a local of its own: the caller's *body is then never seen to
   * escape, and stays in a register on the fast path. */
  rc = mproc__object_get_slow(handle, kind, &found);
  *body = found;
  return rc;
}

/* Whether the object was destroyed (sleepers check it when woken). */
int mproc__object_destroyed(void *body);

/* Destroy: mark the object destroyed so every process's next call fails
 * with MPROC_EBADHANDLE, let `wake` rouse its sleepers, remove the name,
 * unmap it here and zero the handle. */
int mproc__object_destroy(void *handle, unsigned kind,
                          void (*wake)(void *body));

/* Names SharedMemory blocks have in the system, without the '/'. */
#define MPROC__SHM_BLOCK_PREFIX "mpb-"

/* Reclaim one listed block (shared_memory.c): removes its name when its
 * creator is gone and it does not persist. 1 when removed. */
int mproc__shm_block_reclaim(const char *listed);

/* ---- wake-ups a Condition's notify puts off (condition.c) --------------- */

/* A notify marks its waiters notified at once but wakes them only when the
 * notifying thread lets go of a lock: a waiter woken while the notifier
 * still holds the Condition's lock would only go back to sleep on that
 * lock, and be woken a second time. Every release of a Lock or RLock that
 * lets go asks mproc__wakes_deferred() first, and when it says so releases
 * and then calls mproc__condition_wake_deferred(). */
void mproc__condition_wake_deferred(void);

static inline int mproc__wakes_deferred(void) {
  return mproc__self_thread.wakes_deferred != 0;
}

/* ---- the Lock or RLock under a Condition (lock.c) ----------------------- */

/* Whether the calling thread holds the Lock or RLock (kind) of handle: 1,
 * 0 (also for a bad handle), or -1 when the backend's lock cannot tell. */
int mproc__lock_held(const void *handle, unsigned kind);

/* Release it completely (an RLock at whatever depth), saving the depth for
 * mproc__lock_reacquire(). 0, MPROC_ENOTOWNER, MPROC_EBADHANDLE. */
int mproc__lock_release_all(const void *handle, unsigned kind, uint32_t *depth);

/* Take it again, waiting as long as it takes, at the saved depth.
 * 0, MPROC_EOWNERDEAD (taken; a holder died), MPROC_EBADHANDLE. */
int mproc__lock_reacquire(const void *handle, unsigned kind, uint32_t depth);

/* ---- the crash-aware lock every object is built on --------------------- */

/* A lock in shared memory. Backed by the backend's native lock when it has
 * one (robust mutexes), otherwise by an owner-pid word: the pid of the
 * holding process is the lock word itself (taken with one compare-and-swap,
 * so no instant exists where it is held but its owner unknown), and a
 * waiter that finds that pid gone takes the lock over. */
typedef struct mproc__xlock {
  uint32_t native;           /* set at init: which of the two is used */
  mproc__atomic_u32 word;    /* owner-pid form: the holder's pid, or 0 */
  mproc__atomic_u32 waiters; /* owner-pid form: sleepers on word */
  mproc__atomic_u32 thread;  /* owner-pid form: the holder's thread token */
  uint64_t native_mem[MPROC__NATIVE_LOCK_BYTES / 8];
} mproc__xlock_t;

int mproc__xlock_init(mproc__xlock_t *l);

/* The owner-pid form (lock.c), for backends without a native lock. */
int mproc__pid_lock_acquire(mproc__xlock_t *l, int64_t deadline_ns);
int mproc__pid_lock_release(mproc__xlock_t *l);

/* 0, MPROC_EOWNERDEAD (acquired; the previous holder died), MPROC_ETIMEDOUT,
 * MPROC_ESTATE (the calling thread holds it and would wait forever).
 * Inline, as every locked call goes through it: one branch to the form
 * chosen at init. */
static inline int mproc__xlock_acquire(mproc__xlock_t *l, int64_t deadline_ns) {
  if (l->native)
    return mproc__native_lock_acquire(l->native_mem, deadline_ns);
  return mproc__pid_lock_acquire(l, deadline_ns);
}

/* 0, MPROC_ENOTOWNER. */
static inline int mproc__xlock_release(mproc__xlock_t *l) {
  if (l->native)
    return mproc__native_lock_release(l->native_mem);
  return mproc__pid_lock_release(l);
}

#endif
