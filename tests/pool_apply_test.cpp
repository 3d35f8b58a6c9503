// SPDX-License-Identifier: MIT
// Pool: apply, apply_async and the blocking apply, their results,
// callbacks and bad input, tasks by address or by registered name, and the
// seed's example.
// Every TEST_P runs under every start method (pool_testing.h).
#include "pool_testing.h"

#include <stdint.h>
#include <string.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace pool_testing;
using mproc_test::scaled_ms;

TEST(Pool, BadInput) {
  mproc_pool_t *p = nullptr;
  mproc_pool_options_t o = {};
  EXPECT_EQ(mproc_pool_create(nullptr, nullptr), MPROC_EINVAL);
  o.processes = -1;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.task_timeout_ms = -5;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.initargs_size = 4;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.start_method = (mproc_start_method_t)42;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  EXPECT_EQ(p, nullptr);

  Pool pool(1);
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, nullptr, "x", 1, nullptr, &r),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, nullptr, 3, nullptr, &r),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(nullptr, echo, "x", 1, nullptr, &r),
            MPROC_EINVAL);
  int status;
  EXPECT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, nullptr, nullptr, nullptr),
            MPROC_EINVAL);
  int64_t items[2] = {1, 2};
  EXPECT_EQ(
      mproc_pool_map(pool.p, double_it, items, 8, 2, 0, nullptr, 8, nullptr),
      MPROC_EINVAL);
  EXPECT_EQ(
      mproc_pool_map(pool.p, double_it, nullptr, 8, 2, 0, nullptr, 0, nullptr),
      MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, SIZE_MAX / 2, 4, 0,
                           nullptr, 0, nullptr),
            MPROC_EINVAL);
  // Products of a count and a size past any array's size (PTRDIFF_MAX),
  // whether or not they wrap SIZE_MAX: refused before a byte is read.
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 2, (size_t)PTRDIFF_MAX, 0,
                           nullptr, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 8, 2, 0, items,
                           (size_t)PTRDIFF_MAX, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 8, 2, 0, items,
                           SIZE_MAX - 3, nullptr),
            MPROC_EINVAL);
  mproc_imap_t *it = nullptr;
  EXPECT_EQ(mproc_pool_imap(pool.p, double_it, items, SIZE_MAX - 7, 2, 0, &it),
            MPROC_EINVAL);
  // Items of no bytes: nothing bounds the count but memory, and the
  // statuses it needs (count * sizeof(int) wraps here) are refused.
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, nullptr, 0, SIZE_MAX / 4 + 2,
                           SIZE_MAX, nullptr, 0, nullptr),
            MPROC_ENOMEM);
  EXPECT_EQ(mproc_pool_imap(pool.p, double_it, items, 8, 2, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_async_result_get(nullptr, 0, &status, nullptr, nullptr),
            MPROC_EINVAL);
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_ready(nullptr, &yes), MPROC_EINVAL);
  }
  EXPECT_EQ(mproc_async_result_free(nullptr), 0);
  EXPECT_EQ(mproc_imap_next(nullptr, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_join(pool.p, -7), MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_free(nullptr), 0);
  size_t n;
  EXPECT_EQ(mproc_pool_worker_pids(pool.p, nullptr, 0, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_worker_pids(pool.p, nullptr, 0, &n), MPROC_ERANGE);
  EXPECT_EQ(n, 1u);
  // Outside a task, the buffer calls refuse a NULL buffer.
  EXPECT_EQ(mproc_buf_set(nullptr, "x", 1), MPROC_EINVAL);
  EXPECT_EQ(mproc_buf_extend(nullptr, 1), nullptr);
}

TEST_P(PoolM, ApplyReturnsBytesAndStatus) {
  Pool pool(2);
  int status = -1;
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "hello", 5, &status, &data, &size),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "hello");
  mproc_free(data);

  int code = 7;
  ASSERT_EQ(mproc_pool_apply(pool.p, fail_with, &code, sizeof code, &status,
                             &data, &size),
            0);
  EXPECT_EQ(status, 7); // the task's failure code reaches the caller
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "partial");
  mproc_free(data);
}

