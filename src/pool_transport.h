/* SPDX-License-Identifier: MIT */
/*
 * The pool's transport seam: how the pool engine reaches its workers.
 *
 * The engine (pool.c, pool_thread.c, pool_jobs.c, pool_map.c) holds every
 * policy — the job queue, chunking, ordering, callbacks, imap, apply
 * leases, what a lost worker costs, task timeouts — and talks to workers
 * only through the operations below, in the manner of SQLite's
 * sqlite3_vfs: a struct of function pointers with a version. A transport
 * holds mechanisms only: how a worker is started, how bytes reach it and
 * come back, how to wait for several workers at once, and how a worker is
 * stopped, killed and reaped.
 *
 * The local transport (pool_local.c: mproc Processes and pipes, every start
 * method, both backends) is the first implementation. A transport whose
 * workers are not local processes (MPI ranks, say) implements the same
 * operations: a worker is named by a slot number given by the engine and
 * identified by an `id` the transport chooses (a pid, a rank), and
 * described by an `info` string (its host and rank, say).
 *
 * What travels. The engine sends a worker a byte stream of job frames and
 * reads back a byte stream of result frames (pool_wire.h). A transport
 * moves bytes in order, without loss, duplication or reordering between
 * one worker and the pool; message boundaries need not be kept. The
 * worker's end of the stream is a mproc__pool_channel_t, handed by the
 * transport to mproc__pool_worker_run() (pool_worker.c) in the worker.
 *
 * Threads. The pool's thread calls every operation. In addition, when the
 * transport sets MPROC__TRANSPORT_LEASES, a caller of mproc_pool_apply()
 * may lease one idle worker: it then calls send, wait (on that worker
 * only, without the wake-up), recv and kill for that slot from its own
 * thread while the pool's thread keeps calling wait and recv for the other
 * slots. wake and kill may be called from any thread at any time. No slot
 * is ever used by two threads at once except for kill.
 *
 * Errors are MPROC_E* codes. A slot is "started" from a successful start
 * until reap; every slot-taking operation but start is called only on a
 * started slot.
 */
#ifndef MPROC_POOL_TRANSPORT_H
#define MPROC_POOL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this header describes; a transport sets `version` to it. */
#define MPROC__TRANSPORT_VERSION 1

/* Flags of a transport. */
/* A worker may be leased by a caller's thread (see Threads above). */
#define MPROC__TRANSPORT_LEASES 0x1u

/* What the engine tells a transport when it opens one for a pool. */
typedef struct mproc__transport_config {
  int nworkers;                /* slots 0 .. nworkers-1 */
  mproc_start_method_t method; /* resolved: never DEFAULT */
  const void *arg;             /* the transport's own argument, or NULL */
  /* Out: 1 when tasks must travel by their registered name (a worker is
   * not a copy of this process), 0 when a function's address is valid in
   * the worker (fork). */
  int by_name;
} mproc__transport_config_t;

/* How a worker reads and writes its end of the stream (in the worker). */
typedef struct mproc__pool_channel {
  void *ctx;
  /* Wait for at least one byte, then read what is there, at most n bytes.
   * Returns 0 with *got > 0; MPROC_ECLOSED when the pool will send no more
   * (the worker then exits); another code on failure. */
  int (*read_some)(void *ctx, void *buf, size_t n, size_t *got);
  /* Write all n bytes, waiting as needed. Returns 0, or an error when the
   * pool is gone (the worker then exits). */
  int (*write_all)(void *ctx, const void *buf, size_t n);
} mproc__pool_channel_t;

