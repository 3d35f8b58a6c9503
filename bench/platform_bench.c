/* SPDX-License-Identifier: MIT */
/* The same three figures on every platform, through the public API only,
 * so that a Windows build (under Wine, or on Windows) can be set beside a
 * Linux one: start + join of a spawned child that returns at once, a
 * Queue carrying 64-byte messages from one process to another, and an
 * uncontended Lock acquire + release. bench/platform_bench.sh runs it
 * natively and under Wine and prints both. Timings under Wine are only
 * indicative: Wine emulates Windows' process and kernel objects with its
 * own server process. */
#include "bench_util.h"

static int nothing(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  return 0;
}
MPROC_TARGET(nothing);

typedef struct stream {
  mproc_queue_t q;
  int count;
} stream_t;

static int producer(const void *arg, size_t size) {
  stream_t s;
  char buf[64] = {0};
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  for (i = 0; i < s.count; i++) {
    memcpy(buf, &i, sizeof i);
    if (mproc_queue_put(&s.q, buf, sizeof buf, MPROC_INFINITE) != 0)
      return 1;
  }
  return 0;
}
MPROC_TARGET(producer);

/* Seconds per start + join, best of `rounds` runs of `n`. */
static double start_join(int n, int rounds) {
  double best = 1e9;
  int r, i;
  for (r = 0; r < rounds; r++) {
    double t = bench_now();
    for (i = 0; i < n; i++)
      bench_finish(bench_start(nothing, NULL, 0, MPROC_START_SPAWN));
    t = (bench_now() - t) / n;
    best = t < best ? t : best;
  }
  return best;
}

/* Messages per second, best of `rounds` streams of n messages. */
static double queue_64(int n, int rounds) {
  mproc_queue_options_t qo;
  stream_t s;
  double best = 0;
  int r, i, rc;
  memset(&qo, 0, sizeof qo);
  if ((rc = mproc_queue_create(&s.q, &qo)) != 0)
    bench_die("queue_create", rc);
  s.count = n;
  for (r = 0; r < rounds; r++) {
    char buf[64];
    size_t got;
    /* spawn: the one start method every platform has */
    mproc_process_t *p = bench_start(producer, &s, sizeof s, MPROC_START_SPAWN);
    double t = bench_now();
    for (i = 0; i < n; i++)
      if ((rc = mproc_queue_get_into(&s.q, buf, sizeof buf, &got,
                                     MPROC_INFINITE)) != 0)
        bench_die("get", rc);
    t = bench_now() - t;
    bench_finish(p);
    best = n / t > best ? n / t : best;
  }
  mproc_queue_destroy(&s.q);
  return best;
}

/* Seconds per acquire + release, best of `rounds` runs of n. */
static double lock_uncontended(int n, int rounds) {
  mproc_lock_t lock;
  double best = 1e9;
  int r, i, rc;
  if ((rc = mproc_lock_create(&lock)) != 0)
    bench_die("lock_create", rc);
  for (r = 0; r < rounds; r++) {
    double t = bench_now();
    for (i = 0; i < n; i++) {
      mproc_lock_acquire(&lock, MPROC_INFINITE);
      mproc_lock_release(&lock);
    }
    t = (bench_now() - t) / n;
    best = t < best ? t : best;
  }
  mproc_lock_destroy(&lock);
  return best;
}

int main(int argc, char **argv) {
  int scale;
  mproc_init(&argc, &argv);
  scale = argc > 1 ? atoi(argv[1]) : 1;
  if (scale < 1)
    scale = 1;
#ifdef _WIN32
  printf("platform: Windows\n");
#else
  printf("platform: POSIX\n");
#endif
  printf("  start+join (spawn)      %10.1f us\n",
         start_join(20 * scale, 5) * 1e6);
  printf("  queue 64 B, 1 -> 1      %10.2f M msg/s\n",
         queue_64(200000 * scale, 3) / 1e6);
  printf("  lock, uncontended       %10.1f ns\n",
         lock_uncontended(1000000 * scale, 5) * 1e9);
  return 0;
}
