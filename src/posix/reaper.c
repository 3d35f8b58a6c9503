/* SPDX-License-Identifier: MIT */
/*
 * Reaping children on POSIX: one thread per process watches every child that
 * has not been reaped yet and reaps it as soon as it ends, so no child of
 * ours is ever left a zombie, joined or not. It waits on each child's pidfd
 * (Linux) or on EOF of its status pipe (everywhere), and calls waitpid() on
 * that pid alone: mproc never reaps a child it did not start.
 *
 * Descriptors of a reaped child are closed by the reaper thread only, so a
 * descriptor it polls is never closed and reused under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "waitable.h"
#include "mproc_config.h"

#if MPROC_HAVE_EPOLL
#include <sys/epoll.h>
#endif

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond; /* broadcast whenever a child is reaped */
  int cond_ready;
  int running;
  int wake[2]; /* a byte here wakes the reaper thread */
  mproc__child_t *head;
  struct pollfd *fds;
  mproc__child_t **owners;
  size_t capacity;
  /* Linux: an epoll set the starting thread adds a child to directly, so
   * neither a start nor a join needs the reaper thread to wake; -1 where
   * the poll set above is used instead. */
  int epfd;
} R = {PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       0,
       0,
       {-1, -1},
       NULL,
       NULL,
       NULL,
       0,
       -1};

int mproc__self_status_fd = -1;

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

void mproc__reaper_lock(void) { pthread_mutex_lock(&R.lock); }

void mproc__reaper_unlock(void) { pthread_mutex_unlock(&R.lock); }

