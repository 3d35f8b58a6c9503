// SPDX-License-Identifier: MIT
// Deadline arithmetic (src/deadline.c): every timeout, however large, gives
// a deadline without an overflow (UBSan checks this in the sanitize
// build), and a timeout past the clock's range is forever.
#include <gtest/gtest.h>
#include <stdint.h>

#include "mproc.h"
#include "platform.h"

namespace {

TEST(Deadline, InfiniteAndNegativeTimeoutsAreForever) {
  EXPECT_EQ(mproc__deadline_from_timeout(MPROC_INFINITE), MPROC_INFINITE);
  EXPECT_EQ(mproc__deadline_from_timeout(INT64_MIN), MPROC_INFINITE);
  EXPECT_EQ(mproc__deadline_after(0, MPROC_INFINITE), MPROC_INFINITE);
  EXPECT_EQ(mproc__deadline_after(MPROC_INFINITE, 5), MPROC_INFINITE);
  EXPECT_EQ(mproc__timeout_left(MPROC_INFINITE), MPROC_INFINITE);
}

TEST(Deadline, HugeTimeoutsAreForeverWithoutOverflow) {
  // The clock has run for a while: each of these passes its range.
  for (int64_t ms : {INT64_MAX, INT64_MAX - 1, INT64_MAX / 2,
                     INT64_MAX / 1000000 + 1, INT64_MAX / 1000000})
    EXPECT_EQ(mproc__deadline_from_timeout(ms), MPROC_INFINITE) << ms;
  // From a start near the end of the clock's range, any timeout that
  // would pass it is forever.
  int64_t late = INT64_MAX - 1000;
  EXPECT_EQ(mproc__deadline_after(late, 1), MPROC_INFINITE);
  EXPECT_EQ(mproc__deadline_after(late, INT64_MAX), MPROC_INFINITE);
  EXPECT_EQ(mproc__deadline_after(INT64_MAX - 1000000, 1), INT64_MAX);
  EXPECT_EQ(mproc__deadline_after(INT64_MAX / 2, INT64_MAX / 2000000),
            INT64_MAX / 2 + (INT64_MAX / 2000000) * 1000000);
}

TEST(Deadline, OrdinaryTimeoutsAddToTheStart) {
  EXPECT_EQ(mproc__deadline_after(0, 0), 0);
  EXPECT_EQ(mproc__deadline_after(5, 3), 5 + 3000000);
  int64_t before = mproc__clock_ns();
  int64_t d = mproc__deadline_from_timeout(1000);
  EXPECT_GE(d, before + 1000000000);
  EXPECT_GT(mproc__timeout_left(d), 0);
  EXPECT_LE(mproc__timeout_left(d), 1000);
  EXPECT_EQ(mproc__timeout_left(before), 0);
}

} // namespace
