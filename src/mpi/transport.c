/* SPDX-License-Identifier: MIT */
/*
 * The MPI transport: the owning rank's side of a pool whose workers are
 * MPI ranks (see pool_transport.h for the operations, rank.c for the
 * other side).
 *
 * Each of the engine's slots is one worker on one rank: the rank itself
 * (rank per core) or one of its local worker processes (supervisor). A
 * slot's stream travels as DATA messages naming the rank's slot number
 * and the slot's epoch, a number given at each start, so that anything
 * still in flight from an earlier worker of the slot (or an earlier pool
 * of the same ranks) is told apart and dropped.
 *
 * Whoever waits (the pool's thread, or a caller leasing a worker) takes
 * every message that has arrived, whichever slot it is for, and files it
 * under its slot; a broadcast tells the other waiters. MPI has no
 * descriptor to sleep on, so a waiter probes, and after a spin naps
 * between probes on the pool's condition variable, which a wake-up or a
 * filed message cuts short (message.h: the backoff). The pool's thread
 * learns how long to spin from its earlier waits: while the ranks
 * compute, its spin shrinks to microseconds and the owner costs almost
 * no CPU.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_pool.h"

struct mproc__mpi_bytes {
  struct mproc__mpi_bytes *next;
  unsigned char *data; /* malloc'd */
  size_t size;
};

static void slot_drop_bytes(mproc__mpi_slot_t *s) {
  while (s->head) {
    struct mproc__mpi_bytes *b = s->head;
    s->head = b->next;
    free(b->data);
    free(b);
  }
  s->tail = NULL;
  s->head_pos = 0;
}

static int send_kind(mproc__mpi_pool_t *p, int slot, uint32_t kind,
                     const void *payload, size_t size) {
  mproc__mpi_slot_t *s = &p->slots[slot];
  mproc__mpi_hdr_t h;
  memset(&h, 0, sizeof h);
  h.kind = kind;
  h.slot = s->local;
  h.epoch = s->epoch;
  return mproc__mpi_send(p->comm, p->ranks[s->rank_index].rank, &h, NULL,
                         payload, size);
}

/* The slot a message from `source` about its slot `local` is for. */
static mproc__mpi_slot_t *slot_of(mproc__mpi_pool_t *p, int source, int local) {
  int i;
  for (i = 0; i < p->nslots; i++) {
    mproc__mpi_slot_t *s = &p->slots[i];
    if (s->local == local && p->ranks[s->rank_index].rank == source)
      return s;
  }
  return NULL;
}

/* File one message under its slot; with p->lock held. */
static void file_message(mproc__mpi_pool_t *p, mproc__mpi_msg_t *m) {
  mproc__mpi_slot_t *s = slot_of(p, m->source, m->hdr.slot);
  if (!s || s->epoch == 0 || s->epoch != m->hdr.epoch || s->ended)
    return; /* an earlier worker's, or an earlier pool's */
  if (m->hdr.kind == MPROC__MPI_ENDED) {
    s->ended = 1;
    s->has_exit = m->hdr.b != 0;
    s->exitcode = (int)m->hdr.a;
  } else if (m->hdr.kind == MPROC__MPI_DATA && m->hdr.size > 0) {
    struct mproc__mpi_bytes *b = malloc(sizeof *b);
    unsigned char *data = b ? mproc__mpi_msg_take(m) : NULL;
    if (!data) {
      /* Bytes of its stream cannot be kept: the stream is broken, which
       * the engine treats as the worker's loss. */
      free(b);
      s->ended = 1;
      s->has_exit = 0;
      return;
    }
    b->next = NULL;
    b->data = data;
    b->size = (size_t)m->hdr.size;
    if (s->tail)
      s->tail->next = b;
    else
      s->head = b;
    s->tail = b;
  }
}

/* Take every message that has arrived; with p->lock held. Returns 1 when
 * any was filed. */
static int pump(mproc__mpi_pool_t *p) {
  int any = 0;
  for (;;) {
    mproc__mpi_msg_t m;
    int r = mproc__mpi_try_recv(p->comm, MPI_ANY_SOURCE, &m);
    if (r == MPROC_EEMPTY)
      break;
    if (r != 0)
      break; /* malformed (dropped) or no memory: try again later */
    file_message(p, &m);
    mproc__mpi_msg_free(&m);
    any = 1;
  }
  if (any)
    pthread_cond_broadcast(&p->cond);
  return any;
}

