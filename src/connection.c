/* SPDX-License-Identifier: MIT */
/*
 * Connection (Python's Pipe()): a pair of ends over two of mproc's queues,
 * one per direction (one queue when one-way), held in a small segment of
 * its own with the state of each end: closed or not, and which process
 * uses it. docs/connection.md says why a shared ring and not an OS pipe.
 *
 * The queues give what a connection needs of its bytes: messages of any
 * size, delivered whole or not at all whatever process is killed when,
 * value handles that work in any process. What they cannot know is that
 * the process at the other end died: that is this file's. Each end records
 * its owner (the last process that used it: pid and a start-time stamp,
 * so that a reused pid does not pass for it), and a side that waits looks
 * at the other end's owner whenever a sleep of WATCH_MS ends without news.
 * When the owner is gone, the side closes the queue between them: the
 * receiver drains what was sent whole, then reads MPROC_ECLOSED; the
 * sender fails with MPROC_ECLOSED.
 */
#include <stdlib.h>
#include <string.h>

#include "connection_spin.h"
#include "shared.h"
#include "waitable.h"

/* The handle's last word: this tag, with the end's index in bit 0. */
#define END_TAG 0x6d70436e00000000ull /* "mpCn" */

/* Longest sleep of a blocked send or receive before it looks whether the
 * other end's process died. */
#define WATCH_MS 100
/* How often a send that does not block looks (a cheap look: is the pid
 * there at all). */
#define SEND_CHECK_NS 10000000LL

/* Owner stamps: pid in the high half; in the low half bit 31 says whether
 * the rest holds the low 31 bits of the start time in milliseconds. */
#define STAMP_KNOWN 0x80000000u
#define STAMP_MS 0x7fffffffu

typedef struct end_state {
  mproc__atomic_u32 closed;
  mproc__atomic_u64 owner;    /* the using process's stamp, 0 for none yet */
  mproc__atomic_u64 check_ns; /* the owner's next look on send */
  mproc__atomic_u64 close_look_ns; /* its next thorough look at the peer */
  mproc__atomic_u32 spin_level;    /* receives' spins: connection_spin.h */
  mproc__atomic_u32 spin_skip;
} end_state_t;

typedef struct conn_body {
  uint32_t one_way;          /* end 0 only receives, end 1 only sends */
  mproc__atomic_u32 nclosed; /* the end that makes it 2 destroys */
  mproc_queue_t q[2];        /* q[e]: what end e sends; absent: zeroed */
  _Alignas(64) end_state_t ends[2];
} conn_body_t;

/* ---- owners ----------------------------------------------------------- */

static mproc__atomic_u64 self_stamp;

/* This process's owner stamp, read once (and again in a fork child). */
static uint64_t self_owner(void) {
  uint32_t pid = mproc__self_pid();
  uint64_t w = mproc__load64(&self_stamp);
  mproc_proc_info_t info;
  uint32_t low = 0;
  if ((uint32_t)(w >> 32) == pid)
    return w;
  memset(&info, 0, sizeof info);
  if (mproc__proc_read((mproc_pid_t)pid, MPROC_PROC_HAS_START_TIME, &info) ==
          0 &&
      (info.valid & MPROC_PROC_HAS_START_TIME))
    low = STAMP_KNOWN | ((uint32_t)info.start_time_ms & STAMP_MS);
  free(info.argv);
  w = ((uint64_t)pid << 32) | low;
  mproc__store64(&self_stamp, w);
  return w;
}

/* Whether the process of this stamp is gone. `thorough` also reads its
 * state and start time (a zombie, or a later process with the same pid, is
 * gone too); otherwise only whether the pid exists. A stamp of 0 (the end
 * was never used) and this process's own are never gone. */
static int owner_gone(uint64_t owner, int thorough) {
  mproc_proc_info_t info;
  uint32_t pid = (uint32_t)(owner >> 32), low = (uint32_t)owner, d;
  int rc, gone = 0;
  if (owner == 0 || pid == mproc__self_pid())
    return 0;
  if (!mproc__pid_alive((mproc_pid_t)pid))
    return 1;
  if (!thorough)
    return 0;
  memset(&info, 0, sizeof info);
  rc =
      mproc__proc_read((mproc_pid_t)pid,
                       MPROC_PROC_HAS_STATE | MPROC_PROC_HAS_START_TIME, &info);
  if (rc == MPROC_ESRCH)
    return 1;
  if (rc == 0 || rc == MPROC_EPERM) {
    if ((info.valid & MPROC_PROC_HAS_STATE) && info.state == MPROC_PROC_ZOMBIE)
      gone = 1;
    if ((low & STAMP_KNOWN) && (info.valid & MPROC_PROC_HAS_START_TIME)) {
      /* Linux derives start times from two clocks read at different
       * moments: the same process may read a millisecond apart. A pid
       * reused within a second is not a case real systems have. */
      d = (((uint32_t)info.start_time_ms & STAMP_MS) - (low & STAMP_MS)) &
          STAMP_MS;
      if (d > STAMP_MS / 2)
        d = STAMP_MS + 1 - d;
      if (d > 1000)
        gone = 1;
    }
  }
  free(info.argv);
  return gone;
}

