/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "join方法" (the join method: the parent waits until its children
 * end). Three children started together take as long as the slowest;
 * started and joined one at a time they take the sum.
 *
 * Output: each child prints its name and its steps; after each of the three
 * rounds the parent prints "main" and the seconds elapsed, as the tutorial
 * does (about 2, 3 and 3; see the comments in main for why). */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

typedef struct {
  char name[16];
  int n;
} job_t;

/* The tutorial's first func: two steps a second apart. */
static int func_steps(const void *arg, size_t size) {
  const job_t *job = arg;
  (void)size;
  printf("%s\n", job->name);
  fflush(stdout);
  sleep_ms(1000);
  printf("1\n");
  fflush(stdout);
  sleep_ms(1000);
  printf("2\n");
  return 0;
}
MPROC_TARGET(func_steps);

/* The tutorial's second func: sleeps n seconds. */
static int func_sleep(const void *arg, size_t size) {
  const job_t *job = arg;
  (void)size;
  printf("%s\n", job->name);
  fflush(stdout);
  sleep_ms(1000L * job->n);
  printf("%d\n", job->n);
  return 0;
}
MPROC_TARGET(func_sleep);

static mproc_process_t *start(mproc_target_fn fn, const char *name, int n) {
  mproc_process_t *p = NULL;
  job_t job;
  memset(&job, 0, sizeof job);
  snprintf(job.name, sizeof job.name, "%s", name);
  job.n = n;
  if (mproc_process_create(&p, fn, &job, sizeof job, NULL) != 0 ||
      mproc_process_start(p) != 0) {
    fprintf(stderr, "could not start %s\n", name);
    return NULL;
  }
  return p;
}

static void finish(mproc_process_t *p) {
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_free(p);
}

int main(int argc, char **argv) {
  mproc_process_t *list[3];
  double start_time;
  int i;
  mproc_init(&argc, &argv);

  /* Three started together, then joined: about 2 s. */
  start_time = monotonic_seconds();
  list[0] = start(func_steps, "hkw", 1);
  list[1] = start(func_steps, "jon", 2);
  list[2] = start(func_steps, "liu", 3);
  for (i = 0; i < 3; i++)
    finish(list[i]);
  printf("main %.2f\n", monotonic_seconds() - start_time);

  /* One at a time: each join waits before the next starts; the tutorial resets
   * start_time in the loop, so it prints the last one's time, about 3 s. */
  for (i = 1; i <= 3; i++) {
    mproc_process_t *p;
    start_time = monotonic_seconds();
    p = start(func_sleep, "hkw", i);
    finish(p);
  }
  printf("main %.2f\n", monotonic_seconds() - start_time);

  /* Started in a loop, joined afterwards: about 3 s in all. */
  for (i = 1; i <= 3; i++) {
    start_time = monotonic_seconds();
    list[i - 1] = start(func_sleep, "hkw", i);
  }
  for (i = 0; i < 3; i++)
    finish(list[i]);
  printf("main %.2f\n", monotonic_seconds() - start_time);
  return 0;
}
