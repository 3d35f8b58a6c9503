/* SPDX-License-Identifier: MIT */
/* Wait and wake on a shared 32-bit word with POSIX.1-2008 alone.
 *
 * macOS has no futex, no sem_timedwait, and its process-shared condition
 * variables break when processes map them at different addresses; named
 * semaphores outlive a SIGKILLed process and cannot tell one word's sleeper
 * from another's. So a sleeper here naps in the kernel (nanosleep) with a
 * growing interval, capped at one millisecond, and looks at the word
 * between naps: no named object exists to be leaked, and a wake is seen
 * within about a millisecond. The uncontended paths of every object never
 * come here. */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "atomics.h"
#include "platform.h"

/* How long one call may sleep before returning, so that callers re-check
 * what the word cannot tell them (a destroyed object, a dead lock owner). */
#define MPROC__WAIT_SLICE_NS 10000000LL
#define MPROC__NAP_MAX_NS 1000000LL

int mproc__wait32(void *word, uint32_t expected, int64_t deadline_ns) {
  mproc__atomic_u32 *w = (mproc__atomic_u32 *)word;
  int64_t start = mproc__clock_ns(), now = start, nap = 2000;
  int spins;
  for (spins = 0; spins < 8; spins++) {
    if (mproc__load32_acq(w) != expected)
      return 0;
    sched_yield();
  }
  for (;;) {
    struct timespec ts;
    int64_t sleep_ns = nap;
    if (mproc__load32_acq(w) != expected)
      return 0;
    if (deadline_ns != MPROC_INFINITE) {
      if (now >= deadline_ns)
        return MPROC_ETIMEDOUT;
      if (deadline_ns - now < sleep_ns)
        sleep_ns = deadline_ns - now;
    }
    if (now - start >= MPROC__WAIT_SLICE_NS)
      return 0;
    ts.tv_sec = 0;
    ts.tv_nsec = (long)sleep_ns;
    nanosleep(&ts, NULL);
    if (nap < MPROC__NAP_MAX_NS)
      nap *= 2;
    now = mproc__clock_ns();
  }
}

void mproc__wake32(void *word) {
  /* Sleepers look at the word themselves. */
  (void)word;
}
