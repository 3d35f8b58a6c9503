/* SPDX-License-Identifier: MIT */
/*
 * What the pool's own thread runs (see pool_engine.h): a short loop of
 * named steps — take stock of the queue and the workers under the lock,
 * send the jobs it handed out, start workers in empty slots, wait for
 * answers, losses and wake-ups, and kill workers past their task's
 * deadline. Everything here reaches workers through the transport seam.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_engine.h"

/* Most bytes read from one worker before the others get their turn. */
#define SERVICE_QUANTUM ((size_t)4 << 20)
/* How long a worker whose stream ended may take to end before it is
 * killed (it closed the stream itself and lives on). */
#define REAP_GRACE_MS 2000
/* Retry delay when a replacement worker cannot be started. */
#define RESPAWN_RETRY_MS 100
/* How often the pool thread checks that idle workers are still alive. */
#define IDLE_CHECK_MS 100

static int slot_of(const mproc_pool_t *pool, const worker_t *w) {
  return (int)(w - pool->workers);
}

/* ---- workers ----------------------------------------------------------- */

/* Empty the record (the transport's slot is already empty). The id is
 * cleared under the lock, since mproc_pool_worker_pids() reads it. */
void mproc__worker_close(mproc_pool_t *pool, worker_t *w) {
  free(w->stage);
  mproc__frame_reader_reset(&w->rd);
  mproc__mutex_lock(&pool->core->lock);
  memset(w, 0, sizeof *w);
  mproc__mutex_unlock(&pool->core->lock);
}

int mproc__worker_start(mproc_pool_t *pool, worker_t *w) {
  int64_t id = 0;
  int r;
  /* The record is empty: zeroed by mproc__worker_close() or at create. */
  w->stage = malloc(STAGE_SIZE);
  if (!w->stage)
    return MPROC_ENOMEM;
  r = pool->tp->start(pool->ts, slot_of(pool, w), pool->worker_args,
                      pool->worker_args_size, &id);
  if (r != 0) {
    free(w->stage);
    w->stage = NULL;
    return r;
  }
  mproc__mutex_lock(&pool->core->lock);
  w->started = 1;
  w->id = id;
  mproc__mutex_unlock(&pool->core->lock);
  mproc__log(MPROC_LOG_DEBUG, "pool worker %d started (pid %lld)",
             slot_of(pool, w), (long long)id);
  return 0;
}

static void log_loss(mproc_pool_t *pool, const worker_t *w, int has_exitcode,
                     int exitcode) {
  int slot = slot_of(pool, w);
  long long id = (long long)w->id;
  const char *why = w->timed_out ? " (task timed out)" : "";
  /* A worker that ends cleanly with nothing to do retired (maxtasksperchild)
   * or was told to stop: not a loss. */
  if (has_exitcode && exitcode == 0 && w->n_inflight == 0)
    mproc__log(MPROC_LOG_DEBUG,
               "pool worker %d (pid %lld) exited after %d tasks", slot, id,
               (int)w->tasks_sent);
  else if (!has_exitcode)
    mproc__log(MPROC_LOG_WARNING, "pool worker %d (pid %lld) lost%s", slot, id,
               why);
  else if (exitcode < 0)
    mproc__log(MPROC_LOG_WARNING,
               "pool worker %d (pid %lld) lost: killed by signal %d%s", slot,
               id, -exitcode, why);
  else
    mproc__log(MPROC_LOG_WARNING,
               "pool worker %d (pid %lld) lost: exit code %d%s", slot, id,
               exitcode, why);
}

/* The worker is lost: reap it, fail the job it was running, queue again
 * the jobs it had not started, empty its slot. */
