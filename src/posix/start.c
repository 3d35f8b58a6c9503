/* SPDX-License-Identifier: MIT */
/*
 * Starting children on POSIX with fork(), and what a child sets up before
 * its target runs: the status pipe, and for a daemon the watch on its
 * parent's death.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bootstrap.h"
#include "child.h"
#include "fd.h"
#include "mproc_config.h"

#if MPROC_HAVE_PDEATHSIG
#include <sys/prctl.h>
#endif

/*
 * The death pipe: this process holds the only write end, its daemon
 * children hold read ends. When this process dies in any way, the kernel
 * closes the write end and every daemon's watcher reads EOF. Every child
 * closes the inherited write end at once (see after_fork_child).
 */
static int death_pipe[2] = {-1, -1};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In a fork child, its parent's record of it: the child never returns to
 * the frame that holds it, and keeps it reachable here so that a leak
 * check at its exit does not report it. Not freed: that would write to a
 * heap page the child otherwise leaves shared with its parent, and after
 * fork every page written costs a copy. Volatile: nothing reads it, and
 * the compiler would drop the store. */
static mproc__child_t *volatile forked_record;

static void after_fork_child(void) {
  mproc__posix_close_fd(&death_pipe[1]);
  /* The read end is our parent's pipe: a child of ours must watch us, not
   * it. run_child() keeps or closes the inherited descriptor. */
  death_pipe[0] = -1;
  mproc__reaper_after_fork_child();
  mproc__posix_forkserver_after_fork_child();
  mproc__process_after_fork_child();
}

static void register_atfork(void) {
  /* Also for the application's own fork(): its children must not keep our
   * descriptors (a daemon would outlive us) nor our children's records. */
  pthread_atfork(NULL, NULL, after_fork_child);
}

void mproc__posix_register_atfork(void) {
  pthread_once(&atfork_once, register_atfork);
}

int mproc__child_method_supported(mproc_start_method_t method) {
  return method == MPROC_START_FORK || method == MPROC_START_SPAWN ||
         method == MPROC_START_FORKSERVER;
}

mproc_start_method_t mproc__child_default_method(void) {
  return MPROC_START_FORK;
}

int mproc__posix_is_main_thread(void) {
#if MPROC_HAVE_GETTID
  return (pid_t)syscall(SYS_gettid) == getpid();
#else
  return 0;
#endif
}

static void *death_watch(void *arg) {
  int fd = (int)(intptr_t)arg;
  char byte;
  ssize_t n;
  do {
    n = read(fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  /* EOF: the parent is gone without terminating us. A daemon does not
   * outlive its parent. */
  kill(getpid(), SIGKILL);
  return NULL;
}

/* In a daemon child: arrange to die with the parent. */
static void watch_parent(pid_t parent, int use_pdeathsig, int death_fd) {
#if MPROC_HAVE_PDEATHSIG
  if (use_pdeathsig) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* The parent may have died before prctl took effect. */
    if (getppid() != parent)
      kill(getpid(), SIGKILL);
    close(death_fd);
    return;
  }
#else
  (void)use_pdeathsig;
#endif
  {
    pthread_t thread;
    pthread_attr_t attr;
    sigset_t all, old;
    (void)parent;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&thread, &attr, death_watch,
                       (void *)(intptr_t)death_fd) != 0) {
      /* Without a watcher the promise cannot be kept: do not run. */
      _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
}

static void write_status(int fd, int code) {
  int32_t value = code;
  ssize_t n;
  do {
    n = write(fd, &value, sizeof value);
  } while (n < 0 && errno == EINTR);
}

void mproc__posix_run_child(const mproc__child_spec_t *spec, int status_fd,
                            pid_t parent, int use_pdeathsig, int death_fd) {
  int code;
  mproc__self_status_fd = status_fd;
  if (spec->daemon)
    watch_parent(parent, use_pdeathsig, death_fd);
  else if (death_fd >= 0)
    close(death_fd);
  code = mproc__child_main(spec) & 0xff;
  if (status_fd >= 0)
    write_status(status_fd, code);
  _exit(code);
}

void mproc__os_child_run_spawned(const struct mproc__boot *boot,
                                 const mproc__child_spec_t *spec) {
  mproc__posix_signals_after_spawn();
  mproc__posix_register_atfork();
  /* The target and the programs it runs have no use for the cookie. */
  unsetenv(MPROC__BOOT_COOKIE_ENV);
  mproc__posix_run_booted(boot, spec);
}

void mproc__posix_run_booted(const struct mproc__boot *boot,
                             const mproc__child_spec_t *spec) {
  int status_fd = (int)boot->status_channel;
  int death_fd = (int)boot->death_channel;
  /* Inherited across exec on purpose; our own children must not inherit
   * them again. */
  if (status_fd >= 0)
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);
  if (death_fd >= 0)
    fcntl(death_fd, F_SETFD, FD_CLOEXEC);
  {
    size_t i;
    /* The handed pipe ends join this process's own, which its fork
     * children close (src/posix/pipe.c): each stays with one process. */
    for (i = 0; i < spec->nhandles; i++)
      mproc__posix_pipe_adopt((int)spec->handles[i]);
  }
  mproc__posix_run_child(spec, status_fd, (pid_t)boot->parent_pid,
                         (boot->flags & MPROC__BOOT_PDEATHSIG) != 0, death_fd);
}

