/* SPDX-License-Identifier: MIT */
/* The Pool on MPI ranks, with the workloads of bench/mpi_pool_bench.py
 * (mpi4py.futures.MPIPoolExecutor): apply round trip, map with chunksize
 * 1, map of tiny items with default chunking, and the speed-up of a
 * CPU-bound map over running it here with the share of a core the owning
 * rank takes meanwhile, plus what an idle worker rank costs and, for the
 * same run, the first three with a local pool.
 * Run it as the Python one is run, under the same launcher:
 *
 *   mpiexec -n 3 ./mpi_pool_bench          two worker ranks
 *
 * bench/mpi_pool_bench.sh runs both, round after round, and prints the
 * ratios. Each figure is printed as `key value` for that script. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "mproc_mpi.h"

static int empty_task(const void *arg, size_t size, mproc_buf_t *out) {
  (void)arg;
  (void)size;
  (void)out;
  return 0;
}
MPROC_TASK(empty_task);

static int add_one(const void *arg, size_t size, mproc_buf_t *out) {
  int v;
  (void)size;
  memcpy(&v, arg, sizeof v);
  v++;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(add_one);

/* The same spin as pool_bench's and the Python one's, made longer so that
 * a task outweighs a message: SPIN_ROUNDS rounds of an LCG, about 5 ms
 * (as long as the Python one's). */
#define SPIN_ROUNDS 5000000
/* Tasks of the CPU-bound map per worker: enough that the map lasts much
 * longer than the wake-up of a rank that was idle (up to a millisecond),
 * and a whole number of tasks per worker, so that none idles at the end
 * while another has a task to run. */