static void worker_lost(mproc_pool_t *pool, worker_t *w) {
  core_t *core = pool->core;
  int exitcode = MPROC_EXITCODE_UNKNOWN, has_exitcode, i;
  job_t *head = NULL;
  job_t *requeue[INFLIGHT_MAX];
  int n_requeue = 0;

  has_exitcode =
      pool->tp->reap(pool->ts, slot_of(pool, w), REAP_GRACE_MS, &exitcode);
  log_loss(pool, w, has_exitcode, exitcode);
  for (i = 0; i < w->n_inflight; i++) {
    job_t *j = w->inflight[i];
    /* The oldest job whose frame arrived whole is the one it ran; later
     * ones, or one that never arrived, never started. */
    if (!head && !j->unsent)
      head = j;
    else
      requeue[n_requeue++] = j;
  }
  w->n_inflight = 0;
  if (head)
    mproc__fail_job(head, w->timed_out ? MPROC_ETIMEDOUT : MPROC_EWORKERLOST,
                    has_exitcode, exitcode);
  if (n_requeue > 0) {
    mproc__mutex_lock(&core->lock);
    for (i = n_requeue - 1; i >= 0; i--) {
      requeue[i]->unsent = 0;
      requeue[i]->next = pool->head;
      pool->head = requeue[i];
      if (!pool->tail)
        pool->tail = requeue[i];
    }
    mproc__mutex_unlock(&core->lock);
  }
  mproc__worker_close(pool, w);
}

/* ---- answers ----------------------------------------------------------- */

/* A whole answer arrived from the worker `ctx`: complete its oldest job. */
static int frame_arrived(void *ctx, const frame_t *f,
                         const unsigned char *payload, unsigned char *owned) {
  worker_t *w = ctx;
  job_t *j;
  int chunk;
  if (w->n_inflight == 0 ||
      (f->kind == FRAME_RESULT) != (w->inflight[0]->kind == JOB_APPLY)) {
    free(owned);
    return MPROC_EINVAL;
  }
  j = w->inflight[0];
  /* A completed chunk may be freed at once by its map: j is not looked at
   * again. A malformed chunk answer leaves the job on the worker, which is
   * then lost: the job fails with it. */
  chunk = j->kind == JOB_CHUNK;
  if (chunk && mproc__complete_chunk(j, payload, (size_t)f->size) != 0) {
    free(owned);
    return MPROC_EINVAL;
  }
  w->n_inflight--;
  memmove(&w->inflight[0], &w->inflight[1], (size_t)w->n_inflight * sizeof j);
  /* The next job starts now, as far as the pool can tell. */
  w->head_start_ns = mproc__clock_ns();
  if (chunk) {
    free(owned);
    return 0;
  }
  if (!owned) {
    owned = malloc(f->size ? (size_t)f->size : 1);
    if (owned && f->size)
      memcpy(owned, payload, (size_t)f->size);
  }
  if (!owned)
    mproc__complete_apply(j->result, MPROC_ENOMEM, NULL, 0, 0, 0);
  else
    mproc__complete_apply(j->result, f->status, owned, (size_t)f->size, 0, 0);
  return 0;
}

/* One read from w: straight into a large payload's buffer, or into the
 * stage and through the frame reader. Returns 0 with *got, or the
 * transport's or the reader's error. */
static int read_once(mproc_pool_t *pool, worker_t *w, size_t *got) {
  unsigned char *dst;
  size_t room = mproc__frame_reader_room(&w->rd, STAGE_SIZE, &dst);
  int slot = slot_of(pool, w), r;
  *got = 0;
  if (room > 0) {
    r = pool->tp->recv(pool->ts, slot, dst, room, got);
    if (r == 0 && *got > room)
      return MPROC_EINVAL;
    return r != 0 ? r
                  : mproc__frame_reader_filled(&w->rd, *got, frame_arrived, w);
  }
  r = pool->tp->recv(pool->ts, slot, w->stage, STAGE_SIZE, got);
  if (r == 0 && *got > STAGE_SIZE)
    return MPROC_EINVAL;
  return r != 0 ? r
                : mproc__frame_reader_feed(&w->rd, w->stage, *got,
                                           frame_arrived, w);
}

