/* SPDX-License-Identifier: MIT */
/*
 * The pool engine's records, shared by its files:
 *   pool.c        the caller's API: create, apply (and its lease), the
 *                 lifecycle (close, join, terminate, free);
 *   pool_thread.c what the pool's own thread runs: hand jobs to workers,
 *                 read their answers, replace lost workers, time tasks out;
 *   pool_jobs.c   results: completing and failing jobs, async results;
 *   pool_map.c    map, map_async and imap: chunks and their results.
 * The engine reaches workers only through the transport seam
 * (pool_transport.h) and speaks to them in frames (pool_wire.h).
 *
 * A job is an apply task or a map chunk. A worker runs its jobs in the
 * order they were sent and answers each before reading the next, so when
 * it is lost the oldest job without an answer is the one it was running,
 * and those behind it never started: the first fails (MPROC_EWORKERLOST,
 * or MPROC_ETIMEDOUT when the pool killed it for its task timeout), the
 * others are queued again.
 *
 * A blocking mproc_pool_apply() does not go through the pool's thread
 * when a worker is idle and the transport allows leases: the calling
 * thread leases the worker, sends the task and reads the answer itself, so
 * a round trip costs two wake-ups (worker, caller) instead of four. While
 * leased, the worker's record is the caller's; anything but a clean
 * answer (loss, a broken frame, the task timeout, terminate) ends the
 * lease early and hands the worker, with the job still on it, back to the
 * pool's thread, which deals with it as with any other worker. The pool's
 * thread does not wait on idle workers (a leased worker's answer would
 * wake it for nothing): it asks every IDLE_CHECK_MS whether they are still
 * alive, as Python's pool does for all its workers.
 *
 * Locks: one mutex per pool (in `core`, which outlives the pool while
 * results or iterators still point at it) guards the queue, the state,
 * every result, and the `idle`, `leased`, `dead` marks and `id` of
 * workers. A worker's other fields belong to the pool's thread, except
 * while the worker is idle (then only code holding the lock touches it) or
 * leased (then only its lessee does).
 */
#ifndef MPROC_POOL_ENGINE_H
#define MPROC_POOL_ENGINE_H

#include "platform.h"
#include "pool_transport.h"
#include "pool_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most jobs sent to one worker and not yet answered. */
#define INFLIGHT_MAX 8
/* Bytes read from a worker at once. */
#define STAGE_SIZE 65536

/* What results and iterators share with the pool; freed with the last. */
typedef struct core {
  mproc__mutex_t lock;
  mproc__cond_t *cond; /* broadcast whenever anything completes */
  int refs;
} core_t;

enum job_kind { JOB_APPLY, JOB_CHUNK };

typedef struct job {
  struct job *next; /* the pending queue */
  enum job_kind kind;
  int unsent; /* its frame never reached the worker whole */
  struct mproc_async_result *result; /* JOB_APPLY */
  struct mproc_imap *batch;          /* JOB_CHUNK */
  size_t first, count;               /* JOB_CHUNK: items [first, first+count) */
} job_t;

#define RESULT_MAGIC 0x52534c54u
#define BATCH_MAGIC 0x42415443u

struct mproc_async_result {
  uint32_t magic;
  core_t *core;
  int refs; /* the caller's handle + the pool until the job is done */
  int ready;
  int status;
  int exitcode;
  int has_exitcode;
  unsigned char *data;
  size_t size;
  mproc_task_fn fn;
  const char *fn_name; /* by name: registered, lives as long as the program */
  unsigned char *arg;
  size_t arg_size;
  mproc_apply_options_t callbacks;
  job_t job;
  /* map_async: the map this result stands for (its batch), else NULL. */
  struct mproc_imap *map;
};

enum batch_mode { BATCH_MAP, BATCH_IMAP, BATCH_IMAP_UNORDERED };

/* A map or imap call: its items, its chunks and where their results go. */
struct mproc_imap {
  uint32_t magic;
  core_t *core;
  enum batch_mode mode;
  mproc_task_fn fn;
  const char *fn_name; /* by name: see mproc_async_result */
  const unsigned char *items;
  unsigned char *items_owned;
  size_t item_size, count;
  job_t *jobs;
  size_t chunks_left; /* chunks without an outcome; under core->lock */
  int owner_gone;     /* the caller freed the iterator */
  int *statuses;
  int *statuses_owned;
  /* BATCH_MAP: fixed slots. */
  unsigned char *results;
  size_t result_size;
  /* BATCH_IMAP*: one buffer per item; done[i] once its outcome is in. */
  unsigned char **data;
  size_t *sizes;
  unsigned char *done;
  size_t *order; /* completion order (unordered), order_len entries */
  size_t order_len;
  size_t next;         /* items handed out by mproc_imap_next() */
  unsigned char *last; /* the data handed out last, freed on the next call */
  /* map_async: the result completed when the last chunk is in. */
  struct mproc_async_result *async;
};

