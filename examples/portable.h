/* SPDX-License-Identifier: MIT */
/* The few calls the examples need that POSIX and Windows spell differently:
 * Python's time.sleep(), a monotonic time.time(), tempfile.gettempdir() and
 * os.replace(). Everything else in the examples is mproc or standard C. */
#ifndef MPROC_EXAMPLES_PORTABLE_H
#define MPROC_EXAMPLES_PORTABLE_H

#include <stdio.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <errno.h>
#include <time.h>
#endif

/* time.sleep(ms / 1000) */
static inline void sleep_ms(long ms) {
#ifdef _WIN32
  Sleep((DWORD)ms);
#else
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
#endif
}

/* Seconds on a clock that never jumps, for measuring how long something
 * took (time.monotonic()). */
static inline double monotonic_seconds(void) {
#ifdef _WIN32
  LARGE_INTEGER count, frequency;
  QueryPerformanceCounter(&count);
  QueryPerformanceFrequency(&frequency);
  return (double)count.QuadPart / (double)frequency.QuadPart;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

/* The directory for temporary files, with its trailing separator
 * (tempfile.gettempdir()). */
static inline const char *temp_dir(void) {
#ifdef _WIN32
  static char dir[MAX_PATH + 1];
  DWORD n = GetTempPathA(sizeof dir, dir);
  return n > 0 && n < sizeof dir ? dir : ".\\";
#else
  return "/tmp/";
#endif
}

/* Renames `from` over `to` in one step (os.replace()): a reader opens the
 * old file or the new one, never a half-written one. POSIX's rename() does
 * it; Windows' refuses an existing target, and MoveFileEx() refuses while
 * another process has the target open, which a reader does for a moment
 * only: so try again. Returns 0, or -1. */
static inline int replace_file(const char *from, const char *to) {
#ifdef _WIN32
  int tries;
  for (tries = 0; tries < 1000; tries++) {
    if (MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING))
      return 0;
    Sleep(1);
  }
  return -1;
#else
  return rename(from, to);
#endif
}

#endif /* MPROC_EXAMPLES_PORTABLE_H */
