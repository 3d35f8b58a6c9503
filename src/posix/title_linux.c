/* SPDX-License-Identifier: MIT */
/*
 * Process titles on Linux, as PostgreSQL and nginx set theirs: the kernel
 * shows the memory that held the program's arguments as /proc/PID/cmdline
 * (ps's COMMAND column, top's command line), so a process retitles itself
 * by writing there; it names itself (/proc/PID/comm, what top shows and
 * pkill matches) with prctl(PR_SET_NAME).
 *
 * mproc_init hands over argv first thing: its strings, and the
 * environment's after them, move to the heap (the program's argv array and
 * environ point at the copies, so it sees the same arguments and
 * environment; a saved envp of main's does not) and the area they filled
 * becomes free to rewrite.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "platform.h"

extern char **environ;

static struct {
  char *area; /* where the arguments were; NULL before title_init */
  size_t size;
  size_t args_size;   /* the part that held the arguments */
  char name[64];      /* the executable's file name: mproc__os_title_name */
  char **args;        /* the arguments' copies */
  char **env;         /* the environment moved to the heap */
  char **env_strings; /* its strings, whatever the program does to it */
  int named;          /* the thread is named already (title_named) */
} T;

/* The file name of the running executable ("myprog"), from
 * /proc/self/exe, or argv[0]'s last component when that cannot be read. */
static void find_name(void) {
  static const char deleted[] = " (deleted)";
  char path[4096];
  const char *base = T.args && T.args[0] ? T.args[0] : "", *slash;
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = 0;
    if ((size_t)n > sizeof deleted - 1 &&
        strcmp(path + n - (sizeof deleted - 1), deleted) == 0)
      path[n - (sizeof deleted - 1)] = 0;
    base = path;
  }
  slash = strrchr(base, '/');
  base = slash ? slash + 1 : base;
  mproc__os_title_name(base);
}

void mproc__os_title_name(const char *name) {
  size_t n;
  if (!name) {
    if (T.name[0] == 0)
      find_name();
    return;
  }
  n = strlen(name);
  if (n > sizeof T.name - 1)
    n = sizeof T.name - 1;
  memcpy(T.name, name, n);
  T.name[n] = 0;
}

const char *mproc__os_program_name(void) { return T.name; }

/* Move the environment's strings that follow `end` in memory to the heap
 * (environ then points at the copies) and return the new end of the area,
 * or `end` unchanged when there is no memory for the copies. */
static char *take_environment(char *end) {
  size_t n = 0, i;
  char **copy, *stop = end;
  while (environ && environ[n])
    n++;
  for (i = 0; i < n && environ[i] == stop; i++)
    stop += strlen(environ[i]) + 1;
  if (stop == end || !(copy = calloc(n + 1, sizeof *copy)))
    return end;
  for (i = 0; i < n; i++) {
    if (!(copy[i] = strdup(environ[i]))) {
      while (i > 0)
        free(copy[--i]);
      free(copy);
      return end;
    }
  }
  /* The program may change its environment later (setenv, unsetenv), and
   * the C library then drops these from environ without freeing them: the
   * array and every string stay reachable from here, so they are never
   * taken for leaks. */
  T.env = copy;
  T.env_strings = calloc(n + 1, sizeof *T.env_strings);
  if (T.env_strings)
    memcpy(T.env_strings, copy, n * sizeof *copy);
  environ = copy;
  return stop;
}

void mproc__os_title_init(int argc, char **argv) {
  char *start, *end;
  int i;
  if (T.area || argc < 1 || !argv || !argv[0])
    return;
  /* The area is the run of strings the kernel laid out one after the
   * other: the arguments, then the environment (as PostgreSQL does, its
   * strings move too, so that a short command line leaves room for a
   * title); a string elsewhere (the program changed argv) ends it. */
  start = argv[0];
  end = start + strlen(start) + 1;
  for (i = 1; i < argc && argv[i] == end; i++)
    end += strlen(argv[i]) + 1;
  /* The copies are also kept here, so that they stay reachable whatever
   * the program does to argv (and are never taken for leaks). */
  T.args = calloc((size_t)argc + 1, sizeof *T.args);
  if (!T.args)
    return; /* the arguments stay where they are: no titles */
  for (i = 0; i < argc; i++) {
    char *copy = strdup(argv[i]);
    if (!copy)
      return;
    T.args[i] = argv[i] = copy;
  }
  T.area = start;
  T.args_size = (size_t)(end - start);
  T.size = (size_t)(take_environment(end) - start);
}

/* Append s at area[*n], cut so that a NUL still fits in `size`. */
static void append(char *area, size_t size, size_t *n, const char *s) {
  size_t len = strlen(s);
  if (len > size - 1 - *n)
    len = size - 1 - *n;
  memcpy(area + *n, s, len);
  *n += len;
}

void mproc__os_title_named(void) { T.named = 1; }

void mproc__os_set_title(const char *role) {
  size_t n = 0;
  mproc__os_title_name(NULL);
  /* The thread name holds 15 bytes: the program's name, cut. */
  if (!T.named)
    prctl(PR_SET_NAME, T.name, 0, 0, 0);
  T.named = 0;
  if (!role || !T.area || T.size < 2)
    return;
  /* "name: role", put together by hand: a fork child runs this at every
   * start, and snprintf would page in the formatting code (and the stack
   * it uses) each time. */
  append(T.area, T.size, &n, T.name);
  append(T.area, T.size, &n, ": ");
  append(T.area, T.size, &n, role);
  memset(T.area + n, 0, T.size - n);
  /* A last byte of the arguments' part that is not NUL tells the kernel
   * that the process retitled itself: /proc/PID/cmdline then ends at the
   * title's NUL instead of showing the padding as empty arguments. */
  if (n + 1 < T.args_size)
    T.area[T.args_size - 1] = ' ';
}
