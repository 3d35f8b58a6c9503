/* SPDX-License-Identifier: MIT */
/* The POSIX backend's crash-aware lock: a process-shared, robust,
 * error-checking pthread mutex. When its holder dies, the kernel (through
 * the thread's robust list) hands it to the next locker with EOWNERDEAD.
 * The build lists this file only where robust mutexes exist; elsewhere
 * src/native_lock_none.c answers "not available", and common code uses its
 * own owner-pid lock instead.
 *
 * With glibc, taking a free lock and letting go of one without waiters
 * are done here, on the mutex's own fields and the thread's robust list,
 * exactly as glibc does them (same word, same list, same order of
 * stores), without glibc's dispatch on the mutex's type: one
 * compare-and-swap to take, one exchange to let go, and the list
 * bookkeeping the kernel needs to report an owner's death. Everything
 * else (a busy lock, a dead owner, a caller that does not hold it) goes to
 * glibc's functions, which read and write the same fields. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <stdio.h>
#include <sys/utsname.h>
#endif

#include "mproc_config.h"
#include "atomics.h"
#include "internal.h"
#include "platform.h"

_Static_assert(sizeof(pthread_mutex_t) <= MPROC__NATIVE_LOCK_BYTES,
               "a pthread mutex must fit its slot in shared memory");

int mproc__native_lock_available(void) { return 1; }

/* Where glibc's robust list can be shared: glibc on Linux with the
 * doubly linked mutex list (64-bit), and not under ThreadSanitizer, which
 * must see every lock go through pthread's functions. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPROC__TSAN 1
#endif
#endif
#if defined(__GLIBC__) && defined(__linux__) && MPROC_HAVE_GETTID &&           \
    defined(SYS_get_robust_list) && defined(__PTHREAD_MUTEX_HAVE_PREV) &&      \
    !defined(__SANITIZE_THREAD__) && !defined(MPROC__TSAN)
#if __PTHREAD_MUTEX_HAVE_PREV
#define OWN_LIST 1
#endif
#endif

#if defined(__GLIBC__)
/* glibc keeps the owner's thread id in the mutex's word (0 when free; the
 * kernel sets FUTEX_OWNER_DIED and clears the id when the owner dies). */
#define TID_MASK 0x3fffffff /* FUTEX_TID_MASK */
static int word_of(pthread_mutex_t *m) {
  return __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED);
}
#endif

#if defined(__GLIBC__) && MPROC_HAVE_GETTID
/* The calling thread as a robust-list owner: its kernel thread id and,
 * with OWN_LIST, the head of the robust list glibc registered for it with
 * the kernel (NULL when that list cannot be shared with glibc: then
 * glibc's functions do all the work). Asked of the kernel once per
 * thread; a fork child's thread asks again. Initial-exec TLS: two loads
 * from the thread pointer, no call. */
typedef struct thread_self {
  int tid; /* 0: not asked yet */
#if OWN_LIST
  struct robust_list_head *head;
#endif
} thread_self_t;
static _Thread_local thread_self_t self
    __attribute__((tls_model("initial-exec")));
static pthread_once_t fork_watch = PTHREAD_ONCE_INIT;
static void forget_self(void) { memset(&self, 0, sizeof self); }
static void watch_forks(void) { pthread_atfork(NULL, NULL, forget_self); }

#if OWN_LIST
/* The list head, when it is glibc's for robust mutexes laid out as ours:
 * the kernel finds a mutex's word at futex_offset from its list entry. */
static struct robust_list_head *robust_head(void) {
  struct robust_list_head *h = NULL;
  size_t len = 0;
  const long offset = (long)offsetof(pthread_mutex_t, __data.__lock) -
                      (long)offsetof(pthread_mutex_t, __data.__list.__next);
  if (syscall(SYS_get_robust_list, 0, &h, &len) != 0 || !h ||
      len != sizeof *h || h->futex_offset != offset || !h->list.next)
    return NULL;
  return h;
}
#endif

