/* SPDX-License-Identifier: MIT */
/*
 * Value and Array (Python's sharedctypes): a block of `count` elements of
 * `elem_size` bytes in a segment of its own, zero-filled, and unless raw an
 * RLock to guard it. The lock is an RLock object of its own, whose handle
 * the body keeps, so get_lock hands out an ordinary RLock handle that works
 * like any other.
 */
#include <string.h>

#include "shared.h"

/* Where the elements start in the body: 64-byte aligned, like the body. */
#define ARRAY_DATA_OFFSET 128

typedef struct array_body {
  uint64_t elem_size;
  uint64_t count;
  uint32_t has_lock;  /* 0: raw */
  uint32_t owns_lock; /* the lock was made with the array, and goes with it */
  uint64_t reserved[5];
  mproc_rlock_t lock; /* a copy of the guarding RLock's handle */
} array_body_t;

_Static_assert(sizeof(array_body_t) == ARRAY_DATA_OFFSET,
               "elements start on their own cache line");

static void *data_of(array_body_t *b) {
  return (unsigned char *)b + ARRAY_DATA_OFFSET;
}

/* The body's size, or MPROC_EOVERFLOW when it does not fit a size_t (the
 * segment's header and the rounding of mappings come on top). */
static int body_size(size_t elem_size, size_t count, size_t *out) {
  const size_t room = SIZE_MAX / 2 - ARRAY_DATA_OFFSET;
  if (count != 0 && elem_size > room / count)
    return MPROC_EOVERFLOW;
  *out = ARRAY_DATA_OFFSET + elem_size * count;
  return 0;
}

int mproc_array_create(mproc_array_t *out, size_t elem_size, size_t count,
                       const mproc_array_options_t *options) {
  mproc_array_options_t o;
  mproc_rlock_t lock;
  array_body_t *b;
  size_t size = 0;
  int rc;
  memset(&o, 0, sizeof o);
  if (options)
    o = *options;
  if (!out || elem_size == 0 || (o.raw && o.lock) ||
      !mproc__reserved_zero(o.reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;
  rc = body_size(elem_size, count, &size);
  if (rc != 0)
    return rc;
  if (o.lock) {
    lock = *o.lock;
    /* A lock given must be one: checked now rather than at first use. */
    rc = mproc_rlock_acquire(&lock, 0);
    if (rc == 0 || rc == MPROC_EOWNERDEAD)
      mproc_rlock_release(&lock);
    else if (rc != MPROC_ETIMEDOUT)
      return rc;
  } else if (!o.raw) {
    rc = mproc_rlock_create(&lock);
    if (rc != 0)
      return rc;
  }
  rc = mproc__object_create_reserved(out, MPROC__KIND_ARRAY, size, (void **)&b);
  if (rc != 0) {
    if (!o.raw && !o.lock)
      mproc_rlock_destroy(&lock);
    return rc;
  }
  b->elem_size = elem_size;
  b->count = count;
  if (!o.raw) {
    b->has_lock = 1;
    b->owns_lock = o.lock == NULL;
    b->lock = lock;
  }
  mproc__object_publish(b);
  return 0;
}

int mproc_value_create(mproc_value_t *out, size_t size,
                       const mproc_array_options_t *options) {
  return mproc_array_create(out, size, 1, options);
}

int mproc_array_ptr(mproc_array_t *array, void **ptr) {
  array_body_t *b;
  int rc;
  if (!ptr)
    return MPROC_EINVAL;
  rc = mproc__object_get(array, MPROC__KIND_ARRAY, (void **)&b);
  if (rc != 0)
    return rc;
  *ptr = data_of(b);
  return 0;
}

int mproc_array_length(mproc_array_t *array, size_t *elem_size, size_t *count) {
  array_body_t *b;
  int rc = mproc__object_get(array, MPROC__KIND_ARRAY, (void **)&b);
  if (rc != 0)
    return rc;
  if (elem_size)
    *elem_size = (size_t)b->elem_size;
  if (count)
    *count = (size_t)b->count;
  return 0;
}

int mproc_array_get_lock(mproc_array_t *array, mproc_rlock_t *lock) {
  array_body_t *b;
  int rc;
  if (!lock)
    return MPROC_EINVAL;
  rc = mproc__object_get(array, MPROC__KIND_ARRAY, (void **)&b);
  if (rc != 0)
    return rc;
  if (!b->has_lock)
    return MPROC_ESTATE;
  *lock = b->lock;
  return 0;
}

/* The guarding RLock's handle where the body keeps it (written once,
 * before the array is published), used in place: one lookup of the array,
 * then the RLock's own, and no copy of the handle. */
static int lock_of(mproc_array_t *array, mproc_rlock_t **lock) {
  array_body_t *b;
  int rc = mproc__object_get(array, MPROC__KIND_ARRAY, (void **)&b);
  if (rc != 0)
    return rc;
  if (!b->has_lock)
    return MPROC_ESTATE;
  *lock = &b->lock;
  return 0;
}

int mproc_array_acquire(mproc_array_t *array, int64_t timeout_ms) {
  mproc_rlock_t *lock;
  int rc = lock_of(array, &lock);
  return rc != 0 ? rc : mproc_rlock_acquire(lock, timeout_ms);
}

int mproc_array_release(mproc_array_t *array) {
  mproc_rlock_t *lock;
  int rc = lock_of(array, &lock);
  return rc != 0 ? rc : mproc_rlock_release(lock);
}

int mproc_array_destroy(mproc_array_t *array) {
  array_body_t *b;
  mproc_rlock_t lock;
  int owns, rc = mproc__object_get(array, MPROC__KIND_ARRAY, (void **)&b);
  if (rc != 0)
    return rc;
  owns = b->has_lock && b->owns_lock;
  lock = b->lock;
  rc = mproc__object_destroy(array, MPROC__KIND_ARRAY, NULL);
  if (rc == 0 && owns)
    mproc_rlock_destroy(&lock);
  return rc;
}
