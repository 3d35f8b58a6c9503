/* SPDX-License-Identifier: MIT */
/*
 * The forkserver start method on POSIX. On first use the parent spawns a
 * fresh copy of its executable as the server: a single-threaded process
 * that has done nothing but start, so forking it is safe whatever threads
 * the parent runs. Each request is the spawn bootstrap message (same
 * format, same cookie rule) plus, passed as descriptors, one end of a
 * per-child socket, the parent's death pipe for a daemon and the pipe ends
 * the child is handed (the message names each by its place among the
 * descriptors, since the server receives them under other numbers). The server
 * forks the child, answers with its pid on that socket, reaps it when it
 * ends and writes its exit code there; EOF follows. The parent's reaper
 * reads that socket as it reads a status pipe, and never calls waitpid()
 * on a pid that is not its own child.
 *
 * Targets must be registered (MPROC_TARGET), as for spawn: the server is a
 * new run of the program, not a copy of the parent's memory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bootstrap.h"
#include "child.h"
#include "mproc_config.h"
#include "targets.h"

#define FORKSERVER_FLAG "--mproc-forkserver="
/* The per-child socket, the death pipe and the handed ends. */
#define REQUEST_FDS_MAX (2 + MPROC__CHILD_HANDLES_MAX)

extern char **environ;

static struct {
  pthread_mutex_t lock; /* one request at a time on the control socket */
  int ctl;
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
} S = {PTHREAD_MUTEX_INITIALIZER, -1, {0}};

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Send the first bytes of a request with descriptors attached. */
static int send_with_fds(int fd, const void *buf, size_t n, const int *fds,
                         int nfds) {
  struct msghdr msg;
  struct iovec iov;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(REQUEST_FDS_MAX * sizeof(int))];
  } control;
  struct cmsghdr *cmsg;
  ssize_t put;
  memset(&msg, 0, sizeof msg);
  memset(&control, 0, sizeof control);
  iov.iov_base = (void *)(uintptr_t)buf;
  iov.iov_len = n;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
  cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
  memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
  do {
    put = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (put < 0 && errno == EINTR);
  if (put < 0)
    return mproc__os_translate(errno);
  return mproc__posix_send_all(fd, (const unsigned char *)buf + put,
                               n - (size_t)put);
}

/* Start the server. Called with S.lock held. */
static int start_server(void) {
  int ctl[2] = {-1, -1}, status_pipe[2] = {-1, -1};
  char exe[4096], flag[96];
  char *argv[3];
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t none;
  mproc__child_t *c;
  pid_t pid;
  int r;

  if ((r = mproc__posix_exe_path(exe, sizeof exe)) != 0)
    return r;
  if ((r = mproc__os_random(S.cookie, sizeof S.cookie)) != 0)
    return r;
  c = calloc(1, sizeof *c);
  if (!c)
    return MPROC_ENOMEM;
  c->pidfd = -1;
  if ((r = mproc__posix_socketpair(ctl)) != 0)
    goto fail;
  if (pipe(status_pipe) != 0) {
    r = mproc__os_translate(errno);
    goto fail;
  }
  fcntl(status_pipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[0], F_SETFL, O_NONBLOCK);
  mproc__boot_format_flag_as(FORKSERVER_FLAG, ctl[1], S.cookie, flag,
                             sizeof flag);
  argv[0] = exe;
  argv[1] = flag;
  argv[2] = NULL;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, ctl[1], ctl[1]);
  /* Kept open by the server for its life: EOF tells the reaper it ended. */
  posix_spawn_file_actions_adddup2(&fa, status_pipe[1], status_pipe[1]);
  posix_spawnattr_init(&attr);
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  r = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) {
    r = mproc__os_translate(r);
    goto fail;
  }
  close_fd(&ctl[1]);
  close_fd(&status_pipe[1]);
  S.ctl = ctl[0];

  /* The server is our child like any other: reaped when it ends. */
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
  mproc__child_release(c);
  return 0;

fail:
  close_fd(&ctl[0]);
  close_fd(&ctl[1]);
  close_fd(&status_pipe[0]);
  close_fd(&status_pipe[1]);
  free(c);
  return r;
}

/* Send one request. Called with S.lock held; a server that has gone away
 * (EPIPE) is replaced once. */
