/* A small harness for side-by-side benchmarks: each case runs in rounds,
 * alternating with its baseline, and the medians are compared, so that a
 * noisy machine affects both sides alike. */
#ifndef MPROC_BENCH_UTIL_H
#define MPROC_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs `subject` and `baseline` (each doing `iters` operations) for
 * `rounds` alternating rounds and prints the per-operation medians and
 * their ratio. Returns the ratio. */
static double bench_compare(const char *title, const char *subject_name,
                            void (*subject)(int), const char *baseline_name,
                            void (*baseline)(int), int iters, int rounds) {
  double s[64], b[64], ms, mb, t;
  int i;
  if (rounds > 64)
    rounds = 64;
  subject(iters / 10 + 1); /* warm up both */
  baseline(iters / 10 + 1);
  for (i = 0; i < rounds; i++) {
    t = bench_now();
    subject(iters);
    s[i] = (bench_now() - t) / iters;
    t = bench_now();
    baseline(iters);
    b[i] = (bench_now() - t) / iters;
  }
  ms = bench_median(s, rounds);
  mb = bench_median(b, rounds);
  printf("%s\n  %-34s %10.1f us/op\n  %-34s %10.1f us/op\n  ratio %.2fx\n",
         title, subject_name, ms * 1e6, baseline_name, mb * 1e6, ms / mb);
  return ms / mb;
}

#endif
