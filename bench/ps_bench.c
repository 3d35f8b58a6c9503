/* SPDX-License-Identifier: MIT */
/* Listing every process: `mproc-ps` beside `ps -e -o pid,ppid,stat,rss,comm`
 * (both writing to /dev/null), and mproc_proc_list() called in-process
 * beside the same ps run, in alternating rounds of one run.
 *
 * usage: ps_bench PATH-TO-mproc-ps [ROUNDS]
 *
 * mproc-ps reads each process's command line as well as its stat line, which
 * ps with these columns does not need; the ratio includes that. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "mproc.h"

extern char **environ;

static char *mproc_ps_argv[] = {NULL, NULL};
static char *ps_argv[] = {"ps", "-e", "-o", "pid,ppid,stat,rss,comm", NULL};
static int failed;

/* Runs a program with stdout on /dev/null and waits for it. */
static void run(char *const argv[], int use_path) {
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int status, rc;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  rc = use_path ? posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)
                : posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    failed = 1;
    return;
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    failed = 1;
}

static void run_mproc_ps(int n) {
  int i;
  for (i = 0; i < n; i++)
    run(mproc_ps_argv, 0);
}

static void run_ps(int n) {
  int i;
  for (i = 0; i < n; i++)
    run(ps_argv, 1);
}

static void list_in_process(int n) {
  int i;
  for (i = 0; i < n; i++) {
    mproc_proc_info_t *list;
    size_t count;
    if (mproc_proc_list(MPROC_PROC_ALL, 0, &list, &count) != 0)
      failed = 1;
    else
      mproc_proc_list_free(list, count);
  }
}

int main(int argc, char **argv) {
  mproc_proc_info_t *list;
  size_t count = 0;
  int rounds = argc > 2 ? atoi(argv[2]) : 15;

  if (argc < 2) {
    fprintf(stderr, "usage: ps_bench PATH-TO-mproc-ps [ROUNDS]\n");
    return 2;
  }
  if (rounds < 1)
    rounds = 1;
  mproc_ps_argv[0] = argv[1];
  if (mproc_proc_list(MPROC_PROC_ALL, 0, &list, &count) == 0)
    mproc_proc_list_free(list, count);
  printf("listing all %zu processes; median of %d rounds\n", count, rounds);

  run_ps(1);
  if (failed) {
    printf("ps could not be run; nothing to compare with\n");
    return 0;
  }
  bench_compare("mproc-ps beside ps (one run each, output to /dev/null)",
                "mproc-ps", run_mproc_ps, "ps -e -o pid,ppid,stat,rss,comm",
                run_ps, 10, rounds);
  bench_compare("mproc_proc_list(ALL) in-process beside a ps run",
                "mproc_proc_list + free", list_in_process,
                "ps -e -o pid,ppid,stat,rss,comm", run_ps, 10, rounds);
  if (failed) {
    fprintf(stderr, "ps_bench: a run failed\n");
    return 1;
  }
  return 0;
}
