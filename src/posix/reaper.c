/* SPDX-License-Identifier: MIT */
/*
 * Reaping children on POSIX: one thread per process watches every child that
 * has not been reaped yet and reaps it as soon as it ends, so no child of
 * ours is ever left a zombie, joined or not. It waits on each child's pidfd
 * (Linux) or on EOF of its status pipe (everywhere), and calls waitpid() on
 * that pid alone: mproc never reaps a child it did not start. This file
 * holds the list, the reaping, and the seam's wait, signal and release; how
 * the thread waits (epoll or poll) is in the file reaper_wait.h names.
 *
 * A descriptor a thread may be waiting on is never closed under it: a
 * reaped child is retired (its descriptors closed) by whichever thread finds
 * that nobody polls it any more (c->pollers counts the joiners in poll(),
 * and the reaper thread itself while its poll set holds the descriptor).
 * Retiring never waits for a wake-up: a reaped child's descriptor is at end
 * of file, so a poll that holds it returns by itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "fd.h"
#include "mproc_config.h"
#include "reaper_wait.h"
#include "waitable.h"

mproc__reaper_t mproc__reaper = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, {-1, -1}, NULL};

#define R mproc__reaper

int mproc__self_status_fd = -1;

void mproc__reaper_lock(void) { pthread_mutex_lock(&R.lock); }

void mproc__reaper_unlock(void) { pthread_mutex_unlock(&R.lock); }

void mproc__reaper_wake(void) {
  char byte = 1;
  ssize_t n;
  if (R.wake[1] < 0)
    return;
  do {
    n = write(R.wake[1], &byte, 1);
  } while (n < 0 && errno == EINTR);
  /* EAGAIN means a wake-up is already pending: nothing is lost. */
}

static int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return -WTERMSIG(status);
  return MPROC_EXITCODE_UNKNOWN;
}

/* Read what the child wrote to its status pipe, without blocking. */
static void drain_status(mproc__child_t *c) {
  while (c->status_fd >= 0 && !c->status_eof) {
    unsigned char buf[16];
    ssize_t n = read(c->status_fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = sizeof c->status_buf - c->status_len;
      size_t take = (size_t)n < room ? (size_t)n : room;
      memcpy(c->status_buf + c->status_len, buf, take);
      c->status_len += take;
    } else if (n == 0) {
      c->status_eof = 1;
    } else if (errno != EINTR) {
      break; /* EAGAIN: nothing more for now */
    }
  }
}

/* A fork server's socket: peek at the exit code the server writes there
 * once it has reaped the child, leaving it in the socket, so that a
 * sentinel (a copy of it) stays readable. The end of file may be long in
 * coming: a fork of the server holds a copy of every child's socket until
 * it has closed them, and it may be stopped in between. */
