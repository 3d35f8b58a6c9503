/* SPDX-License-Identifier: MIT */
/*
 * Pipes for the Pool on POSIX: creation, whole reads and writes with EINTR
 * handling, non-blocking reads, and a wait on many read ends at once.
 *
 * A worker detects nothing by itself; the parent learns that a worker died
 * from end of file on that worker's result pipe. That only works while the
 * worker is the one process holding the write end, so every pipe made here
 * is recorded, and a pthread_atfork handler closes all of them in every
 * fork child except the ends the forking thread asked to keep. Close-on-exec
 * covers children that exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "fd.h"
#include "mproc_config.h"
#include "platform.h"

static struct {
  pthread_mutex_t lock;
  int *fds; /* every open end made by mproc__pipe_create */
  size_t count, capacity;
  int atfork_registered;
} P = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0};

/* The ends the next fork from this thread keeps. */
static MPROC__THREAD_LOCAL int keep_fd[2] = {-1, -1};

static void atfork_prepare(void) { pthread_mutex_lock(&P.lock); }

static void atfork_parent(void) { pthread_mutex_unlock(&P.lock); }

static void atfork_child(void) {
  size_t i, kept = 0;
  /* Single-threaded here, and the lock was held across fork: the list is
   * consistent. The kept ends stay recorded so that this child's own
   * children do not inherit them either. */
  for (i = 0; i < P.count; i++) {
    int fd = P.fds[i];
    if (fd == keep_fd[0] || fd == keep_fd[1])
      P.fds[kept++] = fd;
    else
      close(fd);
  }
  P.count = kept;
  keep_fd[0] = keep_fd[1] = -1;
  pthread_mutex_init(&P.lock, NULL);
}

/* Called with P.lock held. */
static int record(int fd) {
  if (P.count == P.capacity) {
    size_t cap = P.capacity ? P.capacity * 2 : 32;
    int *fds = realloc(P.fds, cap * sizeof *fds);
    if (!fds)
      return MPROC_ENOMEM;
    P.fds = fds;
    P.capacity = cap;
  }
  P.fds[P.count++] = fd;
  return 0;
}

/* Called with P.lock held. */
static void forget(int fd) {
  size_t i;
  for (i = 0; i < P.count; i++) {
    if (P.fds[i] == fd) {
      P.fds[i] = P.fds[--P.count];
      return;
    }
  }
}

int mproc__pipe_create(mproc__pipe_t *read_end, mproc__pipe_t *write_end) {
  int fds[2];
  int r = 0;
  pthread_mutex_lock(&P.lock);
  if (!P.atfork_registered) {
    if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0) {
      pthread_mutex_unlock(&P.lock);
      return MPROC_ENOMEM;
    }
    P.atfork_registered = 1;
  }
  /* Created and recorded under the lock, so that no fork in another thread
   * sees an end that is not recorded yet. */
  if ((r = mproc__posix_cloexec_pipe(fds)) != 0)
    goto finish;
#ifdef F_SETNOSIGPIPE
  /* macOS: a write to a closed pipe fails with EPIPE, never a signal. */
  fcntl(fds[1], F_SETNOSIGPIPE, 1);
#endif
  if ((r = record(fds[0])) != 0 || (r = record(fds[1])) != 0) {
    forget(fds[0]);
    close(fds[0]);
    close(fds[1]);
    goto finish;
  }
  *read_end = fds[0];
  *write_end = fds[1];

finish:
  pthread_mutex_unlock(&P.lock);
  return r;
}

void mproc__posix_pipe_adopt(int fd) {
  if (fd < 0)
    return;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  pthread_mutex_lock(&P.lock);
  if (!P.atfork_registered &&
      pthread_atfork(atfork_prepare, atfork_parent, atfork_child) == 0)
    P.atfork_registered = 1;
  /* Without memory it is not recorded: a fork child would keep a copy,
   * which costs only the early notice of this process's death. */
  (void)record(fd);
  pthread_mutex_unlock(&P.lock);
}

