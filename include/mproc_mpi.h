/* SPDX-License-Identifier: MIT */
/**
 * @file mproc_mpi.h
 * @brief mproc's Pool across machines: the same pool on MPI ranks.
 *
 * An optional library of its own (`mproc::mpi`, pkg-config `mproc-mpi`),
 * built when an MPI implementation is found. A pool made by
 * mproc_mpi_pool_create() is an ordinary #mproc_pool_t: mproc_pool_apply(),
 * mproc_pool_apply_async(), mproc_pool_map(), mproc_pool_imap(),
 * mproc_pool_imap_unordered(), mproc_pool_close(), mproc_pool_join(),
 * mproc_pool_terminate() and mproc_pool_free() work on it unchanged; its
 * workers are MPI ranks. Tasks travel by their registered name
 * (MPROC_TASK()), as under the spawn start method, and arguments and
 * results are bytes of any size.
 *
 * A program that uses it calls mproc_mpi_init() first thing in `main`, in
 * place of mproc_init() (which it calls). On ranks that serve as workers
 * that call runs the worker loop and ends the process when the pool's
 * owner is done; `main` goes on only on the rank that owns the pools.
 */
#ifndef MPROC_MPI_H
#define MPROC_MPI_H

#include "mproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @def MPROC_MPI_API
 * @brief Marks the functions libmproc_mpi exports. */
#if defined(MPROC_MPI_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define MPROC_MPI_API __attribute__((visibility("default")))
#else
#define MPROC_MPI_API
#endif

/** @brief Where a pool's worker ranks come from. */
typedef enum mproc_mpi_workers {
  /** Static when the job has more than one rank, dynamic otherwise. */
  MPROC_MPI_WORKERS_AUTO = 0,
  /** The job was started with `mpiexec -n N`: ranks 1..N-1 are the
   *  workers (all of them, or the first `processes`). */
  MPROC_MPI_WORKERS_STATIC = 1,
  /** The pool starts its workers with `MPI_Comm_spawn` of this program
   *  (or of `command`). Once the pool is freed they wait for the next
   *  dynamic pool of the same size, program and hosts, which takes them
   *  instead of spawning; they exit when the program does. */
  MPROC_MPI_WORKERS_DYNAMIC = 2
} mproc_mpi_workers_t;

/** @brief What a worker rank does with a task. */
typedef enum mproc_mpi_layout {
  /** The rank runs tasks itself: one rank per core. Fastest; a task that
   *  crashes takes its rank, and with it the job, down. */
  MPROC_MPI_RANK_PER_CORE = 0,
  /** The rank is a node supervisor: it runs tasks in local mproc worker
   *  processes (`local_processes` of them), so a task that crashes, is
   *  killed or runs past the pool's task timeout fails alone with
   *  MPROC_EWORKERLOST or MPROC_ETIMEDOUT, and `maxtasksperchild` works as
   *  in a local pool. One rank per node. */
  MPROC_MPI_SUPERVISOR = 1
} mproc_mpi_layout_t;

