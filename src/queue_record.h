/* SPDX-License-Identifier: MIT */
/*
 * The records of a Queue's ring (src/queue.c), and the consumer's decoding
 * of the one at the head.
 *
 * Each message is a record: an 8-byte header (kind, length) and its bytes,
 * padded to 8; a message too large for the ring travels in a segment of
 * its own and its record holds a reference to it. The ring is shared
 * memory: a producer killed mid-write never publishes what it wrote, but a
 * process that maps the segment may still leave any bytes there, and the
 * published counters with them. So the consumer trusts no length: the
 * record at the head is decoded by mproc__queue_record_decode(), a pure
 * function of its bytes, the bytes published and the ring's capacity,
 * which accepts exactly the records a put writes (tests/fuzz/ring_fuzz.c
 * feeds it random bytes).
 */
#ifndef MPROC_QUEUE_RECORD_H
#define MPROC_QUEUE_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "checked.h"
#include "internal.h"

enum { RECORD_INLINE = 1, RECORD_SIDE = 2 };

typedef struct record_header {
  uint32_t kind;
  uint32_t length; /* inline: the message's bytes; side: sizeof(side_ref_t) */
} record_header_t;

/* A message in its own segment, named as objects are: the queue creator's
 * pid and a generation of its own. */
typedef struct side_ref {
  uint64_t generation;
  uint64_t size;
} side_ref_t;

/* A side segment's header, before the message's bytes. */
#define SIDE_HEADER 64u

/* The bytes of the longest record head: a header and a reference. */
#define RECORD_HEAD_MAX (sizeof(record_header_t) + sizeof(side_ref_t))

/* A decoded record. */
typedef struct queue_record {
  uint32_t kind;  /* RECORD_INLINE or RECORD_SIDE */
  uint64_t size;  /* the message's bytes */
  uint64_t used;  /* the ring's bytes the record takes */
  side_ref_t ref; /* RECORD_SIDE: the segment's generation and size */
} queue_record_t;

static inline uint64_t mproc__record_pad8(uint64_t n) {
  return (n + 7) & ~(uint64_t)7;
}

/* Whether a message of `size` bytes goes inline in a ring of `capacity`
 * bytes (a power of two, at least 4096). Written without a sum, which a
 * size near SIZE_MAX would wrap. */
static inline int mproc__record_is_inline(uint64_t size, uint64_t capacity) {
  return size <= capacity / 2 - sizeof(record_header_t);
}

/* Decode the record at the head of a ring of `capacity` bytes, of which
 * `published` (tail - head) are published; `head` holds the first n of
 * those bytes, n = min(published, RECORD_HEAD_MAX). Returns 0 with the
 * record in *out, or MPROC_EBROKEN when the bytes are not a record a put
 * writes: an unknown kind, a length that is not the one its kind has, a
 * record longer than what is published, or counters no ring can have. The
 * record then says where the message's bytes are, and no more of them
 * than are published. */
static inline int mproc__queue_record_decode(const unsigned char *head,
                                             size_t n, uint64_t published,
                                             uint64_t capacity,
                                             queue_record_t *out) {
  record_header_t hdr;
  if (capacity < 4096 || (capacity & (capacity - 1)) != 0 ||
      published > capacity || published < sizeof hdr || n < sizeof hdr ||
      (uint64_t)n > published || n > RECORD_HEAD_MAX)
    return MPROC_EBROKEN;
  memcpy(&hdr, head, sizeof hdr);
  out->kind = hdr.kind;
  if (hdr.kind == RECORD_INLINE) {
    if (!mproc__record_is_inline(hdr.length, capacity))
      return MPROC_EBROKEN;
    out->size = hdr.length;
    out->used = sizeof hdr + mproc__record_pad8(hdr.length);
    memset(&out->ref, 0, sizeof out->ref);
  } else if (hdr.kind == RECORD_SIDE) {
    if (hdr.length != sizeof(side_ref_t) || n < RECORD_HEAD_MAX)
      return MPROC_EBROKEN;
    memcpy(&out->ref, head + sizeof hdr, sizeof out->ref);
    /* Only what does not go inline has a segment, and no segment holds
     * more than MPROC__SIZE_LIMIT. */
    if (mproc__record_is_inline(out->ref.size, capacity) ||
        out->ref.size > (uint64_t)(MPROC__SIZE_LIMIT - SIDE_HEADER))
      return MPROC_EBROKEN;
    out->size = out->ref.size;
    out->used = RECORD_HEAD_MAX;
  } else {
    return MPROC_EBROKEN;
  }
  return out->used <= published ? 0 : MPROC_EBROKEN;
}

#endif
