/* SPDX-License-Identifier: MIT */
/*
 * Queue and JoinableQueue: a FIFO of byte messages in one shared segment.
 *
 * The segment holds a byte ring. Each message is a record: an 8-byte header
 * (kind, length) and its bytes, padded to 8, written at `tail` and read at
 * `head`, both 64-bit byte counters that only grow. A message larger than
 * half the ring is written into a segment of its own and the ring carries a
 * reference to it. The records, and their decoding, which trusts no length
 * found in the ring, are in queue_record.h.
 *
 * Producers are serialised by one crash-aware lock and consumers by
 * another, so one producer and one consumer work at the same time. Each side
 * publishes its work with one store of its counter (`tail`, `head`), made
 * after the bytes are in place: a process killed before that store has
 * changed nothing others can see. The other counters of that side (`nput`,
 * `nget`) are written beside it; a journal of their new values, marked
 * valid before the first of those stores, lets the next holder of the lock
 * finish them when it gets the lock with MPROC_EOWNERDEAD.
 */
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "queue_batch.h"
#include "queue_record.h"
#include "shared.h"
#include "waitable.h"

#define MIN_CAPACITY ((uint64_t)4096)
#define MAX_CAPACITY ((uint64_t)1 << 30)

#define SIDE_MAGIC 0x6d70534du /* "mpSM" */

typedef struct side_header {
  uint32_t magic;
  uint32_t reserved;
  uint64_t generation;
  uint64_t size;
} side_header_t;

typedef struct queue_body {
  /* Written once at creation. */
  uint64_t capacity; /* a power of two */
  uint64_t maxsize;  /* 0: unbounded */
  uint32_t joinable;
  uint32_t creator_pid;
  mproc__atomic_u32 closed;

  /* Producers' side, touched only by the producer holding plock, so that
   * line stays in that producer's cache. */
  _Alignas(64) mproc__xlock_t plock;
  mproc__atomic_u32 p_valid; /* the journal below is to be applied */
  mproc__atomic_u64 p_tail;
  mproc__atomic_u64 p_nput;
  mproc__atomic_u64 p_side;      /* generation of a side segment being made */
  mproc__atomic_u64 p_head_seen; /* head and nget as last read: a producer */
  mproc__atomic_u64 p_nget_seen; /* reads the real ones only when short */

  /* What producers publish. */
  _Alignas(64) mproc__atomic_u64 tail;
  mproc__atomic_u64 nput;

  /* Consumers' side, as the producers'. */
  _Alignas(64) mproc__xlock_t clock;
  mproc__atomic_u32 c_valid;
  mproc__atomic_u64 c_head;
  mproc__atomic_u64 c_nget;
  mproc__atomic_u64 c_tail_seen;
  mproc__atomic_u32 c_streak; /* short waits in a row: queue_batch.h */

  /* What consumers publish. */
  _Alignas(64) mproc__atomic_u64 head;
  mproc__atomic_u64 nget;

  /* JoinableQueue: messages marked done. */
  _Alignas(64) mproc__atomic_u64 ndone;

  /* Sleepers: each side sleeps on a sequence word that the other side bumps
   * when it finds the sleeper's flag raised. Only the holder of a side's
   * lock ever sleeps for data or room, so one flag per side is enough, and
   * the first waker takes it down: the puts that follow, before the
   * sleeper has even run, make no system call. Joiners may be many, and
   * are counted. */
  _Alignas(64) mproc__atomic_u32 data_seq;
  mproc__atomic_u32 data_sleeping;
  mproc__atomic_u32 data_watch; /* raised by waits on many (src/wait.c) */
  _Alignas(64) mproc__atomic_u32 space_seq;
  mproc__atomic_u32 space_sleeping;
  _Alignas(64) mproc__atomic_u32 done_seq;
  mproc__atomic_u32 done_waiters;
} queue_body_t;

#define RING_OFFSET ((sizeof(queue_body_t) + 63) & ~(size_t)63)

static unsigned char *ring_of(queue_body_t *b) {
  return (unsigned char *)b + RING_OFFSET;
}

