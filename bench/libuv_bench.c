/* SPDX-License-Identifier: MIT */
/* mproc's spawn beside libuv's, the peer a C programmer would pick to start
 * a child: start + join of a child that returns at once, measured side by
 * side in one run (alternating rounds, medians compared).
 *   - mproc: a spawn-method Process (a fresh run of this program, told by
 *     its bootstrap which registered target to run);
 *   - libuv: uv_spawn() of this program with an argument that makes it
 *     exit at once in main, and a loop run until its exit callback.
 * The libuv child does less (no bootstrap), so the comparison favours it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench_util.h"
#include "mproc.h"

static char exe[4096];

static int child_returns(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  return 0;
}
MPROC_TARGET(child_returns);

static void mproc_spawn_join(int n) {
  int i;
  for (i = 0; i < n; i++)
    bench_finish(bench_start(child_returns, NULL, 0, MPROC_START_SPAWN));
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0) {
    fprintf(stderr, "libuv child ended with %lld, signal %d\n",
            (long long)status, sig);
    exit(1);
  }
  uv_close((uv_handle_t *)p, NULL);
}

static void uv_spawn_join(int n) {
  uv_loop_t loop;
  int i;
  char *args[] = {exe, "--exit-now", NULL};
  if (uv_loop_init(&loop) != 0)
    bench_die("uv_loop_init", 0);
  for (i = 0; i < n; i++) {
    uv_process_t proc;
    uv_process_options_t o;
    int rc;
    memset(&o, 0, sizeof o);
    o.file = exe;
    o.args = args;
    o.exit_cb = on_exit_cb;
    rc = uv_spawn(&loop, &proc, &o);
    if (rc != 0) {
      fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
      exit(1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop);
}

int main(int argc, char **argv) {
  size_t len = sizeof exe;
  int iters, rounds;
  double ratio;
  if (argc > 1 && strcmp(argv[1], "--exit-now") == 0)
    return 0;
  mproc_init(&argc, &argv);
  iters = argc > 1 ? atoi(argv[1]) : 100;
  rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (iters < 1)
    iters = 1;
  if (rounds < 1)
    rounds = 1;
  if (uv_exepath(exe, &len) != 0)
    bench_die("uv_exepath", 0);
  ratio =
      bench_compare("Process start+join (spawn) beside libuv's uv_spawn",
                    "mproc spawn", mproc_spawn_join, "uv_spawn + exit callback",
                    uv_spawn_join, iters, rounds);
  printf("  target <= 0.90x: %s\n", ratio <= 0.9 ? "met" : "NOT met");
  return 0;
}
