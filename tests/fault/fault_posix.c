/* SPDX-License-Identifier: MIT */
/*
 * The wrappers the fault-injection build of mproc calls instead of the
 * system's functions (POSIX). Each counts the call and, when the table says
 * so, fails it the way the system can: -1 with errno, an error number for
 * the calls that return one (posix_spawn, pthread_create), NULL for
 * allocations, an early return for condition waits (a spurious wake-up).
 * Calls that cannot fail on a working system (close, clock_gettime, the
 * lock operations) are not wrapped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_core.h"
#include "mproc.h"

#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#endif
#ifndef FUTEX_WAIT_BITSET
#define FUTEX_WAIT_BITSET 9
#endif

#define SITE __builtin_return_address(0)
#define FAIL_ERRNO(fn, plausible, intr)                                        \
  do {                                                                         \
    int e_ = mproc__fi_decide(fn, SITE, plausible, intr);                      \
    if (e_) {                                                                  \
      errno = e_;                                                              \
      return -1;                                                               \
    }                                                                          \
  } while (0)

/* ---- processes -------------------------------------------------------- */

pid_t mproc__fi_fork(void) {
  pid_t pid;
  FAIL_ERRNO("fork", EAGAIN, 0);
  pid = fork();
  if (pid == 0)
    mproc__fi_leave_nth();
  return pid;
}

#if defined(__linux__)
/* mproc's own spawn (src/posix/spawn.c): clone(CLONE_VM | CLONE_VFORK). */
int mproc__fi_clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
  FAIL_ERRNO("clone", EAGAIN, 0);
  return clone(fn, stack, flags, arg);
}
#endif

int mproc__fi_posix_spawn(pid_t *pid, const char *path,
                          const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[],
                          char *const envp[]) {
  int e = mproc__fi_decide("posix_spawn", SITE, EAGAIN, 0);
  if (e)
    return e;
  return posix_spawn(pid, path, fa, attr, argv, envp);
}

/* The file actions of a spawn: each may need memory. */
int mproc__fi_posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa) {
  int e = mproc__fi_decide("posix_spawn_file_actions_init", SITE, ENOMEM, 0);
  if (e)
    return e;
  return posix_spawn_file_actions_init(fa);
}

int mproc__fi_posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa,
                                               int fd, int to) {
  int e = mproc__fi_decide("posix_spawn_file_actions_adddup2", SITE, ENOMEM, 0);
  if (e)
    return e;
  return posix_spawn_file_actions_adddup2(fa, fd, to);
}

int mproc__fi_posix_spawn_file_actions_addclose(posix_spawn_file_actions_t *fa,
                                                int fd) {
  int e =
      mproc__fi_decide("posix_spawn_file_actions_addclose", SITE, ENOMEM, 0);
  if (e)
    return e;
  return posix_spawn_file_actions_addclose(fa, fd);
}

pid_t mproc__fi_waitpid(pid_t pid, int *status, int options) {
  FAIL_ERRNO("waitpid", EINTR, 1);
  return waitpid(pid, status, options);
}

int mproc__fi_pthread_create(pthread_t *t, const pthread_attr_t *attr,
                             void *(*fn)(void *), void *arg) {
  int e = mproc__fi_decide("pthread_create", SITE, EAGAIN, 0);
  if (e)
    return e;
  return pthread_create(t, attr, fn, arg);
}

/* ---- descriptors -------------------------------------------------------- */

int mproc__fi_pipe(int fds[2]) {
  FAIL_ERRNO("pipe", EMFILE, 0);
  return pipe(fds);
}

int mproc__fi_pipe2(int fds[2], int flags) {
  FAIL_ERRNO("pipe2", EMFILE, 0);
  return pipe2(fds, flags);
}

int mproc__fi_socketpair(int domain, int type, int protocol, int sv[2]) {
  FAIL_ERRNO("socketpair", EMFILE, 0);
  return socketpair(domain, type, protocol, sv);
}

int mproc__fi_epoll_create1(int flags) {
  FAIL_ERRNO("epoll_create1", EMFILE, 0);
  return epoll_create1(flags);
}

/* open's third argument, there only when the flags create a file. */
#define TAKE_MODE(flags, m)                                                    \
  do {                                                                         \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                     \
      va_list ap;                                                              \
      va_start(ap, flags);                                                     \
      m = (mode_t)va_arg(ap, int);                                             \
      va_end(ap);                                                              \
    }                                                                          \
  } while (0)

