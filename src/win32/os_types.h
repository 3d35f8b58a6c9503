/* SPDX-License-Identifier: MIT */
/* Types the Windows backend gives the seam (src/platform.h). They need no
 * <windows.h>: common code never sees a Windows declaration, and only the
 * backend's files include it (through win32/os.h). */
#ifndef MPROC_WIN32_OS_TYPES_H
#define MPROC_WIN32_OS_TYPES_H

/* An SRWLOCK (one pointer) used exclusively: statically initialisable,
 * never needs destroying, no kernel object until contended. win32/os.h
 * gives the backend its SRWLOCK view. */
typedef struct mproc__mutex {
  void *ptr;
} mproc__mutex_t;
#define MPROC__MUTEX_INITIALIZER                                               \
  { 0 }

#endif
