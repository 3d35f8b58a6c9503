/* SPDX-License-Identifier: MIT */
/*
 * The worker's side of the pool: what a worker process runs, whatever the
 * transport. Read a job frame, run its task (or each item of its chunk),
 * answer with one frame, and again, until the pool sends no more or the
 * worker has run its maxtasksperchild. Jobs are answered in the order they
 * came, each before the next is read: the pool relies on this to know,
 * when a worker dies, which job it was running (pool_thread.c).
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pool_transport.h"
#include "pool_wire.h"
#include "targets.h"

#define STAGE_SIZE 65536
/* A result buffer larger than this is not kept for the next task. */
#define KEEP_OUT_MAX ((size_t)4 << 20)

/* Buffered reads of the job stream: one read often brings a whole frame. */
typedef struct reader {
  const mproc__pool_channel_t *ch;
  unsigned char buf[STAGE_SIZE];
  size_t pos, len;
  unsigned char *big; /* payloads that do not fit the buffer */
  size_t big_cap;
} reader_t;

static int read_all(const mproc__pool_channel_t *ch, unsigned char *p,
                    size_t n) {
  while (n > 0) {
    size_t got = 0;
    int r = ch->read_some(ch->ctx, p, n, &got);
    if (r != 0)
      return r;
    if (got > n)
      return MPROC_EINVAL;
    p += got;
    n -= got;
  }
  return 0;
}

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
    return read_all(rd->ch, p, n);
  while (rd->len < n) {
    /* This waits for data and takes all there is. */
    size_t got = 0;
    int r = rd->ch->read_some(rd->ch->ctx, rd->buf + rd->len,
                              sizeof rd->buf - rd->len, &got);
    if (r != 0)
      return r;
    if (got > sizeof rd->buf - rd->len)
      return MPROC_EINVAL;
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

/* The task a checked frame names: its address under fork; by name its
 * registered function, looked up once per run of frames for the same
 * task. NULL when the name is unknown here. Returns 0, or an error when
 * the name could not be read. */
typedef struct task_cache {
  char name[TASK_NAME_MAX + 1];
  mproc_task_fn fn;
} task_cache_t;

static int frame_task(reader_t *rd, const frame_t *f, task_cache_t *cache,
                      mproc_task_fn *fn) {
  char name[TASK_NAME_MAX + 1];
  int r;
  *fn = f->fn;
  if (f->name_len == 0)
    return 0;
  if ((r = reader_copy(rd, name, (size_t)f->name_len)) != 0)
    return r;
  name[f->name_len] = 0;
  if (strcmp(name, cache->name) != 0) {
    memcpy(cache->name, name, (size_t)f->name_len + 1);
    cache->fn = mproc__task_lookup(name);
  }
  *fn = cache->fn;
  return 0;
}

/* Run one job into `out` (the answer's header first); returns 0, or an
 * error that ends the worker. */
static int run_job(const frame_t *f, mproc_task_fn fn,
                   const unsigned char *payload, mproc_buf_t *out) {
  frame_t reply;
  memset(&reply, 0, sizeof reply);
  /* The header goes in front of the result, so one write sends both. */
  out->size = 0;
  out->base = 0;
  if (!mproc_buf_extend(out, sizeof reply))
    return MPROC_ENOMEM;
  out->base = out->size;
  if (f->kind == FRAME_TASK) {
    reply.kind = FRAME_RESULT;
    reply.status =
        fn ? fn(f->size ? payload : NULL, (size_t)f->size, out) : MPROC_ENOTREG;
  } else {
    reply.kind = FRAME_CHUNK_RESULT;
    if (run_chunk(f, fn, payload, out) != 0)
      return MPROC_ENOMEM;
  }
  reply.size = out->size - sizeof reply;
  memcpy(out->data, &reply, sizeof reply);
  return 0;
}

/* Check the worker arguments and run the initializer. Returns 0, or
 * MPROC_EINVAL when they are not a pool's. */
static int worker_init(const void *arg, size_t arg_size, worker_args_t *wa) {
  const unsigned char *extra;
  if (arg_size < sizeof *wa)
    return MPROC_EINVAL;
  memcpy(wa, arg, sizeof *wa);
  extra = (const unsigned char *)arg + sizeof *wa;
  if (wa->magic != WORKER_ARGS_MAGIC || wa->init_name_len > TASK_NAME_MAX ||
      wa->initargs_size > arg_size - sizeof *wa ||
      arg_size - sizeof *wa - wa->initargs_size < wa->init_name_len)
    return MPROC_EINVAL;
  if (wa->init_name_len > 0) {
    char name[TASK_NAME_MAX + 1];
    memcpy(name, extra, (size_t)wa->init_name_len);
    name[wa->init_name_len] = 0;
    wa->initializer = mproc__target_lookup(name);
  }
  if (wa->initializer)
    (void)wa->initializer(wa->initargs_size ? extra + wa->init_name_len : NULL,
                          (size_t)wa->initargs_size);
  return 0;
}

int mproc__pool_worker_run(const mproc__pool_channel_t *ch, const void *arg,
                           size_t arg_size) {
  worker_args_t wa;
  reader_t *rd;
  mproc_buf_t out = {NULL, 0, 0, 0};
  task_cache_t cache = {"", NULL};
  size_t done = 0;
  if (worker_init(arg, arg_size, &wa) != 0)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  rd = calloc(1, sizeof *rd);
  if (!rd)
    return MPROC__EXIT_BOOTSTRAP_FAILED;
  rd->ch = ch;
  for (;;) {
    frame_t f;
    const unsigned char *payload = NULL;
    mproc_task_fn fn;
    /* End of stream: the pool has no more work for us (or is gone). A
     * frame that breaks the protocol ends the worker too: the pool sees
     * it lost. */
    if (reader_copy(rd, &f, sizeof f) != 0 ||
        !mproc__frame_check_job(&f, wa.by_name != 0) ||
        frame_task(rd, &f, &cache, &fn) != 0)
      break;
    if (f.size > 0 && reader_take(rd, (size_t)f.size, &payload) != 0)
      break;
    if (run_job(&f, fn, payload, &out) != 0 ||
        ch->write_all(ch->ctx, out.data, out.size) != 0)
      break;
    if (out.cap > KEEP_OUT_MAX) {
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
