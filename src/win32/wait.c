/* SPDX-License-Identifier: MIT */
/* Wait and wake on a shared 32-bit word on Windows.
 *
 * WaitOnAddress works within one process only, and a named event per word
 * would be a kernel object to create, find and leak. So a sleeper naps in
 * the kernel with a growing interval and looks at the word between naps,
 * as the portable POSIX backend does. Sleep(1) lasts up to one timer tick
 * (about 1 ms under Wine, up to 15.6 ms on Windows unless the application
 * raised the timer resolution): a wake is seen within that. The
 * uncontended paths of every object never come here. */
#include "atomics.h"
#include "os.h"

/* How long one call may sleep before returning, so that callers re-check
 * what the word cannot tell them (a destroyed object, a dead lock owner). */
#define MPROC__WAIT_SLICE_NS 10000000LL

int mproc__wait32(void *word, uint32_t expected, int64_t deadline_ns) {
  mproc__atomic_u32 *w = (mproc__atomic_u32 *)word;
  int64_t start = mproc__clock_ns(), now = start;
  int round;
  for (round = 0;; round++) {
    if (mproc__load32_acq(w) != expected)
      return 0;
    if (deadline_ns != MPROC_INFINITE && now >= deadline_ns)
      return MPROC_ETIMEDOUT;
    if (now - start >= MPROC__WAIT_SLICE_NS)
      return 0;
    /* First give the processor away without sleeping, then nap. */
    if (round < 8)
      SwitchToThread();
    else
      Sleep(1);
    now = mproc__clock_ns();
  }
}

void mproc__wake32(void *word) {
  /* Sleepers look at the word themselves. */
  (void)word;
}
