/* SPDX-License-Identifier: MIT */
/*
 * The pool's results: how a job gets its outcome (run by the pool's
 * thread, and by a lessee for its own job) and the async-result API (run
 * by callers). See pool_engine.h for the records and the lock.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_engine.h"

void mproc__core_destroy(core_t *core) {
  mproc__cond_destroy(core->cond);
  free(core);
}

void mproc__core_release(core_t *core) {
  int last;
  mproc__mutex_lock(&core->lock);
  last = --core->refs == 0;
  mproc__mutex_unlock(&core->lock);
  if (last)
    mproc__core_destroy(core);
}

/* Drop one reference; called with core->lock held. Returns 1 when that was
 * the core's last reference too: the caller destroys it after unlocking. */
int mproc__result_release(mproc_async_result_t *r) {
  core_t *core = r->core;
  if (--r->refs > 0)
    return 0;
  r->magic = 0;
  if (r->map)
    mproc__batch_free(r->map);
  free(r->data);
  free(r->arg);
  free(r);
  return --core->refs == 0;
}

/* Give an apply job its outcome. `data` (malloc'd or NULL) is taken. */
void mproc__complete_apply(mproc_async_result_t *r, int status,
                           unsigned char *data, size_t size, int has_exitcode,
                           int exitcode) {
  core_t *core = r->core;
  int last;
  mproc_pool_callback_fn cb =
      status == 0 ? r->callbacks.callback : r->callbacks.error_callback;
  /* Python runs the callback before the result is ready, so a get() that
   * returns sees what the callback did. */
  if (cb)
    cb(r->callbacks.user, status, data ? data : (unsigned char *)"", size);
  mproc__mutex_lock(&core->lock);
  r->status = status;
  r->data = data;
  r->size = size;
  r->has_exitcode = has_exitcode;
  r->exitcode = exitcode;
  r->ready = 1;
  free(r->arg);
  r->arg = NULL;
  mproc__cond_broadcast(core->cond);
  last = mproc__result_release(r);
  mproc__mutex_unlock(&core->lock);
  if (last)
    mproc__core_destroy(core);
}

void mproc__batch_free(struct mproc_imap *b) {
  size_t i;
  if (b->data)
    for (i = 0; i < b->count; i++)
      free(b->data[i]);
  free(b->data);
  free(b->sizes);
  free(b->done);
  free(b->order);
  free(b->last);
  free(b->statuses_owned);
  free(b->items_owned);
  free(b->jobs);
  b->magic = 0;
  free(b);
}

/* Called with core->lock held, after a chunk's outcome is recorded. */
static void batch_chunk_done(struct mproc_imap *b, const job_t *j) {
  size_t i;
  if (b->mode == BATCH_IMAP_UNORDERED)
    for (i = 0; i < j->count; i++)
      b->order[b->order_len++] = j->first + i;
  if (b->mode != BATCH_MAP)
    for (i = 0; i < j->count; i++)
      b->done[j->first + i] = 1;
  b->chunks_left--;
  mproc__cond_broadcast(b->core->cond);
}

int mproc__map_status(const struct mproc_imap *b) {
  size_t i;
  for (i = 0; i < b->count; i++)
    if (b->statuses[i] != 0)
      return b->statuses[i];
  return 0;
}

void mproc__map_async_done(struct mproc_imap *b) {
  mproc_async_result_t *r = b->async;
  core_t *core = r->core;
  int status = mproc__map_status(b), last;
  size_t size = b->count * b->result_size;
  mproc_pool_callback_fn cb =
      status == 0 ? r->callbacks.callback : r->callbacks.error_callback;
  /* As for apply: the callback runs before the result is ready. */
  if (cb)
    cb(r->callbacks.user, status, r->data, size);
  mproc__mutex_lock(&core->lock);
  r->status = status;
  r->size = size;
  r->ready = 1;
  mproc__cond_broadcast(core->cond);
  last = mproc__result_release(r);
  mproc__mutex_unlock(&core->lock);
  if (last)
    mproc__core_destroy(core);
}

/* The pool is done with this chunk; free the batch if its owner left, or
 * complete its map_async result with the last chunk. */
static void batch_chunk_finish(struct mproc_imap *b, const job_t *j) {
  core_t *core = b->core;
  int free_it, all_done;
  mproc__mutex_lock(&core->lock);
  batch_chunk_done(b, j);
  free_it = b->owner_gone && b->chunks_left == 0;
  all_done = b->async && b->chunks_left == 0;
  mproc__mutex_unlock(&core->lock);
  if (all_done)
    mproc__map_async_done(b);
  if (free_it) {
    mproc__batch_free(b);
    mproc__core_release(core);
  }
}

/* Every item of the chunk gets `status` and no bytes. */
static void fail_chunk(job_t *j, int status) {
  struct mproc_imap *b = j->batch;
  size_t i;
  for (i = 0; i < j->count; i++) {
    b->statuses[j->first + i] = status;
    if (b->mode == BATCH_MAP && b->result_size)
      memset(b->results + (j->first + i) * b->result_size, 0, b->result_size);
  }
  batch_chunk_finish(b, j);
}

