/* SPDX-License-Identifier: MIT */
/* What mproc-ps asks of the system besides mproc: the terminal's width,
 * a Windows console's code page, and the wall clock. */
#include <stdlib.h>
#include <time.h>

#ifdef _WIN32
#include <io.h>
#include <stdio.h>
#include <windows.h>
#else
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>
#endif

#include "ps.h"

/* The width of the terminal on standard output; 0 when it is not one (a
 * pipe, a file) or does not say. */
static size_t terminal_width(void) {
#ifdef _WIN32
  CONSOLE_SCREEN_BUFFER_INFO csbi;
  HANDLE out = (HANDLE)_get_osfhandle(_fileno(stdout));
  /* The visible window, not the scroll-back buffer, which is wider. */
  if (_isatty(_fileno(stdout)) && out != INVALID_HANDLE_VALUE &&
      GetConsoleScreenBufferInfo(out, &csbi) &&
      csbi.srWindow.Right >= csbi.srWindow.Left)
    return (size_t)(csbi.srWindow.Right - csbi.srWindow.Left + 1);
  return 0;
#else
  struct winsize ws;
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
      ws.ws_col > 0)
    return ws.ws_col;
  return 0;
#endif
}

/* Names and command lines are UTF-8 (the Windows backend converts them). A
 * Windows console is switched to UTF-8 output while the tool prints, and
 * back afterwards; the code page to restore is returned (0: none). */
unsigned int console_utf8_begin(void) {
#ifdef _WIN32
  UINT previous = GetConsoleOutputCP();
  if (_isatty(_fileno(stdout)) && previous != CP_UTF8 && previous != 0 &&
      SetConsoleOutputCP(CP_UTF8))
    return previous;
#endif
  return 0;
}

void console_utf8_end(unsigned int previous) {
#ifdef _WIN32
  if (previous != 0)
    SetConsoleOutputCP(previous);
#else
  (void)previous;
#endif
}

/* 0 means "do not cut". */
size_t output_width(int wide) {
  const char *columns = getenv("COLUMNS");
  if (wide)
    return 0;
  if (columns != NULL && *columns != '\0') {
    char *end;
    long v = strtol(columns, &end, 10);
    if (*end == '\0' && v > 0)
      return (size_t)v;
  }
  return terminal_width();
}

int64_t wall_clock_ms(void) {
#ifdef _WIN32
  /* FILETIME counts 100 ns since 1601-01-01, 11644473600 s before 1970. */
  FILETIME ft;
  ULARGE_INTEGER u;
  GetSystemTimeAsFileTime(&ft);
  u.LowPart = ft.dwLowDateTime;
  u.HighPart = ft.dwHighDateTime;
  return (int64_t)((u.QuadPart - 116444736000000000ULL) / 10000);
#else
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
#endif
}
