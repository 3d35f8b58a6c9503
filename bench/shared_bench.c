/* SPDX-License-Identifier: MIT */
/* Shared objects beside what the system offers, measured side by side in
 * one run (alternating rounds, medians compared):
 *   - Queue, 64-byte messages, one producer process to one consumer,
 *     beside a pipe with one write (and one read) per message;
 *   - Queue, 1 MiB messages, beside memcpy of 1 MiB in one process;
 *   - Lock acquire+release, uncontended, beside a process-shared robust
 *     pthread mutex in shared memory;
 *   - Lock handed between two processes that both want it all the time;
 *   - Queue, 4 producers to 4 consumers, 64-byte messages. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

static mproc_process_t *start(mproc_target_fn fn, const void *arg,
                              size_t size) {
  return bench_start(fn, arg, size, MPROC_START_DEFAULT);
}

/* ---- queue, small messages ------------------------------------------- */

typedef struct stream {
  mproc_queue_t q;
  int fd;
  int count;
  size_t size;
} stream_t;

static mproc_queue_t small_q;

static int queue_producer(const void *arg, size_t size) {
  stream_t s;
  char *buf;
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  buf = calloc(1, s.size);
  for (i = 0; i < s.count; i++) {
    memcpy(buf, &i, sizeof i);
    if (mproc_queue_put(&s.q, buf, s.size, MPROC_INFINITE) != 0)
      return 1;
  }
  free(buf);
  return 0;
}

static void queue_64(int n) {
  stream_t s = {small_q, -1, n, 64};
  char buf[64];
  size_t got;
  int i, rc;
  mproc_process_t *p = start(queue_producer, &s, sizeof s);
  for (i = 0; i < n; i++) {
    rc = mproc_queue_get_into(&small_q, buf, sizeof buf, &got, MPROC_INFINITE);
    if (rc != 0)
      bench_die("get", rc);
  }
  bench_finish(p);
}

static int pipe_producer(const void *arg, size_t size) {
  stream_t s;
  char buf[64] = {0};
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  for (i = 0; i < s.count; i++) {
    if (write(s.fd, buf, sizeof buf) != (ssize_t)sizeof buf)
      return 1;
  }
  close(s.fd);
  return 0;
}

static void pipe_64(int n) {
  int fds[2], i;
  char buf[64];
  stream_t s;
  mproc_process_t *p;
  if (pipe(fds) != 0)
    bench_die("pipe", errno);
  s.fd = fds[1];
  s.count = n;
  p = start(pipe_producer, &s, sizeof s);
  close(fds[1]);
  for (i = 0; i < n; i++) {
    size_t have = 0;
    while (have < sizeof buf) {
      ssize_t r = read(fds[0], buf + have, sizeof buf - have);
      if (r <= 0)
        bench_die("read", errno);
      have += (size_t)r;
    }
  }
  close(fds[0]);
  bench_finish(p);
}

/* ---- queue, 1 MiB messages -------------------------------------------- */

#define MIB ((size_t)1 << 20)
static mproc_queue_t big_q;
static char *big_src, *big_dst;

static void queue_1m(int n) {
  stream_t s = {big_q, -1, n, MIB};
  size_t got;
  int i, rc;
  mproc_process_t *p = start(queue_producer, &s, sizeof s);
  for (i = 0; i < n; i++) {
    rc = mproc_queue_get_into(&big_q, big_dst, MIB, &got, MPROC_INFINITE);
    if (rc != 0)
      bench_die("get 1 MiB", rc);
  }
  bench_finish(p);
}

static void memcpy_1m(int n) {
  int i;
  for (i = 0; i < n; i++) {
    big_src[i % 4096] = (char)i;
    memcpy(big_dst, big_src, MIB);
  }
}

/* ---- lock, uncontended ------------------------------------------------ */

static mproc_lock_t lock;
static pthread_mutex_t *robust;

static void lock_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_lock_acquire(&lock, MPROC_INFINITE);
    mproc_lock_release(&lock);
  }
}

static void robust_loop(int n) {
  int i;
  for (i = 0; i < n; i++) {
    pthread_mutex_lock(robust);
    pthread_mutex_unlock(robust);
  }
}

/* ---- lock, contended -------------------------------------------------- */

typedef struct contend {
  mproc_lock_t lock;
  pthread_mutex_t *robust;
  volatile long *counter;
  int count;
} contend_t;

static long *shared_counter;

static int contend_mproc(const void *arg, size_t size) {
  contend_t c;
  int i;
  (void)size;
  memcpy(&c, arg, sizeof c);
  for (i = 0; i < c.count; i++) {
    mproc_lock_acquire(&c.lock, MPROC_INFINITE);
    (*c.counter)++;
    mproc_lock_release(&c.lock);
  }
  return 0;
}

static int contend_robust(const void *arg, size_t size) {
  contend_t c;
  int i;
  (void)size;
  memcpy(&c, arg, sizeof c);
  for (i = 0; i < c.count; i++) {
    pthread_mutex_lock(c.robust);
    (*c.counter)++;
    pthread_mutex_unlock(c.robust);
  }
  return 0;
}

