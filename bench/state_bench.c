/* SPDX-License-Identifier: MIT */
/* Shared state beside its raw process-shared baseline, measured side by
 * side in one run (alternating rounds, medians compared):
 *   - Barrier: a round of 2 processes, beside a process-shared
 *     pthread_barrier_t;
 *   - Condition: notify -> wake across 2 processes, as a ping-pong (each
 *     round trip is two notifies and two wakes), beside a ping-pong of one
 *     byte over two pipes;
 *   - Value: acquire its lock, increment, release, uncontended, beside a
 *     robust process-shared pthread mutex around an increment.
 * The first argument is the number of rounds. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

#define ROUNDS_MAX 64

typedef struct state {
  mproc_barrier_t barrier;
  mproc_condition_t cond;
  mproc_array_t turn; /* int64_t: 0 the parent's turn, 1 the child's */
  int iters;
} state_t;

static state_t st;

static struct raw {
  pthread_barrier_t barrier;
  pthread_mutex_t mutex;
  int64_t counter;
} * raw;

/* ---- Barrier ---------------------------------------------------------- */

static int barrier_child(const void *arg, size_t size) {
  state_t s;
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  for (i = 0; i <= s.iters; i++)
    if (mproc_barrier_wait(&s.barrier, MPROC_INFINITE, NULL) != 0)
      return 1;
  return 0;
}

/* Seconds per round, the first (start-up) round excluded. */
static double barrier_mproc(int n) {
  mproc_process_t *p;
  double t;
  int i;
  st.iters = n;
  p = bench_start(barrier_child, &st, sizeof st, MPROC_START_DEFAULT);
  mproc_barrier_wait(&st.barrier, MPROC_INFINITE, NULL);
  t = bench_now();
  for (i = 0; i < n; i++)
    mproc_barrier_wait(&st.barrier, MPROC_INFINITE, NULL);
  t = bench_now() - t;
  bench_finish(p);
  return t / n;
}

static double barrier_raw(int n) {
  double t;
  int i;
  pid_t pid = fork();
  if (pid == 0) {
    for (i = 0; i <= n; i++)
      pthread_barrier_wait(&raw->barrier);
    _exit(0);
  }
  pthread_barrier_wait(&raw->barrier);
  t = bench_now();
  for (i = 0; i < n; i++)
    pthread_barrier_wait(&raw->barrier);
  t = bench_now() - t;
  waitpid(pid, NULL, 0);
  return t / n;
}

/* ---- Condition ping-pong ---------------------------------------------- */

/* Waits for its turn (1), hands it back (0) and notifies, n + 1 times. */
static int pong_child(const void *arg, size_t size) {
  state_t s;
  int64_t *turn;
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  if (mproc_array_ptr(&s.turn, (void **)&turn) != 0)
    return 1;
  mproc_condition_acquire(&s.cond, MPROC_INFINITE);
  for (i = 0; i <= s.iters; i++) {
    while (*turn != 1)
      mproc_condition_wait(&s.cond, MPROC_INFINITE);
    *turn = 0;
    mproc_condition_notify(&s.cond, 1);
  }
  mproc_condition_release(&s.cond);
  return 0;
}

static void ping(int64_t *turn) {
  *turn = 1;
  mproc_condition_notify(&st.cond, 1);
  while (*turn != 0)
    mproc_condition_wait(&st.cond, MPROC_INFINITE);
}

/* Seconds per round trip. */
static double cond_mproc(int n) {
  mproc_process_t *p;
  int64_t *turn;
  double t;
  int i;
  st.iters = n;
  mproc_array_ptr(&st.turn, (void **)&turn);
  *turn = 0;
  p = bench_start(pong_child, &st, sizeof st, MPROC_START_DEFAULT);
  mproc_condition_acquire(&st.cond, MPROC_INFINITE);
  ping(turn);
  t = bench_now();
  for (i = 0; i < n; i++)
    ping(turn);
  t = bench_now() - t;
  mproc_condition_release(&st.cond);
  bench_finish(p);
  return t / n;
}