static int slot_ready(const mproc__mpi_slot_t *s) {
  return s->head != NULL || s->ended;
}

/* ---- the operations ------------------------------------------------------ */

static int mpi_open(mproc__transport_config_t *cfg, void **state) {
  /* The pool's ranks, from mproc_mpi_pool_create(): ours to change. */
  mproc__mpi_pool_t *p = (mproc__mpi_pool_t *)(uintptr_t)cfg->arg;
  if (!p || cfg->nworkers != p->nslots)
    return MPROC_EINVAL;
  /* A rank is never a copy of this process. */
  cfg->by_name = 1;
  p->opened = 1;
  *state = p;
  return 0;
}

static void mpi_close(void *state) { mproc__mpi_pool_release(state); }

static int mpi_start(void *state, int slot, const void *args, size_t args_size,
                     int64_t *id) {
  mproc__mpi_pool_t *p = state;
  mproc__mpi_slot_t *s = &p->slots[slot];
  int r;
  pthread_mutex_lock(&p->lock);
  slot_drop_bytes(s);
  s->epoch = ++p->next_epoch;
  s->ended = 0;
  s->has_exit = 0;
  pthread_mutex_unlock(&p->lock);
  r = send_kind(p, slot, MPROC__MPI_START, args, args_size);
  if (r != 0) {
    pthread_mutex_lock(&p->lock);
    s->epoch = 0; /* the slot stays empty */
    pthread_mutex_unlock(&p->lock);
    return r;
  }
  *id = p->ranks[s->rank_index].pid;
  return 0;
}

static int mpi_send(void *state, int slot, const void *buf, size_t n) {
  mproc__mpi_pool_t *p = state;
  int ended;
  pthread_mutex_lock(&p->lock);
  ended = p->slots[slot].ended;
  pthread_mutex_unlock(&p->lock);
  if (ended)
    return MPROC_ECLOSED;
  return send_kind(p, slot, MPROC__MPI_DATA, buf, n);
}

static int mpi_recv(void *state, int slot, void *buf, size_t n, size_t *got) {
  mproc__mpi_pool_t *p = state;
  mproc__mpi_slot_t *s = &p->slots[slot];
  int r = MPROC_EEMPTY;
  pthread_mutex_lock(&p->lock);
  if (!s->head)
    (void)pump(p);
  if (s->head) {
    struct mproc__mpi_bytes *b = s->head;
    size_t left = b->size - s->head_pos;
    if (n > left)
      n = left;
    memcpy(buf, b->data + s->head_pos, n);
    s->head_pos += n;
    *got = n;
    if (s->head_pos == b->size) {
      s->head = b->next;
      if (!s->head)
        s->tail = NULL;
      s->head_pos = 0;
      free(b->data);
      free(b);
    }
    r = 0;
  } else if (s->ended) {
    r = MPROC_ECLOSED;
  }
  pthread_mutex_unlock(&p->lock);
  return r;
}

