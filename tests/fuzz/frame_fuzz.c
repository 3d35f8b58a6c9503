/* SPDX-License-Identifier: MIT */
/* Fuzz target for the pool's wire format (src/pool_wire.c): whatever the
 * bytes, the answer reader either delivers frames whose payload is all
 * there, or fails cleanly, and never reads or writes out of bounds or
 * allocates what a header merely announces; a chunk answer is walked
 * within its bounds; a job header is accepted only when consistent
 * (built with libFuzzer + ASan, or replayed).
 *
 * Input: byte 0 picks the split of the stream into reads (the reader must
 * give the same frames whatever the split), the rest is the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned char g_sink;

typedef struct seen {
  size_t frames;
  uint64_t bytes;
} seen_t;

/* Walk a chunk answer as the engine does, for as many items as the
 * status says (any count must be safe). */
static void walk_chunk(const unsigned char *p, size_t n, unsigned count) {
  size_t at = 0, got;
  const unsigned char *item;
  int status;
  unsigned i;
  for (i = 0; i < count; i++) {
    if (mproc__chunk_item_next(p, n, &at, &status, &item, &got) != 0)
      return;
    if (item < p || got > n || (size_t)(item - p) > n - got || at > n)
      __builtin_trap();
  }
}

static int on_frame(void *ctx, const frame_t *f, const unsigned char *payload,
                    unsigned char *owned) {
  seen_t *s = ctx;
  if (!mproc__frame_check_answer(f) || (f->size > 0 && !payload))
    __builtin_trap();
  /* Touch every byte: ASan reports a payload shorter than announced. */
  if (f->size > 0)
    g_sink ^= payload[0] ^ payload[f->size - 1];
  if (f->kind == FRAME_CHUNK_RESULT)
    walk_chunk(payload, (size_t)f->size, (unsigned)f->status & 0xffu);
  s->frames++;
  s->bytes += f->size;
  free(owned);
  return 0;
}

/* Feed the stream in reads of `step` bytes (0: all at once). */
static int feed(const uint8_t *p, size_t n, size_t step, seen_t *s) {
  mproc__frame_reader_t rd;
  size_t at = 0;
  int r = 0;
  memset(&rd, 0, sizeof rd);
  memset(s, 0, sizeof *s);
  while (at < n && r == 0) {
    size_t take = step && step < n - at ? step : n - at;
    unsigned char *dst;
    size_t room = mproc__frame_reader_room(&rd, 1, &dst);
    if (room > 0) {
      /* As the engine reads a large payload: straight into its buffer. */
      if (take > room)
        take = room;
      memcpy(dst, p + at, take);
      r = mproc__frame_reader_filled(&rd, take, on_frame, s);
    } else {
      r = mproc__frame_reader_feed(&rd, p + at, take, on_frame, s);
    }
    at += take;
  }
  mproc__frame_reader_reset(&rd);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  seen_t whole, split;
  int r1, r2;
  if (size < 1)
    return 0;
  r1 = feed(data + 1, size - 1, 0, &whole);
  r2 = feed(data + 1, size - 1, (size_t)data[0] % 17 + 1, &split);
  /* The same stream gives the same frames and the same verdict, however
   * it is cut. */
  if (r1 != r2 || whole.frames != split.frames || whole.bytes != split.bytes)
    __builtin_trap();
  /* The same bytes read as a job header the worker receives. */
  if (size - 1 >= sizeof(frame_t)) {
    frame_t f;
    memcpy(&f, data + 1, sizeof f);
    if (mproc__frame_check_job(&f, data[0] & 1) &&
        (f.name_len > TASK_NAME_MAX || (f.kind == FRAME_CHUNK && f.item_size &&
                                        f.count != f.size / f.item_size)))
      __builtin_trap();
  }
  return 0;
}
