/* SPDX-License-Identifier: MIT */
/* The POSIX backend's crash-aware lock: a process-shared, robust,
 * error-checking pthread mutex. When its holder dies, the kernel (through
 * glibc's robust list) hands it to the next locker with EOWNERDEAD. The
 * build lists this file only where robust mutexes exist; elsewhere
 * src/native_lock_none.c answers "not available", and common code uses its
 * own owner-pid lock instead. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "mproc_config.h"
#include "atomics.h"
#include "internal.h"
#include "platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= MPROC__NATIVE_LOCK_BYTES,
               "a pthread mutex must fit its slot in shared memory");

int mproc__native_lock_available(void) { return 1; }

int mproc__native_lock_init(void *mem) {
  pthread_mutexattr_t a;
  int rc = pthread_mutexattr_init(&a);
  if (rc != 0)
    return mproc__os_translate(rc);
  rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  if (rc == 0)
    rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (rc == 0)
    rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  if (rc == 0)
    rc = pthread_mutex_init((pthread_mutex_t *)mem, &a);
  pthread_mutexattr_destroy(&a);
  return rc == 0 ? 0 : mproc__os_translate(rc);
}

static int timed_lock(pthread_mutex_t *m, int64_t deadline_ns) {
  struct timespec ts;
#if MPROC_HAVE_MUTEX_CLOCKLOCK
  ts.tv_sec = (time_t)(deadline_ns / 1000000000);
  ts.tv_nsec = (long)(deadline_ns % 1000000000);
  return pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
#else
  /* pthread_mutex_timedlock measures on the wall clock: translate the
   * monotonic deadline into it as late as possible. */
  int64_t left = deadline_ns - mproc__clock_ns(), abs_ns;
  clock_gettime(CLOCK_REALTIME, &ts);
  abs_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (left > 0 ? left : 0);
  ts.tv_sec = (time_t)(abs_ns / 1000000000);
  ts.tv_nsec = (long)(abs_ns % 1000000000);
  return pthread_mutex_timedlock(m, &ts);
#endif
}

/* How long one wait may sleep before the lock word is looked at again. A
 * holder killed after releasing the word but before waking a sleeper
 * leaves that sleeper waiting for a wake-up that never comes (robust
 * futexes do not cover that instant); the next look finds the lock free or
 * its owner dead. */
#define RECHECK_NS ((int64_t)100000000)

/* How many more times a busy lock is looked at, with a pause between,
 * before the caller sleeps. A holder on another CPU usually lets go within
 * that time, and a hand-off without a sleep and a wake-up costs a fraction
 * of one with them; a holder that does not is waited for in the kernel. */
#define SPIN_TRIES 64

#if defined(__GLIBC__)
/* glibc keeps the owner's thread id in the mutex's word (0 when free; the
 * kernel sets FUTEX_OWNER_DIED and clears the id when the owner dies). */
#define TID_MASK 0x3fffffff /* FUTEX_TID_MASK */
static int word_of(pthread_mutex_t *m) {
  return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
}
/* Whether a try could take it now. A spinner only reads the word until
 * then: a compare-and-swap that fails still takes the cache line from the
 * holder, who needs it back to release. */
static int looks_free(pthread_mutex_t *m) {
  return (word_of(m) & TID_MASK) == 0;
}
#else
static int looks_free(pthread_mutex_t *m) {
  (void)m;
  return 1;
}
#endif

/* The lock was busy (or another answer than "taken" came back): spin,
 * sleep, and translate what the mutex says. Out of line, so the common
 * case in mproc__native_lock_acquire is a call and a test. */
MPROC__NOINLINE static int lock_slow(pthread_mutex_t *m, int rc,
                                     int64_t deadline_ns) {
  int spins;
  for (spins = 0; rc == EBUSY && spins < SPIN_TRIES; spins++) {
    mproc__cpu_relax();
    if (looks_free(m))
      rc = pthread_mutex_trylock(m);
  }
  while (rc == EBUSY || rc == ETIMEDOUT) {
    int64_t now = mproc__clock_ns(), until = now + RECHECK_NS;
    if (deadline_ns != MPROC_INFINITE) {
      if (now >= deadline_ns) {
        rc = ETIMEDOUT;
        break;
      }
      if (deadline_ns < until)
        until = deadline_ns;
    }
    rc = timed_lock(m, until);
  }
  switch (rc) {
  case 0:
    return 0;
  case EOWNERDEAD:
    /* The state the lock protects is for the caller to judge; the mutex
     * itself is made usable again at once so no later locker ever sees
     * ENOTRECOVERABLE. */
    pthread_mutex_consistent(m);
    return MPROC_EOWNERDEAD;
  case EBUSY:
  case ETIMEDOUT:
    return MPROC_ETIMEDOUT;
  case EDEADLK:
    /* The calling thread already holds it: waiting would never end. */
    return deadline_ns == MPROC_INFINITE ? MPROC_ESTATE : MPROC_ETIMEDOUT;
  default:
    return mproc__os_translate(rc);
  }
}

int mproc__native_lock_acquire(void *mem, int64_t deadline_ns) {
  pthread_mutex_t *m = (pthread_mutex_t *)mem;
  int rc = pthread_mutex_trylock(m);
  if (rc == 0)
    return 0;
  return lock_slow(m, rc, deadline_ns);
}

int mproc__native_lock_release(void *mem) {
  int rc = pthread_mutex_unlock((pthread_mutex_t *)mem);
  if (rc == EPERM)
    return MPROC_ENOTOWNER;
  return rc == 0 ? 0 : mproc__os_translate(rc);
}

#if defined(__GLIBC__) && MPROC_HAVE_GETTID
/* The calling thread's id, asked of the kernel once per thread; a fork
 * child's thread asks again. */
static _Thread_local int cached_tid;
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
static void forget_tid(void) { cached_tid = 0; }
static void watch_forks(void) { pthread_atfork(NULL, NULL, forget_tid); }

static int self_tid(void) {
  if (cached_tid == 0) {
    pthread_once(&fork_watch, watch_forks);
    cached_tid = (int)syscall(SYS_gettid);
  }
  return cached_tid;
}
#endif

int mproc__native_lock_held(void *mem) {
#if defined(__GLIBC__) && MPROC_HAVE_GETTID
  /* A robust mutex's word holds its owner's thread id (the kernel clears
   * it, setting FUTEX_OWNER_DIED, when that owner dies). */
  return (word_of((pthread_mutex_t *)mem) & TID_MASK) == self_tid();
#else
  (void)mem;
  return -1;
#endif
}
