/* SPDX-License-Identifier: MIT */
/*
 * A worker rank's side of the MPI pool: what ranks other than the owner
 * run, from mproc_mpi_init() until the owner is done with them.
 *
 * A pool begins with HELLO, which says the layout. Then the owner starts
 * the rank's slots (START, with the pool's worker arguments), streams
 * bytes to them (DATA), and stops or kills them (STOP, KILL); the rank
 * streams each slot's answers back (DATA) and says when a slot's worker
 * ended (ENDED, with its exit code when known). RELEASE ends the pool;
 * EXIT ends the rank.
 *
 * Rank per core: the rank itself runs the pool's worker loop
 * (mproc__pool_worker_run, the same as a local worker's) on a channel made
 * of MPI messages; it has one slot.
 *
 * Supervisor: the rank relays each slot's stream to a local worker process
 * started through the local transport, the very one a local pool uses. A
 * local worker that crashes, is killed or exits after maxtasksperchild
 * ends its stream there; the rank reaps it and sends ENDED with its exit
 * code, and the owner's engine treats the slot exactly as a local pool
 * treats a lost worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_pool.h"

/* Most bytes of one local worker's answers relayed in one message. */
#define RELAY_CHUNK ((size_t)1 << 20)

typedef struct rank_state {
  MPI_Comm comm;
  int owner;
  mproc__mpi_backoff_t backoff;
  mproc__mpi_msg_t pending; /* a message the worker loop left for us */
  int has_pending;
  /* Rank per core: the slot's current start, and the DATA being read. */
  uint64_t epoch;
  mproc__mpi_msg_t data;
  size_t data_pos;
} rank_state_t;

static int send_kind(rank_state_t *st, uint32_t kind, int slot, uint64_t epoch,
                     int64_t a, int64_t b) {
  mproc__mpi_hdr_t h;
  memset(&h, 0, sizeof h);
  h.kind = kind;
  h.slot = slot;
  h.epoch = epoch;
  h.a = a;
  h.b = b;
  return mproc__mpi_send(st->comm, st->owner, &h, NULL, NULL, 0);
}

/* The next message from the owner, waiting with naps as needed. */
static int next_message(rank_state_t *st, mproc__mpi_msg_t *msg) {
  if (st->has_pending) {
    *msg = st->pending;
    st->has_pending = 0;
    return 0;
  }
  for (;;) {
    int r = mproc__mpi_try_recv(st->comm, st->owner, msg);
    int64_t nap;
    if (r == 0) {
      mproc__mpi_backoff_arrived(&st->backoff);
      return 0;
    }
    if (r != MPROC_EEMPTY && r != MPROC_ENOMEM)
      return r;
    nap = mproc__mpi_backoff_next(&st->backoff);
    if (nap > 0)
      mproc__mpi_nap(nap);
  }
}

/* ---- rank per core: the worker loop on a channel of MPI messages ------ */

static int chan_read_some(void *ctx, void *buf, size_t n, size_t *got) {
  rank_state_t *st = ctx;
  while (!st->data.payload || st->data_pos == st->data.hdr.size) {
    mproc__mpi_msg_t m;
    mproc__mpi_msg_free(&st->data);
    st->data_pos = 0;
    if (next_message(st, &m) != 0)
      return MPROC_ECLOSED;
    if (m.hdr.epoch == st->epoch && m.hdr.kind == MPROC__MPI_DATA &&
        m.hdr.size > 0) {
      st->data = m;
      continue;
    }
    if (m.hdr.epoch == st->epoch &&
        (m.hdr.kind == MPROC__MPI_STOP || m.hdr.kind == MPROC__MPI_KILL)) {
      mproc__mpi_msg_free(&m);
      return MPROC_ECLOSED;
    }
    if (m.hdr.kind != MPROC__MPI_DATA && m.hdr.kind != MPROC__MPI_STOP &&
        m.hdr.kind != MPROC__MPI_KILL) {
      /* A new start, the pool's end, the rank's end: for the serve loop,
       * once this worker loop has ended. */
      st->pending = m;
      st->has_pending = 1;
      return MPROC_ECLOSED;
    }
    mproc__mpi_msg_free(&m); /* about an earlier start: stale */
  }
  if (n > st->data.hdr.size - st->data_pos)
    n = (size_t)(st->data.hdr.size - st->data_pos);
  memcpy(buf, st->data.payload + st->data_pos, n);
  st->data_pos += n;
  *got = n;
  return 0;
}

static int chan_write_all(void *ctx, const void *buf, size_t n) {
  rank_state_t *st = ctx;
  mproc__mpi_hdr_t h;
  memset(&h, 0, sizeof h);
  h.kind = MPROC__MPI_DATA;
  h.epoch = st->epoch;
  return mproc__mpi_send(st->comm, st->owner, &h, NULL, buf, n);
}

