/* SPDX-License-Identifier: MIT */
/*
 * Waiting for, signalling and letting go of children on Windows: the
 * seam's wait, signal and release over a process handle (the POSIX backend
 * does the same jobs in its reaper.c).
 *
 * Windows has no zombies: a process that ended is gone once the last handle
 * to it is closed, so "reaping" is closing the handle, which release does.
 */
#include <stdlib.h>

#include "child.h"

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
