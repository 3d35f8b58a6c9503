/* SPDX-License-Identifier: MIT */
/* Deadlines on the backend's monotonic clock: the one arithmetic every
 * timed wait of every backend uses. */
#include "platform.h"

int64_t mproc__deadline_from_timeout(int64_t timeout_ms) {
  if (timeout_ms < 0)
    return MPROC_INFINITE;
  /* Timeouts past ~292 years would overflow; they are forever anyway. */
  if (timeout_ms > INT64_MAX / 2000000)
    return MPROC_INFINITE;
  return mproc__clock_ns() + timeout_ms * 1000000;
}

int64_t mproc__timeout_left(int64_t deadline_ns) {
  int64_t left;
  if (deadline_ns == MPROC_INFINITE)
    return MPROC_INFINITE;
  left = deadline_ns - mproc__clock_ns();
  if (left <= 0)
    return 0;
  return (left + 999999) / 1000000;
}