typedef struct worker {
  int started;                   /* the transport's slot holds a worker */
  int64_t id;                    /* its pid or rank; under core->lock */
  job_t *inflight[INFLIGHT_MAX]; /* oldest first; [0] is running */
  int n_inflight;
  int64_t head_start_ns; /* when inflight[0] started, as far as we know */
  size_t tasks_sent;
  int quitting;  /* stopped: it exits when idle */
  int timed_out; /* killed for running past the task timeout */
  /* Under core->lock: */
  int idle;   /* no job and not watched by the pool's thread: may be leased */
  int leased; /* a caller of mproc_pool_apply() is talking to it */
  int dead;   /* found dead while idle: watched until its loss shows */
  /* Reading answers without blocking. */
  unsigned char *stage;
  mproc__frame_reader_t rd;
} worker_t;

enum pool_state { POOL_RUNNING, POOL_CLOSED, POOL_TERMINATING };

struct mproc_pool {
  mproc_pool_t *next_pool, *prev_pool; /* the registry */
  core_t *core;
  mproc_pid_t owner;
  enum pool_state state;
  int nproc;
  const mproc__transport_t *tp;
  void *ts;                   /* the transport's state */
  int by_name;                /* tasks travel by registered name */
  unsigned char *worker_args; /* worker_args_t and what follows it */
  size_t worker_args_size;
  size_t maxtasks;
  int64_t task_timeout_ms; /* MPROC_INFINITE: none */
  worker_t *workers;
  job_t *head, *tail; /* pending jobs */
  mproc__thread_t *thread;
  int thread_done;
  int thread_joined;
  int64_t respawn_at_ns;
  int64_t idle_check_ns;
  unsigned char *scratch; /* frame assembly, pool thread only */
  size_t scratch_cap;
  /* The pool thread's own arrays, nproc (times INFLIGHT_MAX) entries. */
  int *wait_slots;
  unsigned char *wait_ready;
  worker_t **send_w;
  job_t **send_j;
  unsigned char *own; /* this pass may touch worker i without the lock */
};

/* pool_jobs.c */
void mproc__core_release(core_t *core);
void mproc__core_destroy(core_t *core);
int mproc__result_release(mproc_async_result_t *r);
void mproc__complete_apply(mproc_async_result_t *r, int status,
                           unsigned char *data, size_t size, int has_exitcode,
                           int exitcode);
void mproc__fail_job(job_t *j, int status, int has_exitcode, int exitcode);
int mproc__complete_chunk(job_t *j, const unsigned char *p, size_t n);
void mproc__batch_free(struct mproc_imap *b);
int mproc__result_wait_locked(mproc_async_result_t *r, int64_t timeout_ms);
/* The first failing item's status of a map, or 0. */
int mproc__map_status(const struct mproc_imap *b);
/* Every chunk of a map_async's batch has its outcome: complete its result
 * (callbacks, then ready). */
void mproc__map_async_done(struct mproc_imap *b);

/* pool_thread.c */
void mproc__pool_thread(void *arg);
int mproc__worker_start(mproc_pool_t *pool, worker_t *w);
void mproc__worker_close(mproc_pool_t *pool, worker_t *w);
/* Read what w has sent, up to a quantum, completing the jobs whose
 * answers arrived whole. Returns 0 (nothing more now); MPROC_ECLOSED when
 * the worker is lost; MPROC_EINVAL or MPROC_ENOMEM when it broke the
 * protocol or its frame cannot be held: the worker has to go. */
int mproc__worker_read(mproc_pool_t *pool, worker_t *w);
/* The frame of job j: header, payload and the task's name (NULL by
 * address). */
void mproc__job_frame(const job_t *j, frame_t *f, const void **payload,
                      const char **name);
int mproc__send_frame(mproc_pool_t *pool, worker_t *w, const frame_t *f,
                      const char *name, const void *payload);

/* pool.c */
int mproc__check_pool(mproc_pool_t *pool);
int mproc__pool_task_name(const mproc_pool_t *pool, mproc_task_fn fn,
                          const char **name);
/* Queue jobs (a linked run) on a running pool; takes one core reference
 * for their owner on success. */
int mproc__enqueue(mproc_pool_t *pool, job_t *first, job_t *last);
void mproc__queue_locked(mproc_pool_t *pool, job_t *first, job_t *last);

#ifdef __cplusplus
}
#endif

#endif
