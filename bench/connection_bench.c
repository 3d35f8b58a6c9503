/* SPDX-License-Identifier: MIT */
/* Connection (mproc_pipe) beside a raw pipe, measured side by side in one
 * run (alternating rounds, medians compared), a fork child at the other
 * end each time:
 *   - round trip of a 64-byte message (send, the child echoes it, receive)
 *     beside a ping-pong over two pipes; target: at most 1.3x the pipe's;
 *   - throughput of 64-byte messages, child to parent, beside one write and
 *     one read per message; target: at least the pipe's;
 *   - throughput of 1 MiB messages beside writing and reading 1 MiB through
 *     a pipe; target: at least the pipe's.
 * Each round includes starting and joining the child, on both sides. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

#define MIB ((size_t)1 << 20)

typedef struct job {
  mproc_connection_t end;
  int rfd, wfd; /* the pipe baseline's ends */
  int count;
  size_t size;
} job_t;

static unsigned char *buf_a, *buf_b; /* MIB each */

static mproc_process_t *start(mproc_target_fn fn, const job_t *j) {
  return bench_start(fn, j, sizeof *j, MPROC_START_FORK);
}

static void read_exact(int fd, void *buf, size_t n) {
  size_t have = 0;
  while (have < n) {
    ssize_t r = read(fd, (char *)buf + have, n - have);
    if (r <= 0)
      bench_die("read", r < 0 ? errno : 0);
    have += (size_t)r;
  }
}

static void write_exact(int fd, const void *buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, (const char *)buf + done, n - done);
    if (w <= 0)
      bench_die("write", w < 0 ? errno : 0);
    done += (size_t)w;
  }
}

/* ---- children ---------------------------------------------------------- */

static int conn_echo(const void *arg, size_t size) {
  job_t j;
  char buf[64];
  size_t got;
  int i;
  (void)size;
  memcpy(&j, arg, sizeof j);
  for (i = 0; i < j.count; i++) {
    if (mproc_connection_recv_into(&j.end, buf, sizeof buf, &got,
                                   MPROC_INFINITE) != 0 ||
        mproc_connection_send(&j.end, buf, got, MPROC_INFINITE) != 0)
      return 1;
  }
  return mproc_connection_close(&j.end) == 0 ? 0 : 1;
}
MPROC_TARGET(conn_echo);

static int pipe_echo(const void *arg, size_t size) {
  job_t j;
  char buf[64];
  int i;
  (void)size;
  memcpy(&j, arg, sizeof j);
  for (i = 0; i < j.count; i++) {
    read_exact(j.rfd, buf, sizeof buf);
    write_exact(j.wfd, buf, sizeof buf);
  }
  return 0;
}
MPROC_TARGET(pipe_echo);

static int conn_stream(const void *arg, size_t size) {
  job_t j;
  int i;
  (void)size;
  memcpy(&j, arg, sizeof j);
  for (i = 0; i < j.count; i++)
    if (mproc_connection_send(&j.end, buf_a, j.size, MPROC_INFINITE) != 0)
      return 1;
  return mproc_connection_close(&j.end) == 0 ? 0 : 1;
}
MPROC_TARGET(conn_stream);

static int pipe_stream(const void *arg, size_t size) {
  job_t j;
  int i;
  (void)size;
  memcpy(&j, arg, sizeof j);
  for (i = 0; i < j.count; i++)
    write_exact(j.wfd, buf_a, j.size);
  close(j.wfd);
  return 0;
}
MPROC_TARGET(pipe_stream);

/* ---- parents ------------------------------------------------------------ */

static void conn_round_trip(int n) {
  job_t j;
  mproc_connection_t mine;
  mproc_process_t *p;
  char buf[64] = {0};
  size_t got;
  int i, rc;
  memset(&j, 0, sizeof j);
  if ((rc = mproc_pipe(&mine, &j.end, NULL)) != 0)
    bench_die("pipe", rc);
  j.count = n;
  p = start(conn_echo, &j);
  for (i = 0; i < n; i++) {
    if ((rc = mproc_connection_send(&mine, buf, sizeof buf, MPROC_INFINITE)) ||
        (rc = mproc_connection_recv_into(&mine, buf, sizeof buf, &got,
                                         MPROC_INFINITE)))
      bench_die("round trip", rc);
  }
  bench_finish(p);
  mproc_connection_close(&mine);
}

