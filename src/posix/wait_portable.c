/* SPDX-License-Identifier: MIT */
/* Sleep and wake on shared 32-bit words with POSIX.1-2008 alone.
 *
 * macOS has no futex, no sem_timedwait, and its process-shared condition
 * variables break when processes map them at different addresses; named
 * semaphores outlive a SIGKILLed process and cannot tell one word's sleeper
 * from another's. So a sleep here is a nap in the kernel (nanosleep): a few
 * yields first, then 2 µs doubling to one millisecond, and src/wait.c looks
 * at the words between naps. No named object exists to be leaked, and a
 * wake is seen within about a millisecond. Sentinels alone are polled;
 * beside words, they are looked at before each nap. The uncontended paths
 * of every object never come here. */
#include <sched.h>
#include <time.h>

#include "platform.h"

#define YIELDS 8u
#define NAP_MIN_NS 2000LL
#define NAP_MAX_NS 1000000LL

int mproc__os_sleep(void *const *words, const uint32_t *expected, size_t nwords,
                    const mproc__pipe_t *handles, size_t nhandles,
                    int64_t until, unsigned round,
                    unsigned char *handle_ready) {
  struct timespec ts;
  int64_t nap = NAP_MIN_NS, now;
  size_t i;
  (void)words;
  (void)expected;
  if (nwords == 0)
    return mproc__pipe_wait_readable(handles, nhandles, until, handle_ready);
  if (nhandles > 0) {
    int rc = mproc__pipe_wait_readable(handles, nhandles, 0, handle_ready);
    if (rc != 0 && rc != MPROC_ETIMEDOUT)
      return rc;
    for (i = 0; i < nhandles; i++)
      if (handle_ready[i])
        return 0;
  }
  if (round < YIELDS) {
    sched_yield();
    return 0;
  }
  for (round -= YIELDS; round > 0 && nap < NAP_MAX_NS; round--)
    nap *= 2;
  now = mproc__clock_ns();
  if (until - now < nap)
    nap = until - now;
  if (nap <= 0)
    return MPROC_ETIMEDOUT;
  ts.tv_sec = 0;
  ts.tv_nsec = (long)nap;
  nanosleep(&ts, NULL);
  return 0;
}

void mproc__wake32(void *word) {
  /* Sleepers look at the word themselves. */
  (void)word;
}