// The task answers only once the test opens its gate: every wait before
// that times out, whatever the load.
TEST_P(PoolM, ApplyAsyncReadyWaitGetWithTimeouts) {
  HeldGate gate(300);
  Pool pool(2);
  mproc_async_result_t *r;
  ASSERT_EQ(mproc_pool_apply_async(pool.p, echo_when_open, gate.get(),
                                   sizeof(GateArg), nullptr, &r),
            0);
  int status = 0;
  EXPECT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr),
            MPROC_ETIMEDOUT);
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_ready(r, &yes), 0);
    EXPECT_EQ(yes, 0);
  }
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_successful(r, &yes), MPROC_ESTATE);
  }
  EXPECT_EQ(mproc_async_result_wait(r, 10), MPROC_ETIMEDOUT);
  gate.open();
  EXPECT_EQ(mproc_async_result_wait(r, scaled_ms(20000)), 0);
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_ready(r, &yes), 0);
    EXPECT_EQ(yes, 1);
  }
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_successful(r, &yes), 0);
    EXPECT_EQ(yes, 1);
  }
  std::string s = get_string(r, &status);
  EXPECT_EQ(status, 0);
  int value = 300;
  EXPECT_EQ(s, std::string(reinterpret_cast<char *>(&value), sizeof value));
  int code;
  EXPECT_EQ(mproc_async_result_exitcode(r, &code), MPROC_ESTATE);
  EXPECT_EQ(mproc_async_result_free(r), 0);
}

TEST_P(PoolM, CallbacksRunBeforeReady) {
  Pool pool(2);
  CallbackLog log;
  mproc_apply_options_t cb = {on_ok, on_error, &log, {0}};
  mproc_async_result_t *r1, *r2;
  ASSERT_EQ(mproc_pool_apply_async(pool.p, echo, "abc", 3, &cb, &r1), 0);
  int status;
  get_string(r1, &status);
  EXPECT_EQ(log.ok.load(), 1);
  EXPECT_EQ(log.failed.load(), 0);
  EXPECT_EQ(log.last_size.load(), 3u);
  int code = 9;
  ASSERT_EQ(
      mproc_pool_apply_async(pool.p, fail_with, &code, sizeof code, &cb, &r2),
      0);
  get_string(r2, &status);
  EXPECT_EQ(status, 9);
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_successful(r2, &yes), 0);
    EXPECT_EQ(yes, 0);
  }
  EXPECT_EQ(log.failed.load(), 1);
  EXPECT_EQ(log.last_status.load(), 9);
  mproc_async_result_free(r1);
  mproc_async_result_free(r2);
}

TEST_P(PoolM, EmptyAndHugeResults) {
  Pool pool(2);
  int status = -1;
  void *data = nullptr;
  size_t size = 99;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, nullptr, 0, &status, &data, &size),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(size, 0u);
  EXPECT_NE(data, nullptr);
  mproc_free(data);

  // 64 MiB, twice at once: the pool reads while workers write.
  size_t n = (size_t)64 << 20;
  mproc_async_result_t *r[2];
  for (auto &x : r)
    ASSERT_EQ(
        mproc_pool_apply_async(pool.p, big_result, &n, sizeof n, nullptr, &x),
        0);
  for (auto &x : r) {
    const void *d;
    size_t got;
    ASSERT_EQ(mproc_async_result_get(x, scaled_ms(60000), &status, &d, &got),
              0);
    EXPECT_EQ(status, 0);
    ASSERT_EQ(got, n);
    const unsigned char *p = static_cast<const unsigned char *>(d);
    size_t bad = 0;
    for (size_t i = 0; i < n; i += 4093)
      bad += p[i] != (unsigned char)(i * 7 + (i >> 20));
    EXPECT_EQ(bad, 0u);
    mproc_async_result_free(x);
  }
  // A big argument goes down as well.
  std::string arg(8 << 20, 'q');
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, arg.data(), arg.size(), &status,
                             &data, &size),
            0);
  EXPECT_EQ(size, arg.size());
  EXPECT_EQ(memcmp(data, arg.data(), size), 0);
  mproc_free(data);
}

// ---- blocking apply: the calling thread talks to an idle worker itself ---

// The argument and result of one blocking apply from one of many threads.
TEST_P(PoolM, BlockingApplyFromManyThreadsBesideAMap) {
  Pool pool(2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; i++) {
        std::string arg = "t" + std::to_string(t) + ":" + std::to_string(i);
        int status = -1;
        void *data = nullptr;
        size_t size = 0;
        if (mproc_pool_apply(pool.p, echo, arg.data(), arg.size(), &status,
                             &data, &size) != 0 ||
            status != 0 || std::string(static_cast<char *>(data), size) != arg)
          wrong++;
        mproc_free(data);
      }
    });
  }
  // A map at the same time: its chunks queue while callers lease workers.
  std::vector<int64_t> items(2000), out(2000);
  for (int i = 0; i < 2000; i++)
    items[i] = i;
  ASSERT_EQ(mproc_pool_map(pool.p, double_it, items.data(), 8, items.size(), 3,
                           out.data(), 8, nullptr),
            0);
  for (auto &th : threads)
    th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < 2000; i++)
    ASSERT_EQ(out[i], 2 * i);
}

// Deliberately not registered.
int unregistered_task(const void *, size_t, mproc_buf_t *) { return 0; }
int unregistered_initializer(const void *, size_t) { return 0; }