static void pipe_round_trip(int n) {
  int to[2], from[2], i;
  char buf[64] = {0};
  job_t j;
  mproc_process_t *p;
  if (pipe(to) != 0 || pipe(from) != 0)
    bench_die("pipe", errno);
  memset(&j, 0, sizeof j);
  j.rfd = to[0];
  j.wfd = from[1];
  j.count = n;
  p = start(pipe_echo, &j);
  close(to[0]);
  close(from[1]);
  for (i = 0; i < n; i++) {
    write_exact(to[1], buf, sizeof buf);
    read_exact(from[0], buf, sizeof buf);
  }
  close(to[1]);
  close(from[0]);
  bench_finish(p);
}

static size_t stream_size;

static void conn_throughput(int n) {
  job_t j;
  mproc_connection_t mine;
  mproc_process_t *p;
  size_t got;
  int i, rc;
  memset(&j, 0, sizeof j);
  if ((rc = mproc_pipe(&mine, &j.end, NULL)) != 0)
    bench_die("pipe", rc);
  j.count = n;
  j.size = stream_size;
  p = start(conn_stream, &j);
  for (i = 0; i < n; i++)
    if ((rc = mproc_connection_recv_into(&mine, buf_b, MIB, &got,
                                         MPROC_INFINITE)) != 0)
      bench_die("recv", rc);
  bench_finish(p);
  mproc_connection_close(&mine);
}

static void pipe_throughput(int n) {
  int fds[2], i;
  job_t j;
  mproc_process_t *p;
  if (pipe(fds) != 0)
    bench_die("pipe", errno);
  memset(&j, 0, sizeof j);
  j.wfd = fds[1];
  j.count = n;
  j.size = stream_size;
  p = start(pipe_stream, &j);
  close(fds[1]);
  for (i = 0; i < n; i++)
    read_exact(fds[0], buf_b, stream_size);
  close(fds[0]);
  bench_finish(p);
}

/* ---- harness ------------------------------------------------------------ */

static void print_pair(const char *title, const char *a_name, double a,
                       const char *b_name, double b, const char *unit,
                       double per_op_units) {
  printf("%s\n  %-36s %12.1f %s  (%.2f us/op)\n"
         "  %-36s %12.1f %s  (%.2f us/op)\n"
         "  ratio Connection/pipe (time per op): %.2fx\n",
         title, a_name, per_op_units / a, unit, a * 1e6, b_name,
         per_op_units / b, unit, b * 1e6, a / b);
  bench_record(title, a_name, a * 1e6, b_name, b * 1e6, "us");
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  double a, b;
  mproc_init(&argc, &argv);
  (void)bench_compare; /* this file prints rates beside times */
  if (rounds < 1)
    rounds = 1;
  buf_a = (unsigned char *)malloc(MIB);
  buf_b = (unsigned char *)malloc(MIB);
  if (!buf_a || !buf_b)
    bench_die("malloc", MPROC_ENOMEM);
  memset(buf_a, 1, MIB);
  memset(buf_b, 2, MIB);

  bench_alternate(conn_round_trip, pipe_round_trip, 20000, rounds, &a, &b);
  print_pair("Connection, 64-byte round trip (target <= 1.3x the pipe's)",
             "mproc_connection send+recv_into", a, "pipe ping-pong (two pipes)",
             b, "k round trips/s", 1e-3);
  stream_size = 64;
  bench_alternate(conn_throughput, pipe_throughput, 500000, rounds, &a, &b);
  print_pair("Connection, 64-byte messages, 1 -> 1 (target >= the pipe's)",
             "mproc_connection send/recv_into", a,
             "pipe, one write+read per message", b, "k msg/s", 1e-3);
  stream_size = MIB;
  bench_alternate(conn_throughput, pipe_throughput, 400, rounds, &a, &b);
  print_pair("Connection, 1 MiB messages, 1 -> 1 (target >= the pipe's)",
             "mproc_connection send/recv_into", a, "pipe, 1 MiB write+read", b,
             "MB/s", (double)MIB / 1e6);
  free(buf_a);
  free(buf_b);
  return 0;
}
