/* SPDX-License-Identifier: MIT */
/* Wait and wake on a shared 32-bit word with Linux futexes: the kernel
 * keys a shared futex by the physical page, so processes that map the word
 * at different addresses meet on it. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

int mproc__wait32(void *word, uint32_t expected, int64_t deadline_ns) {
  struct timespec ts, *tsp = NULL;
  long rc;
  if (deadline_ns != MPROC_INFINITE) {
    int64_t left = deadline_ns - mproc__clock_ns();
    if (left <= 0)
      return MPROC_ETIMEDOUT;
    ts.tv_sec = (time_t)(left / 1000000000);
    ts.tv_nsec = (long)(left % 1000000000);
    tsp = &ts;
  }
  /* FUTEX_WAIT's timeout is relative and measured on CLOCK_MONOTONIC, the
   * clock of mproc__clock_ns. EAGAIN (value changed) and EINTR are both
   * "look again" for the caller. */
  rc = syscall(SYS_futex, word, FUTEX_WAIT, expected, tsp, NULL, 0);
  if (rc != 0 && errno == ETIMEDOUT)
    return MPROC_ETIMEDOUT;
  return 0;
}

void mproc__wake32(void *word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
