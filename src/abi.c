/* SPDX-License-Identifier: MIT */
/* What the library promises its callers across versions: the version it
 * is, and the reserved words of options structs that must stay zero. */
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
