/* SPDX-License-Identifier: MIT */
/* Result bytes of a pool task (mproc_buf_t): the layout the worker loop
 * needs to put a frame header in front of a task's result, so that one
 * write sends both. */
#ifndef MPROC_BUF_H
#define MPROC_BUF_H

#include <stddef.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mproc_buf {
  unsigned char *data;
  size_t size; /* bytes used, the header space before `base` included */
  size_t cap;
  size_t base; /* where this task's result starts */
};

#ifdef __cplusplus
}
#endif

#endif
