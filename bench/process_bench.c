/* SPDX-License-Identifier: MIT */
/* Start + join of a child that returns at once: mproc's Process beside a
 * raw fork + _exit + waitpid loop, measured side by side in one run. */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

extern char **environ;

static int nothing(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  return 0;
}
MPROC_TARGET(nothing);

static mproc_start_method_t method = MPROC_START_FORK;

static void mproc_start_join(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_process_t *p;
    mproc_process_options_t o = {0};
    o.start_method = method;
    if (mproc_process_create(&p, nothing, NULL, 0, &o) != 0 ||
        mproc_process_start(p) != 0 ||
        mproc_process_join(p, MPROC_INFINITE) != 0) {
      fprintf(stderr, "mproc start/join failed\n");
      exit(1);
    }
    mproc_process_free(p);
  }
}

static void raw_fork_wait(int n) {
  int i, status;
  for (i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0)
      _exit(0);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
      fprintf(stderr, "fork/waitpid failed\n");
      exit(1);
    }
  }
}

/* posix_spawn of this same program, which exits at once (see main). */
static void raw_spawn_wait(int n) {
  static char exe[] = "/proc/self/exe", flag[] = "--exit-at-once";
  char *argv[3];
  int i, status;
  argv[0] = exe;
  argv[1] = flag;
  argv[2] = NULL;
  for (i = 0; i < n; i++) {
    pid_t pid;
    if (posix_spawn(&pid, exe, NULL, NULL, argv, environ) != 0 ||
        waitpid(pid, &status, 0) != pid) {
      fprintf(stderr, "posix_spawn/waitpid failed\n");
      exit(1);
    }
  }
}

int main(int argc, char **argv) {
  int iters, rounds;
  double ratio;
  /* The raw spawn baseline runs this program to exit at once, before
   * anything else, so both sides start the same executable. */
  if (argc > 1 && strcmp(argv[1], "--exit-at-once") == 0)
    return 0;
  mproc_init(&argc, &argv);
  iters = argc > 1 ? atoi(argv[1]) : 200;
  rounds = argc > 2 ? atoi(argv[2]) : 9;
  if (iters < 1)
    iters = 1;
  if (rounds < 1)
    rounds = 1;

  method = MPROC_START_FORK;
  ratio = bench_compare("Process start+join (fork), child returns at once",
                        "mproc_process start+join+free", mproc_start_join,
                        "raw fork+_exit+waitpid", raw_fork_wait, iters, rounds);
  printf("  target <= 1.30x: %s\n", ratio <= 1.30 ? "met" : "NOT met");

  method = MPROC_START_SPAWN;
  ratio = bench_compare("Process start+join (spawn), child returns at once",
                        "mproc_process start+join+free", mproc_start_join,
                        "raw posix_spawn(self)+waitpid", raw_spawn_wait,
                        iters / 4 + 1, rounds);
  printf("  target <= 1.30x: %s\n", ratio <= 1.30 ? "met" : "NOT met");

  method = MPROC_START_FORKSERVER;
  bench_compare("Process start+join (forkserver), child returns at once",
                "mproc_process start+join+free", mproc_start_join,
                "raw fork+_exit+waitpid", raw_fork_wait, iters, rounds);
  return 0;
}