#define SPIN_TASKS_PER_WORKER 24
static uint64_t spin_value(uint64_t x) {
  int i;
  for (i = 0; i < SPIN_ROUNDS; i++)
    x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

static int spin(const void *arg, size_t size, mproc_buf_t *out) {
  uint64_t x;
  (void)size;
  memcpy(&x, arg, sizeof x);
  x = spin_value(x);
  return mproc_buf_set(out, &x, sizeof x);
}
MPROC_TASK(spin);

static double apply_round_trip(mproc_pool_t *pool, int n) {
  double t = bench_now();
  int i, status, rc;
  for (i = 0; i < n; i++) {
    void *data = NULL;
    size_t size = 0;
    rc = mproc_pool_apply(pool, empty_task, NULL, 0, &status, &data, &size);
    if (rc != 0 || status != 0)
      bench_die("apply", rc ? rc : status);
    mproc_free(data);
  }
  return (bench_now() - t) / n;
}

/* Items per second of a map of `count` ints through add_one. */
static double map_rate(mproc_pool_t *pool, size_t count, size_t chunksize) {
  int *items = malloc(count * sizeof *items);
  int *out = malloc(count * sizeof *out);
  double t;
  size_t i;
  int rc;
  if (!items || !out)
    bench_die("malloc", MPROC_ENOMEM);
  for (i = 0; i < count; i++)
    items[i] = (int)i;
  t = bench_now();
  rc = mproc_pool_map(pool, add_one, items, sizeof(int), count, chunksize, out,
                      sizeof(int), NULL);
  t = bench_now() - t;
  if (rc != 0 || out[count - 1] != (int)count)
    bench_die("map", rc);
  free(items);
  free(out);
  return (double)count / t;
}

/* CPU time this process (all its threads) has used so far, in seconds. */
static double own_cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The speed-up of spin over `tasks` items, pool against this process, and
 * the share of a core this rank (all its threads) used during the pool's
 * map: what the owner takes from its workers while they compute. */
static double cpu_speedup(mproc_pool_t *pool, size_t tasks,
                          double *owner_share) {
  uint64_t *items = malloc(tasks * sizeof *items);
  uint64_t *out = malloc(tasks * sizeof *out), sink = 0;
  double serial, parallel, own;
  size_t i;
  int rc;
  if (!items || !out)
    bench_die("malloc", MPROC_ENOMEM);
  for (i = 0; i < tasks; i++)
    items[i] = (uint64_t)i;
  serial = bench_now();
  for (i = 0; i < tasks; i++)
    sink += spin_value(items[i]);
  serial = bench_now() - serial;
  own = own_cpu_seconds();
  parallel = bench_now();
  rc = mproc_pool_map(pool, spin, items, sizeof items[0], tasks, 1, out,
                      sizeof out[0], NULL);
  parallel = bench_now() - parallel;
  *owner_share = (own_cpu_seconds() - own) / parallel;
  if (rc != 0 || out[tasks - 1] != spin_value(items[tasks - 1]) || sink == 1)
    bench_die("cpu map", rc);
  free(items);
  free(out);
  return serial / parallel;
}

/* CPU time of the idle worker ranks over a second, as a share of a core. */
static double idle_share(mproc_pool_t *pool) {
  mproc_mpi_worker_info_t who[64];
  uint64_t before[64];
  size_t n = 0, i;
  double t, worst = 0;
  mproc_mpi_pool_workers(pool, who, 64, &n);
  if (n > 64)
    n = 64;
  for (i = 0; i < n; i++) {
    mproc_proc_info_t pi;
    before[i] = 0;
    if (mproc_proc_info(who[i].pid, &pi) == 0) {
      before[i] = pi.user_time_us + pi.system_time_us;
      mproc_proc_info_free(&pi);
    }
  }
  t = bench_now();
  {
    struct timespec ts = {1, 0};
    nanosleep(&ts, NULL);
  }
  t = bench_now() - t;
  for (i = 0; i < n; i++) {
    mproc_proc_info_t pi;
    if (mproc_proc_info(who[i].pid, &pi) == 0) {
      double share =
          (double)(pi.user_time_us + pi.system_time_us - before[i]) / 1e6 / t;
      if (share > worst)
        worst = share;
      mproc_proc_info_free(&pi);
    }
  }
  return worst;
}

int main(int argc, char **argv) {
  mproc_pool_t *pool;
  mproc_pool_options_t o;
  size_t n = 0;
  double speedup, owner_share;
  int rc, workers;
  if ((rc = mproc_mpi_init(&argc, &argv)) != 0)
    bench_die("mproc_mpi_init", rc);
  memset(&o, 0, sizeof o);
  if ((rc = mproc_mpi_pool_create(&pool, &o, NULL)) != 0)
    bench_die("mproc_mpi_pool_create", rc);
  mproc_mpi_pool_workers(pool, NULL, 0, &n);
  workers = (int)n;
  printf("workers %d\n", workers);
  apply_round_trip(pool, 200); /* warm-up */
  printf("apply_round_trip_us %.2f\n", apply_round_trip(pool, 5000) * 1e6);
  printf("map_chunksize1_per_s %.0f\n", map_rate(pool, 200000, 1));
  printf("map_tiny_per_s %.0f\n", map_rate(pool, 20000000, 0));
  speedup =
      cpu_speedup(pool, (size_t)workers * SPIN_TASKS_PER_WORKER, &owner_share);
  printf("cpu_speedup_per_worker %.3f\n", speedup / workers);
  printf("cpu_owner_core_share %.4f\n", owner_share);
  printf("idle_worker_core_share %.4f\n", idle_share(pool));
  mproc_pool_close(pool);
  mproc_pool_join(pool, MPROC_INFINITE);
  mproc_pool_free(pool);

  /* The same figures from a local pool of as many workers, in the same
   * run: what the machine gives now, without MPI. */
  o.processes = workers;
  if ((rc = mproc_pool_create(&pool, &o)) != 0)
    bench_die("mproc_pool_create", rc);
  apply_round_trip(pool, 200);
  printf("local_apply_round_trip_us %.2f\n",
         apply_round_trip(pool, 5000) * 1e6);
  printf("local_map_chunksize1_per_s %.0f\n", map_rate(pool, 200000, 1));
  printf("local_map_tiny_per_s %.0f\n", map_rate(pool, 20000000, 0));
  mproc_pool_close(pool);
  mproc_pool_join(pool, MPROC_INFINITE);
  mproc_pool_free(pool);
  return 0;
}