/* Run one start of the slot: the pool's worker loop, then ENDED. */
static void run_worker(rank_state_t *st, mproc__mpi_msg_t *start) {
  mproc__pool_channel_t ch = {st, chan_read_some, chan_write_all};
  int code;
  st->epoch = start->hdr.epoch;
  code = mproc__pool_worker_run(&ch, start->payload, (size_t)start->hdr.size);
  mproc__mpi_msg_free(&st->data);
  st->data_pos = 0;
  (void)send_kind(st, MPROC__MPI_ENDED, 0, st->epoch, code, 1);
}

/* ---- supervisor: relay each slot to a local worker process ------------ */

typedef struct relay {
  rank_state_t *st;
  void *local; /* the local transport's state */
  int n;
  uint64_t *epoch; /* per slot; 0: no local worker */
  int *started;    /* the slots with a local worker, for wait */
  unsigned char *ready;
  unsigned char *buf; /* RELAY_CHUNK bytes */
} relay_t;

static const mproc__transport_t *const local_tp = &mproc__transport_local;

static void relay_start(relay_t *rl, mproc__mpi_msg_t *m) {
  int slot = m->hdr.slot;
  int64_t id;
  if (slot < 0 || slot >= rl->n || rl->epoch[slot] != 0)
    return;
  if (local_tp->start(rl->local, slot, m->payload, (size_t)m->hdr.size, &id) !=
      0) {
    /* Could not start: the owner sees the worker lost at once and starts
     * another, as a local pool does. */
    (void)send_kind(rl->st, MPROC__MPI_ENDED, slot, m->hdr.epoch, 0, 0);
    return;
  }
  rl->epoch[slot] = m->hdr.epoch;
}

/* Handle one message from the owner; returns its kind when it ends the
 * pool (RELEASE, EXIT), else 0. */
static int relay_message(relay_t *rl, mproc__mpi_msg_t *m) {
  int slot = m->hdr.slot;
  int current = slot >= 0 && slot < rl->n && rl->epoch[slot] != 0 &&
                rl->epoch[slot] == m->hdr.epoch;
  switch (m->hdr.kind) {
  case MPROC__MPI_START:
    relay_start(rl, m);
    break;
  case MPROC__MPI_DATA:
    /* A failed write means the local worker is gone: its stream's end
     * tells the owner. */
    if (current && m->hdr.size > 0)
      (void)local_tp->send(rl->local, slot, m->payload, (size_t)m->hdr.size);
    break;
  case MPROC__MPI_STOP:
    if (current)
      local_tp->stop(rl->local, slot);
    break;
  case MPROC__MPI_KILL:
    if (current)
      local_tp->kill(rl->local, slot);
    break;
  case MPROC__MPI_RELEASE:
  case MPROC__MPI_EXIT:
    return (int)m->hdr.kind;
  default:
    break;
  }
  return 0;
}

/* Relay what local workers sent; a worker whose stream ended is reaped
 * and reported. Returns 1 when anything moved. */
static int relay_answers(relay_t *rl) {
  int slot, moved = 0;
  for (slot = 0; slot < rl->n; slot++) {
    size_t got;
    int r, exitcode = 0, known;
    mproc__mpi_hdr_t h;
    if (rl->epoch[slot] == 0)
      continue;
    r = local_tp->recv(rl->local, slot, rl->buf, RELAY_CHUNK, &got);
    if (r == MPROC_EEMPTY)
      continue;
    moved = 1;
    memset(&h, 0, sizeof h);
    h.slot = slot;
    h.epoch = rl->epoch[slot];
    if (r == 0) {
      h.kind = MPROC__MPI_DATA;
      (void)mproc__mpi_send(rl->st->comm, rl->st->owner, &h, NULL, rl->buf,
                            got);
      continue;
    }
    known =
        local_tp->reap(rl->local, slot, MPROC__MPI_REAP_GRACE_MS, &exitcode);
    rl->epoch[slot] = 0;
    (void)send_kind(rl->st, MPROC__MPI_ENDED, slot, h.epoch, exitcode, known);
  }
  return moved;
}

/* Sleep until a local worker has something to say or the nap is over. */
static void relay_nap(relay_t *rl, int64_t nap_ns) {
  size_t k = 0;
  int slot, woken;
  for (slot = 0; slot < rl->n; slot++)
    if (rl->epoch[slot] != 0)
      rl->started[k++] = slot;
  (void)local_tp->wait(rl->local, rl->started, k, 1,
                       mproc__mpi_now_ns() + nap_ns, rl->ready, &woken);
}

