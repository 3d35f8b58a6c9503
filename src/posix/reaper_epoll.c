/* SPDX-License-Identifier: MIT */
/*
 * The reaper's waiting mechanism on Linux: one epoll set. A starting thread
 * adds its child to the set itself, so neither a start nor a join needs the
 * reaper thread to wake; a joiner takes the child out of the set while it
 * polls the descriptor itself. Since the set drops a descriptor when it is
 * removed, any thread may retire a reaped child.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fd.h"
#include "reaper_wait.h"

#define R mproc__reaper

static int epfd = -1;

static int watch_fd(const mproc__child_t *c) {
  return c->pidfd >= 0 ? c->pidfd : c->status_fd;
}

int mproc__reaper_wait_init(void) {
  struct epoll_event ev;
  if (epfd >= 0)
    return 0;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0)
    return mproc__os_translate(errno);
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; /* the wake pipe */
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, R.wake[0], &ev) != 0) {
    int r = mproc__os_translate(errno);
    mproc__posix_close_fd(&epfd);
    return r;
  }
  return 0;
}

void mproc__reaper_wait_watch(mproc__child_t *c, int watch) {
  struct epoll_event ev;
  /* A forked child may briefly hold a copy of the descriptor; without the
   * explicit removal the registration would outlive our close. */
  if (epfd < 0 || watch_fd(c) < 0 || c->watched == watch)
    return;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(epfd, watch ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, watch_fd(c),
                &ev) == 0)
    c->watched = watch;
}

static int on_list(const mproc__child_t *c) {
  const mproc__child_t *it;
  for (it = R.head; it; it = it->next)
    if (it == c)
      return 1;
  return 0;
}

void *mproc__reaper_wait_main(void *unused) {
  struct epoll_event events[32];
  (void)unused;
  pthread_mutex_lock(&R.lock);
  for (;;) {
    int i, n, timeout_ms;
    mproc__reaper_retire_done();
    timeout_ms = mproc__reaper_retry_timeout_ms();
    pthread_mutex_unlock(&R.lock);
    n = epoll_wait(epfd, events, 32, timeout_ms);
    pthread_mutex_lock(&R.lock);
    for (i = 0; i < n; i++) {
      mproc__child_t *c = events[i].data.ptr;
      if (!c)
        mproc__reaper_drain_wake();
      else if (on_list(c))
        /* An event fetched before the child was retired names memory that
         * may be gone or reused: only a listed child is touched. */
        mproc__reaper_try_reap(c);
    }
    mproc__reaper_retry_due();
  }
  return NULL;
}

void mproc__reaper_wait_after_fork_child(void) { mproc__posix_close_fd(&epfd); }