/* Whether the other end is closed or its owner gone. Without `thorough`
 * the owner is looked at only every WATCH_MS (then thoroughly), so that a
 * receive that sleeps makes no system call for it, while a caller who
 * only ever polls without waiting still learns of a dead peer. */
static int peer_gone(conn_body_t *b, unsigned e, int thorough) {
  end_state_t *p = &b->ends[e ^ 1], *me = &b->ends[e];
  if (mproc__load32(&p->closed))
    return 1;
  if (!thorough) {
    int64_t now = mproc__clock_ns();
    if (now < (int64_t)mproc__load64_rlx(&me->close_look_ns))
      return 0;
    mproc__store64_rlx(&me->close_look_ns,
                       (uint64_t)(now + WATCH_MS * 1000000LL));
  }
  return owner_gone(mproc__load64(&p->owner), 1);
}

/* ---- ends ------------------------------------------------------------- */

static int can_send(const conn_body_t *b, unsigned e) {
  return !b->one_way || e == 1;
}

static int can_recv(const conn_body_t *b, unsigned e) {
  return !b->one_way || e == 0;
}

/* The body and end index of a handle, without taking the end. */
static int find_end(const mproc_connection_t *c, conn_body_t **b, unsigned *e) {
  int rc;
  if (!c)
    return MPROC_EINVAL;
  if ((c->opaque[8] & ~(uint64_t)1) != END_TAG)
    return MPROC_EBADHANDLE;
  rc = mproc__object_get(c, MPROC__KIND_CONNECTION, (void **)b);
  if (rc != 0)
    return rc;
  *e = (unsigned)(c->opaque[8] & 1);
  return 0;
}

/* The body and end index of an end this process is about to use: it
 * becomes the end's owner. */
static int open_end(const mproc_connection_t *c, conn_body_t **b, unsigned *e) {
  uint64_t me;
  int rc = find_end(c, b, e);
  if (rc != 0)
    return rc;
  if (mproc__load32(&(*b)->ends[*e].closed))
    return MPROC_EBADHANDLE;
  me = self_owner();
  if (mproc__load64_rlx(&(*b)->ends[*e].owner) != me)
    mproc__store64(&(*b)->ends[*e].owner, me);
  return 0;
}

static int check_timeout(int64_t timeout_ms) {
  return timeout_ms < 0 && timeout_ms != MPROC_INFINITE ? MPROC_EINVAL : 0;
}

static int past(int64_t deadline) {
  return deadline != MPROC_INFINITE && mproc__clock_ns() >= deadline;
}

/* The timeout of one sleep: what is left, but at most WATCH_MS. */
static int64_t slice_ms(int64_t deadline) {
  int64_t left = mproc__timeout_left(deadline);
  return left == MPROC_INFINITE || left > WATCH_MS ? WATCH_MS : left;
}

/* ---- create ----------------------------------------------------------- */

static void destroy_queues(conn_body_t *b) {
  int d;
  for (d = 0; d < 2; d++) {
    /* A copy: destroy zeroes the handle it is given, and the body's copy
     * may still be read by another process. */
    mproc_queue_t q = b->q[d];
    if (q.opaque[0])
      mproc_queue_destroy(&q);
  }
}

int mproc_pipe(mproc_connection_t *end0, mproc_connection_t *end1,
               const mproc_pipe_options_t *options) {
  mproc_queue_options_t qo;
  mproc_connection_t h;
  conn_body_t *b;
  int rc, d;
  if (!end0 || !end1 ||
      (options &&
       !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS)))
    return MPROC_EINVAL;
  memset(&qo, 0, sizeof qo);
  qo.capacity = options ? options->capacity : 0;
  memset(&h, 0, sizeof h);
  rc = mproc__object_create(&h, MPROC__KIND_CONNECTION, sizeof *b, (void **)&b);
  if (rc != 0)
    return rc;
  b->one_way = options && options->one_way ? 1u : 0u;
  for (d = b->one_way ? 1 : 0; d < 2 && rc == 0; d++)
    rc = mproc_queue_create(&b->q[d], &qo);
  mproc__object_publish(b);
  if (rc != 0) {
    destroy_queues(b);
    mproc__object_destroy(&h, MPROC__KIND_CONNECTION, NULL);
    return rc;
  }
  h.opaque[8] = END_TAG;
  *end0 = h;
  h.opaque[8] = END_TAG | 1;
  *end1 = h;
  return 0;
}