int mproc__worker_read(mproc_pool_t *pool, worker_t *w) {
  size_t budget = SERVICE_QUANTUM;
  while (budget > 0) {
    size_t got = 0;
    int r = read_once(pool, w, &got);
    if (r == MPROC_EEMPTY)
      return 0;
    if (r != 0)
      return r;
    /* A short read drained what was there: the next wait says when there
     * is more, without a read that would only fail. */
    if (got < STAGE_SIZE)
      return 0;
    budget -= got < budget ? got : budget;
  }
  return 0;
}

/* Read what w has sent (pool thread). Returns 1 when the worker is gone
 * (its slot is then empty). */
static int worker_service(mproc_pool_t *pool, worker_t *w) {
  int r = mproc__worker_read(pool, w);
  if (r == 0)
    return 0;
  /* A worker that breaks the protocol (a task wrote to its stream, say)
   * is treated as lost. */
  if (r != MPROC_ECLOSED)
    pool->tp->kill(pool->ts, slot_of(pool, w));
  worker_lost(pool, w);
  return 1;
}

/* ---- sending jobs ------------------------------------------------------ */

void mproc__job_frame(const job_t *j, frame_t *f, const void **payload,
                      const char **name) {
  memset(f, 0, sizeof *f);
  if (j->kind == JOB_APPLY) {
    f->kind = FRAME_TASK;
    f->fn = j->result->fn;
    *name = j->result->fn_name;
    f->size = j->result->arg_size;
    *payload = j->result->arg;
  } else {
    const struct mproc_imap *b = j->batch;
    f->kind = FRAME_CHUNK;
    f->fn = b->fn;
    *name = b->fn_name;
    f->count = j->count;
    f->item_size = b->item_size;
    f->size = (uint64_t)j->count * b->item_size;
    *payload = b->items + j->first * b->item_size;
  }
  f->name_len = *name ? strlen(*name) : 0;
  if (*name)
    f->fn = NULL; /* its address means nothing to the worker */
}

/* Send one frame as it is, without a copy of its payload. */
int mproc__send_frame(mproc_pool_t *pool, worker_t *w, const frame_t *f,
                      const char *name, const void *payload) {
  int slot = slot_of(pool, w);
  int r = pool->tp->send(pool->ts, slot, f, sizeof *f);
  if (r == 0 && f->name_len)
    r = pool->tp->send(pool->ts, slot, name, (size_t)f->name_len);
  if (r == 0 && f->size)
    r = pool->tp->send(pool->ts, slot, payload, (size_t)f->size);
  return r;
}

/* A send to w failed. Usually the worker is lost (or going), but a write
 * can also fail on a live worker (EIO, ENOSPC, ...), and then part of a
 * frame may be in its pipe: the stream is broken either way. The worker is
 * killed, so that its loss shows next and the jobs it never received whole
 * are queued again then; a live worker left alone would keep them. */
static void send_failed(mproc_pool_t *pool, worker_t *w, job_t **jobs,
                        size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    jobs[i]->unsent = 1;
  pool->tp->kill(pool->ts, slot_of(pool, w));
}

/* Send `len` bytes of frames for jobs[0..n) to w. */
static void flush_frames(mproc_pool_t *pool, worker_t *w, size_t len,
                         job_t **jobs, size_t n) {
  if (len == 0)
    return;
  if (pool->tp->send(pool->ts, slot_of(pool, w), pool->scratch, len) != 0)
    send_failed(pool, w, jobs, n);
}

/* Send the frames of jobs[i] to ws[i]. Small frames for the same worker
 * are gathered into one send: fewer system calls, and the worker's one
 * read usually gets all of them. */