static void ring_write(queue_body_t *b, uint64_t pos, const void *src,
                       size_t n) {
  unsigned char *ring = ring_of(b);
  size_t off = (size_t)(pos & (b->capacity - 1));
  size_t first = (size_t)b->capacity - off;
  if (first > n)
    first = n;
  if (first)
    memcpy(ring + off, src, first);
  if (n > first)
    memcpy(ring, (const unsigned char *)src + first, n - first);
}

static void ring_read(queue_body_t *b, uint64_t pos, void *dst, size_t n) {
  unsigned char *ring = ring_of(b);
  size_t off = (size_t)(pos & (b->capacity - 1));
  size_t first = (size_t)b->capacity - off;
  if (first > n)
    first = n;
  if (first)
    memcpy(dst, ring + off, first);
  if (n > first)
    memcpy((unsigned char *)dst + first, ring, n - first);
}

/* A record's header and its bytes, at `pos`. Records start 8-aligned, so a
 * header never wraps; the whole record seldom does, and then goes in two
 * copies, each split at the end of the ring. */
static void ring_write_record(queue_body_t *b, uint64_t pos,
                              const record_header_t *hdr, const void *src,
                              size_t n) {
  size_t off = (size_t)(pos & (b->capacity - 1));
  unsigned char *at = ring_of(b) + off;
  if ((size_t)b->capacity - off >= sizeof *hdr + n) {
    memcpy(at, hdr, sizeof *hdr);
    if (n) /* an empty message may come as NULL, which memcpy may not take */
      memcpy(at + sizeof *hdr, src, n);
  } else {
    ring_write(b, pos, hdr, sizeof *hdr);
    ring_write(b, pos + sizeof *hdr, src, n);
  }
}

static void wake_if_waiting(mproc__atomic_u32 *seq,
                            mproc__atomic_u32 *waiters) {
  if (mproc__load32(waiters)) {
    mproc__add32(seq, 1);
    mproc__wake32(seq);
  }
}

static void wake_if_sleeping(mproc__atomic_u32 *seq,
                             mproc__atomic_u32 *sleeping) {
  if (mproc__load32(sleeping) && mproc__xchg32(sleeping, 0)) {
    mproc__add32(seq, 1);
    mproc__wake32(seq);
  }
}

static void wake_all(mproc__atomic_u32 *seq) {
  mproc__add32(seq, 1);
  mproc__wake32(seq);
}

/* After a put: wake the consumer sleeping for data, and the waits on many
 * (src/wait.c), which raise a flag of their own: the consumer lowers its
 * flag when it wakes, and must not lower theirs. The first put that finds
 * either raised takes it down and wakes; the puts after it make no call. */
static void wake_data(queue_body_t *b) {
  int sleeping =
      mproc__load32(&b->data_sleeping) && mproc__xchg32(&b->data_sleeping, 0);
  int watched =
      mproc__load32(&b->data_watch) && mproc__xchg32(&b->data_watch, 0);
  if (sleeping || watched)
    wake_all(&b->data_seq);
}

static int check_timeout(int64_t timeout_ms) {
  return timeout_ms < 0 && timeout_ms != MPROC_INFINITE ? MPROC_EINVAL : 0;
}

static int past(int64_t deadline) {
  return deadline != MPROC_INFINITE && mproc__clock_ns() >= deadline;
}

/* ---- side segments ---------------------------------------------------- */

static void side_name(queue_body_t *b, uint64_t generation,
                      char name[MPROC__SHM_NAME_MAX + 1]) {
  mproc__shm_name(name, b->creator_pid, generation);
}

/* Make the segment of a large message and copy the message in. The
 * generation is journalled before the name exists, so whoever recovers the
 * producers' lock can remove a segment its maker did not get to enqueue. */
static int side_create(queue_body_t *b, const void *data, size_t size,
                       uint64_t *generation) {
  char name[MPROC__SHM_NAME_MAX + 1];
  side_header_t *h;
  void *base = NULL;
  int rc = MPROC_EOS, tries;
  if (size > MPROC__SIZE_LIMIT - SIDE_HEADER)
    return MPROC_ENOMEM;
  for (tries = 0; tries < 8 && rc == MPROC_EOS; tries++) {
    *generation = mproc__random64();
    mproc__store64(&b->p_side, *generation);
    side_name(b, *generation, name);
    rc = mproc__shm_create(name, SIDE_HEADER + size, &base);
  }
  if (rc != 0) {
    mproc__store64(&b->p_side, 0);
    return rc;
  }
  h = (side_header_t *)base;
  h->magic = SIDE_MAGIC;
  h->generation = *generation;
  h->size = size;
  if (size)
    memcpy((unsigned char *)base + SIDE_HEADER, data, size);
  mproc__shm_unmap(base, SIDE_HEADER + size);
  return 0;
}