void mproc__fail_job(job_t *j, int status, int has_exitcode, int exitcode) {
  if (j->kind == JOB_APPLY)
    mproc__complete_apply(j->result, status, NULL, 0, has_exitcode, exitcode);
  else
    fail_chunk(j, status);
}

/* One item's outcome into its map slot; returns the item's status. */
static int map_item(struct mproc_imap *b, size_t idx, int status,
                    const unsigned char *data, size_t size) {
  unsigned char *slot = b->results + idx * b->result_size;
  if (size > b->result_size) {
    if (b->result_size)
      memset(slot, 0, b->result_size);
    return MPROC_ERANGE;
  }
  if (b->result_size) {
    if (size)
      memcpy(slot, data, size);
    memset(slot + size, 0, b->result_size - size);
  }
  return status;
}

/* One item's outcome kept for imap_next; returns the item's status. */
static int imap_item(struct mproc_imap *b, size_t idx, int status,
                     const unsigned char *data, size_t size) {
  unsigned char *copy = malloc(size ? size : 1);
  b->sizes[idx] = 0;
  b->data[idx] = copy;
  if (!copy)
    return MPROC_ENOMEM;
  if (size)
    memcpy(copy, data, size);
  b->sizes[idx] = size;
  return status;
}

/* Unpack a chunk's results. Returns 0, or MPROC_EINVAL for a malformed
 * payload (the worker is then treated as broken). */
int mproc__complete_chunk(job_t *j, const unsigned char *p, size_t n) {
  struct mproc_imap *b = j->batch;
  size_t i, at = 0;
  /* Check the whole payload before any item is recorded. */
  for (i = 0; i < j->count; i++) {
    const unsigned char *data;
    size_t size;
    int status;
    if (mproc__chunk_item_next(p, n, &at, &status, &data, &size) != 0)
      return MPROC_EINVAL;
  }
  for (i = 0, at = 0; i < j->count; i++) {
    size_t idx = j->first + i, size;
    const unsigned char *data;
    int status;
    (void)mproc__chunk_item_next(p, n, &at, &status, &data, &size);
    b->statuses[idx] = b->mode == BATCH_MAP
                           ? map_item(b, idx, status, data, size)
                           : imap_item(b, idx, status, data, size);
  }
  batch_chunk_finish(b, j);
  return 0;
}

/* ---- async results (callers) ------------------------------------------ */

static int check_result(const mproc_async_result_t *r) {
  return r && r->magic == RESULT_MAGIC ? 0 : MPROC_EINVAL;
}

int mproc_async_result_ready(mproc_async_result_t *r, int *ready) {
  if (check_result(r) != 0 || !ready)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  *ready = r->ready ? 1 : 0;
  mproc__mutex_unlock(&r->core->lock);
  return 0;
}

int mproc_async_result_successful(mproc_async_result_t *r, int *successful) {
  int rc = 0;
  if (check_result(r) != 0 || !successful)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  if (r->ready)
    *successful = r->status == 0;
  else
    rc = MPROC_ESTATE;
  mproc__mutex_unlock(&r->core->lock);
  return rc;
}

/* Wait for r with core->lock held. */
int mproc__result_wait_locked(mproc_async_result_t *r, int64_t timeout_ms) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  while (!r->ready)
    if (mproc__cond_wait(r->core->cond, &r->core->lock, deadline) != 0)
      return MPROC_ETIMEDOUT;
  return 0;
}

int mproc_async_result_wait(mproc_async_result_t *r, int64_t timeout_ms) {
  int err;
  if (check_result(r) != 0 || (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  err = mproc__result_wait_locked(r, timeout_ms);
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_get(mproc_async_result_t *r, int64_t timeout_ms,
                           int *status, const void **data, size_t *size) {
  int err;
  if (check_result(r) != 0 || (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  err = mproc__result_wait_locked(r, timeout_ms);
  if (err == 0) {
    if (status)
      *status = r->status;
    if (data)
      *data = r->data ? r->data : (const void *)"";
    if (size)
      *size = r->size;
  }
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_exitcode(mproc_async_result_t *r, int *exitcode) {
  int err = 0;
  if (check_result(r) != 0 || !exitcode)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  if (r->ready && r->has_exitcode)
    *exitcode = r->exitcode;
  else
    err = MPROC_ESTATE;
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_statuses(mproc_async_result_t *r, const int **statuses,
                                size_t *count) {
  int err = 0;
  if (check_result(r) != 0 || !statuses)
    return MPROC_EINVAL;
  mproc__mutex_lock(&r->core->lock);
  if (r->ready && r->map) {
    *statuses = r->map->statuses;
    if (count)
      *count = r->map->count;
  } else {
    err = MPROC_ESTATE;
  }
  mproc__mutex_unlock(&r->core->lock);
  return err;
}

int mproc_async_result_free(mproc_async_result_t *r) {
  core_t *core;
  int last;
  if (!r)
    return 0;
  if (check_result(r) != 0)
    return MPROC_EINVAL;
  core = r->core;
  mproc__mutex_lock(&core->lock);
  last = mproc__result_release(r);
  mproc__mutex_unlock(&core->lock);
  if (last)
    mproc__core_destroy(core);
  return 0;
}
