/* SPDX-License-Identifier: MIT */
/* For ci/check-ps-name.sh: starts one spawned child named "Process-1",
 * prints its pid once the child runs, and lets it end when a line arrives
 * on stdin (or after 60 s). The script looks at the child with ps in
 * between. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

typedef struct {
  mproc_event_t ready, go;
} events_t;

static int wait_to_go(const void *arg, size_t size) {
  events_t e;
  if (size != sizeof e)
    return 2;
  memcpy(&e, arg, sizeof e);
  mproc_event_set(&e.ready);
  return mproc_event_wait(&e.go, 60000) == 0 ? 0 : 1;
}
MPROC_TARGET(wait_to_go);

int main(int argc, char **argv) {
  mproc_process_options_t o;
  mproc_process_t *p = NULL;
  events_t e;
  char line[16];
  int code = -1;
  if (mproc_init(&argc, &argv) != 0 || mproc_event_create(&e.ready) != 0 ||
      mproc_event_create(&e.go) != 0)
    return 2;
  memset(&o, 0, sizeof o);
  o.start_method = MPROC_START_SPAWN;
  if (mproc_process_create(&p, wait_to_go, &e, sizeof e, &o) != 0 ||
      mproc_process_start(p) != 0 || mproc_event_wait(&e.ready, 60000) != 0)
    return 3;
  printf("%ld\n", (long)mproc_process_pid(p));
  fflush(stdout);
  if (!fgets(line, sizeof line, stdin)) {
    /* stdin closed: let the child go all the same */
  }
  mproc_event_set(&e.go);
  mproc_process_join(p, MPROC_INFINITE);
  mproc_process_exitcode(p, &code);
  mproc_process_free(p);
  mproc_event_destroy(&e.ready);
  mproc_event_destroy(&e.go);
  return code;
}
