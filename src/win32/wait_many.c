/* SPDX-License-Identifier: MIT */
/*
 * Waiting on many words and sentinels at once on Windows. Sentinels
 * (process handles) alone: one WaitForMultipleObjects, which sleeps in the
 * kernel until a process ends. Words in shared memory have no
 * cross-process wait on Windows (WaitOnAddress is per process), so with
 * words the wait naps as src/win32/wait.c does, 1 ms at a time; the naps
 * are themselves waits on the sentinels, so an ending process still cuts
 * one short.
 */
#include <windows.h>

#include "atomics.h"
#include "platform.h"

/* The longest one call naps before it returns for the caller to look. */
#define SLICE_NS 10000000LL

static int changed(void *const *words, const uint32_t *expected, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (mproc__load32_acq((mproc__atomic_u32 *)words[i]) != expected[i])
      return 1;
  return 0;
}

/* Mark the handles that are signalled; 1 when one is. */
static int look(const mproc__pipe_t *handles, size_t n, unsigned char *ready) {
  size_t i;
  int any = 0;
  for (i = 0; i < n; i++) {
    ready[i] = WaitForSingleObject((HANDLE)handles[i], 0) == WAIT_OBJECT_0;
    any |= ready[i];
  }
  return any;
}

/* Sleep up to ms on the handles (at most MAXIMUM_WAIT_OBJECTS of them;
 * with more, a plain nap). */
static void sleep_on(const mproc__pipe_t *handles, size_t n, DWORD ms) {
  HANDLE hs[MAXIMUM_WAIT_OBJECTS];
  size_t i;
  if (n == 0 || n > MAXIMUM_WAIT_OBJECTS) {
    Sleep(ms);
    return;
  }
  for (i = 0; i < n; i++)
    hs[i] = (HANDLE)handles[i];
  WaitForMultipleObjects((DWORD)n, hs, FALSE, ms);
}

int mproc__wait_many(void *const *words, const uint32_t *expected,
                     size_t nwords, const mproc__pipe_t *handles,
                     size_t nhandles, int64_t deadline_ns,
                     unsigned char *handle_ready) {
  int64_t start = mproc__clock_ns(), now = start;
  int round;
  for (round = 0;; round++) {
    if (look(handles, nhandles, handle_ready))
      return 0;
    if (changed(words, expected, nwords))
      return 0;
    if (deadline_ns != MPROC_INFINITE && now >= deadline_ns)
      return MPROC_ETIMEDOUT;
    if (nwords == 0 && nhandles <= MAXIMUM_WAIT_OBJECTS) {
      /* Processes alone: the kernel wakes us when one ends. */
      int64_t left = mproc__timeout_left(deadline_ns);
      DWORD ms =
          left == MPROC_INFINITE || left > 0x7fffffff ? INFINITE : (DWORD)left;
      sleep_on(handles, nhandles, ms);
      look(handles, nhandles, handle_ready);
      return 0;
    }
    if (now - start >= SLICE_NS)
      return 0;
    if (round < 8 && nwords > 0)
      SwitchToThread();
    else
      sleep_on(handles, nhandles, 1);
    now = mproc__clock_ns();
  }
}
