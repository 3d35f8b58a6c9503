/* SPDX-License-Identifier: MIT */
/* The Windows backend's record of a started child, shared by spawn.c
 * (which creates it) and reaper.c (which waits for it and signals it). */
#ifndef MPROC_WIN32_CHILD_H
#define MPROC_WIN32_CHILD_H

#include "os.h"

/* The exit codes mproc's terminate and kill hand to TerminateProcess, which
 * mproc__child_wait() reads back as -SIGTERM and -SIGKILL, as Python does.
 * Above 255, so no target's return value (kept to 0..255) can look like
 * them; below 0xC0000000, so no exception code can either. */
#define MPROC__WIN32_EXIT_TERM 0x1000F /* 0x10000 + SIGTERM */
#define MPROC__WIN32_EXIT_KILL 0x10009 /* 0x10000 + SIGKILL */

struct mproc__child {
  HANDLE process; /* kept open until release: the pid cannot be reused */
  DWORD pid;
  /* The first of MPROC__SIG_TERM / MPROC__SIG_KILL mproc sent, or 0. */
  volatile LONG sent_signal;
};

/* Longest name mproc__win32_pipe_name() makes, the NUL included. */
#define MPROC__WIN32_PIPE_NAME_MAX 96

/* A name for a new named pipe, \\.\pipe\mproc-<kind>-<pid>-<counter>-<random
 * hex>: unique, and not to be guessed by another process that would open
 * the pipe first. Returns 0 or the error of the random source. */
int mproc__win32_pipe_name(const wchar_t *kind,
                           wchar_t name[MPROC__WIN32_PIPE_NAME_MAX]);

/* Start c as a spawned child (CreateProcessW of this executable). */
int mproc__win32_spawn(const mproc__child_spec_t *spec, mproc__child_t *c);

/* The job that holds this process's daemon children, created on first use:
 * KILL_ON_JOB_CLOSE, its only handle in this process, so that the daemons
 * die however this process ends. */
int mproc__win32_daemon_job(HANDLE *job);

/* Whether this process is itself a daemon child, inside its parent's
 * daemon job: its own non-daemon children then break away from that job,
 * so that they outlive it as they would on POSIX. */
extern int mproc__win32_in_daemon_job;

#endif
