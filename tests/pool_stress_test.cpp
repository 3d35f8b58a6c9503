// SPDX-License-Identifier: MIT
// Pool under many threads at once: blocking applies (which lease idle
// workers), apply_async, map and close, mixed, a thousand rounds under each
// start method. It guards the lost wake-up that once left queued tasks
// waiting forever beside idle workers while the pool's thread slept. Every
// round is bounded in time: a round that does not finish fails the test,
// and terminate then frees its callers.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"
#include "test_tasks.h"

using mproc_test::scaled_ms;

namespace {

using test_tasks::double_it;
using test_tasks::echo;

// Rounds per start method; the pattern hung within a few hundred.
#ifdef _WIN32
const int kRounds = 250; // a Windows worker (under Wine) starts far slower
#else
const int kRounds = 1000;
#endif
// Every this many rounds, the pool is closed while the round runs, then
// joined and made anew.
const int kCloseEvery = 100;

// What one round's threads got wrong; every call is checked.
struct Tally {
  std::atomic<int> wrong{0};
  std::atomic<int> refused{0}; // MPROC_ESTATE after close: allowed
  void check(int rc, int status, bool ok) {
    if (rc == MPROC_ESTATE)
      refused++;
    else if (rc != 0 || status != 0 || !ok)
      wrong++;
  }
};

void blocking_applies(mproc_pool_t *pool, int t, int n, Tally *tally) {
  for (int i = 0; i < n; i++) {
    std::string arg = "t" + std::to_string(t) + ":" + std::to_string(i);
    int status = -1;
    void *data = nullptr;
    size_t size = 0;
    int rc = mproc_pool_apply(pool, echo, arg.data(), arg.size(), &status,
                              &data, &size);
    tally->check(rc, status,
                 rc != 0 ||
                     std::string(static_cast<char *>(data), size) == arg);
    mproc_free(data);
  }
}

void async_applies(mproc_pool_t *pool, int n, Tally *tally) {
  std::vector<mproc_async_result_t *> rs;
  for (int i = 0; i < n; i++) {
    mproc_async_result_t *r = nullptr;
    int rc = mproc_pool_apply_async(pool, echo, &i, sizeof i, nullptr, &r);
    if (rc == 0)
      rs.push_back(r);
    else
      tally->check(rc, 0, true);
  }
  for (size_t i = 0; i < rs.size(); i++) {
    int status = -1;
    const void *data = nullptr;
    size_t size = 0;
    int rc =
        mproc_async_result_get(rs[i], scaled_ms(60000), &status, &data, &size);
    tally->check(rc, status,
                 rc == 0 && size == sizeof(int) &&
                     memcmp(data, &i, sizeof(int)) == 0);
    mproc_async_result_free(rs[i]);
  }
}

void a_map(mproc_pool_t *pool, Tally *tally) {
  int64_t items[12], out[12];
  for (int i = 0; i < 12; i++)
    items[i] = i;
  int rc = mproc_pool_map(pool, double_it, items, 8, 12, 2, out, 8, nullptr);
  bool ok = true;
  for (int i = 0; rc == 0 && i < 12; i++)
    ok = ok && out[i] == 2 * i;
  tally->check(rc, 0, ok);
}

// Runs fn on `n` threads and waits for them all, at most `ms`. Returns
// false when they did not finish in time; the threads are joined either
// way, after `unstick` (terminate) when they hang.
bool run_bounded(std::vector<std::function<void()>> fns, int64_t ms,
                 const std::function<void()> &unstick) {
  std::mutex m;
  std::condition_variable cv;
  size_t done = 0;
  std::vector<std::thread> threads;
  for (auto &fn : fns)
    threads.emplace_back([&, fn] {
      fn();
      std::lock_guard<std::mutex> g(m);
      done++;
      cv.notify_all();
    });
  bool finished;
  {
    std::unique_lock<std::mutex> lk(m);
    finished = cv.wait_for(lk, std::chrono::milliseconds(ms),
                           [&] { return done == fns.size(); });
  }
  if (!finished)
    unstick();
  for (auto &th : threads)
    th.join();
  return finished;
}

mproc_pool_t *new_pool(mproc_start_method_t method) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.start_method = method;
  mproc_pool_t *p = nullptr;
  EXPECT_EQ(mproc_pool_create(&p, &o), 0);
  return p;
}

class PoolStress : public shared_testing::MethodTest {};

TEST_P(PoolStress, ApplyFromManyThreadsWithAsyncMapAndClose) {
  mproc_pool_t *pool = new_pool(GetParam());
  ASSERT_NE(pool, nullptr);
  Tally tally;
  int hung = 0;
  for (int round = 0; round < kRounds && hung == 0; round++) {
    bool closing = round % kCloseEvery == kCloseEvery - 1;
    std::vector<std::function<void()>> fns;
    for (int t = 0; t < 4; t++)
      fns.push_back([&, t] { blocking_applies(pool, t, 10, &tally); });
    fns.push_back([&] { async_applies(pool, 3, &tally); });
    fns.push_back([&] { a_map(pool, &tally); });
    if (closing)
      fns.push_back([&] { EXPECT_EQ(mproc_pool_close(pool), 0); });
    if (!run_bounded(fns, scaled_ms(60000),
                     [&] { mproc_pool_terminate(pool); })) {
      ADD_FAILURE() << "round " << round << " hung";
      hung = 1;
    }
    if (closing || hung) {
      // Everything accepted before the close ran to its end.
      EXPECT_EQ(mproc_pool_join(pool, scaled_ms(60000)), 0);
      EXPECT_EQ(mproc_pool_free(pool), 0);
      pool = hung ? nullptr : new_pool(GetParam());
      ASSERT_TRUE(hung || pool != nullptr);
    }
  }
  EXPECT_EQ(tally.wrong.load(), 0);
  if (pool) {
    EXPECT_EQ(mproc_pool_close(pool), 0);
    EXPECT_EQ(mproc_pool_join(pool, scaled_ms(60000)), 0);
    EXPECT_EQ(mproc_pool_free(pool), 0);
  }
}

MPROC_INSTANTIATE_METHODS(PoolStress);

} // namespace
