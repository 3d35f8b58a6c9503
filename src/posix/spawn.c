/* SPDX-License-Identifier: MIT */
/*
 * The spawn start method on POSIX: a spawn of this executable with the
 * bootstrap flag (clone and execveat of our own on Linux, posix_spawn()
 * elsewhere), then the bootstrap message on a socket the child inherits.
 * The protocol is common code (src/bootstrap.c); this file moves bytes and
 * descriptors.
 *
 * A spawned program (a child, or the fork server) inherits its standard
 * streams and the descriptors named for it, under the numbers 3, 4, ... in
 * the order given, and nothing else: every other descriptor of this
 * process, close-on-exec or not, is closed in it, as Python's spawn does.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

#include "bootstrap.h"
#include "child.h"
#include "fd.h"
#include "mproc_config.h"

extern char **environ;

/* The path that runs this executable again. Linux's /proc/self/exe works
 * even when the file was renamed or replaced after start. */
int mproc__posix_exe_path(char *buf, size_t size) {
#if defined(__APPLE__)
  uint32_t n = (uint32_t)size;
  return _NSGetExecutablePath(buf, &n) == 0 ? 0 : MPROC_ENOTSUP;
#else
  /* Looked for once: it does not come and go while the program runs. */
  static volatile int found;
  if (!found && access("/proc/self/exe", X_OK) != 0)
    return MPROC_ENOTSUP;
  found = 1;
  snprintf(buf, size, "/proc/self/exe");
  return 0;
#endif
}

/* The highest descriptor the moves of keep[i] to 3 + i must stay above:
 * each goes first to top + 1 + i, above every source and target, then to
 * its place, so that no move overwrites a descriptor yet to move. */
static int move_top(const int *keep, int nkeep) {
  int i, top = 2 + nkeep;
  for (i = 0; i < nkeep; i++)
    if (keep[i] > top)
      top = keep[i];
  return top;
}

/* Whether the environment entry `entry` sets the variable of `var`
 * ("NAME=value"). */
static int same_variable(const char *entry, const char *var) {
  size_t len = (size_t)(strchr(var, '=') - var);
  return strncmp(entry, var, len) == 0 && entry[len] == '=';
}

/* This process's environment with the cookie's variable set to `cookie`
 * (an earlier value, inherited from our own parent, left out), and `extra`
 * ("NAME=value", or NULL) unless the environment already sets NAME. */
static char **environment_with(char *cookie, char *extra) {
  size_t n = 0, i, k = 0;
  char **env;
  while (environ && environ[n])
    n++;
  env = calloc(n + 3, sizeof *env);
  if (!env)
    return NULL;
  for (i = 0; i < n; i++) {
    if (extra && same_variable(environ[i], extra))
      extra = NULL;
    if (!same_variable(environ[i], cookie))
      env[k++] = environ[i];
  }
  env[k++] = cookie;
  env[k] = extra;
  return env;
}

/* Where the system lets us, a spawn of our own instead of posix_spawn():
 * clone(CLONE_VM | CLONE_VFORK), as glibc's posix_spawn does, but
 * without its walk over every signal: to keep a handler of ours from
 * running in a child that shares our memory, glibc asks for and resets each
 * disposition there, 128 system calls before the exec. Here every signal stays
 * blocked up to the exec (which resets every handler) and the new program,
 * which is this one starting as a child or as the fork server, lets them
 * through again (mproc__posix_signals_after_spawn). Not under AddressSanitizer,
 * which knows nothing of a function running on such a stack. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPROC__ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MPROC__ASAN 1
#endif
#if MPROC_HAVE_CLONE_VFORK && MPROC_HAVE_CLOSE_RANGE && !defined(MPROC__ASAN)
#define SPAWN_BY_CLONE 1
#include <sched.h>
#include <sys/wait.h>

#if MPROC_HAVE_EXECVEAT
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#endif

typedef struct {
  const char *path;
  char **argv, **env;
  const int *keep;
  int nkeep, top;
  int exe_fd;    /* this executable, or -1: exec `path` */
  dev_t exe_dev; /* what exe_fd must be */
  ino_t exe_ino;
  int err; /* what the child met, when it could not exec */
} clone_args_t;

