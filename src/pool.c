/* SPDX-License-Identifier: MIT */
/*
 * Pool: Python's process pool, with workers whose death costs one task.
 *
 * This file is the caller's side of the engine (see pool_engine.h for the
 * whole map): creating a pool, apply and apply_async (with the blocking
 * apply's lease of an idle worker), and the lifecycle: close, join,
 * terminate, free. The pool's own thread is in pool_thread.c, results in
 * pool_jobs.c, map and imap in pool_map.c; workers are reached through a
 * transport (pool_transport.h), the local one by default.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_engine.h"
#include "targets.h"

/* Frames up to this size are sent by a lessee in one send. */
#define LEASE_FRAME_MAX 512

/* Every live pool of this process, so a freed handle is reported. */
static struct {
  mproc__mutex_t lock;
  mproc_pool_t *head;
} registry = {MPROC__MUTEX_INITIALIZER, NULL};

int mproc__check_pool(mproc_pool_t *pool) {
  mproc_pool_t *it;
  int found = 0;
  if (!pool)
    return MPROC_EINVAL;
  mproc__mutex_lock(&registry.lock);
  for (it = registry.head; it; it = it->next_pool)
    if (it == pool)
      found = 1;
  mproc__mutex_unlock(&registry.lock);
  if (!found)
    return MPROC_EBADHANDLE;
  /* A fork child holds a copy of the pool but none of its workers. */
  if (pool->owner != mproc__os_getpid())
    return MPROC_ESTATE;
  return 0;
}

/* Take the pool off the registry; 0 when it was not there. */
static int registry_remove(mproc_pool_t *pool) {
  mproc_pool_t *it;
  int found = 0;
  mproc__mutex_lock(&registry.lock);
  for (it = registry.head; it; it = it->next_pool) {
    if (it != pool)
      continue;
    found = 1;
    if (pool->prev_pool)
      pool->prev_pool->next_pool = pool->next_pool;
    else
      registry.head = pool->next_pool;
    if (pool->next_pool)
      pool->next_pool->prev_pool = pool->prev_pool;
    break;
  }
  mproc__mutex_unlock(&registry.lock);
  return found;
}

static void registry_add(mproc_pool_t *pool) {
  mproc__mutex_lock(&registry.lock);
  pool->next_pool = registry.head;
  if (registry.head)
    registry.head->prev_pool = pool;
  registry.head = pool;
  mproc__mutex_unlock(&registry.lock);
}

/* The name fn travels by to the pool's workers: NULL under fork, where
 * its address does; MPROC_ENOTREG when the workers could not find it. */
int mproc__pool_task_name(const mproc_pool_t *pool, mproc_task_fn fn,
                          const char **name) {
  *name = NULL;
  if (!pool->by_name)
    return 0;
  *name = mproc__task_name(fn);
  if (!*name || !**name)
    return MPROC_ENOTREG;
  return strlen(*name) <= TASK_NAME_MAX ? 0 : MPROC_EINVAL;
}

/* ---- create ------------------------------------------------------------ */

