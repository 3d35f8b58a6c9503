/* SPDX-License-Identifier: MIT */
/* The backend half of shared locks where the system has no process-shared
 * lock that reports its holder's death in bytes of shared memory: Windows
 * (a mutex that reports WAIT_ABANDONED is a handle, not bytes every
 * process can use at its own address) and POSIX systems without robust
 * mutexes (macOS, the portable build). Common code's owner-pid lock serves
 * instead. The build lists this file in place of posix/robust_lock.c. */
#include "platform.h"

int mproc__native_lock_available(void) { return 0; }

int mproc__native_lock_init(void *mem) {
  (void)mem;
  return MPROC_ENOTSUP;
}

int mproc__native_lock_acquire(void *mem, int64_t deadline_ns) {
  (void)mem;
  (void)deadline_ns;
  return MPROC_ENOTSUP;
}

int mproc__native_lock_release(void *mem) {
  (void)mem;
  return MPROC_ENOTSUP;
}

int mproc__native_lock_held(void *mem) {
  (void)mem;
  return -1;
}