typedef struct mproc__transport {
  int version;      /* MPROC__TRANSPORT_VERSION */
  const char *name; /* "local", "mpi", ... */
  unsigned flags;   /* MPROC__TRANSPORT_* */

  /* Make a transport for one pool (no worker started yet): *state is what
   * every other operation gets. Sets cfg->by_name. Returns 0;
   * MPROC_ENOTSUP when it cannot serve cfg->method; MPROC_ENOMEM;
   * MPROC_EOS. */
  int (*open)(mproc__transport_config_t *cfg, void **state);

  /* Free the transport. Every slot has been reaped (or never started). */
  void (*close)(void *state);

  /* Start a worker in the empty slot. The worker runs
   * mproc__pool_worker_run(channel, args, args_size) with its end of the
   * stream and a copy of the args bytes, and ends when it returns. *id is
   * the worker's identity for mproc_pool_worker_pids() (a pid, a rank),
   * positive. Must not wait for the worker to do anything. Returns 0, or
   * an error with the slot left empty. */
  int (*start)(void *state, int slot, const void *args, size_t args_size,
               int64_t *id);

  /* Send all n bytes to the worker, waiting while it is busy reading
   * (the engine never sends more than the worker will read before it
   * answers: see pool_wire.h). Returns 0; any error means the worker is
   * gone or going, and a following recv reports MPROC_ECLOSED (the bytes
   * may or may not have arrived; the engine treats them as not). */
  int (*send)(void *state, int slot, const void *buf, size_t n);

  /* Read what the worker has sent, at most n bytes, without waiting.
   * Returns 0 with *got > 0; MPROC_EEMPTY when nothing is there now;
   * MPROC_ECLOSED when the worker is lost — it ended, was killed, or its
   * stream broke — and everything it sent before has been read. After
   * MPROC_ECLOSED the engine calls reap. */
  int (*recv)(void *state, int slot, void *buf, size_t n, size_t *got);

  /* Sleep until one of the n slots has something to say (bytes, or its
   * loss: a recv would not return MPROC_EEMPTY), or, when `wake` is
   * non-zero, a wake-up is pending, or the deadline (mproc__clock_ns
   * clock, MPROC_INFINITE for none) passes. Sets ready[i] to 1 for each
   * slot with something to say and *woken to 1 when a pending wake-up
   * was consumed (0 otherwise). Returns 0 (something is ready or woke),
   * MPROC_ETIMEDOUT, or an error (the engine then looks again). Only the
   * pool's thread passes `wake` non-zero. */
  int (*wait)(void *state, const int *slots, size_t n, int wake,
              int64_t deadline_ns, unsigned char *ready, int *woken);

  /* From any thread: make the pool thread's current or next wait with
   * `wake` return with *woken = 1. Wake-ups may be coalesced, but none is
   * ever lost: a wake() that returns before a wait() consumes the pending
   * wake-up is seen by that wait or a later one, so the engine, which
   * looks at its state after every wait that woke, sees every change made
   * before a wake(). Never fails, never blocks for long. */
  void (*wake)(void *state);

  /* Whether a started worker is still alive, without waiting: *alive 1 or
   * 0. The engine asks this of idle workers, which it does not wait on.
   * Returns 0, or an error (then the worker is taken as alive). */
  int (*alive)(void *state, int slot, int *alive);

  /* The worker will get no more jobs: it ends once it has answered what
   * it was sent (the local transport closes its job pipe; the worker
   * reads end of file). recv then reports MPROC_ECLOSED after its last
   * answer. */
  void (*stop)(void *state, int slot);

  /* End the worker now (SIGKILL, TerminateProcess, an abort message);
   * from any thread, also while another thread sends to it or waits on
   * it, which then see it lost. A worker already ended is left alone. */
  void (*kill)(void *state, int slot);

  /* The worker is lost or stopped: wait up to grace_ms (MPROC_INFINITE:
   * without limit) for it to end, kill it if it has not, wait for that,
   * and free what the slot holds, leaving it empty for start. Sets
   * *exitcode and returns 1 when the worker's exit code is known, else
   * returns 0. */
  int (*reap)(void *state, int slot, int64_t grace_ms, int *exitcode);

  /* A human-readable description of the started worker ("pid 1234",
   * "rank 3 on node7"), NUL-terminated, cut to fit n bytes. */
  void (*info)(void *state, int slot, char *buf, size_t n);
} mproc__transport_t;

/* The three declarations below are exported from the shared library,
 * though no public header has them: libmproc_mpi (the MPI transport,
 * src/mpi/) is built on them. */

/* The local transport: mproc Processes and pipes (pool_local.c). */
MPROC_API extern const mproc__transport_t mproc__transport_local;

/* The worker's side (pool_worker.c): read jobs from the channel, run them,
 * answer each, until the channel ends or the worker has run its
 * maxtasksperchild. args are the bytes the engine gave start. Returns 0
 * on an orderly end, MPROC__EXIT_BOOTSTRAP_FAILED when args are not a
 * pool's worker arguments. */
MPROC_API int mproc__pool_worker_run(const mproc__pool_channel_t *ch,
                                     const void *args, size_t args_size);

/* Make a pool whose workers are reached through `transport` (opened with
 * `transport_arg` as cfg.arg). mproc_pool_create() is this with
 * mproc__transport_local. Same returns as mproc_pool_create(). */
MPROC_API int mproc__pool_create_with(mproc_pool_t **out,
                                      const mproc_pool_options_t *options,
                                      const mproc__transport_t *transport,
                                      const void *transport_arg);

#ifdef __cplusplus
}
#endif

#endif