static int check_options(const mproc_pool_options_t *o) {
  if (o->processes < 0 ||
      (o->task_timeout_ms < 0 && o->task_timeout_ms != MPROC_INFINITE) ||
      (!o->initargs && o->initargs_size > 0) ||
      o->start_method < MPROC_START_DEFAULT ||
      o->start_method > MPROC_START_FORKSERVER ||
      !mproc__reserved_zero(o->reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;
  return 0;
}

/* What every worker is started with, made once. */
static int make_worker_args(mproc_pool_t *pool, const mproc_pool_options_t *o) {
  const char *init_name = NULL;
  size_t init_name_len;
  worker_args_t wa;
  /* A fresh program knows the initializer only by its registered name. */
  if (pool->by_name && o->initializer) {
    init_name = mproc__target_name(o->initializer);
    if (!init_name || !*init_name)
      return MPROC_ENOTREG;
    if (strlen(init_name) > TASK_NAME_MAX)
      return MPROC_EINVAL;
  }
  init_name_len = init_name ? strlen(init_name) : 0;
  if (o->initargs_size > SIZE_MAX - sizeof wa - init_name_len)
    return MPROC_ENOMEM;
  memset(&wa, 0, sizeof wa);
  wa.magic = WORKER_ARGS_MAGIC;
  wa.by_name = (uint32_t)pool->by_name;
  wa.maxtasks = o->maxtasksperchild;
  wa.init_name_len = init_name_len;
  wa.initargs_size = o->initargs_size;
  wa.initializer = pool->by_name ? NULL : o->initializer;
  pool->worker_args_size = sizeof wa + init_name_len + o->initargs_size;
  pool->worker_args = malloc(pool->worker_args_size);
  if (!pool->worker_args)
    return MPROC_ENOMEM;
  memcpy(pool->worker_args, &wa, sizeof wa);
  if (init_name_len)
    memcpy(pool->worker_args + sizeof wa, init_name, init_name_len);
  if (o->initargs_size)
    memcpy(pool->worker_args + sizeof wa + init_name_len, o->initargs,
           o->initargs_size);
  return 0;
}

/* The pool thread's arrays and the worker records. */
static int alloc_arrays(mproc_pool_t *pool) {
  size_t n = (size_t)pool->nproc;
  pool->workers = calloc(n, sizeof *pool->workers);
  pool->wait_slots = malloc(n * sizeof *pool->wait_slots);
  pool->wait_ready = malloc(n);
  pool->send_w = malloc(INFLIGHT_MAX * n * sizeof *pool->send_w);
  pool->send_j = malloc(INFLIGHT_MAX * n * sizeof *pool->send_j);
  pool->own = malloc(n);
  if (!pool->workers || !pool->wait_slots || !pool->wait_ready ||
      !pool->send_w || !pool->send_j || !pool->own)
    return MPROC_ENOMEM;
  return 0;
}

/* Free what create made; workers still running are killed and reaped,
 * except in a fork child's copy of the pool, which has none of its own. */
static void pool_destroy(mproc_pool_t *pool) {
  int i, exitcode;
  int owner = pool->owner == mproc__os_getpid();
  for (i = 0; owner && pool->workers && i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!w->started)
      continue;
    pool->tp->kill(pool->ts, i);
    (void)pool->tp->reap(pool->ts, i, MPROC_INFINITE, &exitcode);
    mproc__worker_close(pool, w);
  }
  if (pool->ts)
    pool->tp->close(pool->ts);
  free(pool->workers);
  free(pool->worker_args);
  free(pool->scratch);
  free(pool->wait_slots);
  free(pool->wait_ready);
  free(pool->send_w);
  free(pool->send_j);
  free(pool->own);
  free(pool);
}

/* A pool record with its core and transport, no worker started. */
static int pool_new(mproc_pool_t **out, const mproc_pool_options_t *o,
                    const mproc__transport_t *tp, const void *tp_arg) {
  mproc__transport_config_t cfg;
  mproc_pool_t *pool = calloc(1, sizeof *pool);
  core_t *core = calloc(1, sizeof *core);
  int r;
  *out = pool;
  if (!core || !pool) {
    free(core);
    return MPROC_ENOMEM;
  }
  mproc__mutex_init(&core->lock);
  core->refs = 1;
  pool->core = core;
  if ((r = mproc__cond_create(&core->cond)) != 0)
    return r;
  pool->tp = tp;
  pool->owner = mproc__os_getpid();
  pool->nproc = o->processes ? o->processes : mproc_cpu_count();
  pool->maxtasks = o->maxtasksperchild;
  /* 0 and MPROC_INFINITE both mean no limit. */
  pool->task_timeout_ms =
      o->task_timeout_ms > 0 ? o->task_timeout_ms : MPROC_INFINITE;
  pool->idle_check_ns = MPROC_INFINITE;
  memset(&cfg, 0, sizeof cfg);
  cfg.nworkers = pool->nproc;
  cfg.method = o->start_method != MPROC_START_DEFAULT
                   ? o->start_method
                   : mproc_get_start_method();
  cfg.arg = tp_arg;
  if ((r = tp->open(&cfg, &pool->ts)) != 0)
    return r;
  pool->by_name = cfg.by_name;
  if ((r = make_worker_args(pool, o)) != 0)
    return r;
  return alloc_arrays(pool);
}

int mproc__pool_create_with(mproc_pool_t **out,
                            const mproc_pool_options_t *options,
                            const mproc__transport_t *tp, const void *tp_arg) {
  mproc_pool_options_t defaults;
  mproc_pool_t *pool = NULL;
  core_t *core;
  int i, r;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  memset(&defaults, 0, sizeof defaults);
  if (!options)
    options = &defaults;
  if ((r = check_options(options)) != 0)
    return r;
  if (!tp || tp->version < 1)
    return MPROC_EINVAL;
  if ((r = pool_new(&pool, options, tp, tp_arg)) != 0)
    goto fail;
  /* Workers are started here, so that a failure to start them is reported
   * to the caller; replacements are started by the pool's thread. */
  for (i = 0; i < pool->nproc; i++)
    if ((r = mproc__worker_start(pool, &pool->workers[i])) != 0)
      goto fail;
  if ((r = mproc__thread_start(&pool->thread, mproc__pool_thread, pool)) != 0)
    goto fail;
  registry_add(pool);
  *out = pool;
  return 0;

fail:
  if (pool) {
    core = pool->core;
    pool_destroy(pool);
    if (core) {
      if (core->cond)
        mproc__cond_destroy(core->cond);
      free(core);
    }
  }
  return r;
}

int mproc_pool_create(mproc_pool_t **out, const mproc_pool_options_t *options) {
  return mproc__pool_create_with(out, options, &mproc__transport_local, NULL);
}

/* ---- apply ------------------------------------------------------------- */

/* Append jobs (a linked run from first to last) to the queue and wake the
 * pool's thread; with core->lock held. */
void mproc__queue_locked(mproc_pool_t *pool, job_t *first, job_t *last) {
  if (pool->tail)
    pool->tail->next = first;
  else
    pool->head = first;
  pool->tail = last;
  pool->tp->wake(pool->ts);
}

int mproc__enqueue(mproc_pool_t *pool, job_t *first, job_t *last) {
  core_t *core = pool->core;
  mproc__mutex_lock(&core->lock);
  if (pool->state != POOL_RUNNING) {
    mproc__mutex_unlock(&core->lock);
    return MPROC_ESTATE;
  }
  core->refs++;
  mproc__queue_locked(pool, first, last);
  mproc__mutex_unlock(&core->lock);
  return 0;
}

/* A new apply job, not yet queued, holding a copy of the argument. */
static int result_new(mproc_pool_t *pool, mproc_task_fn fn, const void *arg,
                      size_t arg_size, const mproc_apply_options_t *options,
                      mproc_async_result_t **out) {
  mproc_async_result_t *r;
  const char *name;
  int err;
  if (!fn || (!arg && arg_size > 0))
    return MPROC_EINVAL;
  if ((err = mproc__check_pool(pool)) != 0)
    return err;
  if ((err = mproc__pool_task_name(pool, fn, &name)) != 0)
    return err;
  r = calloc(1, sizeof *r);
  if (!r)
    return MPROC_ENOMEM;
  if (arg_size > 0) {
    r->arg = malloc(arg_size);
    if (!r->arg) {
      free(r);
      return MPROC_ENOMEM;
    }
    memcpy(r->arg, arg, arg_size);
  }
  r->magic = RESULT_MAGIC;
  r->core = pool->core;
  r->refs = 2;
  r->fn = fn;
  r->fn_name = name;
  r->arg_size = arg_size;
  if (options)
    r->callbacks = *options;
  r->job.kind = JOB_APPLY;
  r->job.result = r;
  *out = r;
  return 0;
}

static void result_discard(mproc_async_result_t *r) {
  free(r->arg);
  free(r);
}

int mproc_pool_apply_async(mproc_pool_t *pool, mproc_task_fn fn,
                           const void *arg, size_t arg_size,
                           const mproc_apply_options_t *options,
                           mproc_async_result_t **out) {
  mproc_async_result_t *r;
  int err;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  if (options && !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;
  if ((err = result_new(pool, fn, arg, arg_size, options, &r)) != 0)
    return err;
  if ((err = mproc__enqueue(pool, &r->job, &r->job)) != 0) {
    result_discard(r);
    return err;
  }
  *out = r;
  return 0;
}

/* With core->lock held: an idle worker leased to the caller for job j, or
 * NULL when none is idle, jobs are queued (they go first) or the
 * transport has no leases. */
static worker_t *lease_locked(mproc_pool_t *pool, job_t *j) {
  int i;
  if (pool->head || !(pool->tp->flags & MPROC__TRANSPORT_LEASES))
    return NULL;
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!w->idle)
      continue;
    w->idle = 0;
    w->leased = 1;
    w->inflight[0] = j;
    w->n_inflight = 1;
    w->tasks_sent++;
    w->head_start_ns = mproc__clock_ns();
    return w;
  }
  return NULL;
}