static void side_remove(queue_body_t *b, uint64_t generation) {
  char name[MPROC__SHM_NAME_MAX + 1];
  side_name(b, generation, name);
  mproc__shm_unlink(name);
}

/* ---- crash recovery --------------------------------------------------- */

static void producer_recover(queue_body_t *b) {
  uint64_t side = mproc__load64(&b->p_side);
  /* Only the holder of plock ever sleeps for room; the dead holder's flag
   * would only cost the next get a needless wake. */
  mproc__store32(&b->space_sleeping, 0);
  if (mproc__load32_acq(&b->p_valid)) {
    mproc__store64(&b->nput, mproc__load64_rlx(&b->p_nput));
    mproc__store64(&b->tail, mproc__load64_rlx(&b->p_tail));
    mproc__store64(&b->p_side, 0);
    mproc__store32(&b->p_valid, 0);
    wake_all(&b->data_seq);
  } else if (side) {
    side_remove(b, side);
    mproc__store64(&b->p_side, 0);
  }
}

static void consumer_recover(queue_body_t *b) {
  /* As for producers: only the holder of clock sleeps for data. */
  mproc__store32(&b->data_sleeping, 0);
  if (mproc__load32_acq(&b->c_valid)) {
    mproc__store64(&b->nget, mproc__load64_rlx(&b->c_nget));
    mproc__store64(&b->head, mproc__load64_rlx(&b->c_head));
    mproc__store32(&b->c_valid, 0);
    wake_all(&b->space_seq);
  }
}

/* ---- create ----------------------------------------------------------- */

int mproc_queue_create(mproc_queue_t *out,
                       const mproc_queue_options_t *options) {
  queue_body_t *b;
  uint64_t capacity = MPROC_QUEUE_DEFAULT_CAPACITY, c = MIN_CAPACITY;
  int rc;
  if (!out || (options &&
               !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS)))
    return MPROC_EINVAL;
  if (options && options->capacity)
    capacity = options->capacity;
  if (capacity > MAX_CAPACITY)
    return MPROC_EINVAL;
  while (c < capacity)
    c <<= 1;
  capacity = c;
  if ((uint64_t)RING_OFFSET + capacity > (uint64_t)SIZE_MAX)
    return MPROC_EINVAL;
  rc = mproc__object_create(out, MPROC__KIND_QUEUE,
                            RING_OFFSET + (size_t)capacity, (void **)&b);
  if (rc != 0)
    return rc;
  b->capacity = capacity;
  b->maxsize = options ? (uint64_t)options->maxsize : 0;
  b->joinable = options && options->joinable ? 1u : 0u;
  b->creator_pid = mproc__self_pid();
  rc = mproc__xlock_init(&b->plock);
  if (rc == 0)
    rc = mproc__xlock_init(&b->clock);
  mproc__object_publish(b);
  if (rc != 0)
    mproc__object_destroy(out, MPROC__KIND_QUEUE, NULL);
  return rc;
}

/* ---- put -------------------------------------------------------------- */

/* How many times a side looks again, pausing the processor, before it
 * sleeps in the kernel: the other side is usually a few hundred
 * nanoseconds from freeing room or publishing a message. */
#define SPINS 2000

static int room_for(queue_body_t *b, uint64_t need, uint64_t head,
                    uint64_t nget) {
  uint64_t tail = mproc__load64_rlx(&b->tail),
           nput = mproc__load64_rlx(&b->nput);
  return b->capacity - (tail - head) >= need &&
         (b->maxsize == 0 || nput - nget < b->maxsize);
}

/* Wait, holding the producers' lock, until a record of `need` bytes fits
 * and the message count is under maxsize. */
