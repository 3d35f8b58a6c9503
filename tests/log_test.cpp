// SPDX-License-Identifier: MIT
// The logging hook: a pool worker's loss and replacement reach the handler,
// levels filter, NULL makes mproc silent, long messages are cut safely, and
// MPROC_LOG logs to stderr (seen in a child process's stderr).
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <mutex>
#include <string>
#include <vector>

#include "helpers.h"
#include "internal.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::run_helper;
using shared_testing::method_name;
using shared_testing::methods;

namespace {

struct Logged {
  int level;
  std::string message;
};

// What the handler received (the pool's thread calls it).
struct Sink {
  std::mutex m;
  std::vector<Logged> got;
  bool has(int level, const std::string &part) {
    std::lock_guard<std::mutex> g(m);
    for (const Logged &l : got)
      if (l.level == level && l.message.find(part) != std::string::npos)
        return true;
    return false;
  }
  size_t count() {
    std::lock_guard<std::mutex> g(m);
    return got.size();
  }
};

void record(int level, const char *message, void *ctx) {
  Sink *s = static_cast<Sink *>(ctx);
  std::lock_guard<std::mutex> g(s->m);
  s->got.push_back({level, message});
}

// Removes the handler whatever the test's outcome.
struct HandlerGuard {
  ~HandlerGuard() { mproc_set_log_handler(nullptr, nullptr, 0); }
};

using mproc_test::set_env;

// Ends its worker with exit code 3 while it runs.
int exit_three(const void *, size_t, mproc_buf_t *) { exit(3); }
MPROC_TASK(exit_three);

int echo_log(const void *arg, size_t size, mproc_buf_t *out) {
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(echo_log);

// A one-worker pool whose worker exits with code 3 during a task, then
// runs one more task on the replacement: the loss is final for the first
// task, the second succeeds.
void lose_one_worker(mproc_start_method_t method) {
  mproc_pool_options_t o;
  memset(&o, 0, sizeof o);
  o.processes = 1;
  o.start_method = method;
  mproc_pool_t *p = nullptr;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  int status = 0;
  void *data = nullptr;
  size_t size = 0;
  EXPECT_EQ(mproc_pool_apply(p, exit_three, nullptr, 0, &status, &data, &size),
            0);
  EXPECT_EQ(status, MPROC_EWORKERLOST);
  mproc_free(data);
  data = nullptr;
  EXPECT_EQ(mproc_pool_apply(p, echo_log, "x", 1, &status, &data, &size), 0);
  EXPECT_EQ(status, 0);
  mproc_free(data);
  mproc_pool_close(p);
  EXPECT_EQ(mproc_pool_join(p, MPROC_INFINITE), 0);
  mproc_pool_free(p);
}

class LogM : public ::testing::TestWithParam<mproc_start_method_t> {};

} // namespace

TEST_P(LogM, WorkerLostAndReplacedReachTheHandler) {
  Sink sink;
  HandlerGuard guard;
  ASSERT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_DEBUG), 0);
  lose_one_worker(GetParam());
  EXPECT_TRUE(sink.has(MPROC_LOG_DEBUG, "pool worker 0 started"));
  EXPECT_TRUE(sink.has(MPROC_LOG_WARNING, "lost: exit code 3"));
  EXPECT_TRUE(sink.has(MPROC_LOG_INFO, "pool worker 0 replaced"));
  // The clean exit at close is not a loss.
  EXPECT_FALSE(sink.has(MPROC_LOG_WARNING, "exit code 0"));
  EXPECT_TRUE(sink.has(MPROC_LOG_DEBUG, "exited after 1 tasks"));
}

TEST_P(LogM, LevelFiltersWhatIsPassedOn) {
  Sink sink;
  HandlerGuard guard;
  ASSERT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_WARNING), 0);
  lose_one_worker(GetParam());
  EXPECT_TRUE(sink.has(MPROC_LOG_WARNING, "lost: exit code 3"));
  std::lock_guard<std::mutex> g(sink.m);
  for (const Logged &l : sink.got)
    EXPECT_LE(l.level, MPROC_LOG_WARNING) << l.message;
}

#ifndef _WIN32 // no signals on Windows
int kill_self(const void *, size_t, mproc_buf_t *) {
  raise(SIGKILL);
  return 0;
}
MPROC_TASK(kill_self);

TEST_P(LogM, KilledWorkerNamesTheSignal) {
  Sink sink;
  HandlerGuard guard;
  ASSERT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_WARNING), 0);
  mproc_pool_options_t o;
  memset(&o, 0, sizeof o);
  o.processes = 1;
  o.start_method = GetParam();
  mproc_pool_t *p = nullptr;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  int status = 0;
  void *data = nullptr;
  size_t size = 0;
  EXPECT_EQ(mproc_pool_apply(p, kill_self, nullptr, 0, &status, &data, &size),
            0);
  EXPECT_EQ(status, MPROC_EWORKERLOST);
  mproc_free(data);
  mproc_pool_terminate(p);
  mproc_pool_free(p);
  EXPECT_TRUE(sink.has(MPROC_LOG_WARNING, "lost: killed by signal 9"));
}
#endif