/* Send the leased worker its job. Returns 0, or an error: the worker is
 * lost (its loss shows next). */
static int lease_send(mproc_pool_t *pool, worker_t *w, job_t *j) {
  unsigned char small[LEASE_FRAME_MAX];
  frame_t f;
  const void *payload;
  const char *name;
  mproc__job_frame(j, &f, &payload, &name);
  if (mproc__frame_bytes(&f) <= sizeof small)
    return pool->tp->send(pool->ts, (int)(w - pool->workers), small,
                          mproc__frame_pack(small, &f, name, payload));
  return mproc__send_frame(pool, w, &f, name, payload);
}

/* Hand the worker back after a lease: idle again, unless the pool's
 * thread has something to do with it (jobs wait, the pool is closing, the
 * worker is due to exit, or the lease did not end cleanly). */
static void lease_end(mproc_pool_t *pool, worker_t *w, int clean) {
  core_t *core = pool->core;
  mproc__mutex_lock(&core->lock);
  w->leased = 0;
  if (clean && !pool->head && pool->state == POOL_RUNNING &&
      (!pool->maxtasks || w->tasks_sent < pool->maxtasks)) {
    w->idle = 1;
  } else {
    pool->tp->wake(pool->ts);
    if (pool->state == POOL_TERMINATING)
      mproc__cond_broadcast(core->cond); /* terminate_all() waits */
  }
  mproc__mutex_unlock(&core->lock);
}

