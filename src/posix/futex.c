/* SPDX-License-Identifier: MIT */
/* Sleep and wake on shared 32-bit words with Linux futexes: the kernel
 * keys a shared futex by the physical page, so processes that map a word
 * at different addresses meet on it. One word: FUTEX_WAIT; several:
 * futex_waitv (Linux 5.16), which sleeps on all of them at once. Sentinels
 * need no place of their own beside words: the caller's words then include
 * one the reaper changes when it reaps a child, and the reaper thread is
 * woken by the child's pidfd. Sentinels alone are polled. The loop around
 * this one sleep is src/wait.c's. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif

/* Above FUTEX_WAITV_MAX words, or without futex_waitv, a sleep covers the
 * first words only and ends after this long, so that the others are
 * looked at. */
#define PARTIAL_SLICE_NS 10000000LL

/* FUTEX_WAIT's timeout is relative and measured on CLOCK_MONOTONIC, the
 * clock of mproc__clock_ns. EAGAIN (value changed) and EINTR are both
 * "look again" for the caller. */
static int futex_wait(void *word, uint32_t expected, int64_t until) {
  struct timespec ts;
  int64_t left = until - mproc__clock_ns();
  if (left <= 0)
    return MPROC_ETIMEDOUT;
  ts.tv_sec = (time_t)(left / 1000000000);
  ts.tv_nsec = (long)(left % 1000000000);
  if (syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, NULL, 0) != 0 &&
      errno == ETIMEDOUT)
    return MPROC_ETIMEDOUT;
  return 0;
}

static int64_t partial(int64_t until) {
  int64_t cap = mproc__clock_ns() + PARTIAL_SLICE_NS;
  return until > cap ? cap : until;
}

#if defined(SYS_futex_waitv)
static int waitv(void *const *words, const uint32_t *expected, size_t n,
                 int64_t until) {
  struct futex_waitv stack[16];
  struct futex_waitv *v = stack;
  struct timespec ts;
  size_t i;
  long rc;
  int r = 0;
  if (n > FUTEX_WAITV_MAX) {
    until = partial(until);
    n = FUTEX_WAITV_MAX;
  }
  if (n > sizeof stack / sizeof stack[0]) {
    v = (struct futex_waitv *)calloc(n, sizeof *v);
    if (!v)
      return MPROC_ENOMEM;
  }
  for (i = 0; i < n; i++) {
    v[i].val = expected[i];
    v[i].uaddr = (uint64_t)(uintptr_t)words[i];
    v[i].flags = FUTEX2_SIZE_U32; /* shared: other processes wake it */
    v[i].__reserved = 0;
  }
  /* futex_waitv takes an absolute time on the clock named. */
  ts.tv_sec = (time_t)(until / 1000000000);
  ts.tv_nsec = (long)(until % 1000000000);
  rc = syscall(SYS_futex_waitv, v, (unsigned)n, 0u, &ts, CLOCK_MONOTONIC);
  if (rc < 0 && errno == ENOSYS) /* a kernel before 5.16 */
    r = futex_wait(words[0], expected[0], partial(until));
  else if (rc < 0 && errno == ETIMEDOUT)
    r = MPROC_ETIMEDOUT;
  if (v != stack)
    free(v);
  return r;
}
#else
static int waitv(void *const *words, const uint32_t *expected, size_t n,
                 int64_t until) {
  (void)n;
  return futex_wait(words[0], expected[0], partial(until));
}
#endif

int mproc__os_sleep(void *const *words, const uint32_t *expected, size_t nwords,
                    const mproc__pipe_t *handles, size_t nhandles,
                    int64_t until, unsigned round,
                    unsigned char *handle_ready) {
  (void)round;
  if (nwords == 0)
    return mproc__pipe_wait_readable(handles, nhandles, until, handle_ready);
  if (nwords == 1)
    return futex_wait(words[0], expected[0], until);
  return waitv(words, expected, nwords, until);
}

void mproc__wake32(void *word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