static void wake_reaper(void) {
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

/* The exit code when waitpid() cannot tell it: the kernel reaped the child
 * itself because SIGCHLD is ignored. */
static int lost_status_code(mproc__child_t *c) {
  drain_status(c);
  if (c->status_len == sizeof c->status_buf) {
    int32_t code;
    memcpy(&code, c->status_buf, sizeof code);
    return code;
  }
  if (c->sent_signal)
    return -c->sent_signal;
  return MPROC_EXITCODE_UNKNOWN;
}

static void mark_reaped(mproc__child_t *c, int exitcode) {
  c->exitcode = exitcode;
  c->reaped = 1;
  c->retry_ns = 0;
  pthread_cond_broadcast(&R.cond);
  mproc__process_reaped(); /* waits on many (src/wait.c) */
  /* With a poll set only the reaper thread may close what it polls; with
   * epoll whoever reaped retires the child (see retire_if_done). */
  if (R.epfd < 0)
    wake_reaper();
}

#if MPROC_HAVE_EPOLL
static void epoll_watch(mproc__child_t *c, int add);
#endif

/* Try to reap c without blocking. Called with R.lock held. */
static void try_reap(mproc__child_t *c) {
  int status = 0;
  pid_t r;
  if (c->reaped)
    return;
  if (c->foreign) {
    /* A fork server's child: its exit code arrives on the socket, then
     * EOF; it is not ours to wait for. */
    drain_status(c);
    if (c->status_eof)
      mark_reaped(c, lost_status_code(c));
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
#if MPROC_HAVE_EPOLL
    /* The end of file stays readable, and epoll would report it at once,
     * again and again, until the child is waitable: the retry time wakes
     * the reaper instead. A joiner may be the one here, while the reaper
     * sleeps without that time: it is woken to take it into account. */
    if (R.epfd >= 0) {
      epoll_watch(c, 0);
      wake_reaper();
    }
#endif
  }
}

#if MPROC_HAVE_EPOLL
static int watch_fd(const mproc__child_t *c) {
  return c->pidfd >= 0 ? c->pidfd : c->status_fd;
}
#endif

/* Remove a reaped child from the watch list and close its descriptors.
 * Called by the reaper thread with R.lock held. */
static void retire(mproc__child_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    R.head = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
#if MPROC_HAVE_EPOLL
  /* A forked child may briefly hold a copy of the descriptor; without the
   * explicit removal the registration would outlive our close. */
  if (R.epfd >= 0 && c->watched) {
    epoll_ctl(R.epfd, EPOLL_CTL_DEL, watch_fd(c), NULL);
    c->watched = 0;
  }
#endif
  close_fd(&c->pidfd);
  close_fd(&c->status_fd);
  c->retired = 1;
  if (c->released)
    free(c);
}

/* epoll only: retire a reaped child nobody polls any more. */
static void retire_if_done(mproc__child_t *c) {
  if (R.epfd >= 0 && c->reaped && !c->retired && c->pollers == 0)
    retire(c);
}

static int grow_poll_set(size_t n) {
  struct pollfd *fds;
  mproc__child_t **owners;
  size_t cap;
  if (n <= R.capacity)
    return 0;
  cap = R.capacity ? R.capacity * 2 : 16;
  while (cap < n)
    cap *= 2;
  fds = realloc(R.fds, cap * sizeof *fds);
  if (!fds)
    return MPROC_ENOMEM;
  R.fds = fds;
  owners = realloc(R.owners, cap * sizeof *owners);
  if (!owners)
    return MPROC_ENOMEM;
  R.owners = owners;
  R.capacity = cap;
  return 0;
}

static void *reaper_main(void *unused) {
  (void)unused;
  pthread_mutex_lock(&R.lock);
  for (;;) {
    mproc__child_t *c, *next;
    size_t n = 1, i;
    int64_t now = mproc__clock_ns(), soonest = -1;
    int timeout_ms;

    for (c = R.head; c; c = next) {
      next = c->next;
      if (!c->reaped)
        n++;
      else if (c->pollers == 0)
        retire(c);
    }
    if (grow_poll_set(n) != 0) {
      /* No memory for the poll set: look again shortly rather than stop
       * reaping. */
      pthread_mutex_unlock(&R.lock);
      usleep(10000);
      pthread_mutex_lock(&R.lock);
      continue;
    }
    R.fds[0].fd = R.wake[0];
    R.fds[0].events = POLLIN;
    R.owners[0] = NULL;
    n = 1;
    for (c = R.head; c; c = c->next) {
      if (c->reaped)
        continue; /* retired once its pollers are gone */
      if (c->retry_ns) {
        if (soonest < 0 || c->retry_ns < soonest)
          soonest = c->retry_ns;
        R.fds[n].fd = -1; /* waiting for the retry, not for the fd */
      } else {
        R.fds[n].fd = c->pidfd >= 0 ? c->pidfd : c->status_fd;
      }
      R.fds[n].events = POLLIN;
      R.fds[n].revents = 0;
      R.owners[n++] = c;
    }
    timeout_ms = -1;
    if (soonest >= 0)
      timeout_ms =
          soonest <= now ? 0 : (int)((soonest - now + 999999) / 1000000);

    pthread_mutex_unlock(&R.lock);
    poll(R.fds, (nfds_t)n, timeout_ms);
    pthread_mutex_lock(&R.lock);

    if (R.fds[0].revents & POLLIN) {
      char buf[64];
      while (read(R.wake[0], buf, sizeof buf) > 0) {
      }
    }
    now = mproc__clock_ns();
    for (i = 1; i < n; i++) {
      c = R.owners[i];
      if (R.fds[i].revents || (c->retry_ns && c->retry_ns <= now)) {
        c->retry_ns = 0;
        try_reap(c);
      }
    }
  }
  return NULL;
}

#if MPROC_HAVE_EPOLL
static int on_list(const mproc__child_t *c) {
  const mproc__child_t *it;
  for (it = R.head; it; it = it->next)
    if (it == c)
      return 1;
  return 0;
}

static void *reaper_main_epoll(void *unused) {
  struct epoll_event events[32];
  (void)unused;
  pthread_mutex_lock(&R.lock);
  for (;;) {
    mproc__child_t *c, *next;
    int64_t now = mproc__clock_ns(), soonest = -1;
    int i, n, timeout_ms = -1;
    for (c = R.head; c; c = next) {
      next = c->next;
      retire_if_done(c);
    }
    for (c = R.head; c; c = c->next)
      if (c->retry_ns && (soonest < 0 || c->retry_ns < soonest))
        soonest = c->retry_ns;
    if (soonest >= 0)
      timeout_ms =
          soonest <= now ? 0 : (int)((soonest - now + 999999) / 1000000);
    pthread_mutex_unlock(&R.lock);
    n = epoll_wait(R.epfd, events, 32, timeout_ms);
    pthread_mutex_lock(&R.lock);
    for (i = 0; i < n; i++) {
      c = events[i].data.ptr;
      if (!c) {
        char buf[64];
        while (read(R.wake[0], buf, sizeof buf) > 0) {
        }
      } else if (on_list(c)) {
        /* An event fetched before the child was retired names memory that
         * may be gone or reused: only a listed child is touched. */
        try_reap(c);
      }
    }
    now = mproc__clock_ns();
    for (c = R.head; c; c = c->next) {
      if (c->retry_ns && c->retry_ns <= now) {
        c->retry_ns = 0;
        try_reap(c);
      }
    }
  }
  return NULL;
}

/* Add (or remove) a child's descriptor to (from) the epoll set. */
static void epoll_watch(mproc__child_t *c, int add) {
  struct epoll_event ev;
  if (watch_fd(c) < 0 || c->watched == add)
    return;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  if (epoll_ctl(R.epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, watch_fd(c),
                &ev) == 0)
    c->watched = add;
}

static void make_epoll(void) {
  struct epoll_event ev;
  R.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (R.epfd < 0)
    return; /* the poll set serves instead */
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  if (epoll_ctl(R.epfd, EPOLL_CTL_ADD, R.wake[0], &ev) != 0)
    close_fd(&R.epfd);
}
#endif

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
#if MPROC_HAVE_EPOLL
  if (R.epfd < 0)
    make_epoll();
#endif
  /* The application's signals must not land on our thread. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
#if MPROC_HAVE_EPOLL
  r = pthread_create(&thread, &attr,
                     R.epfd >= 0 ? reaper_main_epoll : reaper_main, NULL);
#else
  r = pthread_create(&thread, &attr, reaper_main, NULL);
#endif
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0)
    return mproc__os_translate(r);
  R.running = 1;
  return 0;
}

void mproc__reaper_add(mproc__child_t *c) {
  c->next = R.head;
  c->prev = NULL;
  if (R.head)
    R.head->prev = c;
  R.head = c;
  if (start_reaper() == 0) {
#if MPROC_HAVE_EPOLL
    if (R.epfd >= 0) {
      epoll_watch(c, 1); /* seen at once, no wake-up needed */
      return;
    }