static void send_jobs(mproc_pool_t *pool, worker_t **ws, job_t **jobs,
                      size_t n) {
  size_t i, first = 0, fill = 0;
  if (pool->scratch_cap < STAGE_SIZE) {
    unsigned char *s = realloc(pool->scratch, STAGE_SIZE);
    if (s) {
      pool->scratch = s;
      pool->scratch_cap = STAGE_SIZE;
    }
  }
  for (i = 0; i < n; i++) {
    frame_t f;
    const void *payload;
    const char *name;
    size_t total;
    mproc__job_frame(jobs[i], &f, &payload, &name);
    total = mproc__frame_bytes(&f);
    if (fill > 0 && (ws[i] != ws[first] || fill + total > pool->scratch_cap)) {
      flush_frames(pool, ws[first], fill, jobs + first, i - first);
      fill = 0;
    }
    if (fill == 0)
      first = i;
    if (total <= pool->scratch_cap) {
      fill += mproc__frame_pack(pool->scratch + fill, &f, name, payload);
      continue;
    }
    if (mproc__send_frame(pool, ws[i], &f, name, payload) != 0)
      send_failed(pool, ws[i], jobs + i, 1);
  }
  if (fill > 0)
    flush_frames(pool, ws[first], fill, jobs + first, n - first);
}

/* ---- taking stock (under the lock) ------------------------------------ */

/* The bytes job j takes on the wire. */
static size_t job_bytes(const job_t *j) {
  frame_t f;
  const void *payload;
  const char *name;
  mproc__job_frame(j, &f, &payload, &name);
  return mproc__frame_bytes(&f);
}

/* Whether job j may wait in w's stream behind the jobs w has. */
static int may_pipeline(const worker_t *w, const job_t *j) {
  size_t bytes;
  int i;
  if (w->n_inflight == 0)
    return 1;
  if (w->n_inflight >= INFLIGHT_MAX || j->kind != JOB_CHUNK ||
      w->inflight[0]->kind != JOB_CHUNK)
    return 0;
  bytes = job_bytes(j);
  for (i = 1; i < w->n_inflight && bytes <= PIPELINE_BYTES_MAX; i++)
    bytes += job_bytes(w->inflight[i]);
  return bytes <= PIPELINE_BYTES_MAX;
}

/* Idle workers still alive? A dead one is watched again: the loss the
 * transport reports then has it replaced. */
static void check_idle_locked(mproc_pool_t *pool, int64_t now) {
  int i;
  if (pool->idle_check_ns == MPROC_INFINITE || now < pool->idle_check_ns)
    return;
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    int alive = 1;
    if (w->idle && pool->tp->alive(pool->ts, i, &alive) == 0 && !alive) {
      w->idle = 0;
      w->dead = 1;
    }
  }
  pool->idle_check_ns = MPROC_INFINITE;
}

/* Whether worker w takes queued jobs now. */
static int may_take(const mproc_pool_t *pool, const worker_t *w) {
  return w->started && !w->quitting && !w->leased &&
         (!pool->maxtasks || w->tasks_sent < pool->maxtasks);
}

/* Hand queued jobs to workers that can take them; returns how many went
 * into send_w/send_j. Breadth first: every worker gets its next job before
 * any gets one more behind it, so long tasks spread over all the workers
 * (ten on two go five and five, not eight and two). */
static size_t assign_locked(mproc_pool_t *pool, int64_t now) {
  size_t n_send = 0;
  int depth, i;
  for (depth = 0; depth < INFLIGHT_MAX && pool->head; depth++) {
    for (i = 0; i < pool->nproc && pool->head; i++) {
      worker_t *w = &pool->workers[i];
      job_t *j = pool->head;
      if (w->n_inflight != depth || !may_take(pool, w) || !may_pipeline(w, j))
        continue;
      pool->head = j->next;
      if (!pool->head)
        pool->tail = NULL;
      j->next = NULL;
      if (w->n_inflight == 0)
        w->head_start_ns = now;
      w->idle = 0;
      w->inflight[w->n_inflight++] = j;
      w->tasks_sent++;
      pool->send_w[n_send] = w;
      pool->send_j[n_send++] = j;
    }
  }
  return n_send;
}

/* Closed and nothing queued: idle workers are stopped (they end once
 * they have nothing to do). */
static void stop_idle_locked(mproc_pool_t *pool) {
  int i;
  if (pool->state != POOL_CLOSED || pool->head)
    return;
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (w->started && !w->quitting && !w->leased && w->n_inflight == 0) {
      w->quitting = 1;
      w->idle = 0;
      pool->tp->stop(pool->ts, i);
    }
  }
}

