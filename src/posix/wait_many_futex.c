/* SPDX-License-Identifier: MIT */
/*
 * Waiting on many words and sentinels at once, with Linux futexes: one
 * futex_waitv (Linux 5.16) over every word. Sentinels need no place of
 * their own there: the caller's words include one the reaper changes when
 * it reaps a child, and the reaper thread is woken by the child's pidfd.
 * Sentinels alone are polled.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02
#endif

/* Above FUTEX_WAITV_MAX words, one call sleeps on the first ones only and
 * returns after this long, so that the others are looked at. */
#define OVERFLOW_SLICE_NS 10000000LL

#if defined(SYS_futex_waitv)
static int waitv(void *const *words, const uint32_t *expected, size_t n,
                 int64_t deadline_ns) {
  struct futex_waitv stack[16];
  struct futex_waitv *v = stack;
  struct timespec ts, *tsp = NULL;
  size_t i;
  long rc;
  int r = 0;
  if (n > FUTEX_WAITV_MAX) {
    int64_t cap = mproc__clock_ns() + OVERFLOW_SLICE_NS;
    if (deadline_ns == MPROC_INFINITE || deadline_ns > cap)
      deadline_ns = cap;
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
  if (deadline_ns != MPROC_INFINITE) {
    /* futex_waitv takes an absolute time on the clock named. */
    ts.tv_sec = (time_t)(deadline_ns / 1000000000);
    ts.tv_nsec = (long)(deadline_ns % 1000000000);
    tsp = &ts;
  }
  rc = syscall(SYS_futex_waitv, v, (unsigned)n, 0u, tsp, CLOCK_MONOTONIC);
  if (rc < 0 && errno == ENOSYS) {
    /* A kernel before 5.16: sleep on the first word, a slice at a time. */
    int64_t cap = mproc__clock_ns() + OVERFLOW_SLICE_NS;
    r = mproc__wait32(
        words[0], expected[0],
        deadline_ns == MPROC_INFINITE || deadline_ns > cap ? cap : deadline_ns);
  } else if (rc < 0 && errno == ETIMEDOUT) {
    r = MPROC_ETIMEDOUT;
  }
  if (v != stack)
    free(v);
  return r;
}
#else
static int waitv(void *const *words, const uint32_t *expected, size_t n,
                 int64_t deadline_ns) {
  int64_t cap = mproc__clock_ns() + OVERFLOW_SLICE_NS;
  (void)n;
  return mproc__wait32(
      words[0], expected[0],
      deadline_ns == MPROC_INFINITE || deadline_ns > cap ? cap : deadline_ns);
}
#endif

int mproc__wait_many(void *const *words, const uint32_t *expected,
                     size_t nwords, const mproc__pipe_t *handles,
                     size_t nhandles, int64_t deadline_ns,
                     unsigned char *handle_ready) {
  size_t i;
  for (i = 0; i < nhandles; i++)
    handle_ready[i] = 0;
  if (nwords == 0)
    return mproc__pipe_wait_readable(handles, nhandles, deadline_ns,
                                     handle_ready);
  return waitv(words, expected, nwords, deadline_ns);
}