#endif
    wake_reaper();
  }
  /* Without a reaper thread (no threads left to create), children are still
   * reaped by every wait on them: try_reap() runs there too. */
}

void mproc__reaper_after_fork_child(void) {
  mproc__child_t *c;
  pthread_mutex_init(&R.lock, NULL);
  R.cond_ready = 0;
  R.running = 0;
  for (c = R.head; c; c = c->next) {
    close_fd(&c->pidfd);
    close_fd(&c->status_fd);
  }
  R.head = NULL;
  close_fd(&R.epfd);
  close_fd(&R.wake[0]);
  close_fd(&R.wake[1]);
  /* Our parent's status pipe belongs to us alone, not to our children. */
  close_fd(&mproc__self_status_fd);
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
#if MPROC_HAVE_EPOLL
  /* While a joiner watches the child, the reaper thread need not wake for
   * it too. */
  if (R.epfd >= 0 && c->pollers == 0)
    epoll_watch(c, 0);
#endif
  c->pollers++;
  pthread_mutex_unlock(&R.lock);
  poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
  pthread_mutex_lock(&R.lock);
  c->pollers--;
#if MPROC_HAVE_EPOLL
  if (R.epfd >= 0) {
    try_reap(c);
    if (!c->reaped && c->pollers == 0)
      epoll_watch(c, 1);
    return;
  }
#endif
  if (c->pollers == 0 && c->reaped)
    wake_reaper(); /* it may retire c */
}

int mproc__child_wait(mproc__child_t *c, int64_t timeout_ms, int *exitcode) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  int r = 0;
  pthread_mutex_lock(&R.lock);
  try_reap(c);
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
    } else if (c->pidfd >= 0 ||
               (c->status_fd >= 0 && !c->status_eof && !c->retry_ns)) {
      poll_child(c, deadline);
    } else if (deadline == MPROC_INFINITE) {
      pthread_cond_wait(&R.cond, &R.lock);
    } else {
      cond_wait_until(deadline);
    }
    try_reap(c);
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
  try_reap(c);
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
   * list); otherwise the reaper thread frees it when it retires it. Without
   * a reaper thread nobody polls the descriptors, so we retire it here. */
  if (c->retired)
    free(c);
  else if (c->reaped && c->pollers == 0 && (!R.running || R.epfd >= 0))
    retire(c); /* frees it */
  pthread_mutex_unlock(&R.lock);
}
