/* SPDX-License-Identifier: MIT */
/*
 * map and imap (the caller's side): a call's items cut into chunks, each
 * chunk one job, and the calls that wait for and hand out their results.
 * Chunks complete in pool_jobs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "pool_engine.h"

static size_t default_chunksize(const mproc_pool_t *pool, size_t count) {
  /* Python's: ceil(count / (4 * processes)). */
  size_t div = (size_t)pool->nproc * 4;
  size_t c = count / div + (count % div != 0);
  return c ? c : 1;
}

/* Copy the items, for a call that returns before they are all sent. */
static int batch_copy_items(struct mproc_imap *b) {
  if (b->count == 0 || b->item_size == 0)
    return 0;
  if (!(b->items_owned = malloc(b->count * b->item_size)))
    return MPROC_ENOMEM;
  memcpy(b->items_owned, b->items, b->count * b->item_size);
  b->items = b->items_owned;
  return 0;
}

/* The per-item arrays of an imap; the items are copied, as the caller's
 * array may go away before the iterator is done. */
static int batch_alloc_imap(struct mproc_imap *b) {
  size_t count = b->count;
  if (count == 0)
    return 0;
  /* Arrays no allocation can hold are refused before calloc sees them
   * (a sanitizer reports the overflow calloc would refuse). */
  if (count > MPROC__SIZE_LIMIT / sizeof(size_t))
    return MPROC_ENOMEM;
  if (!(b->data = calloc(count, sizeof *b->data)) ||
      !(b->sizes = calloc(count, sizeof *b->sizes)) ||
      !(b->done = calloc(count, 1)) ||
      !(b->statuses_owned = calloc(count, sizeof(int))) ||
      (b->mode == BATCH_IMAP_UNORDERED &&
       !(b->order = calloc(count, sizeof *b->order))))
    return MPROC_ENOMEM;
  b->statuses = b->statuses_owned;
  return batch_copy_items(b);
}

/* Cut the batch into chunks of chunksize items, linked in order. */
static int batch_chunks(struct mproc_imap *b, size_t chunksize) {
  size_t count = b->count, i;
  size_t nchunks = count / chunksize + (count % chunksize != 0);
  if (nchunks > 0 && !(b->jobs = calloc(nchunks, sizeof *b->jobs)))
    return MPROC_ENOMEM;
  for (i = 0; i < nchunks; i++) {
    job_t *j = &b->jobs[i];
    j->kind = JOB_CHUNK;
    j->batch = b;
    j->first = i * chunksize;
    j->count = count - j->first < chunksize ? count - j->first : chunksize;
    j->next = i + 1 < nchunks ? &b->jobs[i + 1] : NULL;
  }
  b->chunks_left = nchunks;
  return 0;
}

static int batch_start(mproc_pool_t *pool, enum batch_mode mode,
                       mproc_task_fn fn, const void *items, size_t item_size,
                       size_t count, size_t chunksize,
                       struct mproc_imap **out) {
  struct mproc_imap *b;
  const char *name;
  size_t bytes;
  int err;
  if (!fn || (!items && item_size > 0 && count > 0))
    return MPROC_EINVAL;
  /* No caller's array can be larger than MPROC__SIZE_LIMIT: a product
   * beyond it is a mistake, refused before a frame's size is summed. */
  if (mproc__mul_size(item_size, count, &bytes) || bytes > MPROC__SIZE_LIMIT)
    return MPROC_EINVAL;
  if ((err = mproc__check_pool(pool)) != 0)
    return err;
  if ((err = mproc__pool_task_name(pool, fn, &name)) != 0)
    return err;
  if (chunksize == 0)
    chunksize = default_chunksize(pool, count);
  b = calloc(1, sizeof *b);
  if (!b)
    return MPROC_ENOMEM;
  b->magic = BATCH_MAGIC;
  b->core = pool->core;
  b->mode = mode;
  b->fn = fn;
  b->fn_name = name;
  b->item_size = item_size;
  b->count = count;
  b->items = items;
  if ((err = batch_chunks(b, chunksize)) != 0 ||
      (mode != BATCH_MAP && (err = batch_alloc_imap(b)) != 0)) {
    mproc__batch_free(b);
    return err;
  }
  *out = b;
  return 0;
}

