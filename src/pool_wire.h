/* SPDX-License-Identifier: MIT */
/*
 * The pool's wire format: what travels between the pool and a worker.
 *
 * Both directions are a stream of frames: a fixed header (frame_t), then,
 * in a job frame sent by name, the task's registered name, then the
 * payload. The pool sends FRAME_TASK (one apply task: its argument bytes)
 * and FRAME_CHUNK (count items of item_size bytes); the worker answers
 * each, in order, with FRAME_RESULT (the task's status and result bytes)
 * or FRAME_CHUNK_RESULT (per item: an item_hdr_t, then its bytes).
 *
 * Workers are the same program as the pool (fork, spawn, forkserver or an
 * MPI launch of the same binary), so the header is in native byte order
 * and layout. A reader still trusts no length: every header is checked
 * before its payload is read or allocated (mproc__frame_check_*), and a
 * chunk's results are walked with bounds checks (mproc__chunk_item_next).
 * tests/fuzz/frame_fuzz.c feeds random bytes to both readers.
 */
#ifndef MPROC_POOL_WIRE_H
#define MPROC_POOL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mproc__frame_kind {
  FRAME_TASK = 1,        /* pool -> worker: one apply task */
  FRAME_CHUNK = 2,       /* pool -> worker: count items of item_size */
  FRAME_RESULT = 3,      /* worker -> pool: status + result bytes */
  FRAME_CHUNK_RESULT = 4 /* worker -> pool: per item status, size, bytes */
};

typedef struct mproc__frame {
  uint32_t kind;
  int32_t status;
  uint64_t size; /* payload bytes after the header (and the name) */
  uint64_t count;
  uint64_t item_size;
  /* By name (spawn, forkserver): the task's registered name, name_len
   * bytes, comes between the header and the payload. */
  uint64_t name_len;
  mproc_task_fn fn; /* fork: valid in the worker, a copy of this process */
} frame_t;

/* Longest task (or initializer) name a frame carries. */
#define TASK_NAME_MAX 255

/* Largest payload a frame may announce: a reader allocates up to this
 * much for one frame, so it is kept where an allocation can succeed and
 * sizes plus a header cannot wrap. */
#define FRAME_PAYLOAD_MAX ((uint64_t)(SIZE_MAX / 2))

/* Each item of a chunk result: its status and size, then its bytes. */
typedef struct item_hdr {
  int32_t status;
  uint32_t size;
} item_hdr_t;

/* What a worker is started with, followed by the initializer's name
 * (init_name_len bytes) and its argument bytes. */
typedef struct worker_args {
  uint32_t magic;
  uint32_t by_name;
  uint64_t maxtasks;
  uint64_t init_name_len;
  uint64_t initargs_size;
  mproc_target_fn initializer; /* fork: by address */
} worker_args_t;

#define WORKER_ARGS_MAGIC 0x574b5230u

/* Jobs may wait in a worker's stream behind the running one (so that small
 * tasks do not pay a round trip each) only while their frames together fit
 * a pipe's buffer at once: a larger send could block the pool's thread
 * while the worker blocks sending its result to it. */
#define PIPELINE_BYTES_MAX 4096

/* Whether a header the pool received from a worker is a well-formed
 * answer: a result kind, no name, no count, a payload within
 * FRAME_PAYLOAD_MAX. */
int mproc__frame_check_answer(const frame_t *f);

/* Whether a header a worker received is a well-formed job: a job kind, a
 * name within TASK_NAME_MAX, by name exactly when `by_name` (then no
 * address), and a chunk's size equal to count * item_size without
 * overflow (a task has no count). */
int mproc__frame_check_job(const frame_t *f, int by_name);

/* Walk a chunk result's payload p[0..n): the item at *at. Returns 0 with
 * *status, *data, *size set and *at moved past it; MPROC_EINVAL when the
 * bytes left cannot hold the item's header or its announced size. */
int mproc__chunk_item_next(const unsigned char *p, size_t n, size_t *at,
                           int *status, const unsigned char **data,
                           size_t *size);

/* Copy a whole job frame to `at` (room for mproc__frame_bytes(f));
 * returns its size. */
size_t mproc__frame_pack(unsigned char *at, const frame_t *f, const char *name,
                         const void *payload);

/* The bytes a frame takes on the wire: header, name and payload. */
size_t mproc__frame_bytes(const frame_t *f);

/* ---- reading answers without blocking (the pool's side) -------------- */

/* Where a stream of answers stands between two reads: a header being
 * gathered, or the payload of a checked header. */
typedef struct mproc__frame_reader {
  frame_t hdr;
  size_t hdr_got;
  unsigned char *payload; /* malloc'd; only when the payload is split */
  size_t payload_got;
  size_t payload_cap; /* grows with what arrives, up to hdr.size */
} mproc__frame_reader_t;

/* Called for each whole answer. `payload` holds its f->size bytes; `owned`
 * is the same buffer when it is malloc'd and the callee takes it (it must
 * free it), NULL when the bytes are only lent for the call. Returns 0, or
 * an error that stops the reader. */
typedef int (*mproc__frame_fn)(void *ctx, const frame_t *f,
                               const unsigned char *payload,
                               unsigned char *owned);

/* Feed the next n bytes of the stream. Returns 0; MPROC_EINVAL for a
 * header that is not a well-formed answer; MPROC_ENOMEM when a payload
 * cannot be held; or the callback's error. After an error the stream is
 * broken and the reader must only be reset. */
int mproc__frame_reader_feed(mproc__frame_reader_t *rd, const unsigned char *p,
                             size_t n, mproc__frame_fn fn, void *ctx);

/* When the reader is inside a payload of which at least `min` bytes are
 * still missing: where they go (*dst) and how many may go there
 * (returned, at least min), so a large payload is read straight into its
 * buffer. 0 otherwise. */
size_t mproc__frame_reader_room(mproc__frame_reader_t *rd, size_t min,
                                unsigned char **dst);

/* `got` bytes were written at the place mproc__frame_reader_room() gave.
 * Same returns as mproc__frame_reader_feed(). */
int mproc__frame_reader_filled(mproc__frame_reader_t *rd, size_t got,
                               mproc__frame_fn fn, void *ctx);

/* Drop a partial frame; the reader is then as new. */
void mproc__frame_reader_reset(mproc__frame_reader_t *rd);

#ifdef __cplusplus
}
#endif

#endif
