/* SPDX-License-Identifier: MIT */
/* The pool's wire format: checks, packing and the answer reader (see
 * pool_wire.h). Nothing here knows how bytes travel. */
#include <stdlib.h>
#include <string.h>

#include "pool_wire.h"

/* The first buffer of a payload that arrives in pieces. */
#define PAYLOAD_FIRST_CAP ((size_t)65536)

int mproc__frame_check_answer(const frame_t *f) {
  if (f->kind != FRAME_RESULT && f->kind != FRAME_CHUNK_RESULT)
    return 0;
  return f->name_len == 0 && f->count == 0 && f->item_size == 0 &&
         f->fn == NULL && f->size <= FRAME_PAYLOAD_MAX;
}

int mproc__frame_check_job(const frame_t *f, int by_name) {
  if (f->size > FRAME_PAYLOAD_MAX || f->name_len > TASK_NAME_MAX)
    return 0;
  /* An address from the pool's process means nothing in a fresh run of
   * the program: by name only, then; under fork, by address only. */
  if (by_name ? f->fn != NULL : f->name_len != 0)
    return 0;
  if (f->kind == FRAME_TASK)
    return f->count == 0 && f->item_size == 0;
  if (f->kind != FRAME_CHUNK)
    return 0;
  if (f->item_size == 0)
    return f->size == 0;
  return f->count <= f->size / f->item_size &&
         f->count * f->item_size == f->size;
}

int mproc__chunk_item_next(const unsigned char *p, size_t n, size_t *at,
                           int *status, const unsigned char **data,
                           size_t *size) {
  item_hdr_t ih;
  size_t pos = *at;
  if (pos > n || n - pos < sizeof ih)
    return MPROC_EINVAL;
  memcpy(&ih, p + pos, sizeof ih);
  pos += sizeof ih;
  if (n - pos < ih.size)
    return MPROC_EINVAL;
  *status = ih.status;
  *data = p + pos;
  *size = ih.size;
  *at = pos + ih.size;
  return 0;
}

size_t mproc__frame_bytes(const frame_t *f) {
  return sizeof *f + (size_t)f->name_len + (size_t)f->size;
}

size_t mproc__frame_pack(unsigned char *at, const frame_t *f, const char *name,
                         const void *payload) {
  memcpy(at, f, sizeof *f);
  if (f->name_len)
    memcpy(at + sizeof *f, name, (size_t)f->name_len);
  if (f->size)
    memcpy(at + sizeof *f + f->name_len, payload, (size_t)f->size);
  return mproc__frame_bytes(f);
}

/* ---- the answer reader ------------------------------------------------ */

void mproc__frame_reader_reset(mproc__frame_reader_t *rd) {
  free(rd->payload);
  memset(rd, 0, sizeof *rd);
}

/* The payload is whole: hand it over. */
static int payload_done(mproc__frame_reader_t *rd, mproc__frame_fn fn,
                        void *ctx) {
  unsigned char *p = rd->payload;
  rd->payload = NULL;
  rd->payload_cap = 0;
  rd->hdr_got = 0;
  return fn(ctx, &rd->hdr, p, p);
}

/* Take header bytes from p[0..n); returns how many were used. */
static size_t take_header(mproc__frame_reader_t *rd, const unsigned char *p,
                          size_t n) {
  size_t take = sizeof rd->hdr - rd->hdr_got;
  if (take > n)
    take = n;
  memcpy((unsigned char *)&rd->hdr + rd->hdr_got, p, take);
  rd->hdr_got += take;
  return take;
}

/* Make room for `need` payload bytes (need <= hdr.size). The buffer grows
 * with what arrives, never to what a header merely announces: a worker
 * that claims a huge answer and sends little costs little. */
static int reserve(mproc__frame_reader_t *rd, size_t need) {
  size_t size = (size_t)rd->hdr.size, cap = rd->payload_cap;
  unsigned char *p;
  if (need <= cap)
    return 0;
  cap = cap < PAYLOAD_FIRST_CAP ? PAYLOAD_FIRST_CAP : cap;
  while (cap < need)
    cap = cap > size / 2 ? size : cap * 2;
  if (cap > size)
    cap = size;
  p = realloc(rd->payload, cap);
  if (!p)
    return MPROC_ENOMEM;
  rd->payload = p;
  rd->payload_cap = cap;
  return 0;
}

int mproc__frame_reader_feed(mproc__frame_reader_t *rd, const unsigned char *p,
                             size_t n, mproc__frame_fn fn, void *ctx) {
  size_t pos = 0;
  int r;
  while (pos < n) {
    size_t take;
    if (rd->hdr_got < sizeof rd->hdr) {
      pos += take_header(rd, p + pos, n - pos);
      if (rd->hdr_got < sizeof rd->hdr)
        return 0;
      if (!mproc__frame_check_answer(&rd->hdr))
        return MPROC_EINVAL;
      if (n - pos >= rd->hdr.size) {
        /* The whole frame is here: lend it, no copy. */
        const unsigned char *at = p + pos;
        pos += (size_t)rd->hdr.size;
        rd->hdr_got = 0;
        if ((r = fn(ctx, &rd->hdr, at, NULL)) != 0)
          return r;
        continue;
      }
      rd->payload_got = 0; /* its buffer grows as it comes */
      continue;
    }
    take = (size_t)rd->hdr.size - rd->payload_got;
    if (take > n - pos)
      take = n - pos;
    if ((r = reserve(rd, rd->payload_got + take)) != 0)
      return r;
    memcpy(rd->payload + rd->payload_got, p + pos, take);
    rd->payload_got += take;
    pos += take;
    if (rd->payload_got == rd->hdr.size && (r = payload_done(rd, fn, ctx)) != 0)
      return r;
  }
  return 0;
}

size_t mproc__frame_reader_room(mproc__frame_reader_t *rd, size_t min,
                                unsigned char **dst) {
  size_t left, want;
  if (rd->hdr_got < sizeof rd->hdr)
    return 0;
  left = (size_t)rd->hdr.size - rd->payload_got;
  if (left < min || left == 0)
    return 0;
  /* At least `min` bytes of room, more as the payload keeps coming. */
  want = rd->payload_cap - rd->payload_got;
  if (want < min && reserve(rd, rd->payload_got + min) != 0)
    return 0; /* the caller reads into its stage; the feed reports it */
  want = rd->payload_cap - rd->payload_got;
  *dst = rd->payload + rd->payload_got;
  return want < left ? want : left;
}

int mproc__frame_reader_filled(mproc__frame_reader_t *rd, size_t got,
                               mproc__frame_fn fn, void *ctx) {
  if (got > rd->payload_cap - rd->payload_got)
    return MPROC_EINVAL;
  rd->payload_got += got;
  if (rd->payload_got == rd->hdr.size)
    return payload_done(rd, fn, ctx);
  return 0;
}
