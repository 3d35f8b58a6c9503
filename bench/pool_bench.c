/* SPDX-License-Identifier: MIT */
/* Pool: an apply round trip beside a pipe ping-pong between two processes
 * (measured side by side in one run), the same round trip with spawn and
 * forkserver workers (reported only), map throughput with chunksize 1 and
 * with default chunking, and the speed-up of a CPU-bound map over one
 * worker.
 *
 * A round trip between two processes costs what waking the other process
 * costs, and that depends on where the scheduler puts it: on the caller's
 * CPU a wake-up is a few microseconds; on another, idle, CPU of a virtual
 * machine it is tens. Left alone, the scheduler picks one or the other for
 * a run, and stays with it. So on Linux the round trips are measured with
 * both placements pinned (caller and workers on one CPU, then on two),
 * each beside a ping-pong pinned the same way, and then unpinned. */
#ifdef __linux__
#define _GNU_SOURCE
#include <sched.h>
#endif
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

static mproc_pool_t *pool;
static int ping[2], pong[2];

static int empty_task(const void *arg, size_t size, mproc_buf_t *out) {
  (void)arg;
  (void)size;
  (void)out;
  return 0;
}
/* Spawn and forkserver workers find it by name. */
MPROC_TASK(empty_task);

static int add_one(const void *arg, size_t size, mproc_buf_t *out) {
  int32_t v;
  (void)size;
  memcpy(&v, arg, sizeof v);
  v += 1;
  return mproc_buf_set(out, &v, sizeof v);
}

/* About a millisecond of arithmetic that the compiler cannot drop. */
static int spin(const void *arg, size_t size, mproc_buf_t *out) {
  uint64_t x, i;
  (void)size;
  memcpy(&x, arg, sizeof x);
  for (i = 0; i < 2000000; i++)
    x = x * 6364136223846793005u + 1442695040888963407u;
  return mproc_buf_set(out, &x, sizeof x);
}

static void die(const char *what) {
  fprintf(stderr, "%s failed\n", what);
  exit(1);
}

/* Run pid (0: this process) on CPU `cpu`, or on every CPU when cpu < 0.
 * Returns 0 where threads cannot be pinned. */
static int pin(pid_t pid, int cpu) {
#ifdef __linux__
  cpu_set_t set;
  int i;
  CPU_ZERO(&set);
  for (i = 0; i < CPU_SETSIZE && i < mproc_cpu_count(); i++)
    if (cpu < 0 || i == cpu)
      CPU_SET(i, &set);
  return sched_setaffinity(pid, sizeof set, &set) == 0;
#else
  (void)pid;
  (void)cpu;
  return 0;
#endif
}

/* This process on CPU 0 (or anywhere), the pool's workers and the echo
 * process on `other`. */
static int place(pid_t echo, int self_cpu, int other) {
  mproc_pid_t pids[64];
  size_t n = 0, i;
  int ok = pin(0, self_cpu) && pin(echo, other);
  if (mproc_pool_worker_pids(pool, pids, 64, &n) != 0)
    die("worker_pids");
  for (i = 0; i < n; i++)
    ok = ok && pin((pid_t)pids[i], other);
  return ok;
}

static void pool_apply_loop(int n) {
  int i, status;
  for (i = 0; i < n; i++)
    if (mproc_pool_apply(pool, empty_task, NULL, 0, &status, NULL, NULL) != 0)
      die("apply");
}

static void pipe_pingpong(int n) {
  int i;
  char c = 'p';
  for (i = 0; i < n; i++) {
    if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
      die("ping");
  }
}

/* Apply round trip with workers of another start method, and what
 * creating (and freeing) such a pool costs. Reported only. */
static void apply_with_method(mproc_start_method_t method, const char *name,
                              int n) {
  mproc_pool_options_t o = {0};
  mproc_pool_t *p;
  double created, t, best = 1e9;
  int i, k, status;
  o.processes = mproc_cpu_count();
  o.start_method = method;
  created = bench_now();
  if (mproc_pool_create(&p, &o) != 0)
    die("pool_create");
  created = bench_now() - created;
  for (k = 0; k < 3; k++) {
    t = bench_now();
    for (i = 0; i < n; i++)
      if (mproc_pool_apply(p, empty_task, NULL, 0, &status, NULL, NULL) != 0)
        die("apply");
    t = (bench_now() - t) / n;
    if (t < best)
      best = t;
  }
  mproc_pool_free(p);
  printf("Pool apply round trip, %s workers\n  %.1f us   (pool of %d "
         "created in %.1f ms)\n",
         name, best * 1e6, o.processes, created * 1e3);
}

