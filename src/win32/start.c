/* SPDX-License-Identifier: MIT */
/*
 * Starting children on Windows (spawn, the only method), and what a
 * spawned child sets up before its target runs. Waiting for a child and
 * signalling it are in reaper.c, as on POSIX.
 */
#include <stdlib.h>

#include "bootstrap.h"
#include "child.h"

int mproc__child_method_supported(mproc_start_method_t method) {
  return method == MPROC_START_SPAWN;
}

mproc_start_method_t mproc__child_default_method(void) {
  return MPROC_START_SPAWN;
}

int mproc__child_start(const mproc__child_spec_t *spec, mproc__child_t **out) {
  mproc__child_t *c;
  int r;
  if (spec->method != MPROC_START_SPAWN)
    return MPROC_ENOTSUP;
  c = calloc(1, sizeof *c);
  if (!c)
    return MPROC_ENOMEM;
  r = mproc__win32_spawn(spec, c);
  if (r != 0) {
    free(c);
    return r;
  }
  *out = c;
  return 0;
}

/* A crash ends the child at once with its exception code, which the parent
 * reads with GetExitCodeProcess: no error dialog, no debugger (Wine would
 * start winedbg), no waiting for a report to be sent. */
static LONG WINAPI crash_filter(EXCEPTION_POINTERS *e) {
  TerminateProcess(GetCurrentProcess(), e->ExceptionRecord->ExceptionCode);
  return EXCEPTION_EXECUTE_HANDLER;
}

void mproc__os_child_run_spawned(const struct mproc__boot *boot,
                                 const mproc__child_spec_t *spec) {
  size_t i;
  int code;
  /* The pipe ends handed to this process came inheritable; its own
   * children must not inherit them again (the POSIX close-on-exec). */
  for (i = 0; i < spec->nhandles; i++)
    SetHandleInformation((HANDLE)spec->handles[i], HANDLE_FLAG_INHERIT, 0);
  SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX |
               SEM_NOOPENFILEERRORBOX);
  SetUnhandledExceptionFilter(crash_filter);
  /* The job was assigned by the parent before this process ran. */
  mproc__win32_in_daemon_job = (boot->flags & MPROC__BOOT_DAEMON) != 0;
  code = mproc__child_main(spec) & 0xff;
  mproc__os_exit(code);
}