/* Run the leased worker's job: send it, read the answer. Any other
 * outcome hands the worker back to the pool's thread with the job on it
 * (see pool_engine.h). */
static void lease_run(mproc_pool_t *pool, worker_t *w) {
  int slot = (int)(w - pool->workers);
  int64_t deadline =
      mproc__deadline_after(w->head_start_ns, pool->task_timeout_ms);
  int r, back = 0;
  if (lease_send(pool, w, w->inflight[0]) != 0) {
    /* The worker is lost, or its stream broken by a failed write: killed
     * either way, so that its loss shows (see send_failed()). */
    w->inflight[0]->unsent = 1;
    pool->tp->kill(pool->ts, slot);
    back = 1;
  }
  while (!back && w->n_inflight > 0) {
    unsigned char ready;
    int woken;
    /* Past the task's deadline: the pool's thread kills the worker. */
    if (pool->tp->wait(pool->ts, &slot, 1, 0, deadline, &ready, &woken) != 0) {
      back = 1;
      break;
    }
    r = mproc__worker_read(pool, w);
    if (r != 0) {
      if (r != MPROC_ECLOSED)
        pool->tp->kill(pool->ts, slot); /* it broke the protocol */
      back = 1;
    }
  }
  lease_end(pool, w, !back);
}

int mproc_pool_apply(mproc_pool_t *pool, mproc_task_fn fn, const void *arg,
                     size_t arg_size, int *status, void **data, size_t *size) {
  mproc_async_result_t *r;
  core_t *core;
  worker_t *w;
  int err;
  if (!status)
    return MPROC_EINVAL;
  if ((err = result_new(pool, fn, arg, arg_size, NULL, &r)) != 0)
    return err;
  core = pool->core;
  mproc__mutex_lock(&core->lock);
  if (pool->state != POOL_RUNNING) {
    mproc__mutex_unlock(&core->lock);
    result_discard(r);
    return MPROC_ESTATE;
  }
  core->refs++; /* the result's, as mproc__enqueue() takes */
  w = lease_locked(pool, &r->job);
  if (!w)
    mproc__queue_locked(pool, &r->job, &r->job);
  mproc__mutex_unlock(&core->lock);
  if (w)
    lease_run(pool, w);
  mproc__mutex_lock(&core->lock);
  mproc__result_wait_locked(r, MPROC_INFINITE);
  *status = r->status;
  if (size)
    *size = r->size;
  if (data) {
    /* The bytes change hands: no copy. */
    *data = r->data;
    r->data = NULL;
    if (!*data)
      *data = malloc(1);
  }
  mproc__mutex_unlock(&core->lock);
  mproc_async_result_free(r);
  return data && !*data ? MPROC_ENOMEM : 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int mproc_pool_worker_pids(mproc_pool_t *pool, mproc_pid_t *pids, size_t cap,
                           size_t *count) {
  size_t n = 0;
  int i, err;
  if (!count || (!pids && cap > 0))
    return MPROC_EINVAL;
  if ((err = mproc__check_pool(pool)) != 0)
    return err;
  mproc__mutex_lock(&pool->core->lock);
  for (i = 0; i < pool->nproc; i++) {
    if (pool->workers[i].id <= 0)
      continue;
    if (n < cap)
      pids[n] = (mproc_pid_t)pool->workers[i].id;
    n++;
  }
  mproc__mutex_unlock(&pool->core->lock);
  *count = n;
  return n > cap ? MPROC_ERANGE : 0;
}

int mproc_pool_close(mproc_pool_t *pool) {
  int err = mproc__check_pool(pool);
  if (err != 0)
    return err;
  mproc__mutex_lock(&pool->core->lock);
  if (pool->state == POOL_RUNNING)
    pool->state = POOL_CLOSED;
  pool->tp->wake(pool->ts);
  mproc__mutex_unlock(&pool->core->lock);
  return 0;
}

/* Wait for the pool's thread to finish, with core->lock held. */
static int wait_thread_locked(mproc_pool_t *pool, int64_t timeout_ms) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  while (!pool->thread_done)
    if (mproc__cond_wait(pool->core->cond, &pool->core->lock, deadline) != 0)
      return MPROC_ETIMEDOUT;
  return 0;
}