/* ---- send ------------------------------------------------------------- */

int mproc_connection_send(const mproc_connection_t *c, const void *data,
                          size_t size, int64_t timeout_ms) {
  conn_body_t *b;
  unsigned e;
  int64_t deadline, now;
  int rc = check_timeout(timeout_ms);
  if (rc != 0)
    return rc;
  if (!data && size)
    return MPROC_EINVAL;
  rc = open_end(c, &b, &e);
  if (rc != 0)
    return rc;
  if (!can_send(b, e))
    return MPROC_EINVAL;
  /* A reader that died leaves the ring to fill before a send would block:
   * a look now and then tells the sender sooner, as a pipe's EPIPE does. */
  now = mproc__clock_ns();
  if (now >= (int64_t)mproc__load64_rlx(&b->ends[e].check_ns)) {
    mproc__store64_rlx(&b->ends[e].check_ns, (uint64_t)(now + SEND_CHECK_NS));
    if (peer_gone(b, e, 0) ||
        owner_gone(mproc__load64(&b->ends[e ^ 1].owner), 0))
      mproc_queue_close(&b->q[e]);
  } else if (mproc__load32(&b->ends[e ^ 1].closed)) {
    return MPROC_ECLOSED;
  }
  deadline = mproc__deadline_from_timeout(timeout_ms);
  for (;;) {
    int64_t slice = slice_ms(deadline);
    rc = mproc_queue_put(&b->q[e], data, size, slice);
    if (rc != MPROC_EFULL)
      return rc;
    if (peer_gone(b, e, slice == WATCH_MS)) {
      mproc_queue_close(&b->q[e]);
      return MPROC_ECLOSED;
    }
    if (past(deadline))
      return MPROC_ETIMEDOUT;
  }
}

/* ---- receive ---------------------------------------------------------- */

/* How many looks between two readings of the clock while spinning. */
#define SPIN_LOOKS 16

static mproc__atomic_u32 cpus; /* this machine's processors, 0 until read */

/* Before a receive sleeps: look for a message, without a system call,
 * for up to MPROC__SPIN_NS, when the end's policy says so
 * (connection_spin.h) and another processor can be running the sender.
 * 1 when there is something to take (or the other end closed). */
static int spin_for_data(conn_body_t *b, unsigned e, int64_t deadline) {
  end_state_t *me = &b->ends[e];
  mproc_queue_t *q = &b->q[e ^ 1];
  uint32_t level, skip = mproc__load32_rlx(&me->spin_skip);
  int64_t now, until;
  int empty, i;
  if (mproc__load32_rlx(&cpus) == 0)
    mproc__store32_rlx(&cpus, (uint32_t)mproc_cpu_count());
  if (mproc__load32_rlx(&cpus) < 2)
    return 0;
  if (!mproc__spin_turn(&skip)) {
    mproc__store32_rlx(&me->spin_skip, skip);
    return 0;
  }
  until = mproc__clock_ns() + MPROC__SPIN_NS;
  for (;;) {
    for (i = 0; i < SPIN_LOOKS; i++) {
      empty = 1;
      if (mproc_queue_empty(q, &empty) != 0 || !empty ||
          mproc__load32_rlx(&b->ends[e ^ 1].closed))
        break;
      mproc__cpu_relax();
    }
    if (i < SPIN_LOOKS)
      break;
    now = mproc__clock_ns();
    if (deadline != MPROC_INFINITE && now >= deadline)
      return 0; /* cut short by the caller: no lesson either way */
    if (now >= until)
      break;
  }
  level = mproc__load32_rlx(&me->spin_level);
  mproc__spin_done(i < SPIN_LOOKS, &level, &skip);
  mproc__store32_rlx(&me->spin_level, level);
  mproc__store32_rlx(&me->spin_skip, skip);
  return i < SPIN_LOOKS;
}

/* Sleep until a message may be there, the peer is gone (the queue is then
 * closed, to be drained), the deadline, or WATCH_MS. Not with the queue's
 * own get and its fixed spin: on a busy machine a receiver that always
 * spins only delays the sender it waits for, when that sender waits for
 * this very processor (measured: the round trip took four times as long);
 * spin_for_data() spins only while spinning pays. */
