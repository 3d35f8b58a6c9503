/* SPDX-License-Identifier: MIT */
/*
 * Waiting on many words and sentinels at once with POSIX.1-2008 alone:
 * sentinels alone are polled; with words, which no system call of POSIX
 * can sleep on, the wait naps (2 µs doubling to 1 ms, as the single-word
 * wait of wait_portable.c) and looks at every word and sentinel between
 * naps.
 */
#include <poll.h>
#include <time.h>

#include "atomics.h"
#include "platform.h"

#define NAP_MAX_NS 1000000LL
/* The longest one call naps before it returns for the caller to look. */
#define SLICE_NS 10000000LL

static int changed(void *const *words, const uint32_t *expected, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (mproc__load32_acq((mproc__atomic_u32 *)words[i]) != expected[i])
      return 1;
  return 0;
}

int mproc__wait_many(void *const *words, const uint32_t *expected,
                     size_t nwords, const mproc__pipe_t *handles,
                     size_t nhandles, int64_t deadline_ns,
                     unsigned char *handle_ready) {
  int64_t start = mproc__clock_ns(), now = start, nap = 2000;
  size_t i;
  for (i = 0; i < nhandles; i++)
    handle_ready[i] = 0;
  if (nwords == 0)
    return mproc__pipe_wait_readable(handles, nhandles, deadline_ns,
                                     handle_ready);
  for (;;) {
    struct timespec ts;
    int64_t sleep_ns = nap;
    unsigned char any = 0;
    if (changed(words, expected, nwords))
      return 0;
    if (nhandles > 0 &&
        mproc__pipe_wait_readable(handles, nhandles, now, handle_ready) == 0) {
      for (i = 0; i < nhandles; i++)
        any |= handle_ready[i];
      if (any)
        return 0;
    }
    if (deadline_ns != MPROC_INFINITE) {
      if (now >= deadline_ns)
        return MPROC_ETIMEDOUT;
      if (deadline_ns - now < sleep_ns)
        sleep_ns = deadline_ns - now;
    }
    if (now - start >= SLICE_NS)
      return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)sleep_ns;
    nanosleep(&ts, NULL);
    if (nap < NAP_MAX_NS)
      nap *= 2;
    now = mproc__clock_ns();
  }
}
