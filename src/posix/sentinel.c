/* SPDX-License-Identifier: MIT */
/*
 * Process sentinels on POSIX: a descriptor of its own that polls readable
 * once the child has ended, for the application's poll, epoll, kqueue or
 * event loop.
 *
 * It is a duplicate of what the reaper itself watches: the child's pidfd
 * (Linux), readable from the instant the child exits, or the read end of
 * its status pipe, at end of file from the instant the child's last
 * descriptor closed, that is when it exited. Both stay readable for good,
 * and the duplicate is ours, so the reaper closing its own copy after the
 * reap changes nothing. A child already retired has no descriptor left to
 * copy; its sentinel is then a pipe whose writer is closed, readable at
 * once, as an ended process's sentinel is.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "child.h"

static int ready_pipe(int *out) {
  int fds[2];
  if (pipe(fds) != 0)
    return mproc__os_translate(errno);
  close(fds[1]);
  *out = fds[0];
  return 0;
}

int mproc__child_sentinel(mproc__child_t *c, mproc__pipe_t *out) {
  int fd = -1, src, r = 0;
  /* Under the reaper's lock: its thread closes the record's descriptors
   * when it retires the child. */
  mproc__reaper_lock();
  src = c->pidfd >= 0 ? c->pidfd : c->status_fd;
  if (!c->retired && src >= 0) {
    fd = fcntl(src, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
      r = mproc__os_translate(errno);
  }
  mproc__reaper_unlock();
  if (r == 0 && fd < 0)
    r = ready_pipe(&fd);
  if (r != 0)
    return r;
  /* Known to src/posix/pipe.c: close-on-exec and closed in fork children,
   * which must not hold a sentinel of their parent's child. */
  mproc__posix_pipe_adopt(fd);
  *out = (mproc__pipe_t)fd;
  return 0;
}
