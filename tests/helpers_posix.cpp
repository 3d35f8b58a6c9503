// SPDX-License-Identifier: MIT
// Test support on POSIX: programs through posix_spawn, processes through
// /proc, channels through FIFOs.
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

namespace mproc_test {
namespace {

std::vector<char *> c_strings(const std::vector<std::string> &v) {
  std::vector<char *> out;
  for (auto &s : v)
    out.push_back(const_cast<char *>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// posix_spawn of argv with stdin, stdout and stderr replaced where the
// descriptor given is not -1; with env (NULL: this process's) and, when
// `search`, argv[0] looked up on PATH.
pid_t spawn(const std::vector<std::string> &all, int in, int out, int err,
            char *const *env = environ, bool search = false) {
  std::vector<char *> argv = c_strings(all);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in >= 0)
    posix_spawn_file_actions_adddup2(&fa, in, 0);
  if (out >= 0)
    posix_spawn_file_actions_adddup2(&fa, out, 1);
  if (err >= 0)
    posix_spawn_file_actions_adddup2(&fa, err, 2);
  pid_t pid = -1;
  int rc = search ? posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), env)
                  : posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), env);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

int reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

} // namespace

int HelperResult::exit_code() const {
  return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_us(int64_t us) { usleep((useconds_t)us); }

std::string self_path() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return "";
  self[n] = 0;
  return self;
}

namespace {

HelperResult run_captured(const std::vector<std::string> &argv,
                          char *const *env, bool search, int timeout_ms,
                          const std::string &input) {
  HelperResult r;
  // The input goes through a pipe on stdin; it must fit the pipe's buffer.
  int in[2];
  if (pipe2(in, O_CLOEXEC) != 0)
    return r;
  if (!write_full(in[1], input.data(), input.size()))
    return r;
  close(in[1]);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    return r;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return r;
  }
  pid_t pid = spawn(argv, in[0], out[1], err[1], env, search);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    return r;
  }

  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  bool open_out = true, open_err = true, killed = false;
  while (open_out || open_err) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    if (poll(fds, 2, (int)left) < 0 && errno != EINTR)
      break;
    char buf[4096];
    for (int i = 0; i < 2; i++) {
      bool &open = i == 0 ? open_out : open_err;
      if (!open || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0)
        open = false;
      else
        (i == 0 ? r.out : r.err).append(buf, (size_t)got);
    }
  }
  close(out[0]);
  close(err[0]);
  int status = reap(pid);
  r.status = killed ? -1 : status;
  return r;
}

} // namespace

HelperResult run_program_with_stdin_channel(
    const std::function<std::vector<std::string>(int64_t)> &make_argv,
    int timeout_ms, const std::string &input) {
  return run_captured(make_argv(0), environ, false, timeout_ms, input);
}

HelperResult run_program_env(const std::vector<std::string> &argv,
                             const std::vector<std::string> &env,
                             int timeout_ms) {
  std::vector<char *> envp = c_strings(env);
  return run_captured(argv, envp.data(), true, timeout_ms, "");
}

StartedHelper::StartedHelper(const std::string &name,
                             const std::vector<std::string> &args) {
  std::vector<std::string> all = {self_path(), "--mproc-helper", name};
  all.insert(all.end(), args.begin(), args.end());
  pid_ = spawn(all, -1, -1, -1);
}

StartedHelper::~StartedHelper() {
  if (pid_ > 0 && !reaped_) {
    kill();
    reap((pid_t)pid_);
  }
}

void StartedHelper::kill() {
  if (pid_ > 0 && !reaped_)
    ::kill((pid_t)pid_, SIGKILL);
}

int StartedHelper::wait(int timeout_ms) {
  if (pid_ <= 0)
    return -2;
  if (!reaped_) {
    if (!wait_dead(pid_, timeout_ms))
      return -2;
    status_ = reap((pid_t)pid_);
    reaped_ = true;
  }
  HelperResult r;
  r.status = status_;
  return r.exit_code();
}

char proc_state(mproc_pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  if (!p || p[1] != ' ')
    return 0;
  return p[2];
}

mproc_pid_t proc_ppid(mproc_pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')');
  if (!p)
    return -1;
  char state;
  int ppid;
  if (sscanf(p + 1, " %c %d", &state, &ppid) != 2)
    return -1;
  return ppid;
}

void kill_pid(mproc_pid_t pid) { kill((pid_t)pid, SIGKILL); }

void set_env(const char *name, const char *value) {
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
}

void crash() {
  signal(SIGSEGV, SIG_DFL); // a sanitizer's handler would exit instead
  raise(SIGSEGV);
}

Fifo::Fifo() {
  char tmpl[] = "/tmp/mproc-test-fifo-XXXXXX";
  char *dir = mkdtemp(tmpl);
  path_ = std::string(dir ? dir : "/tmp") + "/fifo";
  if (!dir || mkfifo(path_.c_str(), 0600) != 0)
    return;
  // The read end first, without blocking; then our own writer, which keeps
  // the FIFO from reading EOF between writers.
  rd_ = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  keep_ = open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

Fifo::~Fifo() {
  if (keep_ >= 0)
    close((int)keep_);
  if (rd_ >= 0)
    close((int)rd_);
  unlink(path_.c_str());
  rmdir(path_.substr(0, path_.size() - 5).c_str());
}

bool Fifo::read(void *buf, size_t n, int timeout_ms) {
  return rd_ >= 0 && keep_ >= 0 && read_full((int)rd_, buf, n, timeout_ms);
}

bool write_to_fifo(const void *path, size_t path_size, const void *buf,
                   size_t n) {
  std::string p(static_cast<const char *>(path), path_size);
  int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  bool ok = write_full(fd, buf, n);
  close(fd);
  return ok;
}

bool read_full(int fd, void *buf, size_t n, int timeout_ms) {
  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  char *p = static_cast<char *>(buf);
  while (n > 0) {
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return false;
    struct pollfd pfd = {fd, POLLIN, 0};
    int rc = poll(&pfd, 1, (int)left);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0)
      return false;
    ssize_t got = ::read(fd, p, n);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    p += got;
    n -= (size_t)got;
  }
  return true;
}

bool write_full(int fd, const void *buf, size_t n) {
  const char *p = static_cast<const char *>(buf);
  while (n > 0) {
    ssize_t put = write(fd, p, n);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      return false;
    p += put;
    n -= (size_t)put;
  }
  return true;
}

} // namespace mproc_test