static int wait_room(queue_body_t *b, uint64_t need, int64_t deadline) {
  int spins = 0;
  uint64_t head, nget;
  /* The values seen last time are enough when they show room: head and
   * nget only grow, so the real ones show at least as much. */
  if (room_for(b, need, mproc__load64_rlx(&b->p_head_seen),
               mproc__load64_rlx(&b->p_nget_seen)))
    return mproc__load32_rlx(&b->closed) ? MPROC_ECLOSED : 0;
  for (;;) {
    uint32_t seq;
    /* Destroy closes the queue too: it is looked at first, so that a
     * sleeper woken by a destroy is told so, as the header promises. */
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    if (mproc__load32(&b->closed))
      return MPROC_ECLOSED;
    seq = mproc__load32(&b->space_seq);
    head = mproc__load64_acq(&b->head);
    nget = mproc__load64_acq(&b->nget);
    mproc__store64_rlx(&b->p_head_seen, head);
    mproc__store64_rlx(&b->p_nget_seen, nget);
    if (room_for(b, need, head, nget))
      return 0;
    if (past(deadline))
      return MPROC_EFULL;
    if (spins < SPINS) {
      spins++;
      mproc__cpu_relax();
      continue;
    }
    mproc__store32(&b->space_sleeping, 1);
    /* Flag raised first, then looked again: a consumer that frees room
     * after this look sees the flag and bumps the sequence. */
    if (!room_for(b, need, mproc__load64(&b->head), mproc__load64(&b->nget)) &&
        !mproc__load32(&b->closed))
      mproc__wait32(&b->space_seq, seq, deadline);
    mproc__store32(&b->space_sleeping, 0);
  }
}

int mproc_queue_put(mproc_queue_t *q, const void *data, size_t size,
                    int64_t timeout_ms) {
  queue_body_t *b;
  record_header_t hdr;
  side_ref_t ref;
  uint64_t need, tail, nput, side = 0;
  int64_t deadline;
  int rc = check_timeout(timeout_ms), inline_msg;
  if (rc != 0)
    return rc;
  if (!data && size)
    return MPROC_EINVAL;
  /* No segment can hold more, and refusing here touches none of `data`. */
  if (size > MPROC__SIZE_LIMIT - SIDE_HEADER)
    return MPROC_ENOMEM;
  rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  if (mproc__load32(&b->closed))
    return MPROC_ECLOSED;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  rc = mproc__xlock_acquire(&b->plock, deadline);
  if (rc == MPROC_EOWNERDEAD) {
    producer_recover(b);
  } else if (rc == MPROC_ETIMEDOUT) {
    return mproc__object_destroyed(b)  ? MPROC_EBADHANDLE
           : mproc__load32(&b->closed) ? MPROC_ECLOSED
                                       : MPROC_EFULL;
  } else if (rc != 0) {
    return rc;
  }

  inline_msg = mproc__record_is_inline((uint64_t)size, b->capacity);
  need = sizeof hdr + (inline_msg ? mproc__record_pad8(size) : sizeof ref);
  if (mproc__object_destroyed(b)) {
    rc = MPROC_EBADHANDLE;
    goto unlock;
  }
  if (mproc__load32(&b->closed)) {
    rc = MPROC_ECLOSED;
    goto unlock;
  }
  if (!inline_msg) {
    rc = side_create(b, data, size, &side);
    if (rc != 0)
      goto unlock;
  }
  rc = wait_room(b, need, deadline);
  if (rc != 0) {
    if (side) {
      side_remove(b, side);
      mproc__store64(&b->p_side, 0);
    }
    goto unlock;
  }

  tail = mproc__load64_rlx(&b->tail);
  nput = mproc__load64_rlx(&b->nput);
  hdr.kind = inline_msg ? RECORD_INLINE : RECORD_SIDE;
  hdr.length = inline_msg ? (uint32_t)size : (uint32_t)sizeof ref;
  if (inline_msg) {
    ring_write_record(b, tail, &hdr, data, size);
  } else {
    ref.generation = side;
    ref.size = size;
    ring_write_record(b, tail, &hdr, &ref, sizeof ref);
  }

  /* Commit: journal, counters, then clear the journal. */
  mproc__store64_rlx(&b->p_tail, tail + need);
  mproc__store64_rlx(&b->p_nput, nput + 1);
  mproc__store32_rel(&b->p_valid, 1);
  /* Only the last store is a full barrier: the tail, which a consumer
   * about to sleep looks at after raising its flag (wait_data), as this
   * side looks at the flag after it. The count before it needs only its
   * order: whoever sees the new tail sees the new count. */
  mproc__store64_rel(&b->nput, nput + 1);
  mproc__store64(&b->tail, tail + need);
  if (side)
    mproc__store64(&b->p_side, 0);
  mproc__store32_rel(&b->p_valid, 0);
  wake_data(b);

unlock:
  mproc__xlock_release(&b->plock);
  return rc;
}

