/* SPDX-License-Identifier: MIT */
/* Inside the POSIX backend: exclusive creation of a segment with a mode of
 * the caller's (src/posix/shm.c), which the named blocks of
 * src/posix/shm_block.c share with the shared objects' segments. */
#ifndef MPROC_POSIX_SHM_BLOCK_H
#define MPROC_POSIX_SHM_BLOCK_H

#include <stddef.h>

/* Create the segment `name` of `size` zero bytes with permission bits
 * `mode`, backed at once when `reserve` is set, and map it at *base.
 * Returns 0, MPROC_EEXIST, MPROC_ENOMEM, MPROC_EPERM, MPROC_EOS. */
int mproc__posix_shm_open_new(const char *name, size_t size, unsigned mode,
                              int reserve, void **base);

#endif