/* Queue the batch's chunks; with none, only check the pool's state. Takes
 * one core reference on success, as mproc__enqueue() does. */
static int batch_enqueue(mproc_pool_t *pool, struct mproc_imap *b) {
  size_t nchunks = b->chunks_left;
  int err;
  if (nchunks > 0)
    return mproc__enqueue(pool, &b->jobs[0], &b->jobs[nchunks - 1]);
  mproc__mutex_lock(&pool->core->lock);
  err = pool->state == POOL_RUNNING ? 0 : MPROC_ESTATE;
  if (err == 0)
    pool->core->refs++;
  mproc__mutex_unlock(&pool->core->lock);
  return err;
}

/* A map's batch with its result slots and statuses. */
static int map_start(mproc_pool_t *pool, mproc_task_fn fn, const void *items,
                     size_t item_size, size_t count, size_t chunksize,
                     void *results, size_t result_size, int *statuses,
                     struct mproc_imap **out) {
  struct mproc_imap *b;
  size_t bytes;
  int err;
  if ((!results && result_size > 0 && count > 0) || result_size > UINT32_MAX)
    return MPROC_EINVAL;
  if (mproc__mul_size(result_size, count, &bytes) || bytes > MPROC__SIZE_LIMIT)
    return MPROC_EINVAL;
  if ((err = batch_start(pool, BATCH_MAP, fn, items, item_size, count,
                         chunksize, &b)) != 0)
    return err;
  b->results = results;
  b->result_size = result_size;
  b->statuses = statuses;
  if (!statuses && count > 0) {
    /* calloc checks count * sizeof(int): with item_size and result_size
     * 0, nothing above bounds count. */
    if (count > MPROC__SIZE_LIMIT / sizeof(int) ||
        !(b->statuses_owned = calloc(count, sizeof(int)))) {
      mproc__batch_free(b);
      return MPROC_ENOMEM;
    }
    b->statuses = b->statuses_owned;
  }
  *out = b;
  return 0;
}

int mproc_pool_map(mproc_pool_t *pool, mproc_task_fn fn, const void *items,
                   size_t item_size, size_t count, size_t chunksize,
                   void *results, size_t result_size, int *statuses) {
  struct mproc_imap *b;
  core_t *core;
  int err;
  if ((err = map_start(pool, fn, items, item_size, count, chunksize, results,
                       result_size, statuses, &b)) != 0)
    return err;
  core = pool->core;
  if ((err = batch_enqueue(pool, b)) != 0) {
    mproc__batch_free(b);
    return err;
  }
  mproc__mutex_lock(&core->lock);
  while (b->chunks_left > 0)
    mproc__cond_wait(core->cond, &core->lock, MPROC_INFINITE);
  mproc__mutex_unlock(&core->lock);
  err = mproc__map_status(b);
  mproc__batch_free(b);
  mproc__core_release(core);
  return err;
}

/* The result of a map_async: it owns the batch, its copy of the items,
 * its results (as the result's data) and its statuses. */
static int map_async_result(struct mproc_imap *b,
                            const mproc_apply_options_t *options,
                            mproc_async_result_t **out) {
  size_t bytes = b->count * b->result_size;
  mproc_async_result_t *r = calloc(1, sizeof *r);
  if (!r)
    return MPROC_ENOMEM;
  r->data = malloc(bytes ? bytes : 1);
  /* calloc checks count * sizeof(int) (see map_start). */
  if (b->count <= MPROC__SIZE_LIMIT / sizeof(int))
    b->statuses_owned = calloc(b->count ? b->count : 1, sizeof(int));
  if (!r->data || !b->statuses_owned || batch_copy_items(b) != 0) {
    free(r->data);
    free(r);
    return MPROC_ENOMEM;
  }
  b->statuses = b->statuses_owned;
  b->results = r->data;
  b->async = r;
  r->magic = RESULT_MAGIC;
  r->core = b->core;
  r->refs = 2; /* the caller's handle + the pool until the map is done */
  r->map = b;
  if (options)
    r->callbacks = *options;
  *out = r;
  return 0;
}

