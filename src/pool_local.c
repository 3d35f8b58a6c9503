/* SPDX-License-Identifier: MIT */
/*
 * The pool's local transport: each worker is an mproc Process, started
 * with the pool's start method, with two pipes of its own (handed to it by
 * the start method's own means: see mproc__child_spec_t.handles). Jobs go
 * down one, answers come up the other. The pool reads answers without
 * blocking (so a worker streaming a large result never deadlocks against
 * it) and learns that a worker died from end of file on its answer pipe,
 * since the worker holds the only write end.
 *
 * Under fork a worker is a copy of this process and a task travels as its
 * function's address; under spawn and forkserver it is a fresh run of the
 * program, started through the library's own target "mproc.pool.worker",
 * and tasks travel by registered name.
 *
 * Wake-ups: one pipe, written when a wake-up becomes pending. `pending`
 * and the pipe change together under `wake_lock`, so that exactly one byte
 * is in the pipe whenever a wake-up is pending and none otherwise: a
 * wake-up is never consumed without clearing `pending`, and `pending` is
 * never left set with the pipe empty, which would swallow every later
 * wake-up (see the contract of `wake` in pool_transport.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "pool_transport.h"
#include "targets.h"

/* One worker: its process and the pool's ends of its two pipes. */
typedef struct slot {
  mproc_process_t *proc; /* NULL: the slot is empty */
  mproc__pipe_t task_wr, result_rd;
} slot_t;

typedef struct local {
  int n;
  mproc_start_method_t method;
  slot_t *slots;
  mproc__pipe_t wake_rd, wake_wr;
  mproc__mutex_t wake_lock;
  int wake_pending;
  /* The pool thread's wait: n + 1 ends (a lessee's wait uses its stack). */
  mproc__pipe_t *ends;
  unsigned char *ready;
  unsigned long counter; /* worker names */
} local_t;

/* ---- the worker process ---------------------------------------------- */

/* The worker's ends: it reads jobs from one and writes answers to the
 * other. */
typedef struct worker_ends {
  mproc__pipe_t task_rd, result_wr;
} worker_ends_t;

static int chan_read_some(void *ctx, void *buf, size_t n, size_t *got) {
  return mproc__pipe_read_some(((worker_ends_t *)ctx)->task_rd, buf, n, got);
}

static int chan_write_all(void *ctx, const void *buf, size_t n) {
  return mproc__pipe_write_all(((worker_ends_t *)ctx)->result_wr, buf, n);
}

/* A worker's life: the library's own target, which every start method
 * runs (a spawned or forkserver worker finds it by its name). */
static int worker_main(const void *arg, size_t arg_size) {
  worker_ends_t ends;
  mproc__pool_channel_t ch = {&ends, chan_read_some, chan_write_all};
  ends.task_rd = mproc__child_handle(0);
  ends.result_wr = mproc__child_handle(1);
  /* A worker forked by the pool's thread inherits that thread's mask, in
   * which every signal is blocked; tasks get the default. */
  mproc__thread_unblock_signals();
  if (ends.task_rd == MPROC__PIPE_INVALID ||
      ends.result_wr == MPROC__PIPE_INVALID)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  return mproc__pool_worker_run(&ch, arg, arg_size);
}
MPROC_TARGET_NAMED(worker_main, "mproc.pool.worker");

/* ---- opening and closing ---------------------------------------------- */

static void local_close(void *state) {
  local_t *t = state;
  if (!t)
    return;
  mproc__pipe_close(&t->wake_rd);
  mproc__pipe_close(&t->wake_wr);
  free(t->slots);
  free(t->ends);
  free(t->ready);
  free(t);
}

static int local_open(mproc__transport_config_t *cfg, void **state) {
  local_t *t;
  int i, r;
  if (!mproc__child_method_supported(cfg->method))
    return MPROC_ENOTSUP;
  t = calloc(1, sizeof *t);
  if (!t)
    return MPROC_ENOMEM;
  t->n = cfg->nworkers;
  t->method = cfg->method;
  t->wake_rd = t->wake_wr = MPROC__PIPE_INVALID;
  mproc__mutex_init(&t->wake_lock);
  t->slots = calloc((size_t)t->n, sizeof *t->slots);
  t->ends = malloc(((size_t)t->n + 1) * sizeof *t->ends);
  t->ready = malloc((size_t)t->n + 1);
  if (!t->slots || !t->ends || !t->ready) {
    local_close(t);
    return MPROC_ENOMEM;
  }
  for (i = 0; i < t->n; i++)
    t->slots[i].task_wr = t->slots[i].result_rd = MPROC__PIPE_INVALID;
  if ((r = mproc__pipe_create(&t->wake_rd, &t->wake_wr)) != 0 ||
      (r = mproc__pipe_set_nonblocking(t->wake_rd)) != 0) {
    local_close(t);
    return r;
  }
  /* A fresh run of the program knows tasks only by their names. */
  cfg->by_name = cfg->method != MPROC_START_FORK;
  *state = t;
  return 0;
}

/* ---- workers ----------------------------------------------------------- */

/* Empty the slot. */
static void slot_clear(slot_t *s) {
  mproc__pipe_close(&s->task_wr);
  mproc__pipe_close(&s->result_rd);
  if (s->proc)
    mproc_process_free(s->proc);
  s->proc = NULL;
}

/* Create the worker's process (not started) for the slot. */
static int slot_process(local_t *t, slot_t *s, const void *args,
                        size_t args_size) {
  mproc_process_options_t po;
  char name[48], title[48];
  int r;
  memset(&po, 0, sizeof po);
  snprintf(name, sizeof name, "PoolWorker-%lu", ++t->counter);
  po.name = name;
  /* As in Python: workers do not outlive the pool's process. */
  po.daemon = 1;
  po.start_method = t->method;
  r = mproc_process_create(&s->proc, worker_main, args, args_size, &po);
  /* In ps: "myprog: pool worker 3". */
  snprintf(title, sizeof title, "pool worker %lu", t->counter);
  if (r == 0)
    r = mproc__process_set_title(s->proc, title);
  return r;
}