static void peek_status(mproc__child_t *c) {
  ssize_t n;
  do {
    n = recv(c->status_fd, c->status_buf, sizeof c->status_buf,
             MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof c->status_buf)
    c->status_len = sizeof c->status_buf;
  else if (n == 0)
    c->status_eof = 1; /* the server is gone, the code with it */
}

/* The exit code the status bytes tell, or the signal mproc sent. */
static int status_code(const mproc__child_t *c) {
  if (c->status_len == sizeof c->status_buf) {
    int32_t code;
    memcpy(&code, c->status_buf, sizeof code);
    return code;
  }
  if (c->sent_signal)
    return -c->sent_signal;
  return MPROC_EXITCODE_UNKNOWN;
}

/* The exit code when waitpid() cannot tell it: the kernel reaped the child
 * itself because SIGCHLD is ignored. */
static int lost_status_code(mproc__child_t *c) {
  drain_status(c);
  return status_code(c);
}

static void mark_reaped(mproc__child_t *c, int exitcode) {
  c->exitcode = exitcode;
  c->reaped = 1;
  c->retry_ns = 0;
  pthread_cond_broadcast(&R.cond);
  mproc__process_reaped(); /* waits on many (src/wait.c) */
}

/* Try to reap c without blocking. Called with R.lock held. */
void mproc__reaper_try_reap(mproc__child_t *c) {
  int status = 0;
  pid_t r;
  if (c->reaped)
    return;
  if (c->foreign) {
    /* A fork server's child, not ours to wait for: its code, which the
     * server writes once it has reaped it, or the end of file without it
     * (the server is gone) tells that it ended. */
    peek_status(c);
    if (c->status_len == sizeof c->status_buf || c->status_eof)
      mark_reaped(c, status_code(c));
    return;
  }
  if (c->pidfd < 0) {
    /* Portable path: the status pipe reaches EOF when the child is gone
     * (or, rarely, when it closed the descriptor itself). */
    drain_status(c);
    if (!c->status_eof)
      return;
  }
  do {
    r = waitpid(c->pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == c->pid) {
    mark_reaped(c, decode_status(status));
  } else if (r < 0) {
    /* ECHILD: SIGCHLD is ignored and the kernel reaped it. */
    mark_reaped(c, lost_status_code(c));
  } else if (c->pidfd < 0) {
    /* EOF came before the child became waitable: it is in the middle of
     * exiting, or closed the pipe itself. Look again soon, backing off. */
    if (c->retry_step == 0)
      c->retry_step = 1000000;
    c->retry_ns = mproc__clock_ns() + c->retry_step;
    if (c->retry_step < 100000000)
      c->retry_step *= 2;
    /* The end of file stays readable, and the waiting mechanism would
     * report it at once, again and again, until the child is waitable: the
     * retry time wakes the reaper instead. A joiner may be the one here,
     * while the reaper sleeps without that time: it is woken to take it
     * into account. */
    mproc__reaper_wait_watch(c, 0);
    mproc__reaper_wake();
  }
}

/* Remove a reaped child from the watch list and close its descriptors.
 * Called with R.lock held, when nobody polls it. */
static void retire(mproc__child_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    R.head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
  mproc__reaper_wait_watch(c, 0);
  mproc__posix_close_fd(&c->pidfd);
  mproc__posix_close_fd(&c->status_fd);
  c->retired = 1;
  if (c->released)
    free(c);
}

/* Retire a reaped child nobody polls any more. */
static void retire_if_done(mproc__child_t *c) {
  if (c->reaped && !c->retired && c->pollers == 0)
    retire(c);
}

void mproc__reaper_retire_done(void) {
  mproc__child_t *c, *next;
  for (c = R.head; c; c = next) {
    next = c->next;
    if (c->reaped && c->pollers == 0)
      retire(c);
  }
}

int mproc__reaper_retry_timeout_ms(void) {
  const mproc__child_t *c;
  int64_t now = mproc__clock_ns(), soonest = -1;
  for (c = R.head; c; c = c->next)
    if (c->retry_ns && (soonest < 0 || c->retry_ns < soonest))
      soonest = c->retry_ns;
  if (soonest < 0)
    return -1;
  return soonest <= now ? 0 : (int)((soonest - now + 999999) / 1000000);
}

void mproc__reaper_retry_due(void) {
  mproc__child_t *c;
  int64_t now = mproc__clock_ns();
  for (c = R.head; c; c = c->next) {
    if (c->retry_ns && c->retry_ns <= now) {
      c->retry_ns = 0;
      mproc__reaper_try_reap(c);
    }
  }
}

void mproc__reaper_drain_wake(void) {
  char buf[64];
  while (read(R.wake[0], buf, sizeof buf) > 0) {
  }
}

static int make_wake_pipe(void) {
  int i;
  if (pipe(R.wake) != 0)
    return mproc__os_translate(errno);
  for (i = 0; i < 2; i++) {
    fcntl(R.wake[i], F_SETFD, FD_CLOEXEC);
    fcntl(R.wake[i], F_SETFL, O_NONBLOCK);
  }
  return 0;
}

/* Start the reaper thread. Called with R.lock held. */
static int start_reaper(void) {
  pthread_t thread;
  pthread_attr_t attr;
  sigset_t all, old;
  int r;
  if (R.running)
    return 0;
  if (R.wake[0] < 0 && (r = make_wake_pipe()) != 0)
    return r;
  if (!R.cond_ready) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
#if MPROC_HAVE_CONDATTR_SETCLOCK
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
#endif
    pthread_cond_init(&R.cond, &ca);
    pthread_condattr_destroy(&ca);
    R.cond_ready = 1;
  }
  if ((r = mproc__reaper_wait_init()) != 0)
    return r;
  /* The application's signals must not land on our thread. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  r = pthread_create(&thread, &attr, mproc__reaper_wait_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0)
    return mproc__os_translate(r);
  R.running = 1;
  return 0;
}

void mproc__reaper_add(mproc__child_t *c, pid_t pid, int status_fd) {
  c->pid = pid;
  c->status_fd = status_fd;
  c->pidfd = -1;
#if MPROC_HAVE_PIDFD_OPEN
  /* A kernel without pidfd_open (ENOSYS) leaves the status pipe to tell;
   * a fork server's child is not ours to open. */
  if (!c->foreign) /* close-on-exec already (pidfd_open(2)) */
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  c->next = R.head;
  c->prev = NULL;
  if (R.head)
    R.head->prev = c;
  R.head = c;
  if (start_reaper() == 0)
    mproc__reaper_wait_watch(c, 1);
  /* Without a reaper thread (no threads left to create), children are still
   * reaped by every wait on them: try_reap() runs there too. */
}

void mproc__reaper_after_fork_child(void) {
  mproc__child_t *c;
  pthread_mutex_init(&R.lock, NULL);
  R.cond_ready = 0;
  R.running = 0;
  for (c = R.head; c; c = c->next) {
    mproc__posix_close_fd(&c->pidfd);
    mproc__posix_close_fd(&c->status_fd);
  }
  R.head = NULL;
  mproc__reaper_wait_after_fork_child();
  mproc__posix_close_fd(&R.wake[0]);
  mproc__posix_close_fd(&R.wake[1]);
  /* Our parent's status pipe belongs to us alone, not to our children. */
  mproc__posix_close_fd(&mproc__self_status_fd);
}

/* pthread_cond_timedwait on the monotonic clock where the platform can. */
static int cond_wait_until(int64_t deadline_ns) {
  struct timespec ts;
  int64_t when = deadline_ns;
#if !MPROC_HAVE_CONDATTR_SETCLOCK
  /* No monotonic condition variables here: convert to wall time. */
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  when = deadline_ns - mproc__clock_ns() +
         ((int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec);
#endif
  ts.tv_sec = (time_t)(when / 1000000000);
  ts.tv_nsec = (long)(when % 1000000000);
  return pthread_cond_timedwait(&R.cond, &R.lock, &ts);
}

/* Wait on the child's own descriptor, as the reaper thread does: the
 * joiner learns of the exit without a hand-off through that thread. The
 * descriptor stays open while c->pollers is set. Called with R.lock held. */
static void poll_child(mproc__child_t *c, int64_t deadline_ns) {
  struct pollfd pfd;
  int64_t left = mproc__timeout_left(deadline_ns);
  pfd.fd = c->pidfd >= 0 ? c->pidfd : c->status_fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  /* While a joiner watches the child, the reaper thread need not wake for
   * it too. */
  if (c->pollers == 0)
    mproc__reaper_wait_watch(c, 0);
  c->pollers++;
  pthread_mutex_unlock(&R.lock);
  poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
  pthread_mutex_lock(&R.lock);
  c->pollers--;
  mproc__reaper_try_reap(c);
  /* Not while a waitpid retry is pending: its end of file would be
   * reported again at once (see mproc__reaper_try_reap). */
  if (!c->reaped && c->pollers == 0 && !c->retry_ns)
    mproc__reaper_wait_watch(c, 1);
}

/* 1 when a joiner may poll c's own descriptor (see poll_child). */
static int pollable(const mproc__child_t *c) {
  return c->pidfd >= 0 || (c->status_fd >= 0 && !c->status_eof && !c->retry_ns);
}

int mproc__child_wait(mproc__child_t *c, int64_t timeout_ms, int *exitcode) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  int r = 0;
  pthread_mutex_lock(&R.lock);
  /* A wait without end that polls the descriptor learns from that poll
   * whether the child has ended already: no need to look before. */
  if (deadline != MPROC_INFINITE || !R.running || !pollable(c))
    mproc__reaper_try_reap(c);
  while (!c->reaped) {
    int64_t now = mproc__clock_ns();
    if (deadline != MPROC_INFINITE && now >= deadline) {
      r = MPROC_ETIMEDOUT;
      break;
    }
    if (!R.running) {
      /* No reaper thread: wait in small sleeps ourselves. */
      pthread_mutex_unlock(&R.lock);
      usleep(1000);
      pthread_mutex_lock(&R.lock);
    } else if (pollable(c)) {
      poll_child(c, deadline);
    } else if (deadline == MPROC_INFINITE) {
      pthread_cond_wait(&R.cond, &R.lock);
    } else {
      cond_wait_until(deadline);
    }
    mproc__reaper_try_reap(c);
  }
  if (r == 0)
    *exitcode = c->exitcode;
  retire_if_done(c);
  pthread_mutex_unlock(&R.lock);
  return r;
}

int mproc__child_signal(mproc__child_t *c, int sig) {
  int signo = sig == MPROC__SIG_KILL ? SIGKILL : SIGTERM;
  int r = 0;
  pthread_mutex_lock(&R.lock);
  mproc__reaper_try_reap(c);
  if (!c->reaped) {
    int rc;
#if MPROC_HAVE_PIDFD_OPEN && defined(SYS_pidfd_send_signal)
    /* Through the pidfd the signal cannot reach a process that reused the
     * pid after the kernel reaped ours (SIGCHLD ignored). */
    if (c->pidfd >= 0)
      rc = (int)syscall(SYS_pidfd_send_signal, c->pidfd, signo, NULL, 0);
    else
#endif
      rc = kill(c->pid, signo);
    if (rc != 0 && errno != ESRCH)
      r = mproc__os_translate(errno);
    else
      c->sent_signal = signo;
  }
  pthread_mutex_unlock(&R.lock);
  return r;
}

mproc_pid_t mproc__child_pid(const mproc__child_t *c) {
  return (mproc_pid_t)c->pid;
}

void mproc__child_release(mproc__child_t *c) {
  pthread_mutex_lock(&R.lock);
  c->released = 1;
  /* Free it here only once it is retired (descriptors closed, off the
   * list); otherwise whoever retires it frees it. */
  if (c->retired)
    free(c);
  else if (c->reaped && c->pollers == 0)
    retire(c); /* frees it */
  pthread_mutex_unlock(&R.lock);
}