void mproc__pipe_close(mproc__pipe_t *end) {
  int fd = (int)*end;
  if (*end == MPROC__PIPE_INVALID)
    return;
  *end = MPROC__PIPE_INVALID;
  /* Closed under the lock: a fork in another thread must not copy a
   * descriptor number that is closed and perhaps reused by then. */
  pthread_mutex_lock(&P.lock);
  forget(fd);
  close(fd);
  pthread_mutex_unlock(&P.lock);
}

void mproc__pipe_keep_in_child(mproc__pipe_t a, mproc__pipe_t b) {
  keep_fd[0] = (int)a;
  keep_fd[1] = (int)b;
}

int mproc__pipe_set_nonblocking(mproc__pipe_t end) {
  int fd = (int)end;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return mproc__os_translate(errno);
  return 0;
}

static int write_loop(int fd, const char *p, size_t n) {
  return mproc__posix_write_all_pipe(fd, p, n);
}

int mproc__pipe_write_all(mproc__pipe_t end, const void *buf, size_t n) {
#ifdef F_SETNOSIGPIPE
  return write_loop((int)end, buf, n); /* the pipe never raises SIGPIPE */
#else
  /* A write to a pipe whose reader is gone raises SIGPIPE in the writing
   * thread. mproc's own threads block every signal; an application's
   * thread (one calling mproc_pool_apply()) has SIGPIPE blocked for the
   * write, and a SIGPIPE the write raised is taken back before its mask is
   * restored. */
  sigset_t pipe_only, old;
  int r;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  if (pthread_sigmask(SIG_BLOCK, &pipe_only, &old) != 0)
    return write_loop((int)end, buf, n);
  r = write_loop((int)end, buf, n);
  if (!sigismember(&old, SIGPIPE)) {
    if (r == MPROC_ECLOSED) {
      struct timespec zero = {0, 0};
      while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return r;
#endif
}

int mproc__pipe_read_all(mproc__pipe_t end, void *buf, size_t n) {
  return mproc__posix_read_all((int)end, buf, n);
}

int mproc__pipe_read_some(mproc__pipe_t end, void *buf, size_t n, size_t *got) {
  ssize_t r;
  do {
    r = read((int)end, buf, n);
  } while (r < 0 && errno == EINTR);
  if (r > 0) {
    *got = (size_t)r;
    return 0;
  }
  if (r == 0)
    return MPROC_ECLOSED;
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return MPROC_EEMPTY;
  return mproc__os_translate(errno);
}

int mproc__pipe_wait_readable(const mproc__pipe_t *ends, size_t n,
                              int64_t deadline_ns, unsigned char *ready) {
  struct pollfd stack[64];
  struct pollfd *fds = n <= 64 ? stack : malloc(n * sizeof *fds);
  size_t i;
  int r = 0;
  if (!fds)
    return MPROC_ENOMEM;
  for (i = 0; i < n; i++) {
    fds[i].fd = (int)ends[i];
    fds[i].events = POLLIN;
    fds[i].revents = 0;
  }
  for (;;) {
    int64_t left = mproc__timeout_left(deadline_ns);
    int timeout = left == MPROC_INFINITE ? -1
                  : left > 1000000       ? 1000000
                                         : (int)left;
    int k = poll(fds, (nfds_t)n, timeout);
    if (k > 0)
      break;
    if (k < 0 && errno != EINTR) {
      r = mproc__os_translate(errno);
      goto finish;
    }
    if (k == 0 && deadline_ns != MPROC_INFINITE &&
        mproc__timeout_left(deadline_ns) == 0) {
      r = MPROC_ETIMEDOUT;
      goto finish;
    }
  }
  for (i = 0; i < n; i++)
    ready[i] = (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;

finish:
  if (fds != stack)
    free(fds);
  return r;
}