MPROC__NOINLINE static void self_fill(void) {
  pthread_once(&fork_watch, watch_forks);
#if OWN_LIST
  self.head = robust_head();
#endif
  self.tid = (int)syscall(SYS_gettid);
}

static inline thread_self_t *self_get(void) {
  if (__builtin_expect(self.tid == 0, 0))
    self_fill();
  return &self;
}
#endif

#if OWN_LIST
/* The list entry of a mutex, as the kernel and glibc see it: the address
 * of its __next field (glibc's QUEUE_PTR_ADJUST). Bit 0 of a link marks a
 * priority-inheritance mutex; it is kept as found and masked to follow. */
#define ENTRY(m) ((void *)&(m)->__data.__list.__next)
#define LINK_NODE(link)                                                        \
  ((__pthread_list_t *)((char *)((uintptr_t)(link) & ~(uintptr_t)1) -          \
                        offsetof(__pthread_list_t, __next)))
/* The kernel may read the list at any instant (its owner's death): the
 * stores must happen in this order, as in glibc. */
#define ORDER() __asm__ __volatile__("" ::: "memory")

/* Take a free lock: glibc's pthread_mutex_trylock for a robust mutex,
 * when the word is 0. 1 when taken; 0 when another thread holds it; -1
 * for anything else to decide (a dead owner's mark, the caller's own id):
 * glibc's functions do. */
static inline int own_trylock(pthread_mutex_t *m, thread_self_t *t) {
  struct robust_list_head *h = t->head;
  int free_word = 0;
  void *first;
  h->list_op_pending = (struct robust_list *)ENTRY(m);
  ORDER();
  if (!__atomic_compare_exchange_n(&m->__data.__lock, &free_word, t->tid, 0,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    h->list_op_pending = NULL;
    return (free_word & TID_MASK) != 0 && (free_word & TID_MASK) != t->tid &&
                   !(free_word & FUTEX_OWNER_DIED)
               ? 0
               : -1;
  }
  ORDER();
  /* Put it first in the thread's list (glibc's ENQUEUE_MUTEX). */
  first = h->list.next;
  if (first != (void *)&h->list)
    LINK_NODE(first)->__prev = (__pthread_list_t *)ENTRY(m);
  m->__data.__list.__next = (__pthread_list_t *)first;
  m->__data.__list.__prev = (__pthread_list_t *)(void *)&h->list;
  ORDER();
  h->list.next = (struct robust_list *)ENTRY(m);
  ORDER();
  h->list_op_pending = NULL;
  m->__data.__owner = t->tid;
  ++m->__data.__nusers;
  m->__data.__count = 1;
  return 1;
}

/* Let go of a lock the calling thread holds in a consistent state: glibc's
 * unlock of a robust mutex. 0 when that is not the case (glibc decides). */
static inline int own_unlock(pthread_mutex_t *m, thread_self_t *t) {
  struct robust_list_head *h = t->head;
  void *next, *prev;
  if ((word_of(m) & TID_MASK) != t->tid || m->__data.__owner != t->tid)
    return 0;
  h->list_op_pending = (struct robust_list *)ENTRY(m);
  ORDER();
  /* Take it out of the thread's list (glibc's DEQUEUE_MUTEX); the head
   * has no __prev of its own to keep. */
  next = m->__data.__list.__next;
  prev = m->__data.__list.__prev;
  if (((uintptr_t)next & ~(uintptr_t)1) != (uintptr_t)&h->list)
    LINK_NODE(next)->__prev = (__pthread_list_t *)prev;
  LINK_NODE(prev)->__next = (__pthread_list_t *)next;
  ORDER();
  m->__data.__list.__prev = NULL;
  m->__data.__list.__next = NULL;
  m->__data.__owner = 0;
  --m->__data.__nusers;
  if ((unsigned)__atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE) &
      FUTEX_WAITERS)
    syscall(SYS_futex, &m->__data.__lock, FUTEX_WAKE, 1, NULL, NULL, 0);
  ORDER();
  h->list_op_pending = NULL;
  return 1;
}
#endif

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

