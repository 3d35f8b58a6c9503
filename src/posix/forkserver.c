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
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bootstrap.h"
#include "child.h"
#include "fd.h"
#include "mproc_config.h"
#include "targets.h"

#define FORKSERVER_FLAG "--mproc-forkserver="
/* The server binds every symbol as it starts, unless the program's
 * environment says how already: each fork of it would otherwise look up
 * the symbols it calls on its way to the target, one page fault after
 * another, since the lookups the server did not make are not in its
 * memory. The value marks the variable as ours, taken out again at once
 * so that the programs the children run bind as they would have. */
#define BIND_NOW_VAR "LD_BIND_NOW"
#define BIND_NOW_OURS "mproc-forkserver"
/* The per-child socket, the death pipe and the handed ends. */
#define REQUEST_FDS_MAX (2 + MPROC__CHILD_HANDLES_MAX)

static struct {
  pthread_mutex_t lock; /* one request at a time on the control socket */
  int ctl;
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
} S = {PTHREAD_MUTEX_INITIALIZER, -1, {0}};

/* A message of bytes with room for a request's descriptors. */
typedef struct {
  struct msghdr msg;
  struct iovec iov;
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(REQUEST_FDS_MAX * sizeof(int))];
  } control;
} fd_message_t;

static void fd_message_init(fd_message_t *m, const void *buf, size_t n,
                            size_t control_len) {
  memset(m, 0, sizeof *m);
  m->iov.iov_base = (void *)(uintptr_t)buf;
  m->iov.iov_len = n;
  m->msg.msg_iov = &m->iov;
  m->msg.msg_iovlen = 1;
  m->msg.msg_control = m->control.buf;
  m->msg.msg_controllen = control_len;
}

