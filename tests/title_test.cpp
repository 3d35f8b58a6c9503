// SPDX-License-Identifier: MIT
// Children look like the program in ps and top (Linux): their name
// (/proc/PID/comm) is the executable's, their command line says
// "<program>: <role>", and no bootstrap secret shows in it. MPROC_NO_TITLE
// turns the role off.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "mproc.h"
#include "shared_testing.h"

namespace {

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f),
                     std::istreambuf_iterator<char>());
}

// This test binary's file name, as the kernel knows it.
std::string program_name() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0)
    return "";
  path[n] = 0;
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

struct Events {
  mproc_event_t ready, go;
};

// Says it runs (its title is set by then), then waits to be let go.
int ready_then_wait(const void *arg, size_t size) {
  Events e;
  if (size != sizeof e)
    return 2;
  memcpy(&e, arg, sizeof e);
  if (mproc_event_set(&e.ready) != 0)
    return 3;
  return mproc_event_wait(&e.go, 60000) == 0 ? 0 : 1;
}
MPROC_TARGET(ready_then_wait);

struct Seen {
  std::string comm, cmdline;
};

// Starts a child named `name`, reads what ps shows of it once its target
// runs (the title is set before), then lets it end.
Seen look_at_child(mproc_start_method_t method, const char *name) {
  Seen seen;
  Events e;
  EXPECT_EQ(mproc_event_create(&e.ready), 0);
  EXPECT_EQ(mproc_event_create(&e.go), 0);
  mproc_process_t *p = nullptr;
  mproc_process_options_t o = {};
  o.start_method = method;
  o.name = name;
  EXPECT_EQ(mproc_process_create(&p, ready_then_wait, &e, sizeof e, &o), 0);
  EXPECT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_event_wait(&e.ready, 60000), 0);
  std::string proc = "/proc/" + std::to_string(mproc_process_pid(p));
  seen.comm = read_file(proc + "/comm");
  seen.cmdline = read_file(proc + "/cmdline");
  EXPECT_EQ(mproc_event_set(&e.go), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_join(p, 60000), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  EXPECT_EQ(mproc_event_destroy(&e.ready), 0);
  EXPECT_EQ(mproc_event_destroy(&e.go), 0);
  return seen;
}

// The command line up to its first NUL: what ps shows of a retitled
// process.
std::string first_string(const std::string &s) { return s.c_str(); }

class Title : public ::testing::TestWithParam<mproc_start_method_t> {};

TEST_P(Title, ChildShowsTheProgramAndItsRole) {
  const std::string prog = program_name();
  ASSERT_FALSE(prog.empty());
  // comm holds at most 15 bytes.
  const std::string comm = prog.substr(0, 15) + "\n";
  Seen seen = look_at_child(GetParam(), "Worker-7");
  EXPECT_EQ(seen.comm, comm);
  EXPECT_EQ(first_string(seen.cmdline), prog + ": Worker-7");
  EXPECT_EQ(seen.cmdline.find("MPROC_BOOT_COOKIE"), std::string::npos);
}

TEST_P(Title, WithTitlesOffTheChildStillHasTheProgramsName) {
  const std::string prog = program_name();
  const std::string comm = prog.substr(0, 15) + "\n";
  // The parent's environment decides, at the start of each child.
  ASSERT_EQ(setenv("MPROC_NO_TITLE", "1", 1), 0);
  Seen seen = look_at_child(GetParam(), "Worker-8");
  unsetenv("MPROC_NO_TITLE");
  EXPECT_EQ(seen.comm, comm);
  EXPECT_EQ(seen.cmdline.find("Worker-8"), std::string::npos);
  // argv[0] is the program's own, and the flag names only a channel: no
  // cookie (32 hex digits after a ':') anywhere in the command line.
  EXPECT_NE(first_string(seen.cmdline).find(prog), std::string::npos)
      << first_string(seen.cmdline);
  EXPECT_EQ(seen.cmdline.find("/proc/self/exe"), std::string::npos);
  size_t flag = seen.cmdline.find("--mproc-child=");
  if (flag != std::string::npos) {
    std::string rest = seen.cmdline.c_str() + flag + strlen("--mproc-child=");
    EXPECT_EQ(rest.find(':'), std::string::npos) << rest;
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, Title,
                         ::testing::ValuesIn(shared_testing::methods()),
                         shared_testing::method_name);

int answer_pid(const void *, size_t, mproc_buf_t *result) {
  int64_t pid = mproc_getpid();
  return mproc_buf_set(result, &pid, sizeof pid);
}
MPROC_TASK(answer_pid);

class PoolTitle : public ::testing::TestWithParam<mproc_start_method_t> {};

TEST_P(PoolTitle, WorkerShowsItsNumber) {
  const std::string prog = program_name();
  mproc_pool_t *pool = nullptr;
  mproc_pool_options_t o = {};
  o.processes = 1;
  o.start_method = GetParam();
  ASSERT_EQ(mproc_pool_create(&pool, &o), 0);
  void *data = nullptr;
  size_t size = 0;
  int status = -1;
  ASSERT_EQ(
      mproc_pool_apply(pool, answer_pid, nullptr, 0, &status, &data, &size), 0);
  ASSERT_EQ(status, 0);
  int64_t pid = 0;
  ASSERT_EQ(size, sizeof pid);
  memcpy(&pid, data, sizeof pid);
  mproc_free(data);
  // The worker set its title before its first task: it shows now.
  std::string proc = "/proc/" + std::to_string(pid);
  EXPECT_EQ(read_file(proc + "/comm"), prog.substr(0, 15) + "\n");
  EXPECT_EQ(first_string(read_file(proc + "/cmdline")),
            prog + ": pool worker 1");
  EXPECT_EQ(mproc_pool_close(pool), 0);
  EXPECT_EQ(mproc_pool_join(pool, 60000), 0);
  EXPECT_EQ(mproc_pool_free(pool), 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, PoolTitle,
                         ::testing::ValuesIn(shared_testing::methods()),
                         shared_testing::method_name);

} // namespace
