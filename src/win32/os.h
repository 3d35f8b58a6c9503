/* SPDX-License-Identifier: MIT */
/* What every file of the Windows backend includes first: <windows.h> and
 * the seam, with the SRWLOCK view of the seam's mutex. */
#ifndef MPROC_WIN32_OS_H
#define MPROC_WIN32_OS_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "platform.h"

/* The seam's mutex is an SRWLOCK: one pointer, zero when unlocked. */
typedef char mproc__mutex_is_srwlock_[sizeof(mproc__mutex_t) == sizeof(SRWLOCK)
                                          ? 1
                                          : -1];
#define MPROC__SRW(m) ((PSRWLOCK)(void *)(m))

/* How many bells of the session's doorbell (wait.c) this process holds:
 * one per live thread that has slept on a shared word. For tests. */
#ifdef __cplusplus
extern "C" {
#endif
size_t mproc__win32_bells(void);
#ifdef __cplusplus
}
#endif

#endif