/* Reap the pool's thread once it has finished. */
static void join_thread(mproc_pool_t *pool) {
  mproc__thread_t *t = NULL;
  mproc__mutex_lock(&pool->core->lock);
  if (!pool->thread_joined) {
    pool->thread_joined = 1;
    t = pool->thread;
    pool->thread = NULL;
  }
  mproc__mutex_unlock(&pool->core->lock);
  mproc__thread_join(t);
}

/* Terminate (Python's Pool.terminate) and wait for the pool's thread. */
static void terminate_and_join(mproc_pool_t *pool) {
  mproc__mutex_lock(&pool->core->lock);
  if (!pool->thread_done)
    pool->state = POOL_TERMINATING;
  pool->tp->wake(pool->ts);
  wait_thread_locked(pool, MPROC_INFINITE);
  mproc__mutex_unlock(&pool->core->lock);
  join_thread(pool);
}

int mproc_pool_terminate(mproc_pool_t *pool) {
  int err = mproc__check_pool(pool);
  if (err != 0)
    return err;
  terminate_and_join(pool);
  return 0;
}

int mproc_pool_join(mproc_pool_t *pool, int64_t timeout_ms) {
  int err = mproc__check_pool(pool);
  if (err != 0)
    return err;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE)
    return MPROC_EINVAL;
  mproc__mutex_lock(&pool->core->lock);
  if (pool->state == POOL_RUNNING)
    err = MPROC_ESTATE;
  else
    err = wait_thread_locked(pool, timeout_ms);
  mproc__mutex_unlock(&pool->core->lock);
  if (err == 0)
    join_thread(pool);
  return err;
}

int mproc_pool_free(mproc_pool_t *pool) {
  core_t *core;
  if (!pool)
    return 0;
  /* Off the registry first: no other call can start on it. */
  if (!registry_remove(pool))
    return MPROC_EBADHANDLE;
  /* Python's Pool.__del__: a pool not joined is terminated. A fork child's
   * copy has no thread and no workers of its own. */
  if (pool->owner == mproc__os_getpid())
    terminate_and_join(pool);
  core = pool->core;
  pool_destroy(pool);
  mproc__core_release(core);
  return 0;
}
