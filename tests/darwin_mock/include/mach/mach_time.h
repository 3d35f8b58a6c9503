/* SPDX-License-Identifier: MIT */
/* Test mock of macOS's <mach/mach_time.h>, as far as src/posix/
 * procinfo_darwin.c needs it. Used by tests/darwin_mock only. */
#ifndef DARWIN_MOCK_MACH_MACH_TIME_H
#define DARWIN_MOCK_MACH_MACH_TIME_H

#include <mach/kern_return.h>
#include <stdint.h>

struct mach_timebase_info {
  uint32_t numer;
  uint32_t denom;
};
typedef struct mach_timebase_info *mach_timebase_info_t;
typedef struct mach_timebase_info mach_timebase_info_data_t;

#ifdef __cplusplus
extern "C" {
#endif
kern_return_t mach_timebase_info(mach_timebase_info_t info);
#ifdef __cplusplus
}
#endif

#endif