/* Nap on the condition variable until the deadline; with p->lock held. */
static void nap_locked(mproc__mpi_pool_t *p, int64_t until_ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(until_ns / 1000000000);
  ts.tv_nsec = (long)(until_ns % 1000000000);
  (void)pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static int mpi_wait(void *state, const int *slots, size_t n, int wake,
                    int64_t deadline_ns, unsigned char *ready, int *woken) {
  mproc__mpi_pool_t *p = state;
  mproc__mpi_backoff_t bo;
  int r = MPROC_ETIMEDOUT;
  *woken = 0;
  pthread_mutex_lock(&p->lock);
  /* The pool's thread (the one that is woken) learns. */
  if (wake)
    bo = p->learned;
  else
    mproc__mpi_backoff_init(&bo, 0);
  for (;;) {
    size_t i, k = 0;
    int64_t nap, now;
    (void)pump(p);
    for (i = 0; i < n; i++) {
      ready[i] = (unsigned char)slot_ready(&p->slots[slots[i]]);
      k += ready[i];
    }
    if (wake && p->wake_pending) {
      p->wake_pending = 0;
      *woken = 1;
    }
    if (k > 0 || *woken) {
      if (k > 0 && wake) {
        mproc__mpi_backoff_arrived(&bo);
        p->learned.spin_ns = bo.spin_ns;
      }
      r = 0;
      break;
    }
    now = mproc__mpi_now_ns();
    if (deadline_ns != MPROC_INFINITE && now >= deadline_ns)
      break;
    nap = mproc__mpi_backoff_next(&bo);
    if (nap == 0) {
      /* Spinning: let the other waiters in between probes. */
      pthread_mutex_unlock(&p->lock);
      pthread_mutex_lock(&p->lock);
      continue;
    }
    if (deadline_ns != MPROC_INFINITE && now + nap > deadline_ns)
      nap = deadline_ns - now;
    nap_locked(p, now + nap);
  }
  pthread_mutex_unlock(&p->lock);
  return r;
}

static void mpi_wake(void *state) {
  mproc__mpi_pool_t *p = state;
  pthread_mutex_lock(&p->lock);
  p->wake_pending = 1;
  pthread_cond_broadcast(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

static int mpi_alive(void *state, int slot, int *alive) {
  mproc__mpi_pool_t *p = state;
  pthread_mutex_lock(&p->lock);
  (void)pump(p);
  *alive = !p->slots[slot].ended;
  pthread_mutex_unlock(&p->lock);
  return 0;
}

static void mpi_stop(void *state, int slot) {
  (void)send_kind(state, slot, MPROC__MPI_STOP, NULL, 0);
}

static void mpi_kill(void *state, int slot) {
  mproc__mpi_pool_t *p = state;
  mproc__mpi_slot_t *s = &p->slots[slot];
  (void)send_kind(p, slot, MPROC__MPI_KILL, NULL, 0);
  if (p->layout == MPROC_MPI_RANK_PER_CORE) {
    /* A rank cannot be killed alone: its worker is given up here. The
     * rank finishes the task it runs, its answer is dropped (an earlier
     * epoch's), and it reads KILL next. */
    pthread_mutex_lock(&p->lock);
    if (!s->ended) {
      s->ended = 1;
      s->has_exit = 0;
    }
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
  }
}

/* Wait until the slot's worker ended, up to the deadline; with p->lock
 * held. Returns whether it did. */
static int wait_ended_locked(mproc__mpi_pool_t *p, mproc__mpi_slot_t *s,
                             int64_t deadline_ns) {
  mproc__mpi_backoff_t bo;
  mproc__mpi_backoff_init(&bo, 0);
  for (;;) {
    int64_t now, nap;
    (void)pump(p);
    if (s->ended)
      return 1;
    now = mproc__mpi_now_ns();
    if (deadline_ns != MPROC_INFINITE && now >= deadline_ns)
      return 0;
    nap = mproc__mpi_backoff_next(&bo);
    if (nap == 0)
      nap = 1000;
    nap_locked(p, now + nap);
  }
}

static int mpi_reap(void *state, int slot, int64_t grace_ms, int *exitcode) {
  mproc__mpi_pool_t *p = state;
  mproc__mpi_slot_t *s = &p->slots[slot];
  int64_t deadline = grace_ms == MPROC_INFINITE
                         ? MPROC_INFINITE
                         : mproc__mpi_now_ns() + grace_ms * 1000000;
  int known;
  pthread_mutex_lock(&p->lock);
  if (!wait_ended_locked(p, s, deadline)) {
    pthread_mutex_unlock(&p->lock);
    mpi_kill(p, slot);
    pthread_mutex_lock(&p->lock);
    (void)wait_ended_locked(p, s, MPROC_INFINITE);
  }
  known = s->has_exit;
  *exitcode = s->exitcode;
  slot_drop_bytes(s);
  s->epoch = 0;
  s->ended = 0;
  pthread_mutex_unlock(&p->lock);
  return known;
}

static void mpi_info(void *state, int slot, char *buf, size_t n) {
  mproc__mpi_pool_t *p = state;
  const mproc__mpi_rank_t *r = &p->ranks[p->slots[slot].rank_index];
  if (p->layout == MPROC_MPI_SUPERVISOR)
    snprintf(buf, n, "rank %d slot %d on %s", r->rank, p->slots[slot].local,
             r->host);
  else
    snprintf(buf, n, "rank %d on %s", r->rank, r->host);
}

const mproc__transport_t mproc__transport_mpi = {
    MPROC__TRANSPORT_VERSION,
    "mpi",
    MPROC__TRANSPORT_LEASES,
    mpi_open,
    mpi_close,
    mpi_start,
    mpi_send,
    mpi_recv,
    mpi_wait,
    mpi_wake,
    mpi_alive,
    mpi_stop,
    mpi_kill,
    mpi_reap,
    mpi_info,
};
