/* SPDX-License-Identifier: MIT */
/* Starts a child, joins it and checks its exit code: proof that the
 * library was found, linked and works. */
#include <stdio.h>
#include <string.h>

#include <mproc.h>

static int target(const void *arg, size_t size) {
  return size == 2 && memcmp(arg, "ok", 2) == 0 ? 42 : 1;
}

int main(int argc, char **argv) {
  mproc_process_t *p;
  int code = -1;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  if (mproc_process_create(&p, target, "ok", 2, NULL) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  if (mproc_process_join(p, MPROC_INFINITE) != 0)
    return 4;
  if (mproc_process_exitcode(p, &code) != 0 || code != 42)
    return 5;
  mproc_process_free(p);
  printf("consumer (C): mproc %s, child exit code %d\n", mproc_version(), code);
  return 0;
}