/* ---- get -------------------------------------------------------------- */

/* Wait, holding the consumers' lock, until a record is there. */
static int wait_data(queue_body_t *b, uint64_t head, int64_t deadline) {
  int spins = 0, batch, pauses;
  uint32_t streak;
  uint64_t tail;
  if (mproc__load64_rlx(&b->c_tail_seen) > head) {
    /* Seen before: published, and acquired, when it was seen. */
    return 0;
  }
  streak = mproc__load32_rlx(&b->c_streak);
  batch = mproc__queue_batching(streak);
  for (;;) {
    uint32_t seq = mproc__load32(&b->data_seq);
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    tail = mproc__load64_acq(&b->tail);
    if (tail != head) {
      mproc__store64_rlx(&b->c_tail_seen, tail);
      mproc__store32_rlx(&b->c_streak, mproc__queue_streak_after(
                                           streak, batch, spins,
                                           mproc__load64_rlx(&b->nput) -
                                               mproc__load64_rlx(&b->nget)));
      return 0;
    }
    if (mproc__load32(&b->closed)) {
      /* A put that committed before the close was seen is still taken. */
      tail = mproc__load64_acq(&b->tail);
      mproc__store64_rlx(&b->c_tail_seen, tail);
      return tail != head ? 0 : MPROC_ECLOSED;
    }
    if (past(deadline))
      return MPROC_EEMPTY;
    if (spins < SPINS) {
      for (pauses = batch && spins == 0 ? MPROC__BATCH_PAUSES : 1; pauses > 0;
           pauses--, spins++)
        mproc__cpu_relax();
      continue;
    }
    streak = 0;
    batch = 0;
    mproc__store32(&b->data_sleeping, 1);
    if (mproc__load64(&b->tail) == head && !mproc__load32(&b->closed))
      mproc__wait32(&b->data_seq, seq, deadline);
    mproc__store32(&b->data_sleeping, 0);
  }
}

static void consumer_commit(queue_body_t *b, uint64_t head, uint64_t used) {
  uint64_t nget = mproc__load64_rlx(&b->nget);
  mproc__store64_rlx(&b->c_head, head + used);
  mproc__store64_rlx(&b->c_nget, nget + 1);
  mproc__store32_rel(&b->c_valid, 1);
  /* As in a put: the head is the full barrier (against wait_room's flag),
   * the count before it needs only its order. */
  mproc__store64_rel(&b->nget, nget + 1);
  mproc__store64(&b->head, head + used);
  mproc__store32_rel(&b->c_valid, 0);
  wake_if_sleeping(&b->space_seq, &b->space_sleeping);
}

/* Copy a side message out. Its name is removed as soon as it is open, so
 * that no process's death can leave it behind; a consumer killed after that
 * loses the message (it is then "not delivered", never delivered twice). */
static int side_take(queue_body_t *b, const side_ref_t *ref, void *dst) {
  char name[MPROC__SHM_NAME_MAX + 1];
  void *base = NULL;
  size_t total = (size_t)(SIDE_HEADER + ref->size);
  int rc;
  side_name(b, ref->generation, name);
  rc = mproc__shm_attach(name, total, &base);
  if (rc != 0)
    return rc;
  mproc__shm_unlink(name);
  if (((side_header_t *)base)->magic != SIDE_MAGIC ||
      ((side_header_t *)base)->generation != ref->generation) {
    mproc__shm_unmap(base, total);
    return MPROC_EBADHANDLE;
  }
  if (ref->size)
    memcpy(dst, (unsigned char *)base + SIDE_HEADER, (size_t)ref->size);
  mproc__shm_unmap(base, total);
  return 0;
}

