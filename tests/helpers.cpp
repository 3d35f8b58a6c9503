#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <map>

extern char **environ;

namespace mproc_test {
namespace {

std::map<std::string, HelperFn> &registry() {
  static std::map<std::string, HelperFn> helpers;
  return helpers;
}

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

} // namespace

HelperRegistrar::HelperRegistrar(const char *name, HelperFn fn) {
  registry()[name] = fn;
}

bool run_helper_if_asked(int argc, char **argv, int *exit_code) {
  if (argc < 3 || strcmp(argv[1], "--mproc-helper") != 0)
    return false;
  auto it = registry().find(argv[2]);
  if (it == registry().end()) {
    fprintf(stderr, "no helper named %s\n", argv[2]);
    *exit_code = 126;
    return true;
  }
  *exit_code = it->second(argc - 3, argv + 3);
  return true;
}

int scaled_ms(int ms) {
  const char *m = getenv("MPROC_TEST_TIMEOUT_MULTIPLIER");
  int k = m ? atoi(m) : 1;
  return ms * (k > 0 ? k : 1);
}

std::string self_path() {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return "";
  self[n] = 0;
  return self;
}

HelperResult run_helper(const std::string &name,
                        const std::vector<std::string> &args, int timeout_ms) {
  std::vector<std::string> all = {self_path(), "--mproc-helper", name};
  all.insert(all.end(), args.begin(), args.end());
  return run_program(all, timeout_ms);
}

char **g_argv;
std::vector<std::string> g_args;

HelperResult run_program(const std::vector<std::string> &all, int timeout_ms,
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
  std::vector<char *> argv;
  for (auto &a : all)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
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
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = killed ? -1 : status;
  return r;
}

char proc_state(pid_t pid) {
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

pid_t proc_ppid(pid_t pid) {
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

bool wait_dead(pid_t pid, int timeout_ms) {
  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  for (;;) {
    char s = proc_state(pid);
    if (s == 0 || s == 'Z' || s == 'X')
      return true;
    if (now_ms() > deadline)
      return false;
    usleep(2000);
  }
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
    ssize_t got = read(fd, p, n);
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