/* Whether the kernel itself wakes a sleeper when a thread dies after
 * letting go of a robust mutex's word but before waking that sleeper, the
 * one instant RECHECK_NS is for: it does for the mutex a dying thread
 * names as pending in its robust list (Linux 5.5, "futex: Prevent robust
 * futex exit race"), and glibc's unlock, like own_unlock(), names it there
 * until after the wake; a waiter killed after its wake-up but before it
 * takes the lock is covered the same way. Kernels before 5.10 are left
 * out to be safe, and the 6.7 series, whose wake there passed wrong flags
 * (fixed in 6.8, "futex: Fix hardcoded flags"). Asked once. */
static int kernel_wakes_at_death(void) {
#if defined(__linux__)
  static int known; /* 0: not asked yet, 1: yes, 2: no */
  int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (k == 0) {
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
        (major > 5 || (major == 5 && minor >= 10)) &&
        !(major == 6 && minor == 7))
      k = 1;
    else
      k = 2;
    __atomic_store_n(&known, k, __ATOMIC_RELAXED);
  }
  return k == 1;
#else
  return 0;
#endif
}

/* The lock was busy (or another answer than "taken" came back): sleep,
 * and translate what the mutex says. Out of line, so the common case in
 * mproc__native_lock_acquire is a call and a test.
 *
 * A busy lock is waited for in the kernel at once, as glibc's own lock
 * does, without a spin first: under steady contention a spinner that reads
 * the word takes its cache line from the holder at each look, and a
 * holder that takes the lock again at once (a loop) then pays a transfer
 * of that line on every acquire and release, while a sleeper leaves it a
 * run of uncontended ones. Two processes contending all the time
 * (shared_bench, back to back on a busy machine): 64 looks with a pause
 * between cost 1.48x the raw robust mutex's time, no look 1.22x; the
 * barrier, the condition ping-pong and the queues did not move. */
MPROC__NOINLINE static int lock_slow(pthread_mutex_t *m, int rc,
                                     int64_t deadline_ns) {
  /* An untimed wait needs no slices where the kernel covers that instant:
   * a sleep without a timer costs less to start, and under steady
   * contention, where most sleeps end at once, that is most of its cost
   * (two processes contending all the time, busy machine: 49 and 44 ns an
   * operation against 59 and 53 with the slices, in alternate runs). */
  if (rc == EBUSY && deadline_ns == MPROC_INFINITE && kernel_wakes_at_death())
    rc = pthread_mutex_lock(m);
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
  int rc;
#if OWN_LIST
  thread_self_t *t = self_get();
  if (__builtin_expect(t->head != NULL, 1)) {
    rc = own_trylock(m, t);
    if (rc > 0)
      return 0;
    if (rc == 0) /* busy: straight to the sleep, no second try */
      return lock_slow(m, EBUSY, deadline_ns);
  }
#endif
  rc = pthread_mutex_trylock(m);
  if (rc == 0)
    return 0;
  return lock_slow(m, rc, deadline_ns);
}

int mproc__native_lock_release(void *mem) {
  pthread_mutex_t *m = (pthread_mutex_t *)mem;
  int rc;
#if OWN_LIST
  thread_self_t *t = self_get();
  if (__builtin_expect(t->head != NULL, 1) && own_unlock(m, t))
    return 0;
#endif
  rc = pthread_mutex_unlock(m);
  if (rc == EPERM)
    return MPROC_ENOTOWNER;
  return rc == 0 ? 0 : mproc__os_translate(rc);
}

int mproc__native_lock_held(void *mem) {
#if defined(__GLIBC__) && MPROC_HAVE_GETTID
  /* A robust mutex's word holds its owner's thread id (the kernel clears
   * it, setting FUTEX_OWNER_DIED, when that owner dies). */
  return (word_of((pthread_mutex_t *)mem) & TID_MASK) == self_get()->tid;
#else
  (void)mem;
  return -1;
#endif
}