static void contended(int n, mproc_target_fn fn) {
  contend_t c = {lock, robust, shared_counter, n / 2};
  mproc_process_t *a = start(fn, &c, sizeof c), *b = start(fn, &c, sizeof c);
  bench_finish(a);
  bench_finish(b);
}
static void contended_mproc(int n) { contended(n, contend_mproc); }
static void contended_robust(int n) { contended(n, contend_robust); }

/* ---- queue, 4 x 4 ----------------------------------------------------- */

static int queue_consumer(const void *arg, size_t size) {
  stream_t s;
  char buf[64];
  size_t got;
  int i;
  (void)size;
  memcpy(&s, arg, sizeof s);
  for (i = 0; i < s.count; i++) {
    if (mproc_queue_get_into(&s.q, buf, sizeof buf, &got, MPROC_INFINITE) != 0)
      return 1;
  }
  return 0;
}

static void queue_4x4(int n) {
  stream_t s = {small_q, -1, n / 4, 64};
  mproc_process_t *p[8];
  int i;
  for (i = 0; i < 4; i++)
    p[i] = start(queue_consumer, &s, sizeof s);
  for (i = 4; i < 8; i++)
    p[i] = start(queue_producer, &s, sizeof s);
  for (i = 0; i < 8; i++)
    bench_finish(p[i]);
}

static void pipe_4x4(int n) {
  /* Four pipes, one producer and one reader process each. */
  int fds[4][2], i;
  stream_t s;
  mproc_process_t *p[4];
  (void)fds;
  for (i = 0; i < 4; i++) {
    if (pipe(fds[i]) != 0)
      bench_die("pipe", errno);
    s.fd = fds[i][1];
    s.count = n / 4;
    p[i] = start(pipe_producer, &s, sizeof s);
    close(fds[i][1]);
  }
  for (i = 0; i < 4; i++) {
    char buf[64];
    int k;
    for (k = 0; k < n / 4; k++) {
      size_t have = 0;
      while (have < sizeof buf) {
        ssize_t r = read(fds[i][0], buf + have, sizeof buf - have);
        if (r <= 0)
          bench_die("read", errno);
        have += (size_t)r;
      }
    }
    close(fds[i][0]);
    bench_finish(p[i]);
  }
}

static void print_pair(const char *title, const char *a_name, double a,
                       const char *b_name, double b, const char *unit,
                       double per_op_units) {
  printf(
      "%s\n  %-40s %12.1f %s  (%.1f ns/op)\n  %-40s %12.1f %s  (%.1f ns/op)\n"
      "  ratio mproc/baseline (time per op): %.2fx\n",
      title, a_name, per_op_units / a, unit, a * 1e9, b_name, per_op_units / b,
      unit, b * 1e9, a / b);
  bench_record(title, a_name, a * 1e9, b_name, b * 1e9, "ns");
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  double a, b;
  pthread_mutexattr_t at;
  mproc_init(&argc, &argv);
  (void)bench_compare; /* the shared harness's printer is for microseconds */
  if (rounds < 1)
    rounds = 1;

  if (mproc_queue_create(&small_q, NULL) != 0)
    bench_die("queue", 0);
  if (mproc_queue_create(&big_q, NULL) != 0)
    bench_die("queue", 0);
  if (mproc_lock_create(&lock) != 0)
    bench_die("lock", 0);
  robust = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                -1, 0);
  shared_counter = (long *)((char *)robust + 2048);
  pthread_mutexattr_init(&at);
  pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(robust, &at);
  big_src = malloc(MIB);
  big_dst = malloc(MIB);
  memset(big_src, 1, MIB);
  memset(big_dst, 2, MIB);

  bench_alternate(queue_64, pipe_64, 1000000, rounds, &a, &b);
  print_pair("Queue, 64-byte messages, 1 -> 1 process (target >= 5 M msg/s)",
             "mproc_queue put/get_into", a, "pipe, one write+read per message",
             b, "k msg/s", 1e-3);
  bench_alternate(queue_1m, memcpy_1m, 2000, rounds, &a, &b);
  print_pair("Queue, 1 MiB messages, 1 -> 1 process (target >= 5 GB/s)",
             "mproc_queue put/get_into (default ring)", a,
             "memcpy 1 MiB, one process", b, "MB/s", (double)MIB / 1e6);
  bench_alternate(lock_loop, robust_loop, 10000000, rounds, &a, &b);
  print_pair("Lock acquire+release, uncontended (target <= 25 ns)",
             "mproc_lock acquire+release", a, "robust pshared pthread_mutex", b,
             "M op/s", 1e-6);
  bench_alternate(contended_mproc, contended_robust, 2000000, rounds, &a, &b);
  print_pair("Lock, two processes contending all the time",
             "mproc_lock acquire+increment+release", a,
             "robust pshared pthread_mutex", b, "M op/s", 1e-6);
  bench_alternate(queue_4x4, pipe_4x4, 1000000, rounds, &a, &b);
  print_pair("Queue, 4 producers -> 4 consumers, 64-byte messages",
             "mproc_queue (one queue)", a, "4 pipes, 1 -> 1 each", b, "k msg/s",
             1e-3);

  mproc_queue_destroy(&small_q);
  mproc_queue_destroy(&big_q);
  mproc_lock_destroy(&lock);
  return 0;
}