static double pipe_raw(int n) {
  int there[2], back[2], i;
  char c = 0;
  double t;
  pid_t pid;
  if (pipe(there) != 0 || pipe(back) != 0)
    bench_die("pipe", -1);
  pid = fork();
  if (pid == 0) {
    for (i = 0; i <= n; i++)
      if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1)
        _exit(1);
    _exit(0);
  }
  if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
    bench_die("pipe", -1);
  t = bench_now();
  for (i = 0; i < n; i++)
    if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
      bench_die("pipe", -1);
  t = bench_now() - t;
  waitpid(pid, NULL, 0);
  close(there[0]);
  close(there[1]);
  close(back[0]);
  close(back[1]);
  return t / n;
}

/* ---- Value increment ---------------------------------------------------- */

static double value_mproc(int n) {
  int64_t *v;
  double t;
  int i;
  mproc_array_ptr(&st.turn, (void **)&v);
  t = bench_now();
  for (i = 0; i < n; i++) {
    mproc_array_acquire(&st.turn, MPROC_INFINITE);
    (*(volatile int64_t *)v)++;
    mproc_array_release(&st.turn);
  }
  return (bench_now() - t) / n;
}

static double value_raw(int n) {
  double t = bench_now();
  int i;
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(&raw->mutex);
    (*(volatile int64_t *)&raw->counter)++;
    pthread_mutex_unlock(&raw->mutex);
  }
  return (bench_now() - t) / n;
}

/* ---- the comparison ----------------------------------------------------- */

static void compare(const char *id, const char *what, double (*a)(int),
                    double (*b)(int), const char *baseline, int iters,
                    int rounds) {
  double sa[ROUNDS_MAX], sb[ROUNDS_MAX], ma, mb;
  int i;
  for (i = 0; i < rounds; i++) {
    sa[i] = a(iters);
    sb[i] = b(iters);
  }
  ma = bench_median(sa, rounds);
  mb = bench_median(sb, rounds);
  printf("%-34s mproc %9.3f us   %-28s %9.3f us   ratio %.2f\n", what, ma * 1e6,
         baseline, mb * 1e6, ma / mb);
  bench_record(id, "mproc", ma * 1e6, baseline, mb * 1e6, "us");
}

int main(int argc, char **argv) {
  pthread_barrierattr_t ba;
  pthread_mutexattr_t ma;
  int rounds, rc;
  if ((rc = mproc_init(&argc, &argv)) != 0)
    bench_die("mproc_init", rc);
  rounds = argc > 1 ? atoi(argv[1]) : 9;
  if (rounds < 1 || rounds > ROUNDS_MAX)
    rounds = 9;
  raw = mmap(NULL, sizeof *raw, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    bench_die("mmap", -1);
  pthread_barrierattr_init(&ba);
  pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
  pthread_barrier_init(&raw->barrier, &ba, 2);
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&raw->mutex, &ma);
  if ((rc = mproc_barrier_create(&st.barrier, 2, NULL)) != 0 ||
      (rc = mproc_condition_create(&st.cond, NULL)) != 0 ||
      (rc = mproc_value_create(&st.turn, sizeof(int64_t), NULL)) != 0)
    bench_die("create", rc);
  printf("state_bench: medians of %d alternating rounds\n", rounds);
  compare("barrier_round_2", "Barrier round, 2 processes", barrier_mproc,
          barrier_raw, "pthread_barrier_t pshared", 20000, rounds);
  compare("condition_pingpong", "Condition notify->wake round trip", cond_mproc,
          pipe_raw, "pipe ping-pong", 20000, rounds);
  compare("value_locked_increment", "Value locked increment", value_mproc,
          value_raw, "robust mutex + increment", 1000000, rounds);
  mproc_barrier_destroy(&st.barrier);
  mproc_condition_destroy(&st.cond);
  mproc_array_destroy(&st.turn);
  return 0;
}