static int send_request(const mproc__child_spec_t *spec, int conn,
                        int death_fd) {
  unsigned char prefix[MPROC__BOOT_PREFIX_MAX];
  mproc__boot_t b;
  int fds[REQUEST_FDS_MAX];
  size_t len, i;
  int attempt, nfds, r = 0;

  for (attempt = 0; attempt < 2; attempt++) {
    if (S.ctl < 0 && (r = start_server()) != 0)
      return r;
    memset(&b, 0, sizeof b);
    memcpy(b.cookie, S.cookie, sizeof b.cookie);
    b.flags = spec->daemon ? MPROC__BOOT_DAEMON : 0;
    b.parent_pid = getpid();
    b.status_channel = -1;
    /* Channels are places among the descriptors sent: 0 is conn. */
    fds[0] = conn;
    nfds = 1;
    b.death_channel = -1;
    if (death_fd >= 0) {
      b.death_channel = nfds;
      fds[nfds++] = death_fd;
    }
    for (i = 0; i < spec->nhandles; i++) {
      b.handles[i] = nfds;
      fds[nfds++] = (int)spec->handles[i];
    }
    b.nhandles = (uint32_t)spec->nhandles;
    snprintf(b.name, sizeof b.name, "%s", spec->name);
    snprintf(b.identity, sizeof b.identity, "%s", spec->identity);
    snprintf(b.target, sizeof b.target, "%s", spec->target_name);
    b.arg_size = spec->arg_size;
    if ((r = mproc__boot_encode(&b, prefix, &len)) != 0)
      return r;
    r = send_with_fds(S.ctl, prefix, len, fds, nfds);
    if (r == 0 && spec->arg_size > 0)
      r = mproc__posix_send_all(S.ctl, spec->arg, spec->arg_size);
    if (r == 0)
      return 0;
    close_fd(&S.ctl); /* the server is gone or broken: start another */
  }
  return r;
}

int mproc__posix_forkserver_start(const mproc__child_spec_t *spec,
                                  mproc__child_t *c) {
  int conn[2] = {-1, -1}, death_fd = -1;
  int64_t answer = 0;
  int r;

  if ((r = mproc__posix_socketpair(conn)) != 0)
    goto fail;
  if (spec->daemon) {
    mproc__reaper_lock();
    r = mproc__posix_death_fd(&death_fd);
    mproc__reaper_unlock();
    if (r != 0)
      goto fail;
  }
  pthread_mutex_lock(&S.lock);
  r = send_request(spec, conn[1], death_fd);
  pthread_mutex_unlock(&S.lock);
  close_fd(&conn[1]);
  if (r != 0)
    goto fail;
  /* The server answers with the child's pid, or a negative code. */
  if (mproc__os_channel_read(conn[0], &answer, sizeof answer) != 0) {
    r = MPROC_ECLOSED;
    goto fail;
  }
  if (answer <= 0) {
    r = answer < 0 ? (int)answer : MPROC_EOS;
    goto fail;
  }
  c->pid = (pid_t)answer;
  c->foreign = 1;
  c->pidfd = -1;
  c->status_fd = conn[0];
  fcntl(conn[0], F_SETFL, O_NONBLOCK);
  mproc__reaper_lock();
  mproc__reaper_add(c);
  mproc__reaper_unlock();
  return 0;

fail:
  close_fd(&conn[0]);
  close_fd(&conn[1]);
  free(c);
  return r;
}

void mproc__posix_forkserver_after_fork_child(void) {
  /* The server serves the process that started it, not its children. */
  pthread_mutex_init(&S.lock, NULL);
  close_fd(&S.ctl);
}

/* ---- the server --------------------------------------------------------- */

static int sigchld_pipe[2] = {-1, -1};

static void on_sigchld(int sig) {
  int saved = errno;
  char byte = 1;
  (void)sig;
  if (write(sigchld_pipe[1], &byte, 1) < 0) {
    /* Full: a wake-up is already pending. */
  }
  errno = saved;
}

typedef struct {
  pid_t pid;
  int conn;
} served_t;

static struct {
  served_t *items;
  size_t count, cap;
} served;

/* Reads a request from the control socket: the first recvmsg carries the
 * descriptors with the first bytes of the message. */