/* Kill and reap every local worker left (the pool is over). */
static void relay_end(relay_t *rl) {
  int slot, exitcode;
  for (slot = 0; slot < rl->n; slot++) {
    if (rl->epoch[slot] == 0)
      continue;
    local_tp->kill(rl->local, slot);
    (void)local_tp->reap(rl->local, slot, MPROC_INFINITE, &exitcode);
    rl->epoch[slot] = 0;
  }
}

/* Serve one supervisor pool; returns RELEASE or EXIT (or 0 when MPI
 * failed). */
static int relay_run(rank_state_t *st, relay_t *rl) {
  for (;;) {
    mproc__mpi_msg_t m;
    int moved = 0, r, end = 0;
    int64_t nap;
    while ((r = mproc__mpi_try_recv(st->comm, st->owner, &m)) == 0) {
      moved = 1;
      end = relay_message(rl, &m);
      mproc__mpi_msg_free(&m);
      if (end)
        break;
    }
    if (end || (r != 0 && r != MPROC_EEMPTY && r != MPROC_ENOMEM)) {
      relay_end(rl);
      return end;
    }
    moved |= relay_answers(rl);
    if (moved) {
      mproc__mpi_backoff_arrived(&st->backoff);
      continue;
    }
    nap = mproc__mpi_backoff_next(&st->backoff);
    relay_nap(rl, nap);
  }
}

/* ---- the serve loop ---------------------------------------------------- */

/* Answer HELLO: how many slots this rank has (0: it cannot serve), its
 * pid and host. */
static int hello(rank_state_t *st, int slots) {
  mproc__mpi_hdr_t h;
  char host[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  memset(host, 0, sizeof host);
  mproc__mpi_lock();
  MPI_Get_processor_name(host, &len);
  mproc__mpi_unlock();
  host[63] = 0;
  memset(&h, 0, sizeof h);
  h.kind = MPROC__MPI_HELLO;
  h.a = slots;
  h.c = (int64_t)getpid();
  return mproc__mpi_send(st->comm, st->owner, &h, host, NULL, 0);
}

/* A supervisor pool: open the local transport, answer HELLO, relay until
 * the pool is over. Returns RELEASE or EXIT; 0 when it could not serve
 * (the owner then gives the pool up) or MPI failed. */
static int supervise(rank_state_t *st, const mproc__mpi_msg_t *m) {
  mproc__transport_config_t cfg;
  relay_t rl;
  int workers = m->hdr.b > 0 ? (int)m->hdr.b : mproc_cpu_count();
  int end = 0, opened = 0;
  memset(&rl, 0, sizeof rl);
  memset(&cfg, 0, sizeof cfg);
  cfg.nworkers = workers;
  cfg.method = (mproc_start_method_t)m->hdr.c;
  rl.st = st;
  rl.n = workers;
  rl.epoch = calloc((size_t)workers, sizeof *rl.epoch);
  rl.started = calloc((size_t)workers, sizeof *rl.started);
  rl.ready = calloc((size_t)workers, 1);
  rl.buf = malloc(RELAY_CHUNK);
  opened = rl.epoch && rl.started && rl.ready && rl.buf &&
           local_tp->open(&cfg, &rl.local) == 0;
  if (hello(st, opened ? workers : 0) == 0 && opened)
    end = relay_run(st, &rl);
  if (opened)
    local_tp->close(rl.local);
  free(rl.epoch);
  free(rl.started);
  free(rl.ready);
  free(rl.buf);
  return end;
}

void mproc__mpi_serve(MPI_Comm comm, int owner) {
  rank_state_t st;
  memset(&st, 0, sizeof st);
  st.comm = comm;
  st.owner = owner;
  mproc__mpi_backoff_init(&st.backoff, 0);
  for (;;) {
    mproc__mpi_msg_t m;
    int end = 0;
    if (next_message(&st, &m) != 0)
      return;
    switch (m.hdr.kind) {
    case MPROC__MPI_HELLO:
      if (m.hdr.a == MPROC_MPI_SUPERVISOR)
        end = supervise(&st, &m);
      else if (hello(&st, 1) != 0)
        end = MPROC__MPI_EXIT;
      if (end == 0)
        break;
      mproc__mpi_msg_free(&m);
      if (end == MPROC__MPI_EXIT)
        return;
      continue;
    case MPROC__MPI_START:
      run_worker(&st, &m);
      break;
    case MPROC__MPI_EXIT:
      mproc__mpi_msg_free(&m);
      return;
    default:
      break; /* about a worker that ended already: stale */
    }
    mproc__mpi_msg_free(&m);
  }
}
