/* SPDX-License-Identifier: MIT */
/*
 * Pool: Python's process pool, with workers whose death costs one task.
 *
 * Each worker is an mproc Process, started with the pool's start method,
 * with two pipes of its own (handed to it by the start method's own means:
 * see mproc__child_spec_t.handles): tasks go down one, results come up the
 * other, as frames (a
 * fixed header, then payload bytes). One thread per pool, in the pool's
 * process, does all the talking to workers: it hands queued jobs to
 * workers, reads results without blocking (so a worker streaming a large
 * result never deadlocks against it), and learns that a worker died from
 * end of file on that worker's result pipe, since the worker holds the
 * only write end. It then reaps the worker, fails the job the worker was
 * running, requeues the jobs it had not started, and starts a replacement.
 *
 * A job is an apply task or a map chunk. A worker runs its jobs in the
 * order they were sent and answers each before reading the next, so when
 * it dies the oldest job without an answer is the one it was running, and
 * those behind it never started.
 *
 * Under fork a worker is a copy of this process: a task travels as its
 * function's address, and nothing needs registering. Under spawn and
 * forkserver a worker is a fresh run of the program, started through the
 * library's own target "mproc.pool.worker": a task travels as its
 * registered name (MPROC_TASK), the initializer as its target name
 * (MPROC_TARGET); a call naming a function that is not registered fails
 * with MPROC_ENOTREG before anything is queued.
 *
 * A blocking mproc_pool_apply() does not go through the pool's thread
 * when a worker is idle: the calling thread leases the worker, writes the
 * task to it and reads the result itself, so a round trip costs two
 * wake-ups (worker, caller) instead of four. While leased, the worker's
 * record is the caller's; anything but a clean answer (end of file, a
 * broken frame, the task timeout, terminate) ends the lease early and
 * hands the worker, with the job still on it, back to the pool's thread,
 * which deals with it as with any other worker. The pool thread does not
 * watch idle workers (a leased worker's answer would wake it for nothing):
 * it looks every IDLE_CHECK_MS whether they are still alive, as Python's
 * pool does for all its workers.
 *
 * Locks: one mutex per pool (in `core`, which outlives the pool while
 * results or iterators still point at it) guards the queue, the state,
 * every result, and the `idle` and `leased` marks of workers. A worker's
 * other fields belong to the pool's thread, except while the worker is
 * idle (then only code holding the lock touches it) or leased (then only
 * its lessee does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "targets.h"

/* ---- frames ---------------------------------------------------------- */

enum frame_kind {
  FRAME_TASK = 1,        /* parent -> worker: one apply task */
  FRAME_CHUNK = 2,       /* parent -> worker: count items of item_size */
  FRAME_RESULT = 3,      /* worker -> parent: status + result bytes */
  FRAME_CHUNK_RESULT = 4 /* worker -> parent: per item status, size, bytes */
};

typedef struct frame {
  uint32_t kind;
  int32_t status;
  uint64_t size; /* payload bytes after the header */
  uint64_t count;
  uint64_t item_size;
  /* By name (spawn, forkserver): the task's registered name, name_len
   * bytes, comes between the header and the payload. */
  uint64_t name_len;
  mproc_task_fn fn; /* fork: valid in the worker, a copy of this process */
} frame_t;

/* Longest task name a frame carries. */
#define TASK_NAME_MAX 255

/* What a worker is started with, followed by the initializer's name
 * (init_name_len bytes) and its argument bytes. */
typedef struct worker_args {
  uint32_t magic;
  uint32_t by_name;
  uint64_t maxtasks;
  uint64_t init_name_len;
  uint64_t initargs_size;
  mproc_target_fn initializer; /* fork: by address */
} worker_args_t;

#define WORKER_ARGS_MAGIC 0x574b5230u

/* Each item of a chunk result: its status and size, then its bytes. */
typedef struct item_hdr {
  int32_t status;
  uint32_t size;
} item_hdr_t;

/* Jobs may wait in a worker's pipe behind the running one (so that small
 * tasks do not pay a round trip each) only while their frames together fit
 * the pipe's buffer at once: a larger write could block the pool thread
 * while the worker blocks writing its result to it. */
#define PIPELINE_BYTES_MAX 4096
#define INFLIGHT_MAX 8
#define STAGE_SIZE 65536
/* Most bytes read from one worker before the others get their turn. */
#define SERVICE_QUANTUM ((size_t)4 << 20)
/* How long a worker whose pipe closed may take to be reaped before it is
 * killed (it closed the pipe itself and lives on). */
#define REAP_GRACE_MS 2000
/* Retry delay when a replacement worker cannot be started. */
#define RESPAWN_RETRY_MS 100
/* How often the pool thread checks that idle workers are still alive. */
#define IDLE_CHECK_MS 100
/* Frames up to this size are written by a lessee in one write. */
#define LEASE_FRAME_MAX 512

/* ---- result bytes ---------------------------------------------------- */

struct mproc_buf {
  unsigned char *data;
  size_t size; /* bytes used, the header space before `base` included */
  size_t cap;
  size_t base; /* where this task's result starts */
};

static int buf_reserve(mproc_buf_t *b, size_t extra) {
  size_t need, cap;
  unsigned char *data;
  if (extra > SIZE_MAX - b->size)
    return MPROC_ENOMEM;
  need = b->size + extra;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  data = realloc(b->data, cap);
  if (!data)
    return MPROC_ENOMEM;
  b->data = data;
  b->cap = cap;
  return 0;
}

void *mproc_buf_extend(mproc_buf_t *buf, size_t size) {
  unsigned char *p;
  if (!buf || buf_reserve(buf, size) != 0)
    return NULL;
  p = buf->data + buf->size;
  buf->size += size;
  return p;
}

int mproc_buf_append(mproc_buf_t *buf, const void *data, size_t size) {
  void *p;
  if (!buf || (!data && size > 0))
    return MPROC_EINVAL;
  if (size == 0)
    return 0;
  p = mproc_buf_extend(buf, size);
  if (!p)
    return MPROC_ENOMEM;
  memcpy(p, data, size);
  return 0;
}

int mproc_buf_set(mproc_buf_t *buf, const void *data, size_t size) {
  if (!buf || (!data && size > 0))
    return MPROC_EINVAL;
  buf->size = buf->base;
  return mproc_buf_append(buf, data, size);
}

size_t mproc_buf_size(const mproc_buf_t *buf) {
  return buf ? buf->size - buf->base : 0;
}

/* ---- parent-side records --------------------------------------------- */

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
};

typedef struct worker {
  mproc_process_t *proc; /* NULL: the slot is empty */
  mproc_pid_t pid;
  mproc__pipe_t task_wr, result_rd;
  job_t *inflight[INFLIGHT_MAX]; /* oldest first; [0] is running */
  int n_inflight;
  int64_t head_start_ns; /* when inflight[0] started, as far as we know */
  size_t tasks_sent;
  int quitting;  /* its task pipe is closed: it exits when idle */
  int timed_out; /* killed for running past the task timeout */
  /* Under core->lock: */
  int idle;   /* no job and not watched by the pool's thread: may be leased */
  int leased; /* a caller of mproc_pool_apply() is talking to it */
  int dead;   /* found dead while idle: watched until its end of file */
  /* Reading frames without blocking. */
  unsigned char *stage;
  size_t stage_pos, stage_len;
  frame_t hdr;
  size_t hdr_got;
  unsigned char *payload;
  size_t payload_got;
} worker_t;

enum pool_state { POOL_RUNNING, POOL_CLOSED, POOL_TERMINATING };

struct mproc_pool {
  mproc_pool_t *next_pool, *prev_pool; /* the registry */
  core_t *core;
  mproc_pid_t owner;
  enum pool_state state;
  int nproc;
  mproc_start_method_t method; /* resolved: never DEFAULT */
  int by_name;                 /* tasks travel by registered name */
  unsigned char *worker_args;  /* worker_args_t and what follows it */
  size_t worker_args_size;
  size_t maxtasks;
  int64_t task_timeout_ms;
  worker_t *workers;
  job_t *head, *tail; /* pending jobs */
  mproc__pipe_t wake_rd, wake_wr;
  int wake_pending;
  mproc__thread_t *thread;
  int thread_done;
  int thread_joined;
  int64_t respawn_at_ns;
  unsigned char *scratch; /* frame assembly, pool thread only */
  size_t scratch_cap;
  unsigned long worker_counter;
};