/* The death pipe's read end for a daemon child, created on first use.
 * Called with the reaper lock held. */
int mproc__posix_death_fd(int *fd) {
  int r = 0;
  if (death_pipe[0] < 0)
    r = mproc__posix_cloexec_pipe(death_pipe);
  *fd = death_pipe[0];
  return r;
}

int mproc__child_start(const mproc__child_spec_t *spec, mproc__child_t **out) {
  mproc__child_t *c;
  int status_pipe[2] = {-1, -1};
  int use_pdeathsig = 0, death_fd = -1;
  pid_t parent, pid;
  int r;

  mproc__posix_register_atfork();
  c = calloc(1, sizeof *c);
  if (!c)
    return MPROC_ENOMEM;
  c->pidfd = -1;
  c->status_fd = -1;
  if (spec->method != MPROC_START_FORK) {
    r = spec->method == MPROC_START_SPAWN
            ? mproc__posix_spawn(spec, c)
            : mproc__posix_forkserver_start(spec, c);
    if (r != 0)
      return r; /* c is freed or handed to the reaper */
    *out = c;
    return 0;
  }

  parent = getpid();
  r = mproc__posix_status_pipe(status_pipe);
  if (r != 0)
    goto fail;

  mproc__reaper_lock();
  if (spec->daemon) {
    use_pdeathsig = MPROC_HAVE_PDEATHSIG && mproc__posix_is_main_thread();
    if ((r = mproc__posix_death_fd(&death_fd)) != 0) {
      mproc__reaper_unlock();
      goto fail;
    }
  }
  death_fd = death_pipe[0];

  /* The handed pipe ends survive the atfork handler that closes every
   * other pool pipe in the child. */
  mproc__pipe_keep_in_child(
      spec->nhandles > 0 ? spec->handles[0] : MPROC__PIPE_INVALID,
      spec->nhandles > 1 ? spec->handles[1] : MPROC__PIPE_INVALID);
  pid = fork();
  if (pid == 0) {
    /* The atfork handler has already closed what belongs to the parent. */
    forked_record = c;
    close(status_pipe[0]);
    mproc__posix_run_child(spec, status_pipe[1], parent, use_pdeathsig,
                           death_fd);
  }
  mproc__pipe_keep_in_child(MPROC__PIPE_INVALID, MPROC__PIPE_INVALID);
  if (pid < 0) {
    r = mproc__os_translate(errno);
    mproc__reaper_unlock();
    goto fail;
  }
  close(status_pipe[1]);
  mproc__reaper_add(c, pid, status_pipe[0]);
  mproc__reaper_unlock();
  *out = c;
  return 0;

fail:
  mproc__posix_close_fd(&status_pipe[0]);
  mproc__posix_close_fd(&status_pipe[1]);
  free(c);
  return r;
}
