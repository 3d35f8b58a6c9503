/* SPDX-License-Identifier: MIT */
/* POSIX mechanisms the seam needs everywhere: errors, clock, identity,
 * in-process mutexes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "mproc_config.h"
#if MPROC_HAVE_GETRANDOM
#include <sys/random.h>
#endif
#include "fd.h"
#include "platform.h"

#if MPROC_HAVE_GETAUXVAL
#include <sys/auxv.h>
#endif

int mproc__os_translate(int native_error) {
  switch (native_error) {
  case 0:
    return 0;
  case ENOMEM:
    return MPROC_ENOMEM;
  case ESRCH:
    return MPROC_ESRCH;
  case EPERM:
  case EACCES:
    return MPROC_EPERM;
  case ETIMEDOUT:
    return MPROC_ETIMEDOUT;
  default:
    return mproc__os_fail(native_error);
  }
}

int64_t mproc__clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

mproc_pid_t mproc__os_getpid(void) { return (mproc_pid_t)getpid(); }

mproc_pid_t mproc__os_getppid(void) { return (mproc_pid_t)getppid(); }

int mproc__os_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void mproc__mutex_init(mproc__mutex_t *m) { pthread_mutex_init(m, NULL); }

void mproc__mutex_lock(mproc__mutex_t *m) { pthread_mutex_lock(m); }

void mproc__mutex_unlock(mproc__mutex_t *m) { pthread_mutex_unlock(m); }

/* ---- spawned children ------------------------------------------------ */

int mproc__os_secure_mode(void) {
#if MPROC_HAVE_GETAUXVAL
  if (getauxval(AT_SECURE))
    return 1;
#endif
#if MPROC_HAVE_ISSETUGID
  if (issetugid())
    return 1;
#endif
  return getuid() != geteuid() || getgid() != getegid();
}

int mproc__os_channel_read(int64_t channel, void *buf, size_t n) {
  return mproc__posix_read_all((int)channel, buf, n);
}

int mproc__os_channel_write(int64_t channel, const void *buf, size_t n) {
  return mproc__posix_write_all((int)channel, buf, n);
}

void mproc__os_channel_close(int64_t channel) { close((int)channel); }

int mproc__os_random(void *buf, size_t n) {
  int fd, r = 0;
#if MPROC_HAVE_GETRANDOM
  /* One call, no descriptor; the file below where the kernel has none. */
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    p += got;
    n -= (size_t)got;
  }
  if (n == 0)
    return 0;
  buf = p;
#endif
  do {
    fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return mproc__os_translate(errno);
  r = mproc__os_channel_read(fd, buf, n);
  close(fd);
  return r;
}

void mproc__os_exit(int code) { _exit(code); }
