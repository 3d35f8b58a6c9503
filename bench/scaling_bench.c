/* SPDX-License-Identifier: MIT */
/* How mproc's costs grow with the work, for the plots of bench/report.sh:
 *   queue_pc     Queue throughput, 64-byte messages, P producers x C
 *                consumers (1..4 each);
 *   queue_size   Queue throughput 1 -> 1 against the message size, 8 B to
 *                256 MiB;
 *   pool_map     Pool map throughput (tiny tasks, chunksize 1) and CPU-bound
 *                speed-up against the number of workers (1 .. 2x the cores);
 *   start_mem    start+join time against the size of the parent's touched
 *                memory (0 to 1 GiB), for fork, spawn and forkserver.
 * Each point is the median of `rounds` runs. Output: one line per point,
 * "series <TAB> x <TAB> y <TAB> unit", on stdout or into the file named by
 * the first argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "mproc.h"

#define ROUNDS_MAX 15

static FILE *out;
static int rounds = 5;

static void point(const char *series, double x, double y, const char *unit) {
  fprintf(out, "%s\t%g\t%.6g\t%s\n", series, x, y, unit);
  fflush(out);
  fprintf(stderr, "  %-22s %10g  %12.4g %s\n", series, x, y, unit);
}

/* ---- queue ------------------------------------------------------------ */

typedef struct stream {
  mproc_queue_t q;
  long count;
  size_t size;
} stream_t;

static int producer(const void *arg, size_t size) {
  stream_t s;
  char *buf;
  long i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  buf = (char *)calloc(1, s.size ? s.size : 1);
  if (!buf)
    return 1;
  for (i = 0; i < s.count; i++) {
    if (mproc_queue_put(&s.q, buf, s.size, MPROC_INFINITE) != 0)
      return 1;
  }
  free(buf);
  return 0;
}
MPROC_TARGET(producer);

static int consumer(const void *arg, size_t size) {
  stream_t s;
  char *buf;
  size_t got;
  long i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  buf = (char *)malloc(s.size ? s.size : 1);
  if (!buf)
    return 1;
  for (i = 0; i < s.count; i++) {
    if (mproc_queue_get_into(&s.q, buf, s.size, &got, MPROC_INFINITE) != 0)
      return 1;
  }
  free(buf);
  return 0;
}
MPROC_TARGET(consumer);

/* Seconds for `total` messages of `size` bytes from p producers to c
 * consumers (p * c divides total). */
static double queue_run(int p, int c, long total, size_t size) {
  mproc_queue_t q;
  mproc_process_t *procs[8];
  stream_t s;
  double t;
  int i;
  if (mproc_queue_create(&q, NULL) != 0)
    bench_die("queue", 0);
  s.q = q;
  s.size = size;
  t = bench_now();
  s.count = total / c;
  for (i = 0; i < c; i++)
    procs[i] = bench_start(consumer, &s, sizeof s, MPROC_START_FORK);
  s.count = total / p;
  for (i = 0; i < p; i++)
    procs[c + i] = bench_start(producer, &s, sizeof s, MPROC_START_FORK);
  for (i = 0; i < p + c; i++)
    bench_finish(procs[i]);
  t = bench_now() - t;
  mproc_queue_destroy(&q);
  return t;
}

static double median_of(double *v, int n) { return bench_median(v, n); }

static void queue_pc(void) {
  double v[ROUNDS_MAX];
  char series[32];
  int p, c, r;
  const long total = 12L * 100000; /* divisible by 1..4 */
  for (p = 1; p <= 4; p++) {
    snprintf(series, sizeof series, "queue_pc_p%d", p);
    for (c = 1; c <= 4; c++) {
      for (r = 0; r < rounds; r++)
        v[r] = queue_run(p, c, total, 64);
      point(series, c, total / median_of(v, rounds) / 1e6, "Mmsg/s");
    }
  }
}

static void queue_size(void) {
  static const size_t sizes[] = {8,         64,        512,      4096,
                                 32768,     262144,    1u << 20, 8u << 20,
                                 64u << 20, 256u << 20};
  double v[ROUNDS_MAX];
  size_t i;
  int r;
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    /* About 512 MiB or 200 000 messages per run, whichever is fewer. */
    long n = (long)(((size_t)512 << 20) / sizes[i]);
    if (n > 200000)
      n = 200000;
    if (n < 2)
      n = 2;
    for (r = 0; r < rounds; r++)
      v[r] = queue_run(1, 1, n, sizes[i]);
    point("queue_size", (double)sizes[i],
          (double)n * (double)sizes[i] / median_of(v, rounds) / 1e9, "GB/s");
  }
}

/* ---- pool ------------------------------------------------------------- */

static int add_one(const void *arg, size_t size, mproc_buf_t *result) {
  int x;
  (void)size;
  memcpy(&x, arg, sizeof x);
  x++;
  return mproc_buf_set(result, &x, sizeof x);
}
MPROC_TASK(add_one);