// Under fork a task travels by address; under spawn and forkserver by its
// registered name, and a call naming an unregistered one fails before
// anything is queued.
TEST_P(PoolM, UnregisteredTaskOrInitializer) {
  const int expected = g_start_method == MPROC_START_FORK ? 0 : MPROC_ENOTREG;
  mproc_pool_options_t o = {};
  o.processes = 1;
  o.start_method = g_start_method;
  o.initializer = unregistered_initializer;
  mproc_pool_t *p = nullptr;
  EXPECT_EQ(mproc_pool_create(&p, &o), expected);
  EXPECT_EQ(mproc_pool_free(p), 0);

  Pool pool(1);
  int status = -1;
  EXPECT_EQ(mproc_pool_apply(pool.p, unregistered_task, "x", 1, &status,
                             nullptr, nullptr),
            expected);
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(
      mproc_pool_apply_async(pool.p, unregistered_task, "x", 1, nullptr, &r),
      expected);
  EXPECT_EQ(r != nullptr, expected == 0);
  mproc_async_result_free(r);
  int64_t items[3] = {1, 2, 3};
  EXPECT_EQ(mproc_pool_map(pool.p, unregistered_task, items, 8, 3, 1, nullptr,
                           0, nullptr),
            expected);
  mproc_imap_t *it = nullptr;
  EXPECT_EQ(mproc_pool_imap(pool.p, unregistered_task, items, 8, 3, 1, &it),
            expected);
  mproc_imap_free(it);
  it = nullptr;
  EXPECT_EQ(
      mproc_pool_imap_unordered(pool.p, unregistered_task, items, 8, 3, 1, &it),
      expected);
  mproc_imap_free(it);
  // The pool goes on with registered tasks.
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "ok", 2, &status, &data, &size), 0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "ok");
  mproc_free(data);
}

// Set by the test process only: a fork worker has its copy, a spawned or
// forkserver worker (a fresh run of the program) has the initial value.
int g_marker = 0;

int read_marker(const void *, size_t, mproc_buf_t *out) {
  return mproc_buf_set(out, &g_marker, sizeof g_marker);
}
MPROC_TASK(read_marker);

TEST_P(PoolM, WorkersAreStartedWithThePoolsMethod) {
  g_marker = 42;
  Pool pool(1);
  g_marker = 0;
  int status = -1;
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(
      mproc_pool_apply(pool.p, read_marker, nullptr, 0, &status, &data, &size),
      0);
  ASSERT_EQ(size, sizeof(int));
  int seen;
  memcpy(&seen, data, sizeof seen);
  mproc_free(data);
  EXPECT_EQ(seen, g_start_method == MPROC_START_FORK ? 42 : 0);
}

// The default start method (mproc_set_start_method) chooses the workers'.
TEST_P(PoolM, ProgramDefaultStartMethod) {
  ASSERT_EQ(mproc_set_start_method(g_start_method), 0);
  mproc_pool_options_t o = {};
  o.processes = 1;
  mproc_pool_t *p = nullptr;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  int status = -1;
  int expected = g_start_method == MPROC_START_FORK ? 0 : MPROC_ENOTREG;
  EXPECT_EQ(
      mproc_pool_apply(p, unregistered_task, "x", 1, &status, nullptr, nullptr),
      expected);
  EXPECT_EQ(mproc_pool_apply(p, echo, "x", 1, &status, nullptr, nullptr), 0);
  EXPECT_EQ(mproc_pool_free(p), 0);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_DEFAULT), 0);
}

#ifdef MPROC_POOL_EXAMPLE_DIR
TEST(Pool, SeedExampleApplyAsync) {
  // 200 ms instead of the seed's 2 s per task.
#ifdef _WIN32
  const char *exe = "/pool_apply_async.exe";
#else
  const char *exe = "/pool_apply_async";
#endif
  auto r = mproc_test::run_program(
      {std::string(MPROC_POOL_EXAMPLE_DIR) + exe, "200"}, scaled_ms(60000));
  ASSERT_EQ(r.exit_code(), 0) << r.status << r.err;
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < r.out.size()) {
    size_t nl = r.out.find('\n', at);
    if (nl == std::string::npos)
      nl = r.out.size();
    lines.push_back(r.out.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 11u) << r.out;
  std::set<std::string> msgs;
  for (int i = 0; i < 10; i++) {
    size_t dash = lines[i].find(" -- Tedu ");
    ASSERT_NE(dash, std::string::npos) << lines[i];
    msgs.insert(lines[i].substr(dash + 4));
  }
  EXPECT_EQ(msgs.size(), 10u);
  EXPECT_EQ(lines[10], "8888");
}
#endif

} // namespace