INSTANTIATE_TEST_SUITE_P(Methods, LogM, ::testing::ValuesIn(methods()),
                         method_name);

TEST(Log, SilentByDefaultAndNullResets) {
  Sink sink;
  HandlerGuard guard;
  mproc__log(MPROC_LOG_ERROR, "before any handler");
  ASSERT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_INFO), 0);
  mproc__log(MPROC_LOG_INFO, "one %d", 1);
  mproc__log(MPROC_LOG_DEBUG, "too detailed");
  EXPECT_EQ(sink.count(), 1u);
  EXPECT_TRUE(sink.has(MPROC_LOG_INFO, "one 1"));
  ASSERT_EQ(mproc_set_log_handler(nullptr, &sink, MPROC_LOG_DEBUG), 0);
  mproc__log(MPROC_LOG_ERROR, "after the reset");
  EXPECT_EQ(sink.count(), 1u);
}

TEST(Log, BadLevelIsRefused) {
  Sink sink;
  HandlerGuard guard;
  EXPECT_EQ(mproc_set_log_handler(record, &sink, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_DEBUG + 1),
            MPROC_EINVAL);
  mproc__log(MPROC_LOG_ERROR, "no handler was set");
  EXPECT_EQ(sink.count(), 0u);
}

TEST(Log, LongMessageIsCutAndMarked) {
  Sink sink;
  HandlerGuard guard;
  ASSERT_EQ(mproc_set_log_handler(record, &sink, MPROC_LOG_DEBUG), 0);
  std::string long_text(100000, 'a');
  mproc__log(MPROC_LOG_INFO, "%s", long_text.c_str());
  ASSERT_EQ(sink.count(), 1u);
  const std::string &m = sink.got[0].message;
  EXPECT_LT(m.size(), 1024u);
  EXPECT_GT(m.size(), 100u);
  EXPECT_EQ(m.substr(m.size() - 3), "...");
  EXPECT_EQ(m.find_first_not_of('a'), m.size() - 3);
}

// A handler that logs again and changes the handler: no lock is held.
void reenter(int, const char *message, void *ctx) {
  record(MPROC_LOG_INFO, message, ctx);
  if (strcmp(message, "first") == 0) {
    mproc__log(MPROC_LOG_INFO, "second");
    mproc_set_log_handler(nullptr, nullptr, 0);
  }
}

TEST(Log, HandlerMayCallMproc) {
  Sink sink;
  HandlerGuard guard;
  ASSERT_EQ(mproc_set_log_handler(reenter, &sink, MPROC_LOG_DEBUG), 0);
  mproc__log(MPROC_LOG_INFO, "first");
  mproc__log(MPROC_LOG_INFO, "third");
  EXPECT_EQ(sink.count(), 2u);
  EXPECT_TRUE(sink.has(MPROC_LOG_INFO, "second"));
}

// Under MPROC_LOG, the pool's messages go to stderr, one line each.
MPROC_TEST_HELPER(log_env_pool) {
  (void)argc;
  (void)argv;
  lose_one_worker(MPROC_START_DEFAULT);
  return ::testing::Test::HasFailure() ? 1 : 0;
}

TEST(Log, EnvironmentSwitchLogsToStderr) {
  set_env("MPROC_LOG", "info");
  mproc_test::HelperResult info = run_helper("log_env_pool");
  set_env("MPROC_LOG", "error");
  mproc_test::HelperResult error = run_helper("log_env_pool");
  set_env("MPROC_LOG", nullptr);
  mproc_test::HelperResult none = run_helper("log_env_pool");
  EXPECT_EQ(info.exit_code(), 0) << info.err;
  EXPECT_NE(info.err.find("[WARNING/"), std::string::npos) << info.err;
  EXPECT_NE(info.err.find("lost: exit code 3\n"), std::string::npos)
      << info.err;
  EXPECT_NE(info.err.find("[INFO/"), std::string::npos) << info.err;
  EXPECT_EQ(info.err.find("[DEBUG/"), std::string::npos) << info.err;
  EXPECT_EQ(info.err.find("exit code 0"), std::string::npos) << info.err;
  EXPECT_EQ(error.exit_code(), 0) << error.err;
  EXPECT_EQ(error.err.find("pool worker"), std::string::npos) << error.err;
  EXPECT_EQ(none.exit_code(), 0) << none.err;
  EXPECT_EQ(none.err.find("pool worker"), std::string::npos) << none.err;
}
