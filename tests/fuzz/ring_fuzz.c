/* SPDX-License-Identifier: MIT */
/* Fuzz target for the records of a Queue's ring (src/queue_record.h), and
 * so for a Connection's framing: a Connection's messages are the records
 * of two queues' rings, in shared memory that a peer killed mid-write, or
 * any process with the segment, can leave in any state. Whatever the
 * bytes and counters, a consumer walking the ring as queue.c does either
 * decodes records that lie within the published bytes, or stops with
 * MPROC_EBROKEN; it never reads outside the ring nor allocates what a
 * header merely announces; and every record a put writes is decoded as
 * written (built with libFuzzer + ASan, or replayed).
 *
 * Input: byte 0 picks the ring's capacity (4096 << (b % 4)); bytes 1-8
 * the head counter, 9-16 the number of published bytes (taken modulo
 * twice the capacity, so that both sane and impossible counters come);
 * bytes 17-24 a message size for the round trip; the rest fills the ring
 * from offset 0, repeated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned char g_sink;

static uint64_t u64_at(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* The ring read of a consumer, byte by byte: position modulo capacity.
 * The ring is allocated to its exact size, so ASan sees any overrun. */
static void read_ring(const unsigned char *ring, uint64_t capacity,
                      uint64_t pos, unsigned char *dst, uint64_t n) {
  uint64_t i;
  if (n > capacity) /* no record may span more than the ring */
    __builtin_trap();
  for (i = 0; i < n; i++)
    dst[i] = ring[(pos + i) & (capacity - 1)];
}

/* Walk the published bytes as queue_take() does; returns how many records
 * were taken before the end or a broken record. */
static size_t walk(const unsigned char *ring, uint64_t capacity, uint64_t head,
                   uint64_t published) {
  size_t taken = 0;
  uint64_t left = published;
  while (left > 0) {
    unsigned char bytes[RECORD_HEAD_MAX];
    queue_record_t rec;
    size_t n = left < RECORD_HEAD_MAX ? (size_t)left : RECORD_HEAD_MAX;
    read_ring(ring, capacity, head, bytes, n);
    if (mproc__queue_record_decode(bytes, n, left, capacity, &rec) != 0)
      break;
    if (rec.used < sizeof(record_header_t) || rec.used % 8 != 0 ||
        rec.used > left)
      __builtin_trap();
    if (rec.kind == RECORD_INLINE) {
      /* The message's bytes lie within the record. */
      unsigned char *msg;
      if (rec.size > rec.used - sizeof(record_header_t))
        __builtin_trap();
      msg = malloc(rec.size ? (size_t)rec.size : 1);
      if (!msg)
        __builtin_trap(); /* at most half the ring */
      read_ring(ring, capacity, head + sizeof(record_header_t), msg, rec.size);
      if (rec.size)
        g_sink ^= msg[0] ^ msg[rec.size - 1];
      free(msg);
    } else if (rec.kind == RECORD_SIDE) {
      /* A reference, sized as a segment can be; never allocated here. */
      if (rec.used != RECORD_HEAD_MAX || rec.size != rec.ref.size ||
          mproc__record_is_inline(rec.size, capacity) ||
          rec.size > (uint64_t)(MPROC__SIZE_LIMIT - SIDE_HEADER))
        __builtin_trap();
    } else {
      __builtin_trap();
    }
    head += rec.used;
    left -= rec.used;
    taken++;
  }
  return taken;
}

/* A record as mproc_queue_put() writes it, decoded back. */
static void round_trip(uint64_t msg_size, uint64_t capacity, uint64_t extra) {
  unsigned char bytes[RECORD_HEAD_MAX];
  record_header_t hdr;
  side_ref_t ref;
  queue_record_t rec;
  uint64_t need, published;
  size_t n;
  int inline_msg;
  if (msg_size > (uint64_t)(MPROC__SIZE_LIMIT - SIDE_HEADER))
    return; /* put refuses it */
  inline_msg = mproc__record_is_inline(msg_size, capacity);
  need = sizeof hdr + (inline_msg ? mproc__record_pad8(msg_size) : sizeof ref);
  published = need + (extra % (capacity - need + 1));
  memset(bytes, 0xa5, sizeof bytes);
  hdr.kind = inline_msg ? RECORD_INLINE : RECORD_SIDE;
  hdr.length = inline_msg ? (uint32_t)msg_size : (uint32_t)sizeof ref;
  memcpy(bytes, &hdr, sizeof hdr);
  if (!inline_msg) {
    ref.generation = extra;
    ref.size = msg_size;
    memcpy(bytes + sizeof hdr, &ref, sizeof ref);
  }
  n = published < RECORD_HEAD_MAX ? (size_t)published : RECORD_HEAD_MAX;
  if (mproc__queue_record_decode(bytes, n, published, capacity, &rec) != 0 ||
      rec.kind != hdr.kind || rec.size != msg_size || rec.used != need ||
      (!inline_msg && rec.ref.generation != extra))
    __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t capacity, head, published;
  unsigned char *ring;
  size_t i, fill;
  if (size < 25)
    return 0;
  capacity = (uint64_t)4096 << (data[0] % 4);
  head = u64_at(data + 1);
  published = u64_at(data + 9) % (2 * capacity + 1);
  round_trip(u64_at(data + 17), capacity, head);
  round_trip(u64_at(data + 17) % capacity, capacity, head);
  ring = malloc((size_t)capacity);
  if (!ring)
    return 0;
  fill = size - 25;
  for (i = 0; i < capacity; i++)
    ring[i] = fill ? data[25 + i % fill] : 0;
  walk(ring, capacity, head, published);
  free(ring);
  return 0;
}
