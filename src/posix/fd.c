/* SPDX-License-Identifier: MIT */
/* Descriptor helpers of the POSIX backend; see fd.h. */
#include "fd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc_config.h"
#include "platform.h"

void mproc__posix_close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

int mproc__posix_cloexec_pipe(int fds[2]) {
#if MPROC_HAVE_PIPE2
  if (pipe2(fds, O_CLOEXEC) != 0)
    return mproc__os_translate(errno);
#else
  if (pipe(fds) != 0)
    return mproc__os_translate(errno);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
  return 0;
}

int mproc__posix_status_pipe(int fds[2]) {
#if MPROC_HAVE_PIPE2
  /* One call instead of two. The write end is non-blocking too, which
   * changes nothing: it carries one 4-byte write into an empty pipe. */
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return mproc__os_translate(errno);
  return 0;
#else
  int r = mproc__posix_cloexec_pipe(fds);
  if (r == 0)
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
  return r;
#endif
}

int mproc__posix_socketpair(int fds[2]) {
#if MPROC_HAVE_PIPE2 && defined(SOCK_CLOEXEC)
  /* Where pipe2 is, SOCK_CLOEXEC is too: one call instead of three. */
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return mproc__os_translate(errno);
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    return mproc__os_translate(errno);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
#endif
#if defined(SO_NOSIGPIPE)
  {
    /* Where send() has no MSG_NOSIGNAL, the socket itself says so. */
    int on = 1;
    setsockopt(fds[0], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
    setsockopt(fds[1], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
  }
#endif
  return 0;
}

int mproc__posix_read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t got = read(fd, p, n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return mproc__os_translate(errno);
    if (got == 0)
      return MPROC_ECLOSED;
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

/* One write: send() without SIGPIPE on a socket, write() on anything else. */
static ssize_t write_some(int fd, const void *p, size_t n, int *socket) {
#if defined(MSG_NOSIGNAL)
  if (*socket) {
    ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
    if (put >= 0 || errno != ENOTSOCK)
      return put;
    *socket = 0;
  }
#else
  (void)socket;
#endif
  return write(fd, p, n);
}

/* Write all n bytes; `socket`: try send() first (see write_some). */
static int write_all(int fd, const void *buf, size_t n, int socket) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t put = write_some(fd, p, n, &socket);
    if (put < 0 && errno == EINTR)
      continue;
    if (put < 0)
      return errno == EPIPE ? MPROC_ECLOSED : mproc__os_translate(errno);
    if (put == 0)
      return MPROC_ECLOSED;
    p += put;
    n -= (size_t)put;
  }
  return 0;
}

int mproc__posix_write_all(int fd, const void *buf, size_t n) {
  return write_all(fd, buf, n, 1);
}

int mproc__posix_write_all_pipe(int fd, const void *buf, size_t n) {
  return write_all(fd, buf, n, 0);
}

/* The directory that lists this process's open descriptors. */
static DIR *open_fd_dir(void) {
  DIR *d = opendir("/proc/self/fd");
  return d ? d : opendir("/dev/fd");
}

static int fd_of(const struct dirent *e) {
  const char *p = e->d_name;
  long fd = 0;
  if (*p == 0)
    return -1;
  for (; *p; p++) {
    if (*p < '0' || *p > '9' || fd > 0x7fffffffL / 10)
      return -1;
    fd = fd * 10 + (*p - '0');
  }
  return (int)fd;
}

int mproc__posix_each_open_fd(int from, void (*fn)(int fd, void *ctx),
                              void *ctx) {
  struct dirent *e;
  DIR *d = open_fd_dir();
  if (!d)
    return MPROC_ENOTSUP;
  while ((e = readdir(d)) != NULL) {
    int fd = fd_of(e);
    if (fd >= from && fd != dirfd(d))
      fn(fd, ctx);
  }
  closedir(d);
  return 0;
}

static int is_kept(int fd, const int *keep, size_t nkeep) {
  size_t i;
  for (i = 0; i < nkeep; i++)
    if (keep[i] == fd)
      return 1;
  return 0;
}

/* How many descriptors one pass of close_all_but gathers: closing while
 * the directory is read would disturb the listing, so they are gathered,
 * the directory closed, and another pass made while a pass was full. */
#define CLOSE_BATCH 256

/* One pass: close up to CLOSE_BATCH descriptors; returns how many, or -1
 * when the descriptors cannot be listed. */
static int close_batch(const int *keep, size_t nkeep) {
  int fds[CLOSE_BATCH];
  int n = 0, i;
  struct dirent *e;
  DIR *d = open_fd_dir();
  if (!d)
    return -1;
  while (n < CLOSE_BATCH && (e = readdir(d)) != NULL) {
    int fd = fd_of(e);
    if (fd > 2 && fd != dirfd(d) && !is_kept(fd, keep, nkeep))
      fds[n++] = fd;
  }
  closedir(d);
  for (i = 0; i < n; i++)
    close(fds[i]);
  return n;
}

#if MPROC_HAVE_CLOSE_RANGE
/* close_range(2) around the kept descriptors, in a few system calls and
 * without listing anything; returns -1 when the kernel lacks it. */
static int close_ranges(const int *keep, size_t nkeep) {
  int sorted[16];
  unsigned lo = 3;
  size_t i, j;
  if (nkeep > sizeof sorted / sizeof sorted[0])
    return -1;
  for (i = 0; i < nkeep; i++) { /* insertion sort of a handful */
    int v = keep[i];
    for (j = i; j > 0 && sorted[j - 1] > v; j--)
      sorted[j] = sorted[j - 1];
    sorted[j] = v;
  }
  for (i = 0; i < nkeep; i++) {
    if (sorted[i] < (int)lo)
      continue;
    if ((unsigned)sorted[i] > lo && close_range(lo, (unsigned)sorted[i] - 1, 0))
      return -1;
    lo = (unsigned)sorted[i] + 1;
  }
  return close_range(lo, ~0U, 0) == 0 ? 0 : -1;
}
#else
static int close_ranges(const int *keep, size_t nkeep) {
  (void)keep;
  (void)nkeep;
  return -1;
}
#endif

void mproc__posix_close_all_but(const int *keep, size_t nkeep) {
  struct rlimit lim;
  int n, fd, max = 1024;
  if (close_ranges(keep, nkeep) == 0)
    return;
  do {
    n = close_batch(keep, nkeep);
  } while (n == CLOSE_BATCH);
  if (n >= 0)
    return;
  /* Nothing lists the open descriptors: try every number below the
   * limit. */
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      lim.rlim_cur < 65536)
    max = (int)lim.rlim_cur;
  for (fd = 3; fd < max; fd++)
    if (!is_kept(fd, keep, nkeep))
      close(fd);
}