static double map_rate(mproc_pool_t *p, mproc_task_fn fn, size_t n,
                       size_t chunksize, size_t item_size, size_t result_size) {
  unsigned char *items = calloc(n, item_size);
  unsigned char *out = malloc(n * result_size);
  double t;
  if (!items || !out)
    die("malloc");
  t = bench_now();
  if (mproc_pool_map(p, fn, items, item_size, n, chunksize, out, result_size,
                     NULL) != 0)
    die("map");
  t = bench_now() - t;
  free(items);
  free(out);
  return t;
}

int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 2000;
  int rounds = argc > 2 ? atoi(argv[2]) : 9;
  int cores = mproc_cpu_count(), i, status;
  double ratio, t, best, t1, tn, speedup;
  mproc_pool_options_t one = {0};
  mproc_pool_t *single;
  pid_t echo;

  mproc_init(&argc, &argv);
  if (iters < 1)
    iters = 1;
  if (rounds < 1)
    rounds = 1;
  if (mproc_pool_create(&pool, NULL) != 0)
    die("pool_create");

  /* The baseline: one byte there and back between two processes. */
  if (pipe(ping) != 0 || pipe(pong) != 0)
    die("pipe");
  echo = fork();
  if (echo == 0) {
    char c;
    close(ping[1]);
    close(pong[0]);
    while (read(ping[0], &c, 1) == 1)
      if (write(pong[1], &c, 1) != 1)
        break;
    _exit(0);
  }
  close(ping[0]);
  close(pong[1]);

  /* The target, 35 us where a ping-pong took 23 us on the machine it was
   * set on, read as a ratio to the ping-pong measured beside it. */
  if (cores >= 2 && place(echo, 0, 0)) {
    double worst;
    worst = bench_compare("Pool apply round trip (empty task), one CPU",
                          "mproc_pool_apply", pool_apply_loop,
                          "pipe ping-pong, two processes", pipe_pingpong, iters,
                          rounds);
    place(echo, 0, 1);
    ratio = bench_compare("Pool apply round trip (empty task), two CPUs",
                          "mproc_pool_apply", pool_apply_loop,
                          "pipe ping-pong, two processes", pipe_pingpong, iters,
                          rounds);
    worst = ratio > worst ? ratio : worst;
    printf("  worst ratio %.2fx   target <= 1.52x (35 us : 23 us): %s\n", worst,
           worst <= 35.0 / 23.0 ? "met" : "NOT met");
    place(echo, -1, -1);
  }
  ratio = bench_compare("Pool apply round trip (empty task), unpinned",
                        "mproc_pool_apply", pool_apply_loop,
                        "pipe ping-pong, two processes", pipe_pingpong, iters,
                        rounds);
  (void)ratio;
  close(ping[1]);
  waitpid(echo, &status, 0);
  apply_with_method(MPROC_START_SPAWN, "spawn", iters);
  apply_with_method(MPROC_START_FORKSERVER, "forkserver", iters);

  best = 1e9;
  for (i = 0; i < 5; i++) {
    t = map_rate(pool, add_one, 100000, 1, 4, 4);
    if (t < best)
      best = t;
  }
  printf("Pool map, chunksize 1, %d workers\n  %.0f tasks/s   target >= "
         "200000: %s\n",
         cores, 100000 / best, 100000 / best >= 200000 ? "met" : "NOT met");

  best = 1e9;
  for (i = 0; i < 5; i++) {
    t = map_rate(pool, add_one, 10000000, 0, 4, 4);
    if (t < best)
      best = t;
  }
  printf("Pool map, tiny tasks, default chunking, %d workers\n"
         "  %.1f M tasks/s   target >= 20 M: %s\n",
         cores, 10000000 / best / 1e6,
         10000000 / best >= 20e6 ? "met" : "NOT met");

  one.processes = 1;
  if (mproc_pool_create(&single, &one) != 0)
    die("pool_create");
  t1 = tn = 1e9;
  for (i = 0; i < 3; i++) {
    t = map_rate(single, spin, (size_t)cores * 40, 1, 8, 8);
    if (t < t1)
      t1 = t;
    t = map_rate(pool, spin, (size_t)cores * 40, 1, 8, 8);
    if (t < tn)
      tn = t;
  }
  speedup = t1 / tn;
  printf("Pool map, CPU-bound (~1 ms tasks), %d workers vs 1\n"
         "  speed-up %.2fx on %d cores (%.2f per core)   target >= 0.9 per "
         "core: %s\n",
         cores, speedup, cores, speedup / cores,
         speedup >= 0.9 * cores ? "met" : "NOT met");

  mproc_pool_free(single);
  mproc_pool_free(pool);
  return 0;
}
