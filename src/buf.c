/* SPDX-License-Identifier: MIT */
/* mproc_buf_*: the growable buffer a pool task writes its result into. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static int buf_reserve(mproc_buf_t *b, size_t extra) {
  size_t need, cap;
  unsigned char *data;
  if (extra > SIZE_MAX - b->size)
    return MPROC_ENOMEM;
  need = b->size + extra;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  data = realloc(b->data, cap);
  if (!data)
    return MPROC_ENOMEM;
  b->data = data;
  b->cap = cap;
  return 0;
}

void *mproc_buf_extend(mproc_buf_t *buf, size_t size) {
  unsigned char *p;
  if (!buf || buf_reserve(buf, size) != 0)
    return NULL;
  p = buf->data + buf->size;
  buf->size += size;
  return p;
}

int mproc_buf_append(mproc_buf_t *buf, const void *data, size_t size) {
  void *p;
  if (!buf || (!data && size > 0))
    return MPROC_EINVAL;
  if (size == 0)
    return 0;
  p = mproc_buf_extend(buf, size);
  if (!p)
    return MPROC_ENOMEM;
  memcpy(p, data, size);
  return 0;
}

int mproc_buf_set(mproc_buf_t *buf, const void *data, size_t size) {
  if (!buf || (!data && size > 0))
    return MPROC_EINVAL;
  buf->size = buf->base;
  return mproc_buf_append(buf, data, size);
}

size_t mproc_buf_size(const mproc_buf_t *buf) {
  return buf ? buf->size - buf->base : 0;
}
