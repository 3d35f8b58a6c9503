/* SPDX-License-Identifier: MIT */
/* Threads and condition variables on POSIX, for the Pool's own thread and
 * the callers that wait for it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "mproc_config.h"
#include "platform.h"

struct mproc__thread {
  pthread_t thread;
  void (*fn)(void *);
  void *arg;
};

struct mproc__cond {
  pthread_cond_t cond;
};

static void *thread_main(void *arg) {
  mproc__thread_t *t = arg;
  t->fn(t->arg);
  return NULL;
}

int mproc__thread_start(mproc__thread_t **out, void (*fn)(void *), void *arg) {
  mproc__thread_t *t = malloc(sizeof *t);
  sigset_t all, old;
  int err;
  if (!t)
    return MPROC_ENOMEM;
  t->fn = fn;
  t->arg = arg;
  /* The new thread inherits this mask: every signal blocked. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = pthread_create(&t->thread, NULL, thread_main, t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    free(t);
    return err == EAGAIN ? MPROC_ENOMEM : mproc__os_translate(err);
  }
  *out = t;
  return 0;
}

void mproc__thread_join(mproc__thread_t *t) {
  if (!t)
    return;
  pthread_join(t->thread, NULL);
  free(t);
}

int mproc__cond_create(mproc__cond_t **out) {
  mproc__cond_t *c = malloc(sizeof *c);
  pthread_condattr_t attr;
  int err;
  if (!c)
    return MPROC_ENOMEM;
  pthread_condattr_init(&attr);
#if MPROC_HAVE_CONDATTR_SETCLOCK
  /* Deadlines are on the monotonic clock; so must the wait be. */
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
#endif
  err = pthread_cond_init(&c->cond, &attr);
  pthread_condattr_destroy(&attr);
  if (err != 0) {
    free(c);
    return err == ENOMEM || err == EAGAIN ? MPROC_ENOMEM
                                          : mproc__os_translate(err);
  }
  *out = c;
  return 0;
}

void mproc__cond_destroy(mproc__cond_t *c) {
  if (!c)
    return;
  pthread_cond_destroy(&c->cond);
  free(c);
}

int mproc__cond_wait(mproc__cond_t *c, mproc__mutex_t *m, int64_t deadline_ns) {
  struct timespec ts;
  int64_t wait_ns;
  if (deadline_ns == MPROC_INFINITE) {
    pthread_cond_wait(&c->cond, m);
    return 0;
  }
  wait_ns = deadline_ns - mproc__clock_ns();
  if (wait_ns <= 0)
    return MPROC_ETIMEDOUT;
#if MPROC_HAVE_CONDATTR_SETCLOCK
  ts.tv_sec = (time_t)(deadline_ns / 1000000000);
  ts.tv_nsec = (long)(deadline_ns % 1000000000);
#else
  {
    /* Without a monotonic condition clock, wait on the real-time clock for
     * the same span; a jump of the wall clock only makes the wake-up early
     * or late, and the caller checks its monotonic deadline again. */
    int64_t abs_ns;
    clock_gettime(CLOCK_REALTIME, &ts);
    abs_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + wait_ns;
    ts.tv_sec = (time_t)(abs_ns / 1000000000);
    ts.tv_nsec = (long)(abs_ns % 1000000000);
  }
#endif
  pthread_cond_timedwait(&c->cond, m, &ts);
  return 0;
}

void mproc__cond_broadcast(mproc__cond_t *c) {
  pthread_cond_broadcast(&c->cond);
}

void mproc__thread_unblock_signals(void) {
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
}