/* A worker with nothing to do, on a running pool, is left idle:
 * unwatched, free for a caller of mproc_pool_apply() to lease. Fills
 * own[]; returns how many are idle. */
static int mark_idle_locked(mproc_pool_t *pool) {
  int i, n_idle = 0;
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (w->started && !w->leased && !w->quitting && !w->dead &&
        w->n_inflight == 0 && pool->state == POOL_RUNNING &&
        (!pool->maxtasks || w->tasks_sent < pool->maxtasks))
      w->idle = 1;
    pool->own[i] = !w->idle && !w->leased;
    n_idle += w->idle;
  }
  return n_idle;
}

/* What one pass of the pool thread decided under the lock. */
typedef struct pass {
  int64_t now, deadline;
  size_t n_send;
  int n_idle;
  int need_spawn; /* empty slots are to be filled */
  int busy;       /* some slot holds a worker */
  int terminating;
} pass_t;

static void take_stock(mproc_pool_t *pool, pass_t *p) {
  int i;
  mproc__mutex_lock(&pool->core->lock);
  p->terminating = pool->state == POOL_TERMINATING;
  if (!p->terminating) {
    check_idle_locked(pool, p->now);
    p->n_send = assign_locked(pool, p->now);
    stop_idle_locked(pool);
    p->n_idle = mark_idle_locked(pool);
    for (i = 0; i < pool->nproc; i++)
      p->busy |= pool->workers[i].started;
    p->need_spawn = pool->state == POOL_RUNNING || pool->head != NULL;
  }
  mproc__mutex_unlock(&pool->core->lock);
}

static void earliest(int64_t *deadline, int64_t d) {
  if (*deadline == MPROC_INFINITE || d < *deadline)
    *deadline = d;
}

/* Start workers in the empty slots this pass owns. Returns 1 when one
 * started (it may take queued jobs at once). */
static int fill_slots(mproc_pool_t *pool, pass_t *p) {
  int i, spawned = 0;
  if (!p->need_spawn)
    return 0;
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!pool->own[i] || w->started)
      continue;
    if (p->now < pool->respawn_at_ns) {
      earliest(&p->deadline, pool->respawn_at_ns);
      continue;
    }
    if (mproc__worker_start(pool, w) == 0) {
      p->busy = spawned = 1;
      mproc__log(MPROC_LOG_INFO, "pool worker %d replaced (new pid %lld)", i,
                 (long long)w->id);
    } else {
      pool->respawn_at_ns = mproc__deadline_after(p->now, RESPAWN_RETRY_MS);
      earliest(&p->deadline, pool->respawn_at_ns);
    }
  }
  return spawned;
}

/* When w's running task is due, or MPROC_INFINITE. */
static int64_t task_deadline(const mproc_pool_t *pool, const worker_t *w) {
  if (w->n_inflight == 0 || w->timed_out)
    return MPROC_INFINITE;
  return mproc__deadline_after(w->head_start_ns, pool->task_timeout_ms);
}

/* Sleep until an answer, a loss, a wake-up or a deadline; read what came. */
static void wait_for_workers(mproc_pool_t *pool, pass_t *p) {
  size_t n = 0, i;
  int woken;
  if (p->n_idle > 0) {
    if (pool->idle_check_ns == MPROC_INFINITE)
      pool->idle_check_ns = mproc__deadline_after(p->now, IDLE_CHECK_MS);
    earliest(&p->deadline, pool->idle_check_ns);
  }
  for (i = 0; i < (size_t)pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    int64_t d;
    if (!pool->own[i] || !w->started)
      continue;
    pool->wait_slots[n++] = (int)i;
    if ((d = task_deadline(pool, w)) != MPROC_INFINITE)
      earliest(&p->deadline, d);
  }
  if (pool->tp->wait(pool->ts, pool->wait_slots, n, 1, p->deadline,
                     pool->wait_ready, &woken) != 0)
    return;
  for (i = 0; i < n; i++)
    if (pool->wait_ready[i])
      worker_service(pool, &pool->workers[pool->wait_slots[i]]);
}

