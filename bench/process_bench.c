/* Start + join of a child that returns at once: mproc's Process beside a
 * raw fork + _exit + waitpid loop, measured side by side in one run. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

static int nothing(const void *arg, size_t size) {
  (void)arg;
  (void)size;
  return 0;
}

static void mproc_start_join(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_process_t *p;
    if (mproc_process_create(&p, nothing, NULL, 0, NULL) != 0 ||
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
    if (pid == 0) _exit(0);
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
      fprintf(stderr, "fork/waitpid failed\n");
      exit(1);
    }
  }
}

int main(int argc, char **argv) {
  int iters = argc > 1 ? atoi(argv[1]) : 200;
  int rounds = argc > 2 ? atoi(argv[2]) : 9;
  double ratio;
  mproc_init(&argc, &argv);
  if (iters < 1) iters = 1;
  if (rounds < 1) rounds = 1;
  ratio = bench_compare("Process start+join (fork), child returns at once",
                        "mproc_process start+join+free", mproc_start_join,
                        "raw fork+_exit+waitpid", raw_fork_wait, iters, rounds);
  printf("  target <= 1.30x: %s\n", ratio <= 1.30 ? "met" : "NOT met");
  return 0;
}
