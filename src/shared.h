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
  MPROC__KIND_QUEUE = 5
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
/* An id of the calling thread, unique within the process, never 0. */
uint32_t mproc__thread_token(void);

/* ---- objects: one segment each --------------------------------------- */

/* Create a segment holding a zeroed body of body_size bytes, fill the
 * 64-byte handle, and return the body. The caller initialises the body and
 * then calls mproc__object_publish(). */
int mproc__object_create(void *handle, unsigned kind, size_t body_size,
                         void **body);
void mproc__object_publish(void *body);

/* Find the body of a handle in this process, attaching its segment on
 * first use. Returns 0, MPROC_EINVAL (NULL handle), MPROC_EBADHANDLE
 * (zeroed, wrong kind, destroyed, or never created). */
int mproc__object_get(const void *handle, unsigned kind, void **body);

/* Whether the object was destroyed (sleepers check it when woken). */
int mproc__object_destroyed(void *body);

/* Destroy: mark the object destroyed so every process's next call fails
 * with MPROC_EBADHANDLE, let `wake` rouse its sleepers, remove the name,
 * unmap it here and zero the handle. */
int mproc__object_destroy(void *handle, unsigned kind,
                          void (*wake)(void *body));

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
/* 0, MPROC_EOWNERDEAD (acquired; the previous holder died), MPROC_ETIMEDOUT,
 * MPROC_ESTATE (the calling thread holds it and would wait forever). */
int mproc__xlock_acquire(mproc__xlock_t *l, int64_t deadline_ns);
/* 0, MPROC_ENOTOWNER. */
int mproc__xlock_release(mproc__xlock_t *l);

#endif