static int spin(const void *arg, size_t size, mproc_buf_t *result) {
  volatile unsigned long x = 0;
  unsigned long i, sum;
  (void)arg;
  (void)size;
  for (i = 0; i < 2000000; i++)
    x += i;
  sum = x;
  return mproc_buf_set(result, &sum, sizeof sum);
}
MPROC_TASK(spin);

static double map_time(mproc_pool_t *pool, mproc_task_fn fn, size_t count,
                       size_t chunksize) {
  int *items = (int *)calloc(count, sizeof *items);
  unsigned long *res = (unsigned long *)calloc(count, sizeof *res);
  int *statuses = (int *)calloc(count, sizeof *statuses);
  double t;
  int rc;
  if (!items || !res || !statuses)
    bench_die("alloc", MPROC_ENOMEM);
  t = bench_now();
  rc = mproc_pool_map(pool, fn, items, sizeof *items, count, chunksize, res,
                      fn == spin ? sizeof(unsigned long) : sizeof(int),
                      statuses);
  t = bench_now() - t;
  if (rc != 0)
    bench_die("map", rc);
  free(items);
  free(res);
  free(statuses);
  return t;
}

static void pool_map(void) {
  int cores = mproc_cpu_count(), w, r;
  double v[ROUNDS_MAX], base = 0;
  for (w = 1; w <= 2 * cores && w <= 8; w++) {
    mproc_pool_options_t o;
    mproc_pool_t *pool;
    memset(&o, 0, sizeof o);
    o.processes = w;
    if (mproc_pool_create(&pool, &o) != 0)
      bench_die("pool", 0);
    for (r = 0; r < rounds; r++)
      v[r] = map_time(pool, add_one, 50000, 1);
    point("pool_map_chunk1", w, 50000 / median_of(v, rounds) / 1e3, "ktasks/s");
    for (r = 0; r < rounds; r++)
      v[r] = map_time(pool, spin, (size_t)8 * (size_t)cores, 1);
    if (w == 1)
      base = median_of(v, rounds);
    point("pool_speedup", w, base / median_of(v, rounds), "x");
    mproc_pool_free(pool);
  }
}

/* ---- start+join against the parent's memory -------------------------- */

static int child_returns(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  return 0;
}
MPROC_TARGET(child_returns);

static void start_mem(void) {
  static const size_t mib[] = {0, 64, 256, 1024};
  static const struct {
    mproc_start_method_t method;
    const char *series;
  } methods[] = {{MPROC_START_FORK, "start_mem_fork"},
                 {MPROC_START_SPAWN, "start_mem_spawn"},
                 {MPROC_START_FORKSERVER, "start_mem_forkserver"}};
  double v[ROUNDS_MAX];
  size_t i, m;
  int r, k;
  /* The fork server starts before the parent grows, as a program would
   * start it: the first forkserver child starts it. */
  bench_finish(bench_start(child_returns, NULL, 0, MPROC_START_FORKSERVER));
  for (i = 0; i < sizeof mib / sizeof mib[0]; i++) {
    char *mem = NULL;
    if (mib[i]) {
      mem = (char *)malloc(mib[i] << 20);
      if (!mem)
        bench_die("malloc", MPROC_ENOMEM);
      memset(mem, 1, mib[i] << 20); /* touched: really the parent's */
    }
    for (m = 0; m < sizeof methods / sizeof methods[0]; m++) {
      for (r = 0; r < rounds; r++) {
        double t = bench_now();
        for (k = 0; k < 10; k++)
          bench_finish(bench_start(child_returns, NULL, 0, methods[m].method));
        v[r] = (bench_now() - t) / 10;
      }
      point(methods[m].series, (double)mib[i], median_of(v, rounds) * 1e6,
            "us");
    }
    free(mem);
  }
}

int main(int argc, char **argv) {
  const char *which;
  mproc_init(&argc, &argv);
  out = stdout;
  if (argc > 1 && strcmp(argv[1], "-") != 0) {
    out = fopen(argv[1], "w");
    if (!out)
      bench_die("open output", 0);
  }
  which = argc > 2 ? argv[2] : "all";
  if (argc > 3)
    rounds = atoi(argv[3]);
  if (rounds < 1)
    rounds = 1;
  if (rounds > ROUNDS_MAX)
    rounds = ROUNDS_MAX;
  if (!strcmp(which, "all") || !strcmp(which, "queue_pc"))
    queue_pc();
  if (!strcmp(which, "all") || !strcmp(which, "queue_size"))
    queue_size();
  if (!strcmp(which, "all") || !strcmp(which, "pool_map"))
    pool_map();
  if (!strcmp(which, "all") || !strcmp(which, "start_mem"))
    start_mem();
  if (out != stdout)
    fclose(out);
  return 0;
}