/* Read and decode the record at head, of `published` bytes. The decoder
 * works on a copy of its own, which another process cannot change under
 * its checks; a copy of the fixed size, when it does not wrap, is two
 * loads and two stores. */
static int record_at(queue_body_t *b, uint64_t head, uint64_t published,
                     queue_record_t *rec) {
  unsigned char bytes[RECORD_HEAD_MAX];
  size_t n = published < RECORD_HEAD_MAX ? (size_t)published : RECORD_HEAD_MAX;
  size_t off = (size_t)(head & (b->capacity - 1));
  if (n == RECORD_HEAD_MAX && (size_t)b->capacity - off >= RECORD_HEAD_MAX)
    memcpy(bytes, ring_of(b) + off, RECORD_HEAD_MAX);
  else
    ring_read(b, head, bytes, n);
  return mproc__queue_record_decode(bytes, n, published, b->capacity, rec);
}

static int queue_take(mproc_queue_t *q, void **out, void *buf, size_t cap,
                      size_t *size, int64_t timeout_ms) {
  queue_body_t *b;
  queue_record_t rec;
  uint64_t head, used, msg_size;
  unsigned char *dst;
  int64_t deadline;
  int rc = check_timeout(timeout_ms);
  if (rc != 0)
    return rc;
  rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  rc = mproc__xlock_acquire(&b->clock, deadline);
  if (rc == MPROC_EOWNERDEAD) {
    consumer_recover(b);
  } else if (rc == MPROC_ETIMEDOUT) {
    return mproc__object_destroyed(b) ? MPROC_EBADHANDLE : MPROC_EEMPTY;
  } else if (rc != 0) {
    return rc;
  }

  for (;;) {
    head = mproc__load64_rlx(&b->head);
    rc = wait_data(b, head, deadline);
    if (rc != 0)
      goto unlock;
    /* wait_data() saw the tail it left in c_tail_seen. */
    rc = record_at(b, head, mproc__load64_rlx(&b->c_tail_seen) - head, &rec);
    if (rc != 0)
      goto unlock; /* not a record a put writes: the ring is broken */
    msg_size = rec.size;
    used = rec.used;
    *size = (size_t)msg_size;
    if (out) {
      /* Allocate before anything is consumed, so that no memory means the
       * message stays queued. */
      dst = (unsigned char *)malloc(msg_size ? (size_t)msg_size : 1);
      if (!dst) {
        rc = MPROC_ENOMEM;
        goto unlock;
      }
    } else {
      if (msg_size > cap) {
        rc = MPROC_EMSGSIZE;
        goto unlock;
      }
      dst = (unsigned char *)buf;
    }
    if (rec.kind == RECORD_INLINE) {
      ring_read(b, head + sizeof(record_header_t), dst, (size_t)msg_size);
    } else {
      rc = side_take(b, &rec.ref, dst);
      if (rc == MPROC_EBADHANDLE) {
        /* A consumer died after taking the segment's name: that message is
         * lost. Drop its reference and look at the next one. */
        if (out)
          free(dst);
        consumer_commit(b, head, used);
        continue;
      }
      if (rc != 0) {
        if (out)
          free(dst);
        goto unlock;
      }
    }
    consumer_commit(b, head, used);
    if (out)
      *out = dst;
    break;
  }

unlock:
  mproc__xlock_release(&b->clock);
  return rc;
}

int mproc_queue_get(mproc_queue_t *q, void **data, size_t *size,
                    int64_t timeout_ms) {
  if (!data || !size)
    return MPROC_EINVAL;
  *data = NULL;
  return queue_take(q, data, NULL, 0, size, timeout_ms);
}

int mproc_queue_get_into(mproc_queue_t *q, void *buf, size_t cap, size_t *size,
                         int64_t timeout_ms) {
  if (!size || (!buf && cap))
    return MPROC_EINVAL;
  return queue_take(q, NULL, buf, cap, size, timeout_ms);
}

/* ---- state ------------------------------------------------------------ */

static uint64_t queued(queue_body_t *b) {
  uint64_t nget = mproc__load64(&b->nget), nput = mproc__load64(&b->nput);
  return nput > nget ? nput - nget : 0;
}