/* A task past its deadline: kill its worker; the loss that follows fails
 * the task with MPROC_ETIMEDOUT. */
static void enforce_timeouts(mproc_pool_t *pool) {
  int64_t now, d;
  int i;
  if (pool->task_timeout_ms == MPROC_INFINITE)
    return;
  now = mproc__clock_ns();
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!pool->own[i] || !w->started)
      continue;
    d = task_deadline(pool, w);
    if (d != MPROC_INFINITE && now >= d) {
      w->timed_out = 1;
      pool->tp->kill(pool->ts, i);
    }
  }
}

/* ---- the end ---------------------------------------------------------- */

/* Whether a caller still leases a worker; with core->lock held. */
static int any_leased(const mproc_pool_t *pool) {
  int i;
  for (i = 0; i < pool->nproc; i++)
    if (pool->workers[i].leased)
      return 1;
  return 0;
}

/* Kill every worker, give every job not finished MPROC_ECLOSED. */
static void terminate_all(mproc_pool_t *pool) {
  core_t *core = pool->core;
  job_t *pending, *j;
  int i, k, exitcode;
  /* No lease starts once the pool is terminating; a lessee never reaps
   * its worker, so killing it here is safe, and it ends the lease: the
   * lessee sees the worker lost and hands it back. */
  mproc__mutex_lock(&core->lock);
  for (i = 0; i < pool->nproc; i++)
    pool->workers[i].idle = 0;
  mproc__mutex_unlock(&core->lock);
  for (i = 0; i < pool->nproc; i++)
    if (pool->workers[i].started)
      pool->tp->kill(pool->ts, i);
  mproc__mutex_lock(&core->lock);
  while (any_leased(pool))
    mproc__cond_wait(core->cond, &core->lock, MPROC_INFINITE);
  mproc__mutex_unlock(&core->lock);
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!w->started)
      continue;
    (void)pool->tp->reap(pool->ts, i, MPROC_INFINITE, &exitcode);
    for (k = 0; k < w->n_inflight; k++)
      mproc__fail_job(w->inflight[k], MPROC_ECLOSED, 0, 0);
    w->n_inflight = 0;
    mproc__worker_close(pool, w);
  }
  mproc__mutex_lock(&core->lock);
  pending = pool->head;
  pool->head = pool->tail = NULL;
  mproc__mutex_unlock(&core->lock);
  while ((j = pending) != NULL) {
    pending = j->next;
    mproc__fail_job(j, MPROC_ECLOSED, 0, 0);
  }
}

/* Whether anything is left that terminate_all() must fail. */
static int anything_left(mproc_pool_t *pool) {
  int i, left;
  mproc__mutex_lock(&pool->core->lock);
  left = pool->head != NULL;
  mproc__mutex_unlock(&pool->core->lock);
  for (i = 0; i < pool->nproc && !left; i++)
    left = pool->workers[i].started;
  return left;
}

void mproc__pool_thread(void *arg) {
  mproc_pool_t *pool = arg;
  for (;;) {
    pass_t p;
    memset(&p, 0, sizeof p);
    p.now = mproc__clock_ns();
    p.deadline = MPROC_INFINITE;
    take_stock(pool, &p);
    if (p.terminating)
      break;
    send_jobs(pool, pool->send_w, pool->send_j, p.n_send);
    if (fill_slots(pool, &p))
      continue; /* new workers may take queued jobs */
    if (!p.busy && !p.need_spawn)
      break; /* closed, drained, every worker gone */
    wait_for_workers(pool, &p);
    enforce_timeouts(pool);
  }
  if (anything_left(pool))
    terminate_all(pool);
  mproc__mutex_lock(&pool->core->lock);
  pool->thread_done = 1;
  mproc__cond_broadcast(pool->core->cond);
  mproc__mutex_unlock(&pool->core->lock);
}
