/* SPDX-License-Identifier: MIT */
/*
 * Children on Windows: the seam's start, wait, signal and release over a
 * process handle, and what a spawned child sets up before its target runs.
 *
 * Windows has no zombies: a process that ended is gone once the last handle
 * to it is closed, so "reaping" is closing the handle, which release does.
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

mproc_pid_t mproc__child_pid(const mproc__child_t *c) {
  return (mproc_pid_t)c->pid;
}

/* The exit code as mproc reports it. mproc's own terminate and kill read
 * as -SIGTERM and -SIGKILL; everything else is the process's exit code as
 * Windows keeps it: 0..255 from a target, an NTSTATUS such as 0xC0000005
 * (as the int with the same 32 bits) from a crash. */
static int report_exit_code(const mproc__child_t *c, DWORD code) {
  if (c->sent_signal != 0 && code == MPROC__WIN32_EXIT_TERM)
    return -15;
  if (c->sent_signal != 0 && code == MPROC__WIN32_EXIT_KILL)
    return -9;
  return (int)code;
}

int mproc__child_wait(mproc__child_t *c, int64_t timeout_ms, int *exitcode) {
  int64_t deadline = mproc__deadline_from_timeout(timeout_ms);
  DWORD code;
  for (;;) {
    int64_t left = mproc__timeout_left(deadline);
    /* WaitForSingleObject takes a DWORD in which all ones means forever:
     * longer finite waits go round in slices. */
    DWORD slice = left == MPROC_INFINITE ? INFINITE
                  : left >= 0x7fffffff   ? 0x7fffffff
                                         : (DWORD)left;
    DWORD w = WaitForSingleObject(c->process, slice);
    if (w == WAIT_OBJECT_0)
      break;
    if (w == WAIT_FAILED)
      return mproc__os_translate((int)GetLastError());
    if (left != MPROC_INFINITE && mproc__timeout_left(deadline) == 0)
      return MPROC_ETIMEDOUT;
  }
  if (!GetExitCodeProcess(c->process, &code))
    return mproc__os_translate((int)GetLastError());
  *exitcode = report_exit_code(c, code);
  return 0;
}

int mproc__child_signal(mproc__child_t *c, int sig) {
  DWORD code =
      sig == MPROC__SIG_KILL ? MPROC__WIN32_EXIT_KILL : MPROC__WIN32_EXIT_TERM;
  /* Windows has no signals: both end the process at once, and the exit
   * code says which one was asked for. The handle stays open until
   * release, so the pid cannot have been given to another process. */
  if (WaitForSingleObject(c->process, 0) == WAIT_OBJECT_0)
    return 0;
  InterlockedCompareExchange(&c->sent_signal, sig, 0);
  if (!TerminateProcess(c->process, code)) {
    DWORD err = GetLastError();
    /* It ended on its own meanwhile: nothing left to do. */
    if (WaitForSingleObject(c->process, 0) == WAIT_OBJECT_0)
      return 0;
    return mproc__os_translate((int)err);
  }
  return 0;
}

void mproc__child_release(mproc__child_t *c) {
  /* A child still running goes on; this process only lets go of it. */
  if (c->process)
    CloseHandle(c->process);
  free(c);
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
