/* SPDX-License-Identifier: MIT */
/* Types the Windows backend gives the seam (src/platform.h). */
#ifndef MPROC_WIN32_OS_TYPES_H
#define MPROC_WIN32_OS_TYPES_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* A slim reader/writer lock used exclusively: statically initialisable,
 * never needs destroying, no kernel object until contended. */
typedef SRWLOCK mproc__mutex_t;
#define MPROC__MUTEX_INITIALIZER SRWLOCK_INIT

#endif