int mproc_pool_map_async(mproc_pool_t *pool, mproc_task_fn fn,
                         const void *items, size_t item_size, size_t count,
                         size_t chunksize, size_t result_size,
                         const mproc_apply_options_t *options,
                         mproc_async_result_t **out) {
  struct mproc_imap *b;
  mproc_async_result_t *r;
  size_t bytes;
  int err;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  if (options && !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;
  if (result_size > UINT32_MAX || mproc__mul_size(result_size, count, &bytes) ||
      bytes > MPROC__SIZE_LIMIT)
    return MPROC_EINVAL;
  if ((err = batch_start(pool, BATCH_MAP, fn, items, item_size, count,
                         chunksize, &b)) != 0)
    return err;
  b->result_size = result_size;
  if ((err = map_async_result(b, options, &r)) != 0) {
    mproc__batch_free(b);
    return err;
  }
  if ((err = batch_enqueue(pool, b)) != 0) {
    free(r->data);
    free(r);
    mproc__batch_free(b);
    return err;
  }
  /* No items: nothing will complete it but this. */
  if (count == 0)
    mproc__map_async_done(b);
  *out = r;
  return 0;
}

static int imap_common(mproc_pool_t *pool, enum batch_mode mode,
                       mproc_task_fn fn, const void *items, size_t item_size,
                       size_t count, size_t chunksize, mproc_imap_t **out) {
  struct mproc_imap *b;
  int err;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  if ((err = batch_start(pool, mode, fn, items, item_size, count, chunksize,
                         &b)) != 0)
    return err;
  if ((err = batch_enqueue(pool, b)) != 0) {
    mproc__batch_free(b);
    return err;
  }
  *out = b;
  return 0;
}

int mproc_pool_imap(mproc_pool_t *pool, mproc_task_fn fn, const void *items,
                    size_t item_size, size_t count, size_t chunksize,
                    mproc_imap_t **out) {
  return imap_common(pool, BATCH_IMAP, fn, items, item_size, count, chunksize,
                     out);
}

int mproc_pool_imap_unordered(mproc_pool_t *pool, mproc_task_fn fn,
                              const void *items, size_t item_size, size_t count,
                              size_t chunksize, mproc_imap_t **out) {
  return imap_common(pool, BATCH_IMAP_UNORDERED, fn, items, item_size, count,
                     chunksize, out);
}

/* Whether the iterator's next item is in; with core->lock held. */
static int next_ready(const mproc_imap_t *it) {
  if (it->mode == BATCH_IMAP)
    return it->done[it->next];
  return it->order_len > it->next;
}

int mproc_imap_next(mproc_imap_t *it, int64_t timeout_ms, size_t *index,
                    int *status, const void **data, size_t *size) {
  int64_t deadline;
  size_t idx;
  if (!it || it->magic != BATCH_MAGIC || it->mode == BATCH_MAP ||
      (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  deadline = mproc__deadline_from_timeout(timeout_ms);
  mproc__mutex_lock(&it->core->lock);
  if (it->next >= it->count) {
    mproc__mutex_unlock(&it->core->lock);
    return MPROC_EEMPTY;
  }
  while (!next_ready(it)) {
    if (mproc__cond_wait(it->core->cond, &it->core->lock, deadline) != 0) {
      mproc__mutex_unlock(&it->core->lock);
      return MPROC_ETIMEDOUT;
    }
  }
  idx = it->mode == BATCH_IMAP ? it->next : it->order[it->next];
  it->next++;
  free(it->last);
  it->last = it->data[idx];
  it->data[idx] = NULL;
  if (index)
    *index = idx;
  if (status)
    *status = it->statuses[idx];
  if (data)
    *data = it->last ? it->last : (const void *)"";
  if (size)
    *size = it->sizes[idx];
  mproc__mutex_unlock(&it->core->lock);
  return 0;
}

int mproc_imap_free(mproc_imap_t *it) {
  core_t *core;
  int free_it;
  if (!it)
    return 0;
  if (it->magic != BATCH_MAGIC || it->mode == BATCH_MAP)
    return MPROC_EINVAL;
  core = it->core;
  mproc__mutex_lock(&core->lock);
  it->owner_gone = 1;
  free_it = it->chunks_left == 0;
  mproc__mutex_unlock(&core->lock);
  if (free_it) {
    mproc__batch_free(it);
    mproc__core_release(core);
  }
  return 0;
}
