/* SPDX-License-Identifier: MIT */
/* A parent and a child talking both ways over a duplex Connection (Python's
 * `Pipe()`): the parent sends numbers, the child answers each with its
 * square, then the parent says "bye" and the child answers "bye" and
 * closes its end; the parent then reads end of file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc.h"

static int squarer(const void *arg, size_t size) {
  mproc_connection_t end;
  if (size != sizeof end)
    return 2;
  memcpy(&end, arg, sizeof end);
  for (;;) {
    char buf[32];
    size_t got;
    long n;
    if (mproc_connection_recv_into(&end, buf, sizeof buf - 1, &got,
                                   MPROC_INFINITE) != 0)
      return 1;
    buf[got] = '\0';
    if (strcmp(buf, "bye") == 0)
      break;
    n = strtol(buf, NULL, 10);
    snprintf(buf, sizeof buf, "%ld", n * n);
    if (mproc_connection_send(&end, buf, strlen(buf), MPROC_INFINITE) != 0)
      return 1;
  }
  mproc_connection_send(&end, "bye", 3, MPROC_INFINITE);
  mproc_connection_close(&end);
  return 0;
}
MPROC_TARGET(squarer);

int main(int argc, char **argv) {
  mproc_connection_t parent_end, child_end;
  mproc_process_t *child;
  char buf[32];
  size_t got;
  int i, rc, exitcode = -1;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  if (mproc_pipe(&parent_end, &child_end, NULL) != 0)
    return 1;
  if (mproc_process_create(&child, squarer, &child_end, sizeof child_end,
                           NULL) != 0 ||
      mproc_process_start(child) != 0)
    return 1;
  for (i = 1; i <= 5; i++) {
    snprintf(buf, sizeof buf, "%d", i);
    if (mproc_connection_send(&parent_end, buf, strlen(buf), MPROC_INFINITE) !=
            0 ||
        mproc_connection_recv_into(&parent_end, buf, sizeof buf - 1, &got,
                                   MPROC_INFINITE) != 0)
      return 1;
    buf[got] = '\0';
    printf("parent: %d squared is %s\n", i, buf);
  }
  mproc_connection_send(&parent_end, "bye", 3, MPROC_INFINITE);
  if (mproc_connection_recv_into(&parent_end, buf, sizeof buf - 1, &got,
                                 MPROC_INFINITE) == 0) {
    buf[got] = '\0';
    printf("child said: %s\n", buf);
  }
  rc = mproc_connection_recv_into(&parent_end, buf, sizeof buf, &got,
                                  MPROC_INFINITE);
  printf("then: %s\n", mproc_strerror(rc));
  mproc_process_join(child, MPROC_INFINITE);
  mproc_process_exitcode(child, &exitcode);
  printf("child exit code: %d\n", exitcode);
  mproc_process_free(child);
  mproc_connection_close(&parent_end);
  return 0;
}