#if MPROC_HAVE_EXECVEAT
/* This executable, opened once (O_PATH, close-on-exec) for every spawn to
 * exec by its descriptor. An exec of /proc/self/exe looks up the child's
 * own /proc directory, new for every child: about as long again as the
 * rest of what the child does before the exec. The descriptor holds the
 * file itself, so a replaced or deleted executable is still the one run,
 * as with /proc/self/exe. The program may close it behind our back: it is
 * checked before each spawn (and opened again when it names another
 * file), and again in the child, whose descriptors no other thread can
 * change, right before the exec. */
static struct {
  pthread_mutex_t lock;
  int fd;
  dev_t dev;
  ino_t ino;
} exe_file = {PTHREAD_MUTEX_INITIALIZER, -1, 0, 0};

static int same_file(int fd, dev_t dev, ino_t ino) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Fills a->exe_*; with no descriptor, the child execs a->path. */
static void exe_descriptor(clone_args_t *a) {
  struct stat st;
  pthread_mutex_lock(&exe_file.lock);
  /* No longer ours (the program closed it): forget it, without closing
   * whatever has its number now. */
  if (exe_file.fd >= 0 && !same_file(exe_file.fd, exe_file.dev, exe_file.ino))
    exe_file.fd = -1;
  if (exe_file.fd < 0) {
    int fd = open(a->path, O_PATH | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0) {
      exe_file.fd = fd;
      exe_file.dev = st.st_dev;
      exe_file.ino = st.st_ino;
    } else if (fd >= 0) {
      close(fd);
    }
  }
  a->exe_fd = exe_file.fd;
  a->exe_dev = exe_file.dev;
  a->exe_ino = exe_file.ino;
  pthread_mutex_unlock(&exe_file.lock);
}

/* In the child, before the moves: a copy of the executable's descriptor
 * above every descriptor they read or write, or -1. */
static int exe_above_moves(const clone_args_t *a) {
  if (a->exe_fd < 0)
    return -1;
  return fcntl(a->exe_fd, F_DUPFD_CLOEXEC, a->top + 1 + a->nkeep);
}

/* In the child, after the moves: close everything above the kept
 * descriptors but e, and exec by e when it is still this executable, by
 * the path otherwise (or when the exec by descriptor fails). Returns only
 * on failure. */
static void exec_program(const clone_args_t *a, int e) {
  unsigned first = 3 + (unsigned)a->nkeep;
  if (e < 0) {
    if (close_range(first, ~0U, 0) == 0)
      execve(a->path, a->argv, a->env);
    return;
  }
  if ((unsigned)e > first && close_range(first, (unsigned)e - 1, 0) != 0)
    return;
  if (close_range((unsigned)e + 1, ~0U, 0) != 0)
    return;
  if (same_file(e, a->exe_dev, a->exe_ino))
    syscall(SYS_execveat, e, "", a->argv, a->env, AT_EMPTY_PATH);
  close(e);
  execve(a->path, a->argv, a->env);
}
#else
static void exe_descriptor(clone_args_t *a) { a->exe_fd = -1; }

static int exe_above_moves(const clone_args_t *a) {
  (void)a;
  return -1;
}

static void exec_program(const clone_args_t *a, int e) {
  (void)e;
  if (close_range(3 + (unsigned)a->nkeep, ~0U, 0) == 0)
    execve(a->path, a->argv, a->env);
}
#endif

/* The child: it shares our memory until the exec, with every signal
 * blocked; what it writes is its own stack and a->err. */
static int clone_child(void *p) {
  clone_args_t *a = p;
  int i, e = exe_above_moves(a);
  /* keep[i] becomes 3 + i by way of top + 1 + i (move_top); dup2 clears
   * close-on-exec on the copy it makes. */
  for (i = 0; i < a->nkeep; i++)
    if (dup2(a->keep[i], a->top + 1 + i) < 0)
      goto fail;
  for (i = 0; i < a->nkeep; i++)
    if (dup2(a->top + 1 + i, 3 + i) < 0)
      goto fail;
  exec_program(a, e);
fail:
  a->err = errno;
  _exit(127);
}

