/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "僵尸进程与孤儿进程" (zombie and orphan processes), and
 * Tutorial 2, "进程两种创建方法" (Two ways to create a process: fork and
 * multiprocessing),
 * lesson "孤儿进程与僵尸进程"; both tutorials explain them in words only.
 * Here they are made and seen through mproc_proc_info().
 *
 * A zombie is a child that has ended while its parent has not yet collected
 * its exit status: the system keeps its pid and a few facts (its parent, how
 * long it ran) until the parent asks. An orphan is a child whose parent ended
 * first: the system gives it a new parent, init or the nearest "subreaper",
 * which will collect it in turn.
 *
 * mproc itself never leaves a zombie: it reaps every child it starts, even
 * one that is never joined. So both cases are made here with a raw fork(),
 * the way a program that does not use mproc would make them, and mproc only
 * looks.
 *
 * Output: the zombie's state before and after waitpid; then the orphan's
 * parent pid before (the middle process) and after (1, or a subreaper). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mproc.h"
#include "portable.h"

/* What the grandchild tells the top process about itself. */
typedef struct report {
  long long pid;
  long long ppid_before;
  long long ppid_after;
} report_t;

static const char *state_of(mproc_pid_t pid) {
  mproc_proc_info_t info;
  int rc = mproc_proc_info(pid, &info);
  mproc_proc_info_free(&info);
  if (rc == MPROC_ESRCH)
    return "gone (no such process)";
  if (rc != 0 && rc != MPROC_EPERM)
    return mproc_strerror(rc);
  return mproc_proc_state_name(info.state);
}

static int show_zombie(void) {
  pid_t child;
  int status, i;

  fflush(stdout);
  child = fork();
  if (child < 0) {
    perror("fork");
    return 1;
  }
  if (child == 0)
    _exit(7);

  /* The child ends at once; it stays a zombie for as long as this process
   * does not wait for it. Look for at most one second. */
  for (i = 0; i < 100; i++) {
    mproc_proc_info_t info;
    int rc = mproc_proc_info(child, &info);
    mproc_proc_info_free(&info);
    if (rc == 0 && info.state == MPROC_PROC_ZOMBIE)
      break;
    sleep_ms(10);
  }
  printf("child %d ended, not yet reaped: %s\n", (int)child, state_of(child));

  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  printf("after waitpid (exit status %d): %s\n", WEXITSTATUS(status),
         state_of(child));
  return 0;
}

/* The grandchild: reports its parent while the middle process lives, lets it
 * exit, waits (at most one second) to be given a new parent, and reports
 * again. */
static void run_grandchild(int report_fd, int release_fd, pid_t middle) {
  report_t r;
  mproc_proc_info_t info;
  int i;

  r.pid = (long long)mproc_getpid();
  r.ppid_before = (long long)mproc_getppid();
  if (write(release_fd, "x", 1) != 1)
    _exit(1);
  for (i = 0; i < 200 && (pid_t)mproc_getppid() == middle; i++)
    sleep_ms(5);
  r.ppid_after = -1;
  if (mproc_proc_info(mproc_getpid(), &info) == 0)
    r.ppid_after = (long long)info.ppid;
  mproc_proc_info_free(&info);
  if (write(report_fd, &r, sizeof r) != (ssize_t)sizeof r)
    _exit(1);
  _exit(0);
}

static int show_orphan(void) {
  int report[2], release[2], status;
  pid_t middle;
  report_t r;
  char byte;

  if (pipe(report) != 0 || pipe(release) != 0) {
    perror("pipe");
    return 1;
  }
  fflush(stdout);
  middle = fork();
  if (middle < 0) {
    perror("fork");
    return 1;
  }
  if (middle == 0) {
    pid_t me = getpid();
    pid_t grandchild = fork();
    if (grandchild == 0)
      run_grandchild(report[1], release[1], me);
    /* The middle process waits until the grandchild has seen it as its
     * parent, then ends without waiting for it: the grandchild is orphaned. */
    if (grandchild > 0)
      while (read(release[0], &byte, 1) < 0 && errno == EINTR) {
      }
    _exit(grandchild > 0 ? 0 : 1);
  }
  close(report[1]);
  close(release[0]);
  close(release[1]);

  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  printf("middle process %d has exited\n", (int)middle);
  if (read(report[0], &r, sizeof r) != (ssize_t)sizeof r) {
    fprintf(stderr, "the grandchild did not report\n");
    return 1;
  }
  close(report[0]);
  printf("grandchild %lld: parent before %lld (the middle process), "
         "after %lld (%s)\n",
         r.pid, r.ppid_before, r.ppid_after,
         r.ppid_after == 1 ? "init" : "the nearest subreaper");
  return r.ppid_before == (long long)middle && r.ppid_after != r.ppid_before
             ? 0
             : 1;
}

int main(int argc, char **argv) {
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  printf("zombie: a child that ended before its parent waited for it\n");
  if (show_zombie() != 0)
    return 1;
  printf("orphan: a child whose parent ended first\n");
  return show_orphan();
}