/* Send the first bytes of a request with descriptors attached. */
static int send_with_fds(int fd, const void *buf, size_t n, const int *fds,
                         int nfds) {
  fd_message_t m;
  struct cmsghdr *cmsg;
  ssize_t put;
  fd_message_init(&m, buf, n, CMSG_SPACE((size_t)nfds * sizeof(int)));
  cmsg = CMSG_FIRSTHDR(&m.msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
  memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
  do {
    put = sendmsg(fd, &m.msg, MSG_NOSIGNAL);
  } while (put < 0 && errno == EINTR);
  if (put < 0)
    return mproc__os_translate(errno);
  return mproc__posix_write_all(fd, (const unsigned char *)buf + put,
                                n - (size_t)put);
}

/* Start the server. Called with S.lock held. */
static int start_server(const char *argv0) {
  int ctl[2] = {-1, -1}, status_pipe[2] = {-1, -1}, keep[2];
  char flag[96];
  char *argv[3];
  mproc__child_t *c;
  pid_t pid;
  int r;

  if ((r = mproc__os_random(S.cookie, sizeof S.cookie)) != 0)
    return r;
  c = calloc(1, sizeof *c);
  if (!c)
    return MPROC_ENOMEM;
  if ((r = mproc__posix_socketpair(ctl)) != 0 ||
      (r = mproc__posix_status_pipe(status_pipe)) != 0)
    goto fail;
  /* The server finds the control socket as 3 and keeps the status pipe (4)
   * open for its life: EOF on it tells the reaper that it ended. */
  keep[0] = ctl[1];
  keep[1] = status_pipe[1];
  mproc__boot_format_flag_as(FORKSERVER_FLAG, 3, NULL, flag, sizeof flag);
  argv[0] = (char *)(uintptr_t)argv0; /* it looks like the program */
  argv[1] = flag;
  argv[2] = NULL;
  if ((r = mproc__posix_spawn_self(argv, keep, 2, S.cookie,
                                   BIND_NOW_VAR "=" BIND_NOW_OURS, &pid)) != 0)
    goto fail;
  mproc__posix_close_fd(&ctl[1]);
  mproc__posix_close_fd(&status_pipe[1]);
  S.ctl = ctl[0];

  /* The server is our child like any other: reaped when it ends. */
  mproc__reaper_lock();
  mproc__reaper_add(c, pid, status_pipe[0]);
  mproc__reaper_unlock();
  mproc__child_release(c);
  return 0;

fail:
  mproc__posix_close_fd(&ctl[0]);
  mproc__posix_close_fd(&ctl[1]);
  mproc__posix_close_fd(&status_pipe[0]);
  mproc__posix_close_fd(&status_pipe[1]);
  free(c);
  return r;
}

/* The request's writer: its first bytes go with the descriptors. */
typedef struct {
  const int *fds;
  int nfds;
} request_writer_t;

static int write_request(void *ctx, const void *buf, size_t n) {
  request_writer_t *w = ctx;
  int r;
  if (w->nfds == 0)
    return mproc__posix_write_all(S.ctl, buf, n);
  r = send_with_fds(S.ctl, buf, n, w->fds, w->nfds);
  w->nfds = 0;
  return r;
}

/* Send one request. Called with S.lock held; a server that has gone away
 * (EPIPE) is replaced once. */
static int send_request(const mproc__child_spec_t *spec, int conn,
                        int death_fd) {
  mproc__boot_t b;
  request_writer_t w;
  int fds[REQUEST_FDS_MAX];
  size_t i;
  int attempt, nfds, r = 0;

  for (attempt = 0; attempt < 2; attempt++) {
    if (S.ctl < 0 && (r = start_server(spec->argv0)) != 0)
      return r;
    if ((r = mproc__boot_from_spec(spec, S.cookie, &b)) != 0)
      return r;
    /* Channels are places among the descriptors sent: 0 is conn. */
    fds[0] = conn;
    nfds = 1;
    if (death_fd >= 0) {
      b.death_channel = nfds;
      fds[nfds++] = death_fd;
    }
    for (i = 0; i < spec->nhandles; i++) {
      b.handles[i] = nfds;
      fds[nfds++] = (int)spec->handles[i];
    }
    w.fds = fds;
    w.nfds = nfds;
    if ((r = mproc__boot_send(&b, spec->arg, write_request, &w)) == 0)
      return 0;
    if (r == MPROC_EINVAL)
      return r;
    mproc__posix_close_fd(&S.ctl); /* the server is gone: start another */
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
  mproc__posix_close_fd(&conn[1]);
  /* The server answers with the child's pid, or a negative code. The next
   * request waits for it: with one request in flight, the server reads a
   * whole request in one call without ever reading into the next. */
  if (r == 0 && mproc__os_channel_read(conn[0], &answer, sizeof answer) != 0)
    r = MPROC_ECLOSED;
  pthread_mutex_unlock(&S.lock);
  if (r != 0)
    goto fail;
  if (answer <= 0) {
    r = answer < 0 ? (int)answer : MPROC_EOS;
    goto fail;
  }
  c->foreign = 1;
  fcntl(conn[0], F_SETFL, O_NONBLOCK);
  mproc__reaper_lock();
  mproc__reaper_add(c, (pid_t)answer, conn[0]);
  mproc__reaper_unlock();
  return 0;

fail:
  mproc__posix_close_fd(&conn[0]);
  mproc__posix_close_fd(&conn[1]);
  free(c);
  return r;
}

void mproc__posix_forkserver_after_fork_child(void) {
  /* The server serves the process that started it, not its children. */
  pthread_mutex_init(&S.lock, NULL);
  mproc__posix_close_fd(&S.ctl);
}

/* ---- the server --------------------------------------------------------- */

/* How the server learns that a child ended. Where the kernel has pidfds,
 * from each child's pidfd in its poll: no signal handler, which every child
 * would have to undo. Otherwise (another system, an older kernel) from
 * SIGCHLD, whose handler writes to a pipe the poll watches. A child whose
 * pidfd could not be opened (no descriptor left) is looked for every
 * LOOK_AGAIN_MS. */
#define LOOK_AGAIN_MS 10

static int use_pidfds;
static int sigchld_pipe[2] = {-1, -1};
static volatile sig_atomic_t child_ended;

/* A child ended: say so in the flag, which the poll it interrupts reads at
 * once, and in the pipe, which wakes a poll that had yet to start. */
static void on_sigchld(int sig) {
  int saved = errno;
  char byte = 1;
  (void)sig;
  child_ended = 1;
  if (write(sigchld_pipe[1], &byte, 1) < 0) {
    /* Full: a wake-up is already pending. */
  }
  errno = saved;
}

typedef struct {
  pid_t pid;
  int conn;
  int pidfd; /* readable once it ended, or -1 */
} served_t;

/* The live children, and the poll set: the control socket, the SIGCHLD
 * pipe, then each child's pidfd (-1, which poll skips, where it has none). */
static struct {
  served_t *items;
  struct pollfd *polled;
  size_t count, cap;
} served;

/* Room for one more child. */
static int served_room(void) {
  size_t cap = served.cap ? served.cap * 2 : 16;
  served_t *items;
  struct pollfd *polled;
  if (served.count < served.cap)
    return 0;
  items = realloc(served.items, cap * sizeof *items);
  if (!items)
    return MPROC_ENOMEM;
  served.items = items;
  polled = realloc(served.polled, (cap + 2) * sizeof *polled);
  if (!polled)
    return MPROC_ENOMEM;
  served.polled = polled;
  served.cap = cap;
  return 0;
}

static int open_pidfd(pid_t pid) {
#if MPROC_HAVE_PIDFD_OPEN
  if (use_pidfds) /* close-on-exec already (pidfd_open(2)) */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#endif
  (void)pid;
  return -1;
}

/* Where recvmsg can mark the descriptors close-on-exec as they arrive,
 * serve_one need not. */
#if defined(MSG_CMSG_CLOEXEC)
#define RECV_CLOEXEC MSG_CMSG_CLOEXEC
#else
#define RECV_CLOEXEC 0
#endif

/* Reads a request from the control socket: the first recvmsg carries the
 * descriptors with the first bytes of the message, as many as come (the
 * whole request unless its argument is large: the parent sends the next one
 * only once this one is answered). */
typedef struct {
  int fd;
  unsigned char head[4096];
  size_t head_len, head_used;
  int fds[REQUEST_FDS_MAX];
  int nfds;
  int truncated; /* not every descriptor arrived: no room for them */
} request_reader_t;

static int recv_head(request_reader_t *rr) {
  fd_message_t m;
  struct cmsghdr *cmsg;
  ssize_t got;
  fd_message_init(&m, rr->head, sizeof rr->head, sizeof m.control.buf);
  do {
    got = recvmsg(rr->fd, &m.msg, RECV_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got <= 0)
    return -1;
  rr->head_len = (size_t)got;
  rr->truncated = (m.msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsg = CMSG_FIRSTHDR(&m.msg); cmsg; cmsg = CMSG_NXTHDR(&m.msg, cmsg)) {
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

/* Receive and check a request. Returns 0 when it can be served, or 1 when
 * not all its descriptors arrived because this process has no room left
 * for them: the request is refused and the server goes on. A malformed
 * request means the stream is lost (only our parent writes here): the
 * server stops. */
static int receive_request(int ctl, const unsigned char *cookie,
                           request_reader_t *rr, mproc__boot_t *boot) {
  const char *why = NULL;
  int i;
  memset(rr, 0, sizeof *rr);
  rr->fd = ctl;
  for (i = 0; i < REQUEST_FDS_MAX; i++)
    rr->fds[i] = -1;
  if (recv_head(rr) != 0)
    _exit(0); /* the parent is gone */
  if (mproc__boot_decode(read_request, rr, boot, &why) != 0 ||
      rr->head_used != rr->head_len ||
      !mproc__boot_same_cookie(cookie, boot->cookie))
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  if (rr->truncated)
    return 1;
  if (rr->fds[0] < 0 || boot->death_channel >= rr->nfds ||
      boot->death_channel == 0)
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  /* The message names descriptors by their place among those received. */
  for (i = 0; i < (int)boot->nhandles; i++) {
    if (boot->handles[i] <= 0 || boot->handles[i] >= rr->nfds)
      _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
    boot->handles[i] = rr->fds[boot->handles[i]];
  }
  if (RECV_CLOEXEC == 0)
    for (i = 0; i < rr->nfds; i++)
      fcntl(rr->fds[i], F_SETFD, FD_CLOEXEC);
  return 0;
}

static void answer(int conn, int64_t value) {
  mproc__os_channel_write(conn, &value, sizeof value);
}

/* Reap up to `most` ended children and write each one's code. */
static void report_exits(size_t most) {
  int status;
  pid_t pid;
  size_t i;
  while (most-- > 0 && served.count > 0 &&
         (pid = waitpid(-1, &status, WNOHANG)) > 0) {
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
      if (served.items[i].pidfd >= 0)
        close(served.items[i].pidfd);
      served.items[i] = served.items[--served.count];
      break;
    }
  }
}

static void default_sigchld(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &dfl, NULL);
}

static void serve_one(int ctl, const unsigned char *cookie) {
  request_reader_t rr;
  mproc__boot_t boot;
  mproc__child_spec_t spec;
  int conn, death_fd = -1, keep[1 + MPROC__CHILD_HANDLES_MAX], nkeep = 0;
  pid_t pid;
  int i, refused = receive_request(ctl, cookie, &rr, &boot);

  conn = rr.fds[0];
  if (refused)
    goto done; /* the parent finds its socket closed */
  if (boot.death_channel > 0)
    death_fd = rr.fds[boot.death_channel];
  mproc__boot_to_spec(&boot, MPROC_START_FORKSERVER, &spec);
  if (!spec.target) {
    answer(conn, MPROC_ENOTREG);
    goto done;
  }
  if (served_room() != 0) {
    answer(conn, MPROC_ENOMEM);
    goto done;
  }
  pid = fork();
  if (pid == 0) {
    if (!use_pidfds)
      default_sigchld(); /* the one handler the server set */
    /* Nothing of the server's goes to the child: neither its sockets nor
     * its own status pipe; only the death pipe and the pipe ends it was
     * given. */
    if (death_fd >= 0)
      keep[nkeep++] = death_fd;
    for (i = 0; i < (int)boot.nhandles; i++)
      keep[nkeep++] = (int)boot.handles[i];
    mproc__posix_close_all_but(keep, (size_t)nkeep);
    boot.status_channel = -1; /* the server reports the exit code */
    boot.death_channel = death_fd;
    boot.flags &= ~MPROC__BOOT_PDEATHSIG; /* our parent is the server */
    /* The server has set up the fork handlers, taken the cookie out of
     * the environment and named its thread after the program; every page
     * this child touches costs a fault. */
    mproc__os_title_named();
    mproc__posix_run_booted(&boot, &spec);
  }
  if (pid < 0) {
    answer(conn, mproc__os_translate(errno));
    goto done;
  }
  answer(conn, pid);
  served.items[served.count].pid = pid;
  served.items[served.count].conn = conn;
  served.items[served.count].pidfd = open_pidfd(pid);
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

/* Learn of ended children from SIGCHLD. */
static void watch_sigchld(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  if (pipe(sigchld_pipe) != 0)
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  fcntl(sigchld_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(sigchld_pipe[1], F_SETFL, O_NONBLOCK);
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
}

/* Wait for a request or an ended child. Returns how many children to look
 * for: as many as pidfds said they ended, every one that did after
 * SIGCHLD or when it is time to look again, or none. */
static size_t wait_for_work(int ctl, int *request) {
  struct pollfd *fds = served.polled;
  size_t i, n = served.count + 2, ended = 0;
  int timed_out, timeout = -1;
  fds[0].fd = ctl;
  fds[1].fd = sigchld_pipe[0];
  for (i = 0; i < served.count; i++) {
    fds[i + 2].fd = served.items[i].pidfd;
    if (use_pidfds && fds[i + 2].fd < 0)
      timeout = LOOK_AGAIN_MS;
  }
  for (i = 0; i < n; i++) {
    fds[i].events = POLLIN;
    fds[i].revents = 0;
  }
  timed_out = poll(fds, (nfds_t)n, timeout) == 0;
  for (i = 2; i < n; i++)
    ended += fds[i].revents != 0;
  if (timed_out || child_ended || fds[1].revents) {
    char buf[64];
    child_ended = 0;
    /* A short read leaves the pipe empty; a byte written after it wakes
     * the next poll, and report_exits() finds nothing more then. */
    while (!use_pidfds &&
           read(sigchld_pipe[0], buf, sizeof buf) == (ssize_t)sizeof buf) {
    }
    ended = served.count;
  }
  *request = fds[0].revents != 0;
  return ended;
}

static void serve(int ctl, const unsigned char *cookie) {
#if MPROC_HAVE_PIDFD_OPEN
  int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (self >= 0) {
    use_pidfds = 1;
    close(self);
  }
#endif
  if (!use_pidfds) {
    watch_sigchld();
  } else {
    default_sigchld(); /* even if the program ignored it: ours to wait for */
  }
  if (served_room() != 0)
    _exit(MPROC__EXIT_BOOTSTRAP_FAILED);
  mproc__posix_register_atfork();
  for (;;) {
    int request = 0;
    size_t ended = wait_for_work(ctl, &request);
    if (ended)
      report_exits(ended);
    if (request)
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
  mproc__posix_signals_after_spawn();
  fcntl((int)ctl, F_SETFD, FD_CLOEXEC);
  /* Its children get no cookie: they are forked, not started. */
  unsetenv(MPROC__BOOT_COOKIE_ENV);
  {
    const char *bind_now = getenv(BIND_NOW_VAR);
    if (bind_now && strcmp(bind_now, BIND_NOW_OURS) == 0)
      unsetenv(BIND_NOW_VAR);
  }
  mproc__process_title("forkserver");
  serve((int)ctl, cookie);
}