static int spawn_program(const char *path, char **argv, char **env,
                         const int *keep, int nkeep, pid_t *pid) {
  /* The child's stack is a part of ours, as musl's posix_spawn has it:
   * until the child execs or ends, this thread sleeps (CLONE_VFORK) and
   * leaves its stack below this frame unused. No mapping to make and take
   * down for each spawn. The child calls dup2, close_range and execve,
   * with every signal blocked: a few hundred bytes of it are used. */
  _Alignas(16) char stack[8192];
  clone_args_t a;
  sigset_t all, old;
  int status;
  pid_t child;
  memset(&a, 0, sizeof a);
  a.path = path;
  a.argv = argv;
  a.env = env;
  a.keep = keep;
  a.nkeep = nkeep;
  a.top = move_top(keep, nkeep);
  exe_descriptor(&a);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  /* The stack grows down on every architecture Linux runs this on but
   * HP PA-RISC, which mproc does not build for. */
  child = clone(clone_child, stack + sizeof stack,
                CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
  if (child < 0)
    a.err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (child > 0 && a.err != 0) {
    /* It could not exec, and has ended: reap it here. */
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (a.err != 0)
    return mproc__os_translate(a.err);
  *pid = child;
  return 0;
}
#else
#define SPAWN_BY_CLONE 0
#if MPROC_HAVE_SPAWN_CLOSEFROM
/* Close every descriptor from `first` up in the new program. */
static int close_the_rest(posix_spawn_file_actions_t *fa, int first) {
  return posix_spawn_file_actions_addclosefrom_np(fa, first) == 0
             ? 0
             : MPROC_ENOMEM;
}
#else
/* Where the descriptor walk adds a close for each descriptor this process
 * holds above the inherited ones. */
typedef struct {
  posix_spawn_file_actions_t *fa;
  int failed;
} closer_t;

static void add_close(int fd, void *ctx) {
  closer_t *c = ctx;
  if (posix_spawn_file_actions_addclose(c->fa, fd) != 0)
    c->failed = 1;
}

/* No close-range action here: a close for each descriptor open now (one
 * opened by another thread meanwhile has only close-on-exec to keep it). */
static int close_the_rest(posix_spawn_file_actions_t *fa, int first) {
  closer_t closer;
  closer.fa = fa;
  closer.failed = 0;
  if (mproc__posix_each_open_fd(first, add_close, &closer) != 0)
    return 0; /* nothing lists them: close-on-exec is all there is */
  return closer.failed ? MPROC_ENOMEM : 0;
}
#endif

/* File actions that give the new program keep[i] as 3 + i (by way of
 * top + 1 + i: move_top) and close everything else above its standard
 * streams. */
static int inherit_only(posix_spawn_file_actions_t *fa, const int *keep,
                        int nkeep) {
  int i, top = move_top(keep, nkeep);
  for (i = 0; i < nkeep; i++)
    if (posix_spawn_file_actions_adddup2(fa, keep[i], top + 1 + i) != 0)
      return MPROC_ENOMEM;
  /* dup2 clears close-on-exec on the copy it makes. */
  for (i = 0; i < nkeep; i++)
    if (posix_spawn_file_actions_adddup2(fa, top + 1 + i, 3 + i) != 0 ||
        posix_spawn_file_actions_addclose(fa, top + 1 + i) != 0)
      return MPROC_ENOMEM;
  return close_the_rest(fa, 3 + nkeep);
}

/* posix_spawn() of path with keep[i] as 3 + i and nothing else above the
 * standard streams, and no signal blocked. */
static int spawn_program(const char *path, char **argv, char **env,
                         const int *keep, int nkeep, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  int r;
  if (posix_spawn_file_actions_init(&fa) != 0)
    return MPROC_ENOMEM;
  if ((r = inherit_only(&fa, keep, nkeep)) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return r;
  }
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  r = posix_spawn(pid, path, &fa, &attr, argv, env);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return r == 0 ? 0 : mproc__os_translate(r);
}
#endif

void mproc__posix_signals_after_spawn(void) {
#if SPAWN_BY_CLONE
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
#endif
}

int mproc__posix_spawn_self(char **argv, const int *keep, int nkeep,
                            const unsigned char *cookie, const char *extra_env,
                            pid_t *pid) {
  char exe[4096], cookie_var[96], **env;
  int r;

  if ((r = mproc__posix_exe_path(exe, sizeof exe)) != 0)
    return r;
  if (!argv[0])
    argv[0] = exe;
  /* The cookie goes in the environment, which only the same user may
   * read, not in the command line, which everybody may. */
  mproc__boot_format_cookie_env(cookie, cookie_var, sizeof cookie_var);
  if (!(env = environment_with(cookie_var, (char *)(uintptr_t)extra_env)))
    return MPROC_ENOMEM;
  r = spawn_program(exe, argv, env, keep, nkeep, pid);
  free(env);
  return r;
}

/* argv of a spawned child: the program's argv[0] (or, unknown, this
 * executable's path), the flag, then the program's own arguments: in ps
 * it looks like the program. */
static int child_argv(const mproc__child_spec_t *spec, char *flag,
                      char ***out) {
  int i, argc = spec->argc > 0 ? spec->argc : 0;
  char **argv = calloc((size_t)argc + 3, sizeof *argv);
  if (!argv)
    return MPROC_ENOMEM;
  argv[0] = (char *)(uintptr_t)spec->argv0;
  argv[1] = flag;
  for (i = 0; i < argc; i++)
    argv[i + 2] = spec->argv[i];
  *out = argv;
  return 0;
}

/* Sleeps until fd has bytes to read or its end of file. */
static int wait_readable(int fd) {
  struct pollfd pfd;
  pfd.fd = fd;
  pfd.events = POLLIN;
  while (poll(&pfd, 1, -1) < 0)
    if (errno != EINTR)
      return mproc__os_translate(errno);
  return 0;
}

static int write_fd(void *ctx, const void *buf, size_t n) {
  return mproc__posix_write_all(*(int *)ctx, buf, n);
}

/* The descriptors the child inherits, in the order it finds them (3, 4,
 * ...): the bootstrap socket, the status pipe, the death pipe of a daemon,
 * the handed pipe ends. The message names each by its number there. */
static int inherited(const mproc__child_spec_t *spec, int boot_fd,
                     int status_fd, int death_fd, mproc__boot_t *b, int *keep) {
  int n = 0;
  size_t i;
  keep[n++] = boot_fd;
  b->status_channel = 3 + n;
  keep[n++] = status_fd;
  if (death_fd >= 0) {
    b->death_channel = 3 + n;
    keep[n++] = death_fd;
  }
  for (i = 0; i < spec->nhandles; i++) {
    b->handles[i] = 3 + n;
    keep[n++] = (int)spec->handles[i];
  }
  return n;
}

int mproc__posix_spawn(const mproc__child_spec_t *spec, mproc__child_t *c) {
  int boot[2] = {-1, -1}, status_pipe[2] = {-1, -1}, death_fd = -1;
  int keep[3 + MPROC__CHILD_HANDLES_MAX], nkeep;
  char flag[96], **argv = NULL;
  mproc__boot_t b;
  pid_t pid;
  int r;

  if ((r = mproc__boot_from_spec(spec, NULL, &b)) != 0)
    goto fail;
  if ((r = mproc__posix_socketpair(boot)) != 0 ||
      (r = mproc__posix_status_pipe(status_pipe)) != 0)
    goto fail;
  if (spec->daemon) {
    /* PDEATHSIG follows the thread that started the child. */
    if (MPROC_HAVE_PDEATHSIG && mproc__posix_is_main_thread())
      b.flags |= MPROC__BOOT_PDEATHSIG;
    mproc__reaper_lock();
    r = mproc__posix_death_fd(&death_fd);
    mproc__reaper_unlock();
    if (r != 0)
      goto fail;
  }
  nkeep = inherited(spec, boot[1], status_pipe[1], death_fd, &b, keep);
  mproc__boot_format_flag(3, NULL, flag, sizeof flag);
  if ((r = child_argv(spec, flag, &argv)) != 0)
    goto fail;
  r = mproc__posix_spawn_self(argv, keep, nkeep, b.cookie, NULL, &pid);
  free(argv);
  if (r != 0)
    goto fail;
  mproc__posix_close_fd(&boot[1]);
  mproc__posix_close_fd(&status_pipe[1]);

  /* From here on a child exists: the reaper owns its record, so it is
   * reaped whatever happens to the bootstrap. */
  mproc__reaper_lock();
  mproc__reaper_add(c, pid, status_pipe[0]);
  mproc__reaper_unlock();
  r = mproc__boot_send(&b, spec->arg, write_fd, &boot[0]);
  /* The child answers once it has checked the message and found the
   * target; EOF means it refused or died first. The wait is a poll for
   * the answer, not a read: a reader sleeping on this socket is also woken
   * each time the child takes a part of the message (the room it frees
   * for our writes), one more switch to this thread and back each time. */
  if (r == 0 && (r = wait_readable(boot[0])) == 0)
    r = mproc__boot_answer(boot[0]);
  mproc__posix_close_fd(&boot[0]);
  if (r != 0)
    mproc__child_release(c);
  return r;

fail:
  mproc__posix_close_fd(&boot[0]);
  mproc__posix_close_fd(&boot[1]);
  mproc__posix_close_fd(&status_pipe[0]);
  mproc__posix_close_fd(&status_pipe[1]);
  free(c);
  return r;
}