static int sleep_for_data(conn_body_t *b, unsigned e, int64_t deadline) {
  mproc_queue_t *q = &b->q[e ^ 1];
  mproc__watch_t w;
  int64_t until = mproc__clock_ns() + WATCH_MS * 1000000LL;
  int rc;
  rc = mproc__queue_watch(q, 1, &w);
  if (rc != 0)
    return rc;
  if (deadline != MPROC_INFINITE && deadline < until)
    until = deadline;
  if (!w.ready && peer_gone(b, e, 0)) {
    mproc_queue_close(q);
    w.ready = 1;
  }
  if (!w.ready && mproc__wait32(w.word, w.seq, until) == MPROC_ETIMEDOUT &&
      until != deadline && peer_gone(b, e, 1))
    mproc_queue_close(q);
  mproc__queue_watch(q, 0, &w);
  return 0;
}

static int take(const mproc_connection_t *c, void **data, void *buf, size_t cap,
                size_t *size, int64_t timeout_ms) {
  conn_body_t *b;
  unsigned e;
  int64_t deadline;
  mproc_queue_t *q;
  int spun, rc = check_timeout(timeout_ms);
  if (rc != 0)
    return rc;
  rc = open_end(c, &b, &e);
  if (rc != 0)
    return rc;
  if (!can_recv(b, e))
    return MPROC_EINVAL;
  q = &b->q[e ^ 1];
  deadline = mproc__deadline_from_timeout(timeout_ms);
  for (spun = 0;; spun = 1) {
    rc = data ? mproc_queue_get(q, data, size, 0)
              : mproc_queue_get_into(q, buf, cap, size, 0);
    if (rc != MPROC_EEMPTY)
      return rc;
    if (past(deadline)) {
      if (!peer_gone(b, e, 0))
        return MPROC_ETIMEDOUT;
      mproc_queue_close(q); /* then drained, then ECLOSED */
      continue;
    }
    if (!spun && spin_for_data(b, e, deadline))
      continue;
    rc = sleep_for_data(b, e, deadline);
    if (rc != 0)
      return rc;
  }
}

int mproc_connection_recv(const mproc_connection_t *c, void **data,
                          size_t *size, int64_t timeout_ms) {
  if (!data || !size)
    return MPROC_EINVAL;
  *data = NULL;
  return take(c, data, NULL, 0, size, timeout_ms);
}

int mproc_connection_recv_into(const mproc_connection_t *c, void *buf,
                               size_t cap, size_t *size, int64_t timeout_ms) {
  if (!size || (!buf && cap))
    return MPROC_EINVAL;
  return take(c, NULL, buf, cap, size, timeout_ms);
}

/* ---- poll and wait ---------------------------------------------------- */

int mproc__connection_watch(const mproc_connection_t *c, int on, int thorough,
                            mproc__watch_t *w) {
  conn_body_t *b;
  unsigned e;
  int rc = on ? open_end(c, &b, &e) : find_end(c, &b, &e);
  if (rc != 0)
    return rc;
  if (!can_recv(b, e))
    return MPROC_EINVAL;
  rc = mproc__queue_watch(&b->q[e ^ 1], on, w);
  if (rc == 0 && on && !w->ready && peer_gone(b, e, thorough)) {
    mproc_queue_close(&b->q[e ^ 1]);
    w->ready = 1;
  }
  return rc;
}

int mproc_connection_poll(const mproc_connection_t *c, int64_t timeout_ms,
                          int *ready) {
  mproc_wait_item_t item;
  int rc;
  if (!ready)
    return MPROC_EINVAL;
  *ready = 0;
  memset(&item, 0, sizeof item);
  item.kind = MPROC_WAIT_CONNECTION;
  item.connection = c;
  rc = mproc_wait(&item, 1, timeout_ms, NULL);
  if (rc == 0)
    *ready = 1;
  return rc == MPROC_ETIMEDOUT ? 0 : rc;
}

/* ---- close ------------------------------------------------------------ */

int mproc_connection_close(const mproc_connection_t *c) {
  conn_body_t *b;
  unsigned e;
  mproc_connection_t h;
  int rc = find_end(c, &b, &e);
  if (rc != 0)
    return rc;
  if (mproc__xchg32(&b->ends[e].closed, 1))
    return MPROC_EBADHANDLE;
  if (can_send(b, e))
    mproc_queue_close(&b->q[e]);
  if (can_recv(b, e))
    mproc_queue_close(&b->q[e ^ 1]);
  /* The second end to close, or the survivor of a dead peer, removes it
   * all: no process uses the pair any more. */
  if (mproc__add32(&b->nclosed, 1) == 1 ||
      owner_gone(mproc__load64(&b->ends[e ^ 1].owner), 1)) {
    destroy_queues(b);
    h = *c;
    mproc__object_destroy(&h, MPROC__KIND_CONNECTION, NULL);
  }
  return 0;
}
