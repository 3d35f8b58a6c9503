/* SPDX-License-Identifier: MIT */
/* A small harness for side-by-side benchmarks: each case runs in rounds,
 * alternating with its baseline, and the medians are compared, so that a
 * noisy machine affects both sides alike. */
#ifndef MPROC_BENCH_UTIL_H
#define MPROC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mproc.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

static inline double bench_now(void) {
  LARGE_INTEGER f, c;
  QueryPerformanceFrequency(&f);
  QueryPerformanceCounter(&c);
  return (double)c.QuadPart / (double)f.QuadPart;
}
#else
static inline double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#endif

static inline void bench_die(const char *what, int rc) {
  fprintf(stderr, "%s failed: %d (%s)\n", what, rc, mproc_strerror(rc));
  exit(1);
}

/* A child running fn(arg), started with `method`; exits on failure. */
static inline mproc_process_t *bench_start(mproc_target_fn fn, const void *arg,
                                           size_t size,
                                           mproc_start_method_t method) {
  mproc_process_options_t o;
  mproc_process_t *p;
  int rc;
  memset(&o, 0, sizeof o);
  o.start_method = method;
  rc = mproc_process_create(&p, fn, arg, size, &o);
  if (rc == 0)
    rc = mproc_process_start(p);
  if (rc != 0)
    bench_die("process start", rc);
  return p;
}

/* Join and free the child; exits unless it ended with code 0. */
static inline void bench_finish(mproc_process_t *p) {
  int code = -1, rc = mproc_process_join(p, MPROC_INFINITE);
  if (rc != 0)
    bench_die("join", rc);
  mproc_process_exitcode(p, &code);
  mproc_process_free(p);
  if (code != 0)
    bench_die("child", code);
}

static inline int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static inline double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Appends one figure to the file named by $MPROC_BENCH_TSV, when set, for
 * bench/report.sh: an id, the subject's and the baseline's names and values
 * (in `unit`, lower is better unless the unit ends in "/s"), and the
 * ratio of subject time to baseline time. */
static inline void bench_record(const char *id, const char *subject_name,
                                double subject, const char *baseline_name,
                                double baseline, const char *unit) {
  const char *path = getenv("MPROC_BENCH_TSV");
  size_t n = strlen(unit);
  int rate = n > 2 && strcmp(unit + n - 2, "/s") == 0;
  double ratio = rate ? baseline / subject : subject / baseline;
  FILE *f;
  if (!path || !*path)
    return;
  f = fopen(path, "a");
  if (!f)
    return;
  fprintf(f, "%s\t%s\t%.6g\t%s\t%.6g\t%s\t%.3f\n", id, subject_name, subject,
          baseline_name, baseline, unit, ratio);
  fclose(f);
}

/* Runs `a` and `b` (each doing `iters` operations) for `rounds`
 * alternating rounds, after one short warm-up of each, and stores the
 * medians of seconds per operation in *ma and *mb. */
static inline void bench_alternate(void (*a)(int), void (*b)(int), int iters,
                                   int rounds, double *ma, double *mb) {
  double sa[64], sb[64], t;
  int i;
  if (rounds > 64)
    rounds = 64;
  a(iters / 10 + 1);
  b(iters / 10 + 1);
  for (i = 0; i < rounds; i++) {
    t = bench_now();
    a(iters);
    sa[i] = (bench_now() - t) / iters;
    t = bench_now();
    b(iters);
    sb[i] = (bench_now() - t) / iters;
  }
  *ma = bench_median(sa, rounds);
  *mb = bench_median(sb, rounds);
}

/* Runs `subject` and `baseline` (each doing `iters` operations) for
 * `rounds` alternating rounds and prints the per-operation medians and
 * their ratio. Returns the ratio. */
static inline double bench_compare(const char *title, const char *subject_name,
                                   void (*subject)(int),
                                   const char *baseline_name,
                                   void (*baseline)(int), int iters,
                                   int rounds) {
  double ms, mb;
  bench_alternate(subject, baseline, iters, rounds, &ms, &mb);
  printf("%s\n  %-34s %10.1f us/op\n  %-34s %10.1f us/op\n  ratio %.2fx\n",
         title, subject_name, ms * 1e6, baseline_name, mb * 1e6, ms / mb);
  bench_record(title, subject_name, ms * 1e6, baseline_name, mb * 1e6, "us");
  return ms / mb;
}

#endif