int mproc__fi_open(const char *path, int flags, ...) {
  mode_t m = 0;
  TAKE_MODE(flags, m);
  FAIL_ERRNO("open", EMFILE, 1);
  return open(path, flags, m);
}

int mproc__fi_openat(int dir, const char *path, int flags, ...) {
  mode_t m = 0;
  TAKE_MODE(flags, m);
  FAIL_ERRNO("openat", EMFILE, 1);
  return openat(dir, path, flags, m);
}

/* The descriptor walk (a spawn's closes, where no close-range action
 * exists) and the listings of /proc and /dev/shm. */
DIR *mproc__fi_opendir(const char *path) {
  int e = mproc__fi_decide("opendir", SITE, EMFILE, 0);
  if (e) {
    errno = e;
    return NULL;
  }
  return opendir(path);
}

/* ---- reads, writes and waits ------------------------------------------- */

ssize_t mproc__fi_read(int fd, void *buf, size_t n) {
  FAIL_ERRNO("read", EIO, 1);
  return read(fd, buf, n);
}

ssize_t mproc__fi_write(int fd, const void *buf, size_t n) {
  FAIL_ERRNO("write", EIO, 1);
  return write(fd, buf, n);
}

ssize_t mproc__fi_send(int fd, const void *buf, size_t n, int flags) {
  FAIL_ERRNO("send", EIO, 1);
  return send(fd, buf, n, flags);
}

ssize_t mproc__fi_sendmsg(int fd, const struct msghdr *msg, int flags) {
  FAIL_ERRNO("sendmsg", EIO, 1);
  return sendmsg(fd, msg, flags);
}

ssize_t mproc__fi_recvmsg(int fd, struct msghdr *msg, int flags) {
  FAIL_ERRNO("recvmsg", EIO, 1);
  return recvmsg(fd, msg, flags);
}

int mproc__fi_poll(struct pollfd *fds, nfds_t n, int timeout) {
  FAIL_ERRNO("poll", EINTR, 1);
  return poll(fds, n, timeout);
}

int mproc__fi_epoll_wait(int epfd, struct epoll_event *ev, int max,
                         int timeout) {
  FAIL_ERRNO("epoll_wait", EINTR, 1);
  return epoll_wait(epfd, ev, max, timeout);
}

int mproc__fi_sigtimedwait(const sigset_t *set, siginfo_t *info,
                           const struct timespec *timeout) {
  FAIL_ERRNO("sigtimedwait", EINTR, 1);
  return sigtimedwait(set, info, timeout);
}

int mproc__fi_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  if (mproc__fi_decide("pthread_cond_wait", SITE, EINTR, 1))
    return 0; /* a spurious wake-up, the mutex still held */
  return pthread_cond_wait(c, m);
}

int mproc__fi_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *t) {
  if (mproc__fi_decide("pthread_cond_timedwait", SITE, EINTR, 1))
    return 0;
  return pthread_cond_timedwait(c, m, t);
}

long mproc__fi_syscall(long n, ...) {
  long a[6];
  va_list ap;
  int i;
  va_start(ap, n);
  for (i = 0; i < 6; i++)
    a[i] = va_arg(ap, long);
  va_end(ap);
  if (n == SYS_futex &&
      ((a[1] & 0x7f) == FUTEX_WAIT || (a[1] & 0x7f) == FUTEX_WAIT_BITSET)) {
    FAIL_ERRNO("futex_wait", EINTR, 1);
  }
#ifdef SYS_pidfd_open
  else if (n == SYS_pidfd_open) {
    FAIL_ERRNO("pidfd_open", EMFILE, 0);
  }
#endif
  return syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- shared memory --------------------------------------------------------
 */

int mproc__fi_shm_open(const char *name, int flags, mode_t m) {
  FAIL_ERRNO("shm_open", EMFILE, 1);
  return shm_open(name, flags, m);
}

int mproc__fi_ftruncate(int fd, off_t size) {
  FAIL_ERRNO("ftruncate", ENOSPC, 1);
  return ftruncate(fd, size);
}

void *mproc__fi_mmap(void *addr, size_t n, int prot, int flags, int fd,
                     off_t off) {
  int e = mproc__fi_decide("mmap", SITE, ENOMEM, 0);
  if (e) {
    errno = e;
    return MAP_FAILED;
  }
  return mmap(addr, n, prot, flags, fd, off);
}
