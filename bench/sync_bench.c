/* SPDX-License-Identifier: MIT */
/* RLock, Semaphore and Event beside their raw process-shared equivalents,
 * uncontended, measured side by side in one run (alternating rounds,
 * medians compared):
 *   - RLock: acquire twice, release twice, beside a robust, recursive,
 *     process-shared pthread mutex locked and unlocked twice;
 *   - Semaphore: release then acquire, beside sem_post then sem_wait on a
 *     process-shared sem_t;
 *   - Event: set, wait (already set), clear, beside the same on a flag
 *     guarded by a robust process-shared mutex with a condition variable.
 * The first argument is the number of rounds. */
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/mman.h>

#include "bench_util.h"
#include "mproc.h"

static mproc_rlock_t rlock;
static mproc_semaphore_t sem;
static mproc_event_t event;

static struct raw {
  pthread_mutex_t recursive;
  sem_t sem;
  pthread_mutex_t ev_lock;
  pthread_cond_t ev_cond;
  int ev_flag;
} * raw;

static void rlock_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_rlock_acquire(&rlock, MPROC_INFINITE);
    mproc_rlock_acquire(&rlock, MPROC_INFINITE);
    mproc_rlock_release(&rlock);
    mproc_rlock_release(&rlock);
  }
}

static void raw_rlock_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&raw->recursive);
    pthread_mutex_lock(&raw->recursive);
    pthread_mutex_unlock(&raw->recursive);
    pthread_mutex_unlock(&raw->recursive);
  }
}

static void sem_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_semaphore_release(&sem);
    mproc_semaphore_acquire(&sem, MPROC_INFINITE);
  }
}

static void raw_sem_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    sem_post(&raw->sem);
    sem_wait(&raw->sem);
  }
}

static void event_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_event_set(&event);
    mproc_event_wait(&event, MPROC_INFINITE);
    mproc_event_clear(&event);
  }
}

static void raw_event_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&raw->ev_lock);
    raw->ev_flag = 1;
    pthread_cond_broadcast(&raw->ev_cond);
    pthread_mutex_unlock(&raw->ev_lock);
    pthread_mutex_lock(&raw->ev_lock);
    while (!raw->ev_flag)
      pthread_cond_wait(&raw->ev_cond, &raw->ev_lock);
    pthread_mutex_unlock(&raw->ev_lock);
    pthread_mutex_lock(&raw->ev_lock);
    raw->ev_flag = 0;
    pthread_mutex_unlock(&raw->ev_lock);
  }
}

static void compare(const char *title, const char *a_name, void (*a)(int),
                    const char *b_name, void (*b)(int), int iters, int rounds) {
  double ma, mb;
  bench_alternate(a, b, iters, rounds, &ma, &mb);
  printf("%s\n  %-44s %8.1f ns\n  %-44s %8.1f ns\n  ratio %.2fx\n", title,
         a_name, ma * 1e9, b_name, mb * 1e9, ma / mb);
  bench_record(title, a_name, ma * 1e9, b_name, mb * 1e9, "ns");
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  pthread_mutexattr_t ma;
  pthread_condattr_t ca;
  mproc_init(&argc, &argv);
  if (rounds < 1)
    rounds = 1;
  raw = (struct raw *)mmap(NULL, sizeof *raw, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    bench_die("mmap", 0);
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&raw->ev_lock, &ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&raw->recursive, &ma);
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&raw->ev_cond, &ca);
  if (sem_init(&raw->sem, 1, 0) != 0 || mproc_rlock_create(&rlock) != 0 ||
      mproc_semaphore_create(&sem, 0, 0) != 0 ||
      mproc_event_create(&event) != 0)
    bench_die("setup", 0);

  compare("RLock: acquire twice, release twice, uncontended", "mproc_rlock",
          rlock_loop, "robust recursive pshared pthread_mutex", raw_rlock_loop,
          5000000, rounds);
  compare("Semaphore: release then acquire, uncontended", "mproc_semaphore",
          sem_loop, "pshared sem_t: sem_post then sem_wait", raw_sem_loop,
          10000000, rounds);
  compare("Event: set, wait (set), clear, uncontended", "mproc_event",
          event_loop, "robust mutex + pshared cond + flag", raw_event_loop,
          5000000, rounds);

  mproc_rlock_destroy(&rlock);
  mproc_semaphore_destroy(&sem);
  mproc_event_destroy(&event);
  return 0;
}
