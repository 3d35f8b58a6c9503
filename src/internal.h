/* SPDX-License-Identifier: MIT */
/* Declarations shared by mproc's common source files (never installed). */
#ifndef MPROC_INTERNAL_H
#define MPROC_INTERNAL_H

#include "mproc.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_MSC_VER)
#define MPROC__THREAD_LOCAL __declspec(thread)
#else
#define MPROC__THREAD_LOCAL _Thread_local
#endif

/* Record the native error of a failed OS call for mproc_os_error() and return
 * MPROC_EOS, so backends can write `return mproc__os_fail(errno);`. */
int mproc__os_fail(int native_error);

/* 1 when the `words` reserved words of an options struct are all zero
 * (src/abi.c); callers fail with MPROC_EINVAL otherwise. */
int mproc__reserved_zero(const uint64_t *reserved, size_t words);

/* Longest name a process may be given, in bytes, without the NUL. */
#define MPROC__NAME_MAX 255

/* Longest role a process title shows, in bytes, without the NUL. */
#define MPROC__TITLE_MAX 63

/* Exit code a child uses when mproc could not run its target at all (the
 * bootstrap failed); chosen to be unlikely as a target's own return value. */
#define MPROC__EXIT_BOOTSTRAP_FAILED 121

/* Remove the shared-memory names of shared objects whose creating process
 * no longer exists (src/shared.c); mproc_init() calls it once. */
void mproc__shm_reclaim(void);

#if defined(__GNUC__) || defined(__clang__)
#define MPROC__PRINTF(f, a) __attribute__((format(printf, f, a)))
/* Keeps a rare path out of its caller, whose common case then needs no
 * saved registers. */
#define MPROC__NOINLINE __attribute__((noinline))
#else
#define MPROC__PRINTF(f, a)
#define MPROC__NOINLINE __declspec(noinline)
#endif

/* Pass a message to the log handler when `level` is enabled (src/log.c):
 * formatted into a bounded buffer (a long one ends with "..."), the handler
 * called with no lock of mproc's held. */
void mproc__log(int level, const char *fmt, ...) MPROC__PRINTF(2, 3);
/* Read MPROC_LOG now (mproc_init() calls it; mproc__log() does it lazily). */
void mproc__log_init(void);

#ifdef __cplusplus
}
#endif

#endif
