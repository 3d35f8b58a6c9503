/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "互斥锁" (the mutual-exclusion lock: several processes working on
 * one piece of data get it wrong; a lock turns the concurrent work into
 * serial work, slower but safe). Ten users look up the tickets left in a
 * shared data file, then buy under a Lock.
 *
 * Output, in the tutorial's words: "用户N查询余票：2" (user N looks up the
 * tickets left: 2) ten times; then "用户N买票成功" (user N bought a ticket)
 * exactly twice and "用户N买票失败" (user N could not buy) for the others;
 * last "余票：0" (tickets left: 0). Never more buyers than tickets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

#define USERS 10
#define TICKETS 2

/* What each child gets as its argument bytes: the lock's handle is a plain
 * value and travels like any other field. */
typedef struct user_args {
  mproc_lock_t mutex;
  int user;
  char path[300];
} user_args_t;

static int read_tickets(const char *path) {
  int n = -1;
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  if (fscanf(f, "{\"ticket_num\": %d}", &n) != 1)
    n = -1;
  fclose(f);
  return n;
}

/* Written beside and renamed over, so a user looking up the count while
 * another buys reads the old value or the new one, never a half-written
 * file. */
static void write_tickets(const char *path, int n) {
  char tmp[320];
  FILE *f;
  snprintf(tmp, sizeof tmp, "%s.new", path);
  f = fopen(tmp, "w");
  if (!f)
    return;
  fprintf(f, "{\"ticket_num\": %d}", n);
  fclose(f);
  replace_file(tmp, path);
}

static void search(const user_args_t *a) {
  printf("用户%d查询余票：%d\n", a->user, read_tickets(a->path));
  fflush(stdout);
}

static void buy(const user_args_t *a) {
  int n = read_tickets(a->path);
  sleep_ms(10 + rand() % 20); /* the network is slow */
  if (n > 0) {
    write_tickets(a->path, n - 1);
    printf("用户%d买票成功\n", a->user);
  } else {
    printf("用户%d买票失败\n", a->user);
  }
  fflush(stdout);
}

static int run(const void *arg, size_t size) {
  user_args_t a;
  int rc;
  if (size != sizeof a)
    return 2;
  memcpy(&a, arg, sizeof a);
  srand((unsigned)(mproc_getpid() ^ a.user));
  search(&a);
  rc = mproc_lock_acquire(&a.mutex, MPROC_INFINITE);
  if (rc != 0 && rc != MPROC_EOWNERDEAD)
    return 1;
  buy(&a);
  mproc_lock_release(&a.mutex);
  return 0;
}
MPROC_TARGET(run);

int main(int argc, char **argv) {
  mproc_process_t *p[USERS];
  user_args_t a;
  int i, started = 0, failed = 0;
  if (mproc_init(&argc, &argv) != 0)
    return 1;

  memset(&a, 0, sizeof a);
  snprintf(a.path, sizeof a.path, "%smproc_tickets_%lld.json", temp_dir(),
           (long long)mproc_getpid());
  write_tickets(a.path, TICKETS);
  if (mproc_lock_create(&a.mutex) != 0)
    return 1;

  for (i = 0; i < USERS; i++) {
    a.user = i;
    if (mproc_process_create(&p[i], run, &a, sizeof a, NULL) != 0)
      break;
    if (mproc_process_start(p[i]) != 0) {
      mproc_process_free(p[i]);
      break;
    }
    started++;
  }
  for (i = 0; i < started; i++) {
    int code = -1;
    mproc_process_join(p[i], MPROC_INFINITE);
    mproc_process_exitcode(p[i], &code);
    failed |= code != 0;
    mproc_process_free(p[i]);
  }
  printf("余票：%d\n", read_tickets(a.path));
  mproc_lock_destroy(&a.mutex);
  remove(a.path);
  return failed || started != USERS;
}