typedef struct {
  int fd;
  unsigned char head[MPROC__BOOT_HEADER_SIZE];
  size_t head_len, head_used;
  int fds[REQUEST_FDS_MAX];
  int nfds;
} request_reader_t;

static int recv_head(request_reader_t *rr) {
  struct msghdr msg;
  struct iovec iov;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(REQUEST_FDS_MAX * sizeof(int))];
  } control;
  struct cmsghdr *cmsg;
  ssize_t got;
  memset(&msg, 0, sizeof msg);
  iov.iov_base = rr->head;
  iov.iov_len = sizeof rr->head;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  do {
    got = recvmsg(rr->fd, &msg, 0);
  } while (got < 0 && errno == EINTR);
  if (got <= 0)
    return -1;
  rr->head_len = (size_t)got;
  for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      size_t n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      if (n > REQUEST_FDS_MAX)
        n = REQUEST_FDS_MAX;
      memcpy(rr->fds, CMSG_DATA(cmsg), n * sizeof(int));
      rr->nfds = (int)n;
    }
  }
  return 0;
}

static int read_request(void *ctx, void *buf, size_t n) {
  request_reader_t *rr = ctx;
  unsigned char *p = buf;
  size_t take = rr->head_len - rr->head_used;
  if (take > n)
    take = n;
  memcpy(p, rr->head + rr->head_used, take);
  rr->head_used += take;
  return take == n ? 0 : mproc__os_channel_read(rr->fd, p + take, n - take);
}

static void answer(int conn, int64_t value) {
  mproc__os_channel_write(conn, &value, sizeof value);
}

static void report_exits(void) {
  int status;
  pid_t pid;
  size_t i;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (i = 0; i < served.count; i++) {
      if (served.items[i].pid != pid)
        continue;
      {
        int32_t code = WIFEXITED(status)     ? WEXITSTATUS(status)
                       : WIFSIGNALED(status) ? -WTERMSIG(status)
                                             : MPROC_EXITCODE_UNKNOWN;
        mproc__os_channel_write(served.items[i].conn, &code, sizeof code);
      }
      close(served.items[i].conn);
      served.items[i] = served.items[--served.count];
      break;
    }
  }
}

static int is_kept(int fd, const int *keep, int nkeep) {
  int i;
  for (i = 0; i < nkeep; i++)
    if (keep[i] == fd)
      return 1;
  return 0;
}

/* Close every descriptor from 3 up except those in keep. The server holds
 * few, so the list of open ones (/dev/fd) is walked rather than every
 * number up to a limit that may be a million. */
static void close_all_but(const int *keep, int nkeep) {
  int fds[256];
  int n = 0, i;
  DIR *d = opendir("/dev/fd");
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < (int)(sizeof fds / sizeof fds[0])) {
      int fd = atoi(e->d_name);
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 &&
          !is_kept(fd, keep, nkeep) && fd != dirfd(d))
        fds[n++] = fd;
    }
    closedir(d);
    for (i = 0; i < n; i++)
      close(fds[i]);
    return;
  }
  for (i = 3; i < 1024; i++)
    if (!is_kept(i, keep, nkeep))
      close(i);
}

