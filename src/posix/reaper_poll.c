/* SPDX-License-Identifier: MIT */
/*
 * The reaper's waiting mechanism where there is no epoll: a poll set,
 * rebuilt from the list of children on every round. A start wakes the
 * reaper thread so that its next round includes the new child. The set
 * holds the descriptors while the thread sleeps in poll(): the thread
 * counts itself among each child's pollers meanwhile, so that no other
 * thread retires the child (closes its descriptor) under it. A child
 * reaped meanwhile is at end of file, so that poll() returns by itself and
 * the thread retires it; no wake-up is needed for that.
 */
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "reaper_wait.h"

#define R mproc__reaper

static struct {
  struct pollfd *fds;
  mproc__child_t **owners;
  size_t capacity;
} P;

int mproc__reaper_wait_init(void) { return 0; }

void mproc__reaper_wait_watch(mproc__child_t *c, int watch) {
  (void)c;
  if (watch)
    mproc__reaper_wake(); /* the next round includes it */
}

static int grow_poll_set(size_t n) {
  struct pollfd *fds;
  mproc__child_t **owners;
  size_t cap;
  if (n <= P.capacity)
    return 0;
  cap = P.capacity ? P.capacity * 2 : 16;
  while (cap < n)
    cap *= 2;
  fds = realloc(P.fds, cap * sizeof *fds);
  if (!fds)
    return MPROC_ENOMEM;
  P.fds = fds;
  owners = realloc(P.owners, cap * sizeof *owners);
  if (!owners)
    return MPROC_ENOMEM;
  P.owners = owners;
  P.capacity = cap;
  return 0;
}

/* Fill the set: the wake pipe, then each child not yet reaped (a child
 * waiting for a waitpid retry sits out the round), counting the thread
 * among the pollers of each descriptor in it. Returns its size, or 0
 * without memory for it. */
static size_t fill_poll_set(void) {
  mproc__child_t *c;
  size_t n = 1;
  for (c = R.head; c; c = c->next)
    if (!c->reaped)
      n++;
  if (grow_poll_set(n) != 0)
    return 0;
  P.fds[0].fd = R.wake[0];
  P.fds[0].events = POLLIN;
  P.owners[0] = NULL;
  n = 1;
  for (c = R.head; c; c = c->next) {
    if (c->reaped)
      continue; /* retired once its pollers are gone */
    P.fds[n].fd = c->retry_ns ? -1 : c->pidfd >= 0 ? c->pidfd : c->status_fd;
    if (P.fds[n].fd >= 0)
      c->pollers++;
    P.fds[n].events = POLLIN;
    P.fds[n].revents = 0;
    P.owners[n++] = c;
  }
  return n;
}

void *mproc__reaper_wait_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&R.lock);
  for (;;) {
    size_t n, i;
    int timeout_ms;
    mproc__reaper_retire_done();
    n = fill_poll_set();
    if (n == 0) {
      /* No memory for the poll set: look again shortly rather than stop
       * reaping. */
      pthread_mutex_unlock(&R.lock);
      usleep(10000);
      pthread_mutex_lock(&R.lock);
      continue;
    }
    timeout_ms = mproc__reaper_retry_timeout_ms();
    pthread_mutex_unlock(&R.lock);
    poll(P.fds, (nfds_t)n, timeout_ms);
    pthread_mutex_lock(&R.lock);
    if (P.fds[0].revents & POLLIN)
      mproc__reaper_drain_wake();
    for (i = 1; i < n; i++) {
      if (P.fds[i].fd >= 0)
        P.owners[i]->pollers--;
      if (P.fds[i].revents)
        mproc__reaper_try_reap(P.owners[i]);
    }
    mproc__reaper_retry_due();
  }
  return NULL;
}

void mproc__reaper_wait_after_fork_child(void) {
  /* The set is rebuilt before every poll: nothing to drop. */
}
