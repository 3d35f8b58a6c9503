/* SPDX-License-Identifier: MIT */
/*
 * The spawn start method on POSIX: posix_spawn() of this executable with the
 * bootstrap flag, then the bootstrap message on a socket the child inherits.
 * The protocol is common code (src/bootstrap.c); this file moves bytes and
 * descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

#include "bootstrap.h"
#include "child.h"
#include "mproc_config.h"

extern char **environ;

/* The path that runs this executable again. Linux's /proc/self/exe works
 * even when the file was renamed or replaced after start. */
int mproc__posix_exe_path(char *buf, size_t size) {
#if defined(__APPLE__)
  uint32_t n = (uint32_t)size;
  return _NSGetExecutablePath(buf, &n) == 0 ? 0 : MPROC_ENOTSUP;
#else
  if (access("/proc/self/exe", X_OK) != 0)
    return MPROC_ENOTSUP;
  snprintf(buf, size, "/proc/self/exe");
  return 0;
#endif
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

int mproc__posix_socketpair(int fds[2]) {
  int i;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
    return mproc__os_translate(errno);
  for (i = 0; i < 2; i++)
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  return 0;
}

/* Send on a socket without SIGPIPE if the other side is gone. */
int mproc__posix_send_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
#if defined(MSG_NOSIGNAL)
    ssize_t put = send(fd, p, n, MSG_NOSIGNAL);
#else
    ssize_t put = send(fd, p, n, 0); /* SO_NOSIGPIPE is set where needed */
#endif
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      return mproc__os_translate(errno);
    p += put;
    n -= (size_t)put;
  }
  return 0;
}

static int fill_boot(const mproc__child_spec_t *spec, int status_fd,
                     int death_fd, mproc__boot_t *b) {
  int r = mproc__os_random(b->cookie, sizeof b->cookie);
  if (r != 0)
    return r;
  if (strlen(spec->target_name) > MPROC__BOOT_TARGET_MAX ||
      strlen(spec->identity) > MPROC__BOOT_IDENTITY_MAX)
    return MPROC_EINVAL;
  b->flags = 0;
  if (spec->daemon) {
    b->flags |= MPROC__BOOT_DAEMON;
    /* PDEATHSIG follows the thread that started the child. */
    if (MPROC_HAVE_PDEATHSIG && mproc__posix_is_main_thread())
      b->flags |= MPROC__BOOT_PDEATHSIG;
  }
  b->parent_pid = getpid();
  b->status_channel = status_fd;
  b->death_channel = death_fd;
  snprintf(b->name, sizeof b->name, "%s", spec->name);
  snprintf(b->identity, sizeof b->identity, "%s", spec->identity);
  snprintf(b->target, sizeof b->target, "%s", spec->target_name);
  b->arg_size = spec->arg_size;
  /* Inherited under the same numbers (see start_process). */
  for (b->nhandles = 0; b->nhandles < spec->nhandles; b->nhandles++)
    b->handles[b->nhandles] = (int64_t)spec->handles[b->nhandles];
  return 0;
}

static int start_process(const mproc__child_spec_t *spec, char *exe, char *flag,
                         const int *inherit, int ninherit, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  char **argv;
  int i, r, argc = spec->argc > 0 ? spec->argc : 0;

  argv = calloc((size_t)argc + 3, sizeof *argv);
  if (!argv)
    return MPROC_ENOMEM;
  argv[0] = exe;
  argv[1] = flag;
  for (i = 0; i < argc; i++)
    argv[i + 2] = spec->argv[i];

  posix_spawn_file_actions_init(&fa);
  /* dup2 onto itself clears close-on-exec for exactly these descriptors. */
  for (i = 0; i < ninherit; i++)
    if (inherit[i] >= 0)
      posix_spawn_file_actions_adddup2(&fa, inherit[i], inherit[i]);
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  r = posix_spawn(pid, exe, &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  free(argv);
  return r == 0 ? 0 : mproc__os_translate(r);
}

int mproc__posix_spawn(const mproc__child_spec_t *spec, mproc__child_t *c) {
  int boot[2] = {-1, -1}, status_pipe[2] = {-1, -1}, death_fd = -1;
  unsigned char prefix[MPROC__BOOT_PREFIX_MAX];
  char exe[4096], flag[96];
  mproc__boot_t b;
  size_t len;
  pid_t pid;
  int32_t answer = 0;
  int inherit[3 + MPROC__CHILD_HANDLES_MAX];
  size_t i;
  int r;

  memset(&b, 0, sizeof b);
  if ((r = mproc__posix_exe_path(exe, sizeof exe)) != 0)
    goto fail;
  if ((r = mproc__posix_socketpair(boot)) != 0)
    goto fail;
  if (pipe(status_pipe) != 0) {
    r = mproc__os_translate(errno);
    goto fail;
  }
  fcntl(status_pipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[0], F_SETFL, O_NONBLOCK);
  if (spec->daemon) {
    mproc__reaper_lock();
    r = mproc__posix_death_fd(&death_fd);
    mproc__reaper_unlock();
    if (r != 0)
      goto fail;
  }
  if ((r = fill_boot(spec, status_pipe[1], death_fd, &b)) != 0)
    goto fail;
  if ((r = mproc__boot_encode(&b, prefix, &len)) != 0)
    goto fail;
  mproc__boot_format_flag(boot[1], b.cookie, flag, sizeof flag);

  inherit[0] = boot[1];
  inherit[1] = status_pipe[1];
  inherit[2] = death_fd;
  for (i = 0; i < spec->nhandles; i++)
    inherit[3 + i] = (int)spec->handles[i];
  if ((r = start_process(spec, exe, flag, inherit, 3 + (int)spec->nhandles,
                         &pid)) != 0)
    goto fail;
  close_fd(&boot[1]);
  close_fd(&status_pipe[1]);

  /* From here on a child exists: the reaper owns its record, so it is
   * reaped whatever happens to the bootstrap. */
  c->pid = pid;
  c->status_fd = status_pipe[0];
#if MPROC_HAVE_PIDFD_OPEN
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (c->pidfd >= 0)
    fcntl(c->pidfd, F_SETFD, FD_CLOEXEC);
#endif
  mproc__reaper_lock();
  mproc__reaper_add(c);
  mproc__reaper_unlock();

  r = mproc__posix_send_all(boot[0], prefix, len);
  if (r == 0 && spec->arg_size > 0)
    r = mproc__posix_send_all(boot[0], spec->arg, spec->arg_size);
  /* The child answers once it has checked the message and found the
   * target; EOF means it refused or died first. */
  if (r == 0 && mproc__os_channel_read(boot[0], &answer, sizeof answer) != 0)
    r = MPROC_ECLOSED;
  if (r == 0)
    r = answer;
  close_fd(&boot[0]);
  if (r != 0)
    mproc__child_release(c);
  return r;

fail:
  close_fd(&boot[0]);
  close_fd(&boot[1]);
  close_fd(&status_pipe[0]);
  close_fd(&status_pipe[1]);
  free(c);
  return r;
}
