/* SPDX-License-Identifier: MIT */
/* The POSIX backend's record of a started child, shared by start.c (which
 * forks it) and reaper.c (which waits for it and reaps it). */
#ifndef MPROC_POSIX_CHILD_H
#define MPROC_POSIX_CHILD_H

#include <sys/types.h>

#include "platform.h"

struct mproc__child {
  struct mproc__child *next, *prev; /* reaper's list while not yet closed */
  pid_t pid;
  int pidfd;     /* pollable exit notification (Linux), or -1 */
  int status_fd; /* read end of the child's status pipe, or -1 */
  /* The child writes its exit code here just before _exit: the only record
   * of it when the application set SIGCHLD to SIG_IGN and the kernel reaped
   * the child on its own. EOF on it is also the portable exit signal. */
  unsigned char status_buf[4];
  size_t status_len;
  int status_eof;
  int reaped; /* exit status known; fds may still await closing */
  int exitcode;
  int sent_signal;    /* the last signal mproc sent it, for a lost status */
  int released;       /* common code dropped its handle */
  int retired;        /* off the watch list, descriptors closed */
  int pollers;        /* threads polling its descriptor: do not close it yet */
  int watched;        /* in the reaper's epoll set */
  int foreign;        /* a fork server's child: never waitpid() it; the exit
                         code arrives on status_fd */
  int64_t retry_ns;   /* next waitpid attempt after EOF, or 0 */
  int64_t retry_step; /* back-off between those attempts */
};

/* Take a freshly started child under watch: record its pid and status
 * descriptor (a fork server's socket for a foreign child) and, for a child
 * of this process, open its pidfd where the kernel has them. Called with
 * the start lock. */
void mproc__reaper_add(mproc__child_t *c, pid_t pid, int status_fd);

/* The start lock: held across fork so that the child inherits a consistent
 * list of its siblings' descriptors, which it then closes. */
void mproc__reaper_lock(void);
void mproc__reaper_unlock(void);

/* In a child after fork: close the parent's watch descriptors and forget
 * them; the child has no reaper thread until it starts children itself. */
void mproc__reaper_after_fork_child(void);

/* Run a child's life in this process (forked, or spawned and bootstrapped):
 * keep the status pipe, watch the parent if a daemon, run the target and
 * _exit. Never returns. */
void mproc__posix_run_child(const mproc__child_spec_t *spec, int status_fd,
                            pid_t parent, int use_pdeathsig, int death_fd);

/* Start c as a spawned child (posix_spawn of this executable). On failure
 * c has been freed, or handed to the reaper when a child exists. */
int mproc__posix_spawn(const mproc__child_spec_t *spec, mproc__child_t *c);

/* Start c through the fork server (started on first use). */
int mproc__posix_forkserver_start(const mproc__child_spec_t *spec,
                                  mproc__child_t *c);
void mproc__posix_forkserver_after_fork_child(void);

/* Take a pipe end this process was handed as a spawned child into the
 * pipes src/posix/pipe.c keeps: close-on-exec, and closed in fork
 * children. */
void mproc__posix_pipe_adopt(int fd);

/* Spawn of this executable (argv[0] NULL: its path; src/posix/spawn.c
 * says how) with a cleared signal mask and the bootstrap cookie in its
 * environment, and extra_env
 * ("NAME=value", or NULL) unless the environment sets NAME already. The
 * new program inherits its standard streams and keep[i] as descriptor
 * 3 + i, nothing else. */
int mproc__posix_spawn_self(char **argv, const int *keep, int nkeep,
                            const unsigned char *cookie, const char *extra_env,
                            pid_t *pid);

/* What a child started from a bootstrap message does once its process is
 * set up (mproc__os_child_run_spawned does that for a spawned one; the fork
 * server for its forks): adopt the handed descriptors, run the target,
 * exit. */
void mproc__posix_run_booted(const struct mproc__boot *boot,
                             const mproc__child_spec_t *spec);

/* In a program this executable spawned (a child, or the fork server), as
 * it starts: no signal blocked, as posix_spawn() would have left it (our
 * own spawn keeps every signal blocked up to the exec). */
void mproc__posix_signals_after_spawn(void);

/* The path that runs this executable again. */
int mproc__posix_exe_path(char *buf, size_t size);

/* Register the handlers that run in a fork child of this process (once;
 * every start does it). The fork server does it before its first fork, so
 * that no child of it has to. */
void mproc__posix_register_atfork(void);

int mproc__posix_is_main_thread(void);
int mproc__posix_death_fd(int *fd);

/* The status pipe end this process writes its exit code to, if it is an
 * mproc child; its own children must not inherit it. */
extern int mproc__self_status_fd;

#endif