static int local_start(void *state, int slot, const void *args,
                       size_t args_size, int64_t *id) {
  local_t *t = state;
  slot_t *s = &t->slots[slot];
  mproc__pipe_t task_rd = MPROC__PIPE_INVALID, result_wr = MPROC__PIPE_INVALID;
  mproc__pipe_t handed[2];
  int r;
  if ((r = mproc__pipe_create(&task_rd, &s->task_wr)) != 0 ||
      (r = mproc__pipe_create(&s->result_rd, &result_wr)) != 0 ||
      (r = mproc__pipe_set_nonblocking(s->result_rd)) != 0 ||
      (r = slot_process(t, s, args, args_size)) != 0)
    goto finish;
  /* The worker gets its own two ends and no other pool pipe, so that each
   * answer pipe has exactly one writer. */
  handed[0] = task_rd;
  handed[1] = result_wr;
  if ((r = mproc__process_set_handles(s->proc, handed, 2)) != 0 ||
      (r = mproc_process_start(s->proc)) != 0)
    goto finish;
  *id = (int64_t)mproc_process_pid(s->proc);

finish:
  mproc__pipe_close(&task_rd);
  mproc__pipe_close(&result_wr);
  if (r != 0)
    slot_clear(s);
  return r;
}

static int local_send(void *state, int slot, const void *buf, size_t n) {
  local_t *t = state;
  return mproc__pipe_write_all(t->slots[slot].task_wr, buf, n);
}

static int local_recv(void *state, int slot, void *buf, size_t n, size_t *got) {
  local_t *t = state;
  int r = mproc__pipe_read_some(t->slots[slot].result_rd, buf, n, got);
  if (r == 0 || r == MPROC_EEMPTY)
    return r;
  return MPROC_ECLOSED; /* end of file, or a broken pipe */
}

/* Consume the pending wake-up, if any: the one byte and the flag go
 * together (see the top of this file). */
static int wake_consume(local_t *t) {
  unsigned char byte;
  size_t got;
  int woken;
  mproc__mutex_lock(&t->wake_lock);
  woken = t->wake_pending;
  /* The flag is cleared only once the byte is out: a read that failed
   * would leave it in the pipe with no wake-up pending, the end readable
   * for good, and the pool's thread spinning on it. */
  if (!woken || mproc__pipe_read_some(t->wake_rd, &byte, 1, &got) != MPROC_EOS)
    t->wake_pending = 0;
  mproc__mutex_unlock(&t->wake_lock);
  return woken;
}

static int local_wait(void *state, const int *slots, size_t n, int wake,
                      int64_t deadline_ns, unsigned char *ready, int *woken) {
  local_t *t = state;
  mproc__pipe_t one_end;
  unsigned char one_ready;
  mproc__pipe_t *ends = wake ? t->ends : &one_end;
  unsigned char *rd = wake ? t->ready : &one_ready;
  size_t i, k = 0;
  int r;
  *woken = 0;
  if (!wake && n != 1)
    return MPROC_EINVAL; /* a lessee waits on its one worker */
  if (wake)
    ends[k++] = t->wake_rd;
  for (i = 0; i < n; i++)
    ends[k++] = t->slots[slots[i]].result_rd;
  r = mproc__pipe_wait_readable(ends, k, deadline_ns, rd);
  if (r != 0)
    return r;
  if (wake && rd[0])
    *woken = wake_consume(t);
  for (i = 0; i < n; i++)
    ready[i] = rd[i + (wake ? 1 : 0)];
  return 0;
}

static void local_wake(void *state) {
  local_t *t = state;
  mproc__mutex_lock(&t->wake_lock);
  /* Pending only with its byte in the pipe: after a failed write, the next
   * wake-up writes again instead of believing one is on its way. */
  if (!t->wake_pending && mproc__pipe_write_all(t->wake_wr, "w", 1) == 0)
    t->wake_pending = 1;
  mproc__mutex_unlock(&t->wake_lock);
}

static int local_alive(void *state, int slot, int *alive) {
  local_t *t = state;
  return mproc_process_is_alive(t->slots[slot].proc, alive);
}

static void local_stop(void *state, int slot) {
  local_t *t = state;
  mproc__pipe_close(&t->slots[slot].task_wr);
}

static void local_kill(void *state, int slot) {
  local_t *t = state;
  (void)mproc_process_kill(t->slots[slot].proc);
}

static int local_reap(void *state, int slot, int64_t grace_ms, int *exitcode) {
  local_t *t = state;
  slot_t *s = &t->slots[slot];
  int known;
  if (mproc_process_join(s->proc, grace_ms) != 0) {
    mproc_process_kill(s->proc);
    mproc_process_join(s->proc, MPROC_INFINITE);
  }
  known = mproc_process_exitcode(s->proc, exitcode) == 0;
  slot_clear(s);
  return known;
}

static void local_info(void *state, int slot, char *buf, size_t n) {
  local_t *t = state;
  snprintf(buf, n, "pid %ld", (long)mproc_process_pid(t->slots[slot].proc));
}

const mproc__transport_t mproc__transport_local = {
    MPROC__TRANSPORT_VERSION,
    "local",
    MPROC__TRANSPORT_LEASES,
    local_open,
    local_close,
    local_start,
    local_send,
    local_recv,
    local_wait,
    local_wake,
    local_alive,
    local_stop,
    local_kill,
    local_reap,
    local_info,
};