/** @brief Options for mproc_mpi_pool_create(); zero means the default. */
typedef struct mproc_mpi_options {
  /** Static, dynamic, or #MPROC_MPI_WORKERS_AUTO. */
  mproc_mpi_workers_t workers;
  /** #MPROC_MPI_RANK_PER_CORE or #MPROC_MPI_SUPERVISOR. */
  mproc_mpi_layout_t layout;
  /** Supervisor layout: local workers per rank; 0: that node's CPU count. */
  int local_processes;
  /** Dynamic: NULL, or the hosts to start workers on, comma separated
   *  (`a,b` or `a:4,b:4`), passed as the MPI info key `host`. */
  const char *hosts;
  /** Dynamic: NULL, or a hostfile, passed as the MPI info key
   *  `hostfile`. */
  const char *hostfile;
  /** Dynamic: NULL (this program), or the program to start as workers;
   *  it must call mproc_mpi_init() and register the same tasks. */
  const char *command;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_mpi_options_t;

/**
 * @brief Initialise mproc and MPI; on worker ranks, serve and exit.
 *
 * Calls mproc_init(), then `MPI_Init_thread` asking for
 * `MPI_THREAD_MULTIPLE` unless the program initialised MPI itself (it must
 * then have at least `MPI_THREAD_SERIALIZED`: the pool's own thread talks
 * to the workers). On a rank that is a worker (rank 1 and up of a job
 * started with several ranks, or a rank a dynamic pool started) it runs
 * the worker loop and ends the process when the owning rank is done
 * (`exit(0)`); it never returns there. On the owning rank (rank 0) it
 * returns 0, and `MPI_Finalize` runs at exit when mproc started MPI.
 *
 * @param argc  &argc of main.
 * @param argv  &argv of main; mproc's own arguments are removed.
 * @return 0; MPROC_ENOTSUP when MPI gives less than
 *         `MPI_THREAD_SERIALIZED`; MPROC_EOS when MPI fails; as
 *         mproc_init(). Call it from the main thread, first thing in main.
 */
MPROC_MPI_API int mproc_mpi_init(int *argc, char ***argv);

/**
 * @brief Create a pool whose workers are MPI ranks.
 *
 * `options` are those of mproc_pool_create(), read this way:
 * - `processes`: worker ranks. Static: 0 takes every rank but the owner;
 *   more than there are is MPROC_EINVAL. Dynamic: 0 is mproc_cpu_count()
 *   in the rank-per-core layout and 1 in the supervisor layout.
 * - `initializer` (registered with MPROC_TARGET()) runs once in each
 *   process that runs tasks: each rank, or each local worker.
 * - `maxtasksperchild`, `task_timeout_ms` and `start_method` apply to the
 *   local workers of the supervisor layout; in the rank-per-core layout a
 *   rank cannot be replaced or killed alone, and a non-zero
 *   `maxtasksperchild` or `task_timeout_ms` is MPROC_EINVAL.
 *
 * Static workers serve one pool at a time; a second static pool while
 * one is not freed is MPROC_ESTATE.
 *
 * @param out      Receives the pool.
 * @param options  NULL, or the pool's options.
 * @param mpi      NULL, or where the workers come from and what they do.
 * @return 0; MPROC_EINVAL (a value out of range, a non-zero reserved
 *         word); MPROC_ESTATE (mproc_mpi_init() not called, or
 *         not on the owning rank, or the static ranks are in use);
 *         MPROC_ENOTREG (initializer not registered); MPROC_EOS (MPI
 *         failed, e.g. the spawn); MPROC_ENOMEM.
 * The owning rank's threads.
 */
MPROC_MPI_API int mproc_mpi_pool_create(mproc_pool_t **out,
                                        const mproc_pool_options_t *options,
                                        const mproc_mpi_options_t *mpi);

/** @brief Where one worker of an MPI pool runs. */
typedef struct mproc_mpi_worker_info {
  /** Its rank: in MPI_COMM_WORLD (static), or in the spawned group. */
  int rank;
  /** Its slot on that rank: 0, or which local worker (supervisor). */
  int slot;
  /** The rank's process id on its host. */
  mproc_pid_t pid;
  /** The rank's host, as `MPI_Get_processor_name` gives it. */
  char host[64];
  /** Written as zero by mproc: room for later fields (see
   *  #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_mpi_worker_info_t;

/**
 * @brief Which rank and host each worker of an MPI pool is.
 * @param pool   A pool from mproc_mpi_pool_create().
 * @param out    An array of cap entries, or NULL when cap is 0.
 * @param cap    Its length.
 * @param count  Receives the number of workers.
 * @return 0; MPROC_ERANGE when there are more than cap (the first cap are
 *         written); MPROC_EINVAL (not an MPI pool, NULL count).
 */
MPROC_MPI_API int mproc_mpi_pool_workers(mproc_pool_t *pool,
                                         mproc_mpi_worker_info_t *out,
                                         size_t cap, size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* MPROC_MPI_H */
