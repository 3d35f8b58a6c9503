/* SPDX-License-Identifier: MIT */
/* Tutorial 1, "python创建进程" (Creating processes in Python),
 * lesson "创建进程方法一" (creating a process, way one: a function):
 * a Process runs a function with arguments.
 *
 * Output: the parent prints "main" at once; the child prints its argument
 * "hkw", then "1", "2", "3" a second apart. The program ends only after the
 * child, as Python's does. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"
#include "portable.h"

static int func(const void *arg, size_t size) {
  printf("%.*s\n", (int)size, (const char *)arg);
  fflush(stdout);
  sleep_ms(1000);
  printf("1\n");
  fflush(stdout);
  sleep_ms(1000);
  printf("2\n");
  fflush(stdout);
  sleep_ms(1000);
  printf("3\n");
  return 0;
}
/* The target's name, registered so that a spawned child (a fresh run of this
 * program; Windows' only start method) finds the function: Python's spawn
 * looks a target up by its name too. Every portable example registers its
 * targets. */
MPROC_TARGET(func);

int main(int argc, char **argv) {
  mproc_process_t *pcs;
  const char *name = "hkw";
  int r;
  mproc_init(&argc, &argv);
  r = mproc_process_create(&pcs, func, name, strlen(name), NULL);
  if (r == 0)
    r = mproc_process_start(pcs);
  if (r != 0) {
    fprintf(stderr, "start: %s\n", mproc_strerror(r));
    return 1;
  }
  printf("main\n");
  fflush(stdout);
  return 0; /* mproc joins the non-daemon child before the program ends */
}
