/* SPDX-License-Identifier: MIT */
/* Deadlines on the backend's monotonic clock: the one arithmetic every
 * timed wait of every backend, and the pool's task deadlines, use. */
#include "platform.h"

int64_t mproc__deadline_after(int64_t start_ns, int64_t timeout_ms) {
  if (timeout_ms < 0 || start_ns == MPROC_INFINITE)
    return MPROC_INFINITE;
  /* A deadline past the clock's range is never reached: it is forever.
   * Both checks are written without an operation that can overflow. */
  if (timeout_ms > INT64_MAX / 1000000)
    return MPROC_INFINITE;
  if (start_ns > INT64_MAX - timeout_ms * 1000000)
    return MPROC_INFINITE;
  return start_ns + timeout_ms * 1000000;
}

int64_t mproc__deadline_from_timeout(int64_t timeout_ms) {
  if (timeout_ms < 0)
    return MPROC_INFINITE;
  return mproc__deadline_after(mproc__clock_ns(), timeout_ms);
}

int64_t mproc__timeout_left(int64_t deadline_ns) {
  int64_t left;
  if (deadline_ns == MPROC_INFINITE)
    return MPROC_INFINITE;
  left = deadline_ns - mproc__clock_ns();
  if (left <= 0)
    return 0;
  return left / 1000000 + (left % 1000000 != 0);
}
