/* SPDX-License-Identifier: MIT */
/* An event loop that learns that a child ended from the child's sentinel,
 * without a thread blocked in join: libuv's `uv_poll_t` when the build
 * found libuv, otherwise poll() (POSIX) or WaitForMultipleObjects
 * (Windows). A timer ticks in the same loop while the child runs. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

#if defined(MPROC_EXAMPLE_LIBUV)
#include <uv.h>
#elif defined(_WIN32)
#include <windows.h>
#else
#include <poll.h>
#endif

static int worker(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  sleep_ms(250);
  return 42;
}
MPROC_TARGET(worker);

static mproc_process_t *child;
static int ticks;

static void report_end(void) {
  int code = -1;
  mproc_process_join(child, MPROC_INFINITE);
  mproc_process_exitcode(child, &code);
  /* How many ticks ran depends on the machine's load: not printed. */
  printf("child ended with %d\n", code);
}

#if defined(MPROC_EXAMPLE_LIBUV)
static uv_timer_t timer;
static uv_poll_t watcher;

static void on_tick(uv_timer_t *t) {
  (void)t;
  ticks++;
}

static void on_child_end(uv_poll_t *w, int status, int events) {
  (void)status;
  (void)events;
  report_end();
  uv_poll_stop(w);
  uv_timer_stop(&timer);
  uv_close((uv_handle_t *)w, NULL);
  uv_close((uv_handle_t *)&timer, NULL);
}

static int run_loop(mproc_os_handle_t sentinel) {
  uv_loop_t *loop = uv_default_loop();
  printf("loop: libuv\n");
  uv_timer_init(loop, &timer);
  uv_timer_start(&timer, on_tick, 20, 20);
  uv_poll_init(loop, &watcher, (int)sentinel);
  uv_poll_start(&watcher, UV_READABLE, on_child_end);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
#elif defined(_WIN32)
static int run_loop(mproc_os_handle_t sentinel) {
  printf("loop: WaitForMultipleObjects\n");
  for (;;) {
    HANDLE h = (HANDLE)sentinel;
    DWORD w = WaitForMultipleObjects(1, &h, FALSE, 20);
    if (w == WAIT_OBJECT_0)
      break;
    if (w != WAIT_TIMEOUT)
      return 1;
    ticks++; /* the "timer" */
  }
  report_end();
  return 0;
}
#else
static int run_loop(mproc_os_handle_t sentinel) {
  printf("loop: poll\n");
  for (;;) {
    struct pollfd pfd;
    int n;
    pfd.fd = (int)sentinel;
    pfd.events = POLLIN;
    pfd.revents = 0;
    n = poll(&pfd, 1, 20);
    if (n == 1)
      break;
    if (n < 0)
      return 1;
    ticks++; /* the "timer" */
  }
  report_end();
  return 0;
}
#endif

int main(int argc, char **argv) {
  mproc_os_handle_t sentinel;
  int rc;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  if (mproc_process_create(&child, worker, NULL, 0, NULL) != 0 ||
      mproc_process_start(child) != 0 ||
      mproc_process_sentinel(child, &sentinel) != 0)
    return 1;
  rc = run_loop(sentinel);
  mproc_process_free(child);
  return rc;
}