/* Every live pool of this process, so a freed handle is reported. */
static struct {
  mproc__mutex_t lock;
  mproc_pool_t *head;
} registry = {MPROC__MUTEX_INITIALIZER, NULL};

static int check_pool(mproc_pool_t *pool) {
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

static void core_destroy(core_t *core);

static void core_release(core_t *core) {
  int last;
  mproc__mutex_lock(&core->lock);
  last = --core->refs == 0;
  mproc__mutex_unlock(&core->lock);
  if (last)
    core_destroy(core);
}

/* ---- the worker process ---------------------------------------------- */

/* Buffered reads of the task pipe: one read() often brings a whole frame. */
typedef struct reader {
  mproc__pipe_t fd;
  unsigned char buf[STAGE_SIZE];
  size_t pos, len;
  unsigned char *big; /* payloads that do not fit the buffer */
  size_t big_cap;
} reader_t;

static int reader_copy(reader_t *rd, void *dst, size_t n) {
  unsigned char *p = dst;
  size_t have = rd->len - rd->pos;
  if (have >= n) {
    memcpy(p, rd->buf + rd->pos, n);
    rd->pos += n;
    return 0;
  }
  memcpy(p, rd->buf + rd->pos, have);
  p += have;
  n -= have;
  rd->pos = rd->len = 0;
  if (n >= sizeof rd->buf)
    return mproc__pipe_read_all(rd->fd, p, n);
  while (rd->len < n) {
    /* The task pipe blocks: this waits for data and takes all there is. */
    size_t got;
    int r = mproc__pipe_read_some(rd->fd, rd->buf + rd->len,
                                  sizeof rd->buf - rd->len, &got);
    if (r != 0)
      return r;
    rd->len += got;
  }
  memcpy(p, rd->buf, n);
  rd->pos = n;
  return 0;
}

/* The next n payload bytes, in place when buffered. */
static int reader_take(reader_t *rd, size_t n, const unsigned char **out) {
  if (rd->len - rd->pos >= n) {
    *out = rd->buf + rd->pos;
    rd->pos += n;
    return 0;
  }
  if (n > rd->big_cap) {
    unsigned char *big = realloc(rd->big, n);
    if (!big)
      return MPROC_ENOMEM;
    rd->big = big;
    rd->big_cap = n;
  }
  *out = rd->big;
  return reader_copy(rd, rd->big, n);
}

static int run_chunk(const frame_t *f, mproc_task_fn fn,
                     const unsigned char *items, mproc_buf_t *out) {
  uint64_t i;
  for (i = 0; i < f->count; i++) {
    size_t at = out->size;
    item_hdr_t ih;
    size_t n;
    const void *arg = f->item_size ? items + i * f->item_size : NULL;
    if (!mproc_buf_extend(out, sizeof ih))
      return MPROC_ENOMEM;
    out->base = out->size;
    ih.status = fn ? fn(arg, (size_t)f->item_size, out) : MPROC_ENOTREG;
    n = out->size - out->base;
    if (n > UINT32_MAX) {
      ih.status = MPROC_ERANGE;
      out->size = out->base;
      n = 0;
    }
    ih.size = (uint32_t)n;
    memcpy(out->data + at, &ih, sizeof ih);
  }
  return 0;
}

/* The task a frame names: its address under fork; under spawn and
 * forkserver its registered name, looked up once per run of frames for
 * the same task. NULL when the name is unknown here. */
static mproc_task_fn frame_task(reader_t *rd, const frame_t *f, int by_name,
                                char *last, mproc_task_fn *last_fn, int *ok) {
  char name[TASK_NAME_MAX + 1];
  *ok = 1;
  /* An address from the pool's process means nothing in a fresh run of
   * the program: by name only, then. */
  if (!by_name) {
    *ok = f->name_len == 0; /* a name here breaks the protocol */
    return f->fn;
  }
  if (f->name_len == 0)
    return NULL;
  if (f->name_len > TASK_NAME_MAX ||
      reader_copy(rd, name, (size_t)f->name_len) != 0) {
    *ok = 0;
    return NULL;
  }
  name[f->name_len] = 0;
  if (strcmp(name, last) != 0) {
    memcpy(last, name, (size_t)f->name_len + 1);
    *last_fn = mproc__task_lookup(name);
  }
  return *last_fn;
}

/* A worker's life: the library's own target, which every start method
 * runs (a spawned or forkserver worker finds it by its name). */
static int worker_main(const void *arg, size_t arg_size) {
  worker_args_t wa;
  mproc__pipe_t result_wr = mproc__child_handle(1);
  const unsigned char *extra;
  reader_t *rd;
  mproc_buf_t out = {NULL, 0, 0, 0};
  char last_name[TASK_NAME_MAX + 1] = "";
  mproc_task_fn last_fn = NULL;
  size_t done = 0;
  /* A worker forked by the pool's thread inherits that thread's mask, in
   * which every signal is blocked; tasks get the default. */
  mproc__thread_unblock_signals();
  if (arg_size < sizeof wa)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  memcpy(&wa, arg, sizeof wa);
  extra = (const unsigned char *)arg + sizeof wa;
  if (wa.magic != WORKER_ARGS_MAGIC || wa.init_name_len > TASK_NAME_MAX ||
      arg_size - sizeof wa < wa.init_name_len + wa.initargs_size ||
      mproc__child_handle(0) == MPROC__PIPE_INVALID ||
      result_wr == MPROC__PIPE_INVALID)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  rd = calloc(1, sizeof *rd);
  if (!rd)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  rd->fd = mproc__child_handle(0);
  if (wa.init_name_len > 0) {
    char name[TASK_NAME_MAX + 1];
    memcpy(name, extra, (size_t)wa.init_name_len);
    name[wa.init_name_len] = 0;
    wa.initializer = mproc__target_lookup(name);
  }
  if (wa.initializer)
    (void)wa.initializer(wa.initargs_size ? extra + wa.init_name_len : NULL,
                         (size_t)wa.initargs_size);

  for (;;) {
    frame_t f, reply;
    const unsigned char *payload = NULL;
    mproc_task_fn fn;
    int ok;
    /* End of file: the pool has no more work for us (or is gone). */
    if (reader_copy(rd, &f, sizeof f) != 0)
      break;
    fn = frame_task(rd, &f, wa.by_name != 0, last_name, &last_fn, &ok);
    if (!ok)
      break;
    if (f.size > 0 && reader_take(rd, (size_t)f.size, &payload) != 0)
      break;
    memset(&reply, 0, sizeof reply);
    /* The header goes in front of the result, so one write sends both. */
    out.size = 0;
    out.base = 0;
    if (!mproc_buf_extend(&out, sizeof reply))
      break;
    out.base = out.size;
    if (f.kind == FRAME_TASK) {
      reply.kind = FRAME_RESULT;
      reply.status = fn ? fn(f.size ? payload : NULL, (size_t)f.size, &out)
                        : MPROC_ENOTREG;
    } else if (f.kind == FRAME_CHUNK) {
      reply.kind = FRAME_CHUNK_RESULT;
      if (run_chunk(&f, fn, payload, &out) != 0)
        break;
    } else {
      break;
    }
    reply.size = out.size - sizeof reply;
    memcpy(out.data, &reply, sizeof reply);
    if (mproc__pipe_write_all(result_wr, out.data, out.size) != 0)
      break;
    if (out.cap > ((size_t)4 << 20)) {
      /* Do not keep a large result's memory for the small ones. */
      free(out.data);
      out.data = NULL;
      out.cap = 0;
    }
    if (wa.maxtasks && ++done >= wa.maxtasks)
      break;
  }
  free(out.data);
  free(rd->big);
  free(rd);
  return 0;
}
MPROC_TARGET_NAMED(worker_main, "mproc.pool.worker");

/* ---- completing jobs (pool thread) ------------------------------------ */

static void core_destroy(core_t *core) {
  mproc__cond_destroy(core->cond);
  free(core);
}

/* Drop one reference; called with core->lock held. Returns 1 when that was
 * the core's last reference too: the caller destroys it after unlocking. */
static int result_release(mproc_async_result_t *r) {
  core_t *core = r->core;
  if (--r->refs > 0)
    return 0;
  r->magic = 0;
  free(r->data);
  free(r->arg);
  free(r);
  return --core->refs == 0;
}

/* Give an apply job its outcome. `data` (malloc'd or NULL) is taken. */
static void complete_apply(mproc_async_result_t *r, int status,
                           unsigned char *data, size_t size, int has_exitcode,
                           int exitcode) {
  core_t *core = r->core;
  int last;
  mproc_pool_callback_fn cb =
      status == 0 ? r->callbacks.callback : r->callbacks.error_callback;
  /* Python runs the callback before the result is ready, so a get() that
   * returns sees what the callback did. */
  if (cb)
    cb(r->callbacks.user, status, data ? data : (unsigned char *)"", size);
  mproc__mutex_lock(&core->lock);
  r->status = status;
  r->data = data;
  r->size = size;
  r->has_exitcode = has_exitcode;
  r->exitcode = exitcode;
  r->ready = 1;
  free(r->arg);
  r->arg = NULL;
  mproc__cond_broadcast(core->cond);
  last = result_release(r);
  mproc__mutex_unlock(&core->lock);
  if (last)
    core_destroy(core);
}

static void batch_free(struct mproc_imap *b) {
  size_t i;
  if (b->data)
    for (i = 0; i < b->count; i++)
      free(b->data[i]);
  free(b->data);
  free(b->sizes);
  free(b->done);
  free(b->order);
  free(b->last);
  free(b->statuses_owned);
  free(b->items_owned);
  free(b->jobs);
  b->magic = 0;
  free(b);
}

/* Called with core->lock held, after a chunk's outcome is recorded. */
static void batch_chunk_done(struct mproc_imap *b, const job_t *j) {
  size_t i;
  if (b->mode == BATCH_IMAP_UNORDERED)
    for (i = 0; i < j->count; i++)
      b->order[b->order_len++] = j->first + i;
  if (b->mode != BATCH_MAP)
    for (i = 0; i < j->count; i++)
      b->done[j->first + i] = 1;
  b->chunks_left--;
  mproc__cond_broadcast(b->core->cond);
}

/* The pool is done with this chunk; free the batch if its owner left. */
static void batch_chunk_finish(struct mproc_imap *b, const job_t *j) {
  core_t *core = b->core;
  int free_it;
  mproc__mutex_lock(&core->lock);
  batch_chunk_done(b, j);
  free_it = b->owner_gone && b->chunks_left == 0;
  mproc__mutex_unlock(&core->lock);
  if (free_it) {
    batch_free(b);
    core_release(core);
  }
}

/* Every item of the chunk gets `status` and no bytes. */
static void fail_chunk(job_t *j, int status) {
  struct mproc_imap *b = j->batch;
  size_t i;
  for (i = 0; i < j->count; i++) {
    b->statuses[j->first + i] = status;
    if (b->mode == BATCH_MAP && b->result_size)
      memset(b->results + (j->first + i) * b->result_size, 0, b->result_size);
  }
  batch_chunk_finish(b, j);
}

static void fail_job(job_t *j, int status, int has_exitcode, int exitcode) {
  if (j->kind == JOB_APPLY)
    complete_apply(j->result, status, NULL, 0, has_exitcode, exitcode);
  else
    fail_chunk(j, status);
}

/* Unpack a chunk's results. Returns 0, or MPROC_EINVAL for a malformed
 * payload (the worker is then treated as broken). */
static int complete_chunk(job_t *j, const unsigned char *p, size_t n) {
  struct mproc_imap *b = j->batch;
  size_t i, at = 0;
  for (i = 0; i < j->count; i++) {
    item_hdr_t ih;
    size_t idx = j->first + i;
    int status;
    if (n - at < sizeof ih)
      return MPROC_EINVAL;
    memcpy(&ih, p + at, sizeof ih);
    at += sizeof ih;
    if (n - at < ih.size)
      return MPROC_EINVAL;
    status = ih.status;
    if (b->mode == BATCH_MAP) {
      unsigned char *slot = b->results + idx * b->result_size;
      if (ih.size > b->result_size) {
        status = MPROC_ERANGE;
        if (b->result_size)
          memset(slot, 0, b->result_size);
      } else if (b->result_size) {
        if (ih.size)
          memcpy(slot, p + at, ih.size);
        memset(slot + ih.size, 0, b->result_size - ih.size);
      }
    } else {
      unsigned char *copy = malloc(ih.size ? ih.size : 1);
      if (!copy) {
        status = MPROC_ENOMEM;
        b->sizes[idx] = 0;
      } else {
        if (ih.size)
          memcpy(copy, p + at, ih.size);
        b->sizes[idx] = ih.size;
      }
      b->data[idx] = copy;
    }
    b->statuses[idx] = status;
    at += ih.size;
  }
  batch_chunk_finish(b, j);
  return 0;
}

/* ---- workers (pool thread, and create) -------------------------------- */

/* Empty the slot. The pid is cleared under the lock, since
 * mproc_pool_worker_pids() reads it from other threads. */
static void worker_close(mproc_pool_t *pool, worker_t *w) {
  mproc__pipe_close(&w->task_wr);
  mproc__pipe_close(&w->result_rd);
  free(w->stage);
  free(w->payload);
  if (w->proc)
    mproc_process_free(w->proc);
  mproc__mutex_lock(&pool->core->lock);
  memset(w, 0, sizeof *w);
  w->task_wr = w->result_rd = MPROC__PIPE_INVALID;
  mproc__mutex_unlock(&pool->core->lock);
}

static int worker_start(mproc_pool_t *pool, worker_t *w) {
  mproc__pipe_t task_rd = MPROC__PIPE_INVALID, result_wr = MPROC__PIPE_INVALID;
  mproc__pipe_t handed[2];
  mproc_process_options_t po;
  char name[48];
  int r;

  /* The slot is empty: zeroed by worker_close() or at create. */
  if ((r = mproc__pipe_create(&task_rd, &w->task_wr)) != 0)
    goto fail;
  if ((r = mproc__pipe_create(&w->result_rd, &result_wr)) != 0)
    goto fail;
  if ((r = mproc__pipe_set_nonblocking(w->result_rd)) != 0)
    goto fail;
  w->stage = malloc(STAGE_SIZE);
  if (!w->stage) {
    r = MPROC_ENOMEM;
    goto fail;
  }
  memset(&po, 0, sizeof po);
  snprintf(name, sizeof name, "PoolWorker-%lu", ++pool->worker_counter);
  po.name = name;
  /* As in Python: workers do not outlive the pool's process. */
  po.daemon = 1;
  po.start_method = pool->method;
  if ((r = mproc_process_create(&w->proc, worker_main, pool->worker_args,
                                pool->worker_args_size, &po)) != 0)
    goto fail;
  /* The worker gets its own two ends and no other pool pipe, so that each
   * result pipe has exactly one writer. */
  handed[0] = task_rd;
  handed[1] = result_wr;
  if ((r = mproc__process_set_handles(w->proc, handed, 2)) != 0 ||
      (r = mproc_process_start(w->proc)) != 0)
    goto fail;
  mproc__mutex_lock(&pool->core->lock);
  w->pid = mproc_process_pid(w->proc);
  mproc__mutex_unlock(&pool->core->lock);
  mproc__pipe_close(&task_rd);
  mproc__pipe_close(&result_wr);
  return 0;

fail:
  mproc__pipe_close(&task_rd);
  mproc__pipe_close(&result_wr);
  worker_close(pool, w);
  return r;
}

/* The worker's result pipe reached end of file: it exited or died. */
static void worker_lost(mproc_pool_t *pool, worker_t *w) {
  core_t *core = pool->core;
  int exitcode = MPROC_EXITCODE_UNKNOWN, has_exitcode = 0, i;
  job_t *head = NULL;
  job_t *requeue[INFLIGHT_MAX];
  int n_requeue = 0;

  if (mproc_process_join(w->proc, REAP_GRACE_MS) != 0) {
    mproc_process_kill(w->proc);
    mproc_process_join(w->proc, MPROC_INFINITE);
  }
  has_exitcode = mproc_process_exitcode(w->proc, &exitcode) == 0;

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
    fail_job(head, w->timed_out ? MPROC_ETIMEDOUT : MPROC_EWORKERLOST,
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
  worker_close(pool, w);
}

/* A whole frame arrived from w. `payload` holds its bytes; `owned` is the
 * same buffer when it is malloc'd and may be kept, else NULL. */
static int frame_arrived(worker_t *w, const frame_t *f,
                         const unsigned char *payload, unsigned char *owned) {
  job_t *j;
  int r = 0;
  if (w->n_inflight == 0 ||
      (f->kind != FRAME_RESULT && f->kind != FRAME_CHUNK_RESULT) ||
      (f->kind == FRAME_RESULT) != (w->inflight[0]->kind == JOB_APPLY)) {
    free(owned);
    return MPROC_EINVAL;
  }
  j = w->inflight[0];
  w->n_inflight--;
  memmove(&w->inflight[0], &w->inflight[1], (size_t)w->n_inflight * sizeof j);
  /* The next job starts now, as far as the pool can tell. */
  w->head_start_ns = mproc__clock_ns();
  if (j->kind == JOB_APPLY) {
    size_t size = (size_t)f->size;
    unsigned char *data = owned;
    if (!data) {
      data = malloc(size ? size : 1);
      if (data && size)
        memcpy(data, payload, size);
    }
    if (!data)
      complete_apply(j->result, MPROC_ENOMEM, NULL, 0, 0, 0);
    else
      complete_apply(j->result, f->status, data, size, 0, 0);
  } else {
    r = complete_chunk(j, payload, (size_t)f->size);
    free(owned);
  }
  return r;
}

/* The payload of w's frame is whole: complete its job. Returns 0, or
 * MPROC_EINVAL when the frame answers no job of w's. */
static int payload_complete(worker_t *w) {
  unsigned char *p = w->payload;
  w->payload = NULL;
  w->hdr_got = 0;
  return frame_arrived(w, &w->hdr, p, p) != 0 ? MPROC_EINVAL : 0;
}

/* Parse the frames in w's stage. Returns 0, or MPROC_EINVAL / MPROC_ENOMEM
 * when the worker has to go. */
static int worker_parse(worker_t *w) {
  while (w->stage_pos < w->stage_len) {
    size_t avail = w->stage_len - w->stage_pos;
    size_t take;
    if (w->hdr_got < sizeof w->hdr) {
      take = sizeof w->hdr - w->hdr_got;
      if (take > avail)
        take = avail;
      memcpy((unsigned char *)&w->hdr + w->hdr_got, w->stage + w->stage_pos,
             take);
      w->hdr_got += take;
      w->stage_pos += take;
      if (w->hdr_got < sizeof w->hdr)
        return 0;
      if (w->hdr.size > SIZE_MAX / 2)
        return MPROC_EINVAL;
      w->payload_got = 0;
      if (w->stage_len - w->stage_pos >= w->hdr.size) {
        /* The whole frame is in the stage: no copy. */
        const unsigned char *p = w->stage + w->stage_pos;
        w->stage_pos += (size_t)w->hdr.size;
        w->hdr_got = 0;
        if (frame_arrived(w, &w->hdr, p, NULL) != 0)
          return MPROC_EINVAL;
        continue;
      }
      w->payload = malloc((size_t)w->hdr.size);
      if (!w->payload)
        return MPROC_ENOMEM;
      continue;
    }
    take = (size_t)w->hdr.size - w->payload_got;
    if (take > avail)
      take = avail;
    memcpy(w->payload + w->payload_got, w->stage + w->stage_pos, take);
    w->payload_got += take;
    w->stage_pos += take;
    if (w->payload_got == w->hdr.size && payload_complete(w) != 0)
      return MPROC_EINVAL;
  }
  return 0;
}

/* Read what w has sent, up to a quantum, and complete the jobs whose
 * answers arrived whole. Returns 0 (nothing more to read now);
 * MPROC_ECLOSED at end of file: the worker is gone; MPROC_EINVAL or
 * MPROC_ENOMEM when it broke the protocol or its frame cannot be held: the
 * worker has to go. */
static int worker_read(worker_t *w) {
  size_t budget = SERVICE_QUANTUM;
  while (budget > 0) {
    size_t got = 0, left;
    int r;
    left =
        w->hdr_got == sizeof w->hdr ? (size_t)w->hdr.size - w->payload_got : 0;
    if (left >= STAGE_SIZE) {
      /* A large payload is read straight into its buffer. */
      r = mproc__pipe_read_some(w->result_rd, w->payload + w->payload_got, left,
                                &got);
      if (r == 0) {
        w->payload_got += got;
        if (w->payload_got == w->hdr.size && payload_complete(w) != 0)
          return MPROC_EINVAL;
      }
    } else {
      w->stage_pos = w->stage_len = 0;
      r = mproc__pipe_read_some(w->result_rd, w->stage, STAGE_SIZE, &got);
      if (r == 0) {
        int pr;
        w->stage_len = got;
        if ((pr = worker_parse(w)) != 0)
          return pr;
        /* The pipe is drained: the next poll says when there is more,
         * without a read that would only fail. */
        if (got < STAGE_SIZE)
          return 0;
      }
    }
    if (r == MPROC_EEMPTY)
      return 0;
    if (r != 0)
      return MPROC_ECLOSED; /* end of file, or a broken pipe */
    budget -= got < budget ? got : budget;
  }
  return 0;
}

/* Read what w has sent (pool thread). Returns 1 when the worker is gone
 * (its slot is then empty). */
static int worker_service(mproc_pool_t *pool, worker_t *w) {
  int r = worker_read(w);
  if (r == 0)
    return 0;
  /* A worker that breaks the protocol (a task wrote to our pipe, say) is
   * treated as dead. */
  if (r != MPROC_ECLOSED)
    mproc_process_kill(w->proc);
  worker_lost(pool, w);
  return 1;
}

/* ---- sending jobs (pool thread) --------------------------------------- */

/* The frame header of job j, where its payload is, and the task's name
 * (NULL under fork). */
static void job_frame(const job_t *j, frame_t *f, const void **payload,
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

static size_t job_frame_bytes(const job_t *j) {
  const char *name =
      j->kind == JOB_APPLY ? j->result->fn_name : j->batch->fn_name;
  size_t n = sizeof(frame_t) + (name ? strlen(name) : 0);
  if (j->kind == JOB_APPLY)
    return n + j->result->arg_size;
  return n + j->count * j->batch->item_size;
}

/* Copy a whole frame to `at`; returns its size. */
static size_t frame_pack(unsigned char *at, const frame_t *f, const char *name,
                         const void *payload) {
  memcpy(at, f, sizeof *f);
  if (f->name_len)
    memcpy(at + sizeof *f, name, (size_t)f->name_len);
  if (f->size)
    memcpy(at + sizeof *f + f->name_len, payload, (size_t)f->size);
  return sizeof *f + (size_t)f->name_len + (size_t)f->size;
}

/* Write one frame as it is, without a copy of its payload. */
static int write_frame(worker_t *w, const frame_t *f, const char *name,
                       const void *payload) {
  int r = mproc__pipe_write_all(w->task_wr, f, sizeof *f);
  if (r == 0 && f->name_len)
    r = mproc__pipe_write_all(w->task_wr, name, (size_t)f->name_len);
  if (r == 0 && f->size)
    r = mproc__pipe_write_all(w->task_wr, payload, (size_t)f->size);
  return r;
}

/* Write `len` bytes of frames for jobs[0..n) to w; a failed write means
 * the worker died (or is dying): end of file on its result pipe follows,
 * and these jobs, which it never received whole, are requeued then. */
static void flush_frames(worker_t *w, const void *buf, size_t len, job_t **jobs,
                         size_t n) {
  size_t i;
  if (len == 0)
    return;
  if (mproc__pipe_write_all(w->task_wr, buf, len) != 0)
    for (i = 0; i < n; i++)
      jobs[i]->unsent = 1;
}

/* Send the frames of jobs[i] to ws[i]. Small frames for the same worker
 * are gathered into one write: fewer system calls, and the worker's one
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
    job_frame(jobs[i], &f, &payload, &name);
    total = sizeof f + (size_t)f.name_len + (size_t)f.size;
    if (fill > 0 && (ws[i] != ws[first] || fill + total > pool->scratch_cap)) {
      flush_frames(ws[first], pool->scratch, fill, jobs + first, i - first);
      fill = 0;
    }
    if (fill == 0)
      first = i;
    if (total <= pool->scratch_cap) {
      fill += frame_pack(pool->scratch + fill, &f, name, payload);
      continue;
    }
    if (write_frame(ws[i], &f, name, payload) != 0)
      jobs[i]->unsent = 1;
  }
  if (fill > 0)
    flush_frames(ws[first], pool->scratch, fill, jobs + first, n - first);
}

/* ---- the pool's thread ------------------------------------------------ */

static void wake_locked(mproc_pool_t *pool) {
  if (pool->wake_pending)
    return;
  pool->wake_pending = 1;
  (void)mproc__pipe_write_all(pool->wake_wr, "w", 1);
}

static void drain_wake(mproc_pool_t *pool) {
  unsigned char buf[64];
  size_t got;
  mproc__mutex_lock(&pool->core->lock);
  pool->wake_pending = 0;
  mproc__mutex_unlock(&pool->core->lock);
  /* A short read means the pipe is empty: no read that would only fail. */
  while (mproc__pipe_read_some(pool->wake_rd, buf, sizeof buf, &got) == 0 &&
         got == sizeof buf) {
  }
}

/* Whether job j may wait in w's pipe behind the jobs w has. */
static int may_pipeline(const worker_t *w, const job_t *j) {
  size_t bytes;
  int i;
  if (w->n_inflight == 0)
    return 1;
  if (w->n_inflight >= INFLIGHT_MAX || j->kind != JOB_CHUNK ||
      w->inflight[0]->kind != JOB_CHUNK)
    return 0;
  bytes = job_frame_bytes(j);
  for (i = 1; i < w->n_inflight && bytes <= PIPELINE_BYTES_MAX; i++)
    bytes += job_frame_bytes(w->inflight[i]);
  return bytes <= PIPELINE_BYTES_MAX;
}

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
  int i, k;
  /* No lease starts once the pool is terminating; a lessee never frees
   * its worker's process, so killing it here is safe, and it ends the
   * lease: the lessee reads end of file and hands the worker back. */
  mproc__mutex_lock(&core->lock);
  for (i = 0; i < pool->nproc; i++)
    pool->workers[i].idle = 0;
  mproc__mutex_unlock(&core->lock);
  for (i = 0; i < pool->nproc; i++)
    if (pool->workers[i].proc)
      mproc_process_kill(pool->workers[i].proc);
  mproc__mutex_lock(&core->lock);
  while (any_leased(pool))
    mproc__cond_wait(core->cond, &core->lock, MPROC_INFINITE);
  mproc__mutex_unlock(&core->lock);
  for (i = 0; i < pool->nproc; i++) {
    worker_t *w = &pool->workers[i];
    if (!w->proc)
      continue;
    mproc_process_join(w->proc, MPROC_INFINITE);
    for (k = 0; k < w->n_inflight; k++)
      fail_job(w->inflight[k], MPROC_ECLOSED, 0, 0);
    w->n_inflight = 0;
    worker_close(pool, w);
  }
  mproc__mutex_lock(&core->lock);
  pending = pool->head;
  pool->head = pool->tail = NULL;
  mproc__mutex_unlock(&core->lock);
  while ((j = pending) != NULL) {
    pending = j->next;
    fail_job(j, MPROC_ECLOSED, 0, 0);
  }
}

static void pool_thread(void *arg) {
  mproc_pool_t *pool = arg;
  core_t *core = pool->core;
  size_t n = (size_t)pool->nproc;
  mproc__pipe_t *ends = malloc((n + 1) * sizeof *ends);
  worker_t **owners = malloc((n + 1) * sizeof *owners);
  unsigned char *ready = malloc(n + 1);
  worker_t **send_w = malloc(INFLIGHT_MAX * n * sizeof *send_w);
  job_t **send_j = malloc(INFLIGHT_MAX * n * sizeof *send_j);
  /* own[i]: this pass may touch worker i without the lock (neither idle
   * nor leased). */
  unsigned char *own = malloc(n);
  int terminating = 0;
  int64_t idle_check_ns = MPROC_INFINITE;

  while (ends && owners && ready && send_w && send_j && own) {
    size_t i, n_send = 0, n_ends = 0, n_idle = 0;
    int need_spawn, busy = 0, spawned = 0;
    int64_t now = mproc__clock_ns(), deadline = MPROC_INFINITE;

    /* Hand queued jobs to workers that can take them. */
    mproc__mutex_lock(&core->lock);
    if (pool->state == POOL_TERMINATING) {
      mproc__mutex_unlock(&core->lock);
      terminating = 1;
      break;
    }
    /* Idle workers still alive? A dead one is watched again: the end of
     * file on its pipe has it replaced. */
    if (idle_check_ns != MPROC_INFINITE && now >= idle_check_ns) {
      for (i = 0; i < n; i++) {
        worker_t *w = &pool->workers[i];
        int alive = 1;
        if (w->idle && mproc_process_is_alive(w->proc, &alive) == 0 && !alive) {
          w->idle = 0;
          w->dead = 1;
        }
      }
      idle_check_ns = MPROC_INFINITE;
    }
    for (i = 0; i < n && pool->head; i++) {
      worker_t *w = &pool->workers[i];
      if (!w->proc || w->quitting || w->leased)
        continue;
      while (pool->head && may_pipeline(w, pool->head) &&
             (!pool->maxtasks || w->tasks_sent < pool->maxtasks)) {
        job_t *j = pool->head;
        pool->head = j->next;
        if (!pool->head)
          pool->tail = NULL;
        j->next = NULL;
        if (w->n_inflight == 0)
          w->head_start_ns = now;
        w->idle = 0;
        w->inflight[w->n_inflight++] = j;
        w->tasks_sent++;
        send_w[n_send] = w;
        send_j[n_send++] = j;
      }
    }
    /* Closed and nothing queued: idle workers are told to exit (end of
     * file on their task pipe). */
    if (pool->state == POOL_CLOSED && !pool->head) {
      for (i = 0; i < n; i++) {
        worker_t *w = &pool->workers[i];
        if (w->proc && !w->quitting && !w->leased && w->n_inflight == 0) {
          w->quitting = 1;
          w->idle = 0;
          mproc__pipe_close(&w->task_wr);
        }
      }
    }
    /* A worker with nothing to do, and tasks left to run, is left idle:
     * unwatched, free for a caller of mproc_pool_apply() to lease. */
    for (i = 0; i < n; i++) {
      worker_t *w = &pool->workers[i];
      if (w->proc && !w->leased && !w->quitting && !w->dead &&
          w->n_inflight == 0 && pool->state == POOL_RUNNING &&
          (!pool->maxtasks || w->tasks_sent < pool->maxtasks))
        w->idle = 1;
      own[i] = !w->idle && !w->leased;
      n_idle += w->idle;
      if (w->proc)
        busy = 1;
    }
    need_spawn = pool->state == POOL_RUNNING || pool->head != NULL;
    mproc__mutex_unlock(&core->lock);

    send_jobs(pool, send_w, send_j, n_send);

    /* Fill empty slots. */
    for (i = 0; i < n; i++) {
      worker_t *w = &pool->workers[i];
      if (!own[i] || w->proc || !need_spawn)
        continue;
      if (now < pool->respawn_at_ns) {
        if (deadline == MPROC_INFINITE || pool->respawn_at_ns < deadline)
          deadline = pool->respawn_at_ns;
        continue;
      }
      if (worker_start(pool, w) == 0) {
        busy = spawned = 1;
      } else {
        pool->respawn_at_ns = now + (int64_t)RESPAWN_RETRY_MS * 1000000;
        deadline = pool->respawn_at_ns;
      }
    }
    if (!busy && !need_spawn)
      break; /* closed, drained, every worker gone */
    if (spawned)
      continue; /* new workers may take queued jobs */

    /* Sleep until a result, a death, a wake-up or a deadline. */
    if (n_idle > 0) {
      if (idle_check_ns == MPROC_INFINITE)
        idle_check_ns = now + (int64_t)IDLE_CHECK_MS * 1000000;
      if (deadline == MPROC_INFINITE || idle_check_ns < deadline)
        deadline = idle_check_ns;
    }
    ends[n_ends] = pool->wake_rd;
    owners[n_ends++] = NULL;
    for (i = 0; i < n; i++) {
      worker_t *w = &pool->workers[i];
      if (!own[i] || !w->proc)
        continue;
      ends[n_ends] = w->result_rd;
      owners[n_ends++] = w;
      if (pool->task_timeout_ms > 0 && w->n_inflight > 0 && !w->timed_out) {
        int64_t d = w->head_start_ns + pool->task_timeout_ms * 1000000;
        if (deadline == MPROC_INFINITE || d < deadline)
          deadline = d;
      }
    }
    if (mproc__pipe_wait_readable(ends, n_ends, deadline, ready) == 0) {
      if (ready[0])
        drain_wake(pool);
      for (i = 1; i < n_ends; i++)
        if (ready[i])
          worker_service(pool, owners[i]);
    }

    /* A task past its deadline: kill its worker; the end of file that
     * follows fails the task with MPROC_ETIMEDOUT. */
    if (pool->task_timeout_ms > 0) {
      now = mproc__clock_ns();
      for (i = 0; i < n; i++) {
        worker_t *w = &pool->workers[i];
        if (own[i] && w->proc && w->n_inflight > 0 && !w->timed_out &&
            now >= w->head_start_ns + pool->task_timeout_ms * 1000000) {
          w->timed_out = 1;
          mproc_process_kill(w->proc);
        }
      }
    }
  }

  if (!terminating) {
    /* Out of memory for the loop itself: nothing can run; fail what is
     * left rather than hang its waiters. */
    mproc__mutex_lock(&core->lock);
    terminating = pool->head != NULL;
    mproc__mutex_unlock(&core->lock);
    for (size_t i = 0; i < n && !terminating; i++)
      if (pool->workers[i].proc)
        terminating = 1;
  }
  if (terminating)
    terminate_all(pool);
  free(ends);
  free(owners);
  free(ready);
  free(send_w);
  free(send_j);
  free(own);
  mproc__mutex_lock(&core->lock);
  pool->thread_done = 1;
  mproc__cond_broadcast(core->cond);
  mproc__mutex_unlock(&core->lock);
}

/* ---- public API -------------------------------------------------------- */

int mproc_pool_create(mproc_pool_t **out, const mproc_pool_options_t *options) {
  mproc_pool_options_t defaults;
  mproc_pool_t *pool = NULL;
  core_t *core = NULL;
  mproc_start_method_t method;
  const char *init_name = NULL;
  worker_args_t wa;
  size_t init_name_len;
  int i, r = 0;

  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  memset(&defaults, 0, sizeof defaults);
  if (!options)
    options = &defaults;
  if (options->processes < 0 || options->task_timeout_ms < 0 ||
      (!options->initargs && options->initargs_size > 0) ||
      options->start_method < MPROC_START_DEFAULT ||
      options->start_method > MPROC_START_FORKSERVER)
    return MPROC_EINVAL;
  method = options->start_method != MPROC_START_DEFAULT
               ? options->start_method
               : mproc_get_start_method();
  if (!mproc__child_method_supported(method))
    return MPROC_ENOTSUP;
  /* A fresh program knows the initializer only by its registered name. */
  if (method != MPROC_START_FORK && options->initializer) {
    init_name = mproc__target_name(options->initializer);
    if (!init_name || !*init_name)
      return MPROC_ENOTREG;
    if (strlen(init_name) > TASK_NAME_MAX)
      return MPROC_EINVAL;
  }

  core = calloc(1, sizeof *core);
  pool = calloc(1, sizeof *pool);
  if (!core || !pool) {
    r = MPROC_ENOMEM;
    goto fail;
  }
  mproc__mutex_init(&core->lock);
  if ((r = mproc__cond_create(&core->cond)) != 0)
    goto fail;
  core->refs = 1;
  pool->core = core;
  pool->owner = mproc__os_getpid();
  pool->nproc = options->processes ? options->processes : mproc_cpu_count();
  pool->method = method;
  pool->by_name = method != MPROC_START_FORK;
  pool->maxtasks = options->maxtasksperchild;
  pool->task_timeout_ms = options->task_timeout_ms;
  pool->wake_rd = pool->wake_wr = MPROC__PIPE_INVALID;
  /* What every worker is started with, made once. */
  init_name_len = init_name ? strlen(init_name) : 0;
  if (options->initargs_size > SIZE_MAX - sizeof wa - init_name_len) {
    r = MPROC_ENOMEM;
    goto fail;
  }
  memset(&wa, 0, sizeof wa);
  wa.magic = WORKER_ARGS_MAGIC;
  wa.by_name = (uint32_t)pool->by_name;
  wa.maxtasks = options->maxtasksperchild;
  wa.init_name_len = init_name_len;
  wa.initargs_size = options->initargs_size;
  wa.initializer = pool->by_name ? NULL : options->initializer;
  pool->worker_args_size = sizeof wa + init_name_len + options->initargs_size;
  pool->worker_args = malloc(pool->worker_args_size);
  if (!pool->worker_args) {
    r = MPROC_ENOMEM;
    goto fail;
  }
  memcpy(pool->worker_args, &wa, sizeof wa);
  if (init_name_len)
    memcpy(pool->worker_args + sizeof wa, init_name, init_name_len);
  if (options->initargs_size)
    memcpy(pool->worker_args + sizeof wa + init_name_len, options->initargs,
           options->initargs_size);
  pool->workers = calloc((size_t)pool->nproc, sizeof *pool->workers);
  if (!pool->workers) {
    r = MPROC_ENOMEM;
    goto fail;
  }
  for (i = 0; i < pool->nproc; i++)
    pool->workers[i].task_wr = pool->workers[i].result_rd = MPROC__PIPE_INVALID;
  if ((r = mproc__pipe_create(&pool->wake_rd, &pool->wake_wr)) != 0 ||
      (r = mproc__pipe_set_nonblocking(pool->wake_rd)) != 0)
    goto fail;
  /* Workers are started here, so that a failure to start them is reported
   * to the caller; replacements are started by the pool's thread. */
  for (i = 0; i < pool->nproc; i++)
    if ((r = worker_start(pool, &pool->workers[i])) != 0)
      goto fail;
  if ((r = mproc__thread_start(&pool->thread, pool_thread, pool)) != 0)
    goto fail;

  mproc__mutex_lock(&registry.lock);
  pool->next_pool = registry.head;
  if (registry.head)
    registry.head->prev_pool = pool;
  registry.head = pool;
  mproc__mutex_unlock(&registry.lock);
  *out = pool;
  return 0;

fail:
  if (pool) {
    if (pool->workers) {
      for (i = 0; i < pool->nproc; i++) {
        worker_t *w = &pool->workers[i];
        if (!w->proc)
          continue;
        mproc_process_kill(w->proc);
        mproc_process_join(w->proc, MPROC_INFINITE);
        worker_close(pool, w);
      }
    }
    mproc__pipe_close(&pool->wake_rd);
    mproc__pipe_close(&pool->wake_wr);
    free(pool->workers);
    free(pool->worker_args);
    free(pool);
  }
  if (core) {
    mproc__cond_destroy(core->cond);
    free(core);
  }
  return r;
}

/* Append jobs (a linked run from first to last) to the queue; with
 * core->lock held. */
static void queue_locked(mproc_pool_t *pool, job_t *first, job_t *last) {
  if (pool->tail)
    pool->tail->next = first;
  else
    pool->head = first;
  pool->tail = last;
  wake_locked(pool);
}

/* Queue jobs on a running pool. Takes one core reference for their owner
 * on success. */
static int enqueue(mproc_pool_t *pool, job_t *first, job_t *last) {
  core_t *core = pool->core;
  mproc__mutex_lock(&core->lock);
  if (pool->state != POOL_RUNNING) {
    mproc__mutex_unlock(&core->lock);
    return MPROC_ESTATE;
  }
  core->refs++;
  queue_locked(pool, first, last);
  mproc__mutex_unlock(&core->lock);
  return 0;
}

/* The name fn travels by to the pool's workers: NULL under fork, where
 * its address does; MPROC_ENOTREG when the workers could not find it. */
static int task_name(const mproc_pool_t *pool, mproc_task_fn fn,
                     const char **name) {
  *name = NULL;
  if (!pool->by_name)
    return 0;
  *name = mproc__task_name(fn);
  if (!*name || !**name)
    return MPROC_ENOTREG;
  return strlen(*name) <= TASK_NAME_MAX ? 0 : MPROC_EINVAL;
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
  if ((err = check_pool(pool)) != 0)
    return err;
  if ((err = task_name(pool, fn, &name)) != 0)
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
  if ((err = result_new(pool, fn, arg, arg_size, options, &r)) != 0)
    return err;
  if ((err = enqueue(pool, &r->job, &r->job)) != 0) {
    result_discard(r);
    return err;
  }
  *out = r;
  return 0;
}

static int check_result(const mproc_async_result_t *r) {
  return r && r->magic == RESULT_MAGIC ? 0 : MPROC_EINVAL;
}

int mproc_async_result_ready(mproc_async_result_t *r) {
  int ready;
  if (check_result(r) != 0)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  ready = r->ready;
  mproc__mutex_unlock(&r->core->lock);
  return ready;
}

int mproc_async_result_successful(mproc_async_result_t *r) {
  int v;
  if (check_result(r) != 0)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  v = r->ready ? r->status == 0 : MPROC_ESTATE;
  mproc__mutex_unlock(&r->core->lock);
  return v;
}

/* Wait for r with core->lock held. */
static int result_wait_locked(mproc_async_result_t *r, int64_t timeout_ms) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  while (!r->ready)
    if (mproc__cond_wait(r->core->cond, &r->core->lock, deadline) != 0)
      return MPROC_ETIMEDOUT;
  return 0;
}

int mproc_async_result_wait(mproc_async_result_t *r, int64_t timeout_ms) {
  int err;
  if (check_result(r) != 0 || (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  err = result_wait_locked(r, timeout_ms);
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_get(mproc_async_result_t *r, int64_t timeout_ms,
                           int *status, const void **data, size_t *size) {
  int err;
  if (check_result(r) != 0 || (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  err = result_wait_locked(r, timeout_ms);
  if (err == 0) {
    if (status)
      *status = r->status;
    if (data)
      *data = r->data ? r->data : (const void *)"";
    if (size)
      *size = r->size;
  }
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_exitcode(mproc_async_result_t *r, int *exitcode) {
  int err = 0;
  if (check_result(r) != 0 || !exitcode)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  if (r->ready && r->has_exitcode)
    *exitcode = r->exitcode;
  else
    err = MPROC_ESTATE;
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_free(mproc_async_result_t *r) {
  core_t *core;
  int last;
  if (!r)
    return 0;
  if (check_result(r) != 0)
    return MPROC_EINVAL;
  core = r->core;
  mproc__mutex_lock(&core->lock);
  last = result_release(r);
  mproc__mutex_unlock(&core->lock);
  if (last)
    core_destroy(core);
  return 0;
}

/* With core->lock held: an idle worker leased to the caller for job j, or
 * NULL when none is idle or jobs are queued (they go first). */
static worker_t *lease_locked(mproc_pool_t *pool, job_t *j) {
  int i;
  if (pool->head)
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

/* Run the leased worker's job: send it, read the answer. Any other
 * outcome hands the worker back to the pool's thread with the job on it
 * (see the top of this file). */
static void lease_run(mproc_pool_t *pool, worker_t *w) {
  core_t *core = pool->core;
  job_t *j = w->inflight[0];
  int64_t deadline = MPROC_INFINITE;
  unsigned char small[LEASE_FRAME_MAX];
  frame_t f;
  const void *payload;
  const char *name;
  int r, back = 0;

  job_frame(j, &f, &payload, &name);
  if (sizeof f + f.name_len + f.size <= sizeof small)
    r = mproc__pipe_write_all(w->task_wr, small,
                              frame_pack(small, &f, name, payload));
  else
    r = write_frame(w, &f, name, payload);
  if (r != 0) {
    j->unsent = 1; /* the worker is gone: end of file follows */
    back = 1;
  }
  if (pool->task_timeout_ms > 0)
    deadline = w->head_start_ns + pool->task_timeout_ms * 1000000;
  while (!back && w->n_inflight > 0) {
    unsigned char ready;
    /* Past the task's deadline: the pool's thread kills the worker. */
    if (mproc__pipe_wait_readable(&w->result_rd, 1, deadline, &ready) != 0) {
      back = 1;
      break;
    }
    r = worker_read(w);
    if (r != 0) {
      if (r != MPROC_ECLOSED)
        mproc_process_kill(w->proc); /* it broke the protocol */
      back = 1;
    }
  }

  mproc__mutex_lock(&core->lock);
  w->leased = 0;
  /* Back to idle, unless the pool's thread has something to do with it:
   * jobs wait, the pool is closing, the worker is due to exit, or the
   * lease did not end cleanly. */
  if (!back && !pool->head && pool->state == POOL_RUNNING &&
      (!pool->maxtasks || w->tasks_sent < pool->maxtasks)) {
    w->idle = 1;
  } else {
    wake_locked(pool);
    if (pool->state == POOL_TERMINATING)
      mproc__cond_broadcast(core->cond); /* terminate_all() waits */
  }
  mproc__mutex_unlock(&core->lock);
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
  core->refs++; /* the result's, as enqueue() takes */
  w = lease_locked(pool, &r->job);
  if (!w)
    queue_locked(pool, &r->job, &r->job);
  mproc__mutex_unlock(&core->lock);
  if (w)
    lease_run(pool, w);
  mproc__mutex_lock(&r->core->lock);
  result_wait_locked(r, MPROC_INFINITE);
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
  mproc__mutex_unlock(&r->core->lock);
  if (data && !*data) {
    mproc_async_result_free(r);
    return MPROC_ENOMEM;
  }
  mproc_async_result_free(r);
  return 0;
}

void mproc_pool_result_free(void *data) { free(data); }

/* ---- map and imap ------------------------------------------------------ */

static size_t default_chunksize(const mproc_pool_t *pool, size_t count) {
  /* Python's: ceil(count / (4 * processes)). */
  size_t div = (size_t)pool->nproc * 4;
  size_t c = count / div + (count % div != 0);
  return c ? c : 1;
}

static int batch_start(mproc_pool_t *pool, enum batch_mode mode,
                       mproc_task_fn fn, const void *items, size_t item_size,
                       size_t count, size_t chunksize,
                       struct mproc_imap **out) {
  struct mproc_imap *b;
  const char *name;
  size_t nchunks, i;
  int err;
  if (!fn || (!items && item_size > 0 && count > 0))
    return MPROC_EINVAL;
  if (item_size > 0 && count > SIZE_MAX / item_size)
    return MPROC_EINVAL;
  if ((err = check_pool(pool)) != 0)
    return err;
  if ((err = task_name(pool, fn, &name)) != 0)
    return err;
  if (chunksize == 0)
    chunksize = default_chunksize(pool, count);
  nchunks = count / chunksize + (count % chunksize != 0);
  b = calloc(1, sizeof *b);
  if (!b)
    return MPROC_ENOMEM;
  b->magic = BATCH_MAGIC;
  b->core = pool->core;
  b->mode = mode;
  b->fn = fn;
  b->fn_name = name;
  b->item_size = item_size;
  b->count = count;
  b->items = items;
  if (nchunks > 0 && !(b->jobs = calloc(nchunks, sizeof *b->jobs)))
    goto nomem;
  if (mode != BATCH_MAP) {
    if (count > 0 && (!(b->data = calloc(count, sizeof *b->data)) ||
                      !(b->sizes = calloc(count, sizeof *b->sizes)) ||
                      !(b->done = calloc(count, 1)) ||
                      !(b->statuses_owned = calloc(count, sizeof(int))) ||
                      (mode == BATCH_IMAP_UNORDERED &&
                       !(b->order = calloc(count, sizeof *b->order)))))
      goto nomem;
    b->statuses = b->statuses_owned;
    /* The caller's array may go away before the iterator is done. */
    if (count > 0 && item_size > 0) {
      if (!(b->items_owned = malloc(count * item_size)))
        goto nomem;
      memcpy(b->items_owned, items, count * item_size);
      b->items = b->items_owned;
    }
  }
  for (i = 0; i < nchunks; i++) {
    job_t *j = &b->jobs[i];
    j->kind = JOB_CHUNK;
    j->batch = b;
    j->first = i * chunksize;
    j->count = count - j->first < chunksize ? count - j->first : chunksize;
    j->next = i + 1 < nchunks ? &b->jobs[i + 1] : NULL;
  }
  b->chunks_left = nchunks;
  *out = b;
  return 0;

nomem:
  batch_free(b);
  return MPROC_ENOMEM;
}

/* Queue the batch's chunks; with none, only check the pool's state. */
static int batch_enqueue(mproc_pool_t *pool, struct mproc_imap *b) {
  size_t nchunks = b->chunks_left;
  int err;
  if (nchunks > 0)
    return enqueue(pool, &b->jobs[0], &b->jobs[nchunks - 1]);
  mproc__mutex_lock(&pool->core->lock);
  err = pool->state == POOL_RUNNING ? 0 : MPROC_ESTATE;
  if (err == 0)
    pool->core->refs++;
  mproc__mutex_unlock(&pool->core->lock);
  return err;
}

int mproc_pool_map(mproc_pool_t *pool, mproc_task_fn fn, const void *items,
                   size_t item_size, size_t count, size_t chunksize,
                   void *results, size_t result_size, int *statuses) {
  struct mproc_imap *b;
  core_t *core;
  size_t i;
  int err;
  if ((!results && result_size > 0 && count > 0) || result_size > UINT32_MAX)
    return MPROC_EINVAL;
  if (result_size > 0 && count > SIZE_MAX / result_size)
    return MPROC_EINVAL;
  if ((err = batch_start(pool, BATCH_MAP, fn, items, item_size, count,
                         chunksize, &b)) != 0)
    return err;
  b->results = results;
  b->result_size = result_size;
  b->statuses = statuses;
  if (!statuses && count > 0) {
    if (!(b->statuses_owned = malloc(count * sizeof(int)))) {
      batch_free(b);
      return MPROC_ENOMEM;
    }
    b->statuses = b->statuses_owned;
  }
  core = pool->core;
  if ((err = batch_enqueue(pool, b)) != 0) {
    batch_free(b);
    return err;
  }
  mproc__mutex_lock(&core->lock);
  while (b->chunks_left > 0)
    mproc__cond_wait(core->cond, &core->lock, MPROC_INFINITE);
  mproc__mutex_unlock(&core->lock);
  for (i = 0; i < count && err == 0; i++)
    err = b->statuses[i];
  batch_free(b);
  core_release(core);
  return err;
}

static int imap_common(mproc_pool_t *pool, enum batch_mode mode,
                       mproc_task_fn fn, const void *items, size_t item_size,
                       size_t count, size_t chunksize, mproc_imap_t **out) {
  struct mproc_imap *b;
  int err;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  if ((err = batch_start(pool, mode, fn, items, item_size, count, chunksize,
                         &b)) != 0)
    return err;
  if ((err = batch_enqueue(pool, b)) != 0) {
    batch_free(b);
    return err;
  }
  *out = b;
  return 0;
}

int mproc_pool_imap(mproc_pool_t *pool, mproc_task_fn fn, const void *items,
                    size_t item_size, size_t count, size_t chunksize,
                    mproc_imap_t **out) {
  return imap_common(pool, BATCH_IMAP, fn, items, item_size, count, chunksize,
                     out);
}

int mproc_pool_imap_unordered(mproc_pool_t *pool, mproc_task_fn fn,
                              const void *items, size_t item_size, size_t count,
                              size_t chunksize, mproc_imap_t **out) {
  return imap_common(pool, BATCH_IMAP_UNORDERED, fn, items, item_size, count,
                     chunksize, out);
}

int mproc_imap_next(mproc_imap_t *it, int64_t timeout_ms, size_t *index,
                    int *status, const void **data, size_t *size) {
  int64_t deadline;
  size_t idx;
  if (!it || it->magic != BATCH_MAGIC || it->mode == BATCH_MAP ||
      (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  mproc__mutex_lock(&it->core->lock);
  if (it->next >= it->count) {
    mproc__mutex_unlock(&it->core->lock);
    return MPROC_EEMPTY;
  }
  for (;;) {
    if (it->mode == BATCH_IMAP && it->done[it->next])
      break;
    if (it->mode == BATCH_IMAP_UNORDERED && it->order_len > it->next)
      break;
    if (mproc__cond_wait(it->core->cond, &it->core->lock, deadline) != 0) {
      mproc__mutex_unlock(&it->core->lock);
      return MPROC_ETIMEDOUT;
    }
  }
  idx = it->mode == BATCH_IMAP ? it->next : it->order[it->next];
  it->next++;
  free(it->last);
  it->last = it->data[idx];
  it->data[idx] = NULL;
  if (index)
    *index = idx;
  if (status)
    *status = it->statuses[idx];
  if (data)
    *data = it->last ? it->last : (const void *)"";
  if (size)
    *size = it->sizes[idx];
  mproc__mutex_unlock(&it->core->lock);
  return 0;
}

int mproc_imap_free(mproc_imap_t *it) {
  core_t *core;
  int free_it;
  if (!it)
    return 0;
  if (it->magic != BATCH_MAGIC || it->mode == BATCH_MAP)
    return MPROC_EINVAL;
  core = it->core;
  mproc__mutex_lock(&core->lock);
  it->owner_gone = 1;
  free_it = it->chunks_left == 0;
  mproc__mutex_unlock(&core->lock);
  if (free_it) {
    batch_free(it);
    core_release(core);
  }
  return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int mproc_pool_worker_pids(mproc_pool_t *pool, mproc_pid_t *pids, size_t cap,
                           size_t *count) {
  size_t n = 0;
  int i, err;
  if (!count || (!pids && cap > 0))
    return MPROC_EINVAL;
  if ((err = check_pool(pool)) != 0)
    return err;
  mproc__mutex_lock(&pool->core->lock);
  for (i = 0; i < pool->nproc; i++) {
    if (pool->workers[i].pid <= 0)
      continue;
    if (n < cap)
      pids[n] = pool->workers[i].pid;
    n++;
  }
  mproc__mutex_unlock(&pool->core->lock);
  *count = n;
  return n > cap ? MPROC_ERANGE : 0;
}

int mproc_pool_close(mproc_pool_t *pool) {
  int err = check_pool(pool);
  if (err != 0)
    return err;
  mproc__mutex_lock(&pool->core->lock);
  if (pool->state == POOL_RUNNING)
    pool->state = POOL_CLOSED;
  wake_locked(pool);
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

int mproc_pool_terminate(mproc_pool_t *pool) {
  int err = check_pool(pool);
  if (err != 0)
    return err;
  mproc__mutex_lock(&pool->core->lock);
  if (!pool->thread_done)
    pool->state = POOL_TERMINATING;
  wake_locked(pool);
  wait_thread_locked(pool, MPROC_INFINITE);
  mproc__mutex_unlock(&pool->core->lock);
  join_thread(pool);
  return 0;
}

int mproc_pool_join(mproc_pool_t *pool, int64_t timeout_ms) {
  int err = check_pool(pool);
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
  mproc_pool_t *it;
  int found = 0;
  if (!pool)
    return 0;
  /* Take it off the registry first: no other call can start on it. */
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
  if (!found)
    return MPROC_EBADHANDLE;
  if (pool->owner == mproc__os_getpid()) {
    /* Python's Pool.__del__: a pool not joined is terminated. */
    mproc__mutex_lock(&pool->core->lock);
    if (!pool->thread_done)
      pool->state = POOL_TERMINATING;
    wake_locked(pool);
    wait_thread_locked(pool, MPROC_INFINITE);
    mproc__mutex_unlock(&pool->core->lock);
    join_thread(pool);
  }
  mproc__pipe_close(&pool->wake_rd);
  mproc__pipe_close(&pool->wake_wr);
  free(pool->workers);
  free(pool->worker_args);
  free(pool->scratch);
  core_release(pool->core);
  free(pool);
  return 0;
}