static void serve_one(int ctl, const unsigned char *cookie) {
  request_reader_t rr;
  mproc__boot_t boot;
  mproc__child_spec_t spec;
  const char *why = NULL;
  int conn, death_fd = -1, keep[1 + MPROC__CHILD_HANDLES_MAX], nkeep = 0;
  pid_t pid;
  int i;

  memset(&rr, 0, sizeof rr);
  rr.fd = ctl;
  for (i = 0; i < REQUEST_FDS_MAX; i++)
    rr.fds[i] = -1;
  if (recv_head(&rr) != 0)
    _exit(0); /* the parent is gone */
  conn = rr.fds[0];
  if (conn < 0 || mproc__boot_decode(read_request, &rr, &boot, &why) != 0 ||
      !mproc__boot_same_cookie(cookie, boot.cookie) ||
      boot.death_channel >= rr.nfds || boot.death_channel == 0) {
    /* Only our parent writes here; a malformed request means the stream
     * is lost: stop serving. */
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  }
  /* The message names descriptors by their place among those received. */
  if (boot.death_channel > 0)
    death_fd = rr.fds[boot.death_channel];
  for (i = 0; i < (int)boot.nhandles; i++) {
    if (boot.handles[i] <= 0 || boot.handles[i] >= rr.nfds)
      _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
    boot.handles[i] = rr.fds[boot.handles[i]];
  }
  for (i = 0; i < rr.nfds; i++)
    fcntl(rr.fds[i], F_SETFD, FD_CLOEXEC);
  memset(&spec, 0, sizeof spec);
  spec.target = mproc__target_lookup(boot.target);
  if (!spec.target) {
    answer(conn, MPROC_ENOTREG);
    goto done;
  }
  if (served.count == served.cap) {
    size_t cap = served.cap ? served.cap * 2 : 16;
    served_t *bigger = realloc(served.items, cap * sizeof *bigger);
    if (!bigger) {
      answer(conn, MPROC_ENOMEM);
      goto done;
    }
    served.items = bigger;
    served.cap = cap;
  }
  pid = fork();
  if (pid == 0) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    /* Nothing of the server's goes to the child: neither its sockets nor
     * its own status pipe; only the death pipe and the pipe ends it was
     * given. */
    if (death_fd >= 0)
      keep[nkeep++] = death_fd;
    for (i = 0; i < (int)boot.nhandles; i++) {
      keep[nkeep++] = (int)boot.handles[i];
      spec.handles[i] = (mproc__pipe_t)boot.handles[i];
    }
    spec.nhandles = boot.nhandles;
    close_all_but(keep, nkeep);
    spec.arg = boot.arg;
    spec.arg_size = (size_t)boot.arg_size;
    spec.name = boot.name;
    spec.identity = boot.identity;
    spec.target_name = boot.target;
    spec.daemon = (boot.flags & MPROC__BOOT_DAEMON) != 0;
    spec.method = MPROC_START_FORKSERVER;
    boot.status_channel = -1; /* the server reports the exit code */
    boot.death_channel = death_fd;
    boot.flags &= ~MPROC__BOOT_PDEATHSIG; /* our parent is the server */
    mproc__os_child_run_spawned(&boot, &spec);
  }
  if (pid < 0) {
    answer(conn, mproc__os_translate(errno));
    goto done;
  }
  answer(conn, pid);
  served.items[served.count].pid = pid;
  served.items[served.count].conn = conn;
  served.count++;
  conn = -1;

done:
  if (conn >= 0)
    close(conn);
  /* The child has its copies: the handed pipe ends must have exactly one
   * holder for their end of file to mean its death. */
  for (i = 1; i < rr.nfds; i++)
    close(rr.fds[i]);
  mproc__boot_free(&boot);
}

static void serve(int ctl, const unsigned char *cookie) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  if (pipe(sigchld_pipe) != 0)
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  fcntl(sigchld_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(sigchld_pipe[1], F_SETFL, O_NONBLOCK);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = 0;
  sigaction(SIGPIPE, &sa, NULL);
  for (;;) {
    struct pollfd fds[2];
    fds[0].fd = ctl;
    fds[0].events = POLLIN;
    fds[1].fd = sigchld_pipe[0];
    fds[1].events = POLLIN;
    if (poll(fds, 2, -1) < 0)
      continue; /* EINTR from SIGCHLD */
    if (fds[1].revents) {
      char buf[64];
      while (read(sigchld_pipe[0], buf, sizeof buf) > 0) {
      }
      report_exits();
    }
    if (fds[0].revents)
      serve_one(ctl, cookie);
  }
}

void mproc__os_forkserver_if_asked(int *argc, char ***argv) {
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
  int64_t ctl;
  if (!argc || !argv || !*argv || *argc < 2 || !(*argv)[1] ||
      strncmp((*argv)[1], FORKSERVER_FLAG, sizeof FORKSERVER_FLAG - 1) != 0)
    return;
  if (mproc__boot_parse_flag_as(FORKSERVER_FLAG, (*argv)[1], &ctl, cookie) != 0)
    mproc__boot_refuse(MPROC__EXIT_BOOTSTRAP_FAILED,
                       "malformed " FORKSERVER_FLAG " flag");
  if (mproc__os_secure_mode())
    mproc__boot_refuse(MPROC__EXIT_REFUSED_SECURE,
                       "the program runs setuid or setgid");
  fcntl((int)ctl, F_SETFD, FD_CLOEXEC);
  serve((int)ctl, cookie);
}