int mproc_queue_size(mproc_queue_t *q, size_t *count) {
  queue_body_t *b;
  int rc;
  if (!count)
    return MPROC_EINVAL;
  rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  *count = (size_t)queued(b);
  return 0;
}

int mproc_queue_empty(mproc_queue_t *q, int *empty) {
  queue_body_t *b;
  int rc;
  if (!empty)
    return MPROC_EINVAL;
  rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  *empty = mproc__load64(&b->head) == mproc__load64(&b->tail);
  return 0;
}

int mproc_queue_full(mproc_queue_t *q, int *full) {
  queue_body_t *b;
  int rc;
  if (!full)
    return MPROC_EINVAL;
  rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  *full = b->maxsize != 0 && queued(b) >= b->maxsize;
  return 0;
}

int mproc_queue_close(mproc_queue_t *q) {
  queue_body_t *b;
  int rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  mproc__store32(&b->closed, 1);
  wake_all(&b->data_seq);
  wake_all(&b->space_seq);
  return 0;
}

int mproc__queue_watch(const mproc_queue_t *q, int on, mproc__watch_t *w) {
  queue_body_t *b;
  int rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0 || !on)
    return rc; /* the flag stays: one put then wakes nobody, needlessly */
  /* The sequence read, then the flag raised, then the queue looked at:
   * a put committed after this look sees the flag and bumps the sequence
   * (all sequentially consistent). */
  w->word = &b->data_seq;
  w->seq = mproc__load32(&b->data_seq);
  mproc__store32(&b->data_watch, 1);
  w->ready = mproc__load64(&b->head) != mproc__load64(&b->tail) ||
             mproc__load32(&b->closed) || mproc__object_destroyed(b);
  return 0;
}

/* ---- JoinableQueue ---------------------------------------------------- */

int mproc_queue_task_done(mproc_queue_t *q) {
  queue_body_t *b;
  uint64_t done;
  int rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  if (!b->joinable)
    return MPROC_ESTATE;
  done = mproc__load64(&b->ndone);
  for (;;) {
    if (done >= mproc__load64(&b->nput))
      return MPROC_ESTATE;
    if (mproc__cas64(&b->ndone, &done, done + 1))
      break;
  }
  wake_if_waiting(&b->done_seq, &b->done_waiters);
  return 0;
}

int mproc_queue_join(mproc_queue_t *q, int64_t timeout_ms) {
  queue_body_t *b;
  int64_t deadline;
  int rc = check_timeout(timeout_ms);
  if (rc == 0)
    rc = mproc__object_get(q, MPROC__KIND_QUEUE, (void **)&b);
  if (rc != 0)
    return rc;
  if (!b->joinable)
    return MPROC_ESTATE;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  for (;;) {
    uint32_t seq = mproc__load32(&b->done_seq);
    uint64_t nput = mproc__load64(&b->nput);
    if (mproc__load64(&b->ndone) >= nput)
      return 0;
    if (mproc__object_destroyed(b))
      return MPROC_EBADHANDLE;
    if (past(deadline))
      return MPROC_ETIMEDOUT;
    mproc__add32(&b->done_waiters, 1);
    if (mproc__load64(&b->ndone) < nput)
      mproc__wait32(&b->done_seq, seq, deadline);
    mproc__sub32(&b->done_waiters, 1);
  }
}

/* ---- destroy ---------------------------------------------------------- */

static void queue_wake(void *body) {
  queue_body_t *b = (queue_body_t *)body;
  uint64_t pos = mproc__load64(&b->head), tail = mproc__load64(&b->tail);
  uint64_t side = mproc__load64(&b->p_side);
  queue_record_t rec;
  mproc__store32(&b->closed, 1);
  wake_all(&b->data_seq);
  wake_all(&b->space_seq);
  wake_all(&b->done_seq);
  /* Large messages still queued have segments of their own: remove their
   * names with the queue's. */
  if (side)
    side_remove(b, side);
  while (pos < tail && record_at(b, pos, tail - pos, &rec) == 0) {
    if (rec.kind == RECORD_SIDE)
      side_remove(b, rec.ref.generation);
    pos += rec.used;
  }
}

int mproc_queue_destroy(mproc_queue_t *q) {
  return mproc__object_destroy(q, MPROC__KIND_QUEUE, queue_wake);
}
