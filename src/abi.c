/* SPDX-License-Identifier: MIT */
/* What the library promises its callers across versions: the version it
 * is, the reserved words of options structs that must stay zero, and the
 * one call that frees every plain buffer it returns. */
#include <stdlib.h>

#include "internal.h"

const char *mproc_version(void) {
#define MPROC__STR2(x) #x
#define MPROC__STR(x) MPROC__STR2(x)
  return MPROC__STR(MPROC_VERSION_MAJOR) "." MPROC__STR(
      MPROC_VERSION_MINOR) "." MPROC__STR(MPROC_VERSION_PATCH);
}

unsigned int mproc_version_hex(void) { return MPROC_VERSION_HEX; }

int mproc__reserved_zero(const uint64_t *reserved, size_t words) {
  size_t i;
  for (i = 0; i < words; i++)
    if (reserved[i] != 0)
      return 0;
  return 1;
}

/* Every plain buffer the library hands out comes from its own malloc, so
 * that it is freed by the same C runtime on Windows, where a program and
 * the library may each have one. */
void mproc_free(void *p) { free(p); }

/* The names each kind of buffer was freed by before mproc_free() existed,
 * for source compatibility until 1.0. */
void mproc_queue_free_message(void *data) { mproc_free(data); }
void mproc_pool_result_free(void *data) { mproc_free(data); }
void mproc_connection_free_message(void *data) { mproc_free(data); }
