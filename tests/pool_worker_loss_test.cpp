// SPDX-License-Identifier: MIT
// Pool: workers that die under their tasks (crashes, exits, kills from
// outside, task timeouts): only the task it ran fails, and the worker is
// replaced.
// Every TEST_P runs under every start method (pool_testing.h).
#include "pool_testing.h"

#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace pool_testing;
using mproc_test::scaled_ms;

// Tasks done between two kills of the stress test: a Windows process
// (under Wine above all) starts far slower still than a spawned POSIX one.
#ifdef _WIN32
const int64_t kTasksBetweenKills = 1000;
#else
const int64_t kTasksBetweenKills = 100;
#endif

TEST_P(PoolM, EveryKindOfWorkerDeathFailsOnlyItsTask) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool pool(2);
    struct Case {
      Death how;
      int exitcode;
    } cases[] = {{DIE_SEGV, mproc_test::kCrashExit},
                 {DIE_ABORT, mproc_test::kAbortExit},
                 {DIE_EXIT3, 3},
                 {DIE_WAIT_FOR_KILL, mproc_test::kKillPidExit}};
    for (const Case &c : cases) {
      shared()->victim_pid.store(0);
      std::vector<mproc_async_result_t *> before(5), after(5);
      int ms = 5;
      for (auto &r : before)
        ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms,
                                         sizeof ms, nullptr, &r),
                  0);
      mproc_async_result_t *victim;
      ASSERT_EQ(mproc_pool_apply_async(pool.p, die, &c.how, sizeof c.how,
                                       nullptr, &victim),
                0);
      for (auto &r : after)
        ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms,
                                         sizeof ms, nullptr, &r),
                  0);
      if (c.how == DIE_WAIT_FOR_KILL) {
        // Killed from outside, by pid, while it runs the task.
        ASSERT_TRUE(kill_victim());
      }
      int status = 0, code = 0;
      get_string(victim, &status);
      EXPECT_EQ(status, MPROC_EWORKERLOST) << c.how;
      {
        int yes = -1;
        EXPECT_EQ(mproc_async_result_successful(victim, &yes), 0);
        EXPECT_EQ(yes, 0);
      }
      ASSERT_EQ(mproc_async_result_exitcode(victim, &code), 0);
      EXPECT_EQ(code, c.exitcode) << c.how;
      mproc_async_result_free(victim);
      for (auto *v : {&before, &after}) {
        for (auto r : *v) {
          get_string(r, &status);
          EXPECT_EQ(status, 0) << c.how;
          mproc_async_result_free(r);
        }
      }
    }
    // The pool still has its two workers: two tasks meet, each in one. (The
    // last replacement may start only now.)
    int two = 2, status = -1;
    std::vector<mproc_async_result_t *> both(2);
    for (auto &r : both)
      ASSERT_EQ(
          mproc_pool_apply_async(pool.p, meet, &two, sizeof two, nullptr, &r),
          0);
    for (auto r : both) {
      get_string(r, &status);
      EXPECT_EQ(status, 0);
      mproc_async_result_free(r);
    }
    EXPECT_EQ(pool.pids().size(), 2u);
  }
}

// Item 7 crashes its worker: its chunk (items 5..9) fails, nothing else.
int crash_on_seven(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  if (v == 7)
    mproc_test::crash();
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(crash_on_seven);

TEST_P(PoolM, WorkerDeathFailsItsWholeChunkOnly) {
  Pool pool(2);
  std::vector<int64_t> items(20), out(20);
  std::vector<int> st(20);
  for (int i = 0; i < 20; i++)
    items[i] = i;
  EXPECT_EQ(mproc_pool_map(pool.p, crash_on_seven, items.data(), 8, 20, 5,
                           out.data(), 8, st.data()),
            MPROC_EWORKERLOST);
  for (int i = 0; i < 20; i++) {
    if (i >= 5 && i < 10) {
      EXPECT_EQ(st[i], MPROC_EWORKERLOST) << i;
    } else {
      EXPECT_EQ(st[i], 0) << i;
      EXPECT_EQ(out[i], i);
    }
  }
}

// A task of 30 s under a timeout of 1 s is killed; quick tasks, far
// inside the timeout even on a loaded machine, are not.
TEST_P(PoolM, TaskTimeoutKillsAndReplacesTheWorker) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.task_timeout_ms = 1000;
  Pool pool(&o);
  int slow = 30000;
  mproc_async_result_t *r, *q[6];
  ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &slow, sizeof slow,
                                   nullptr, &r),
            0);
  for (auto &x : q)
    ASSERT_EQ(mproc_pool_apply_async(pool.p, echo, "q", 1, nullptr, &x), 0);
  int status = 0, code = 0;
  get_string(r, &status);
  EXPECT_EQ(status, MPROC_ETIMEDOUT);
  ASSERT_EQ(mproc_async_result_exitcode(r, &code), 0);
  EXPECT_EQ(code, -SIGKILL);
  mproc_async_result_free(r);
  for (auto x : q) {
    get_string(x, &status);
    EXPECT_EQ(status, 0);
    mproc_async_result_free(x);
  }
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
}

// Defect: a large task timeout overflowed the task's deadline (UBSan
// aborted; otherwise the deadline lay in the past and tasks timed out at
// once). MPROC_INFINITE, like every timeout, and any huge value mean no
// limit; only other negatives are refused.
TEST_P(PoolM, TaskTimeoutInfiniteOrHugeIsNoLimit) {
  for (int64_t ms : {MPROC_INFINITE, INT64_MAX, INT64_MAX / 1000000 + 1,
                     INT64_MAX / 1000000}) {
    mproc_pool_options_t o = {};
    o.processes = 1;
    o.task_timeout_ms = ms;
    Pool pool(&o);
    ASSERT_NE(pool.p, nullptr) << ms;
    int wait = 20, status = -1;
    // Through the pool's thread and through a lease.
    mproc_async_result_t *r;
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &wait,
                                     sizeof wait, nullptr, &r),
              0);
    get_string(r, &status);
    EXPECT_EQ(status, 0) << ms;
    mproc_async_result_free(r);
    ASSERT_EQ(mproc_pool_apply(pool.p, sleep_then_echo, &wait, sizeof wait,
                               &status, nullptr, nullptr),
              0);
    EXPECT_EQ(status, 0) << ms;
  }
  mproc_pool_options_t o = {};
  mproc_pool_t *p = nullptr;
  o.task_timeout_ms = -2;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o.task_timeout_ms = INT64_MIN;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
}

TEST_P(PoolM, BlockingApplyWorkerDeathFailsOnlyThatCall) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  for (Death how : {DIE_SEGV, DIE_ABORT, DIE_EXIT3, DIE_WAIT_FOR_KILL}) {
    shared()->victim_pid.store(0);
    int status = 0, rc = -1;
    std::thread caller([&] {
      rc = mproc_pool_apply(pool.p, die, &how, sizeof how, &status, nullptr,
                            nullptr);
    });
    if (how == DIE_WAIT_FOR_KILL) {
      EXPECT_TRUE(kill_victim()); // the caller is joined either way
    }
    caller.join();
    EXPECT_EQ(rc, 0) << how;
    EXPECT_EQ(status, MPROC_EWORKERLOST) << how;
    ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
              0);
    EXPECT_EQ(status, 0) << how;
  }
  // The replacements are started by the pool's thread, perhaps still now.
  EXPECT_TRUE(mproc_test::wait_until([&] { return pool.pids().size() == 2; }));
}

TEST_P(PoolM, BlockingApplyPastTheTaskTimeout) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.task_timeout_ms = 1000;
  Pool pool(&o);
  int slow = 30000, status = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, sleep_then_echo, &slow, sizeof slow,
                             &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, MPROC_ETIMEDOUT);
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
}

// An idle worker killed from outside: the next call may write to its dead
// pipe (which on POSIX must not raise SIGPIPE in the caller: its default
// action would end this test process), still succeeds, and the worker is
// replaced.
TEST_P(PoolM, IdleWorkerKilledFromOutside) {
  Pool pool(2);
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  std::vector<mproc_pid_t> before = pool.pids();
  ASSERT_EQ(before.size(), 2u);
  for (mproc_pid_t victim : before) {
    ASSERT_TRUE(is_our_child(victim));
    mproc_test::kill_pid(victim);
    ASSERT_TRUE(mproc_test::wait_dead(victim, 30000));
    // The first call may land on the dead worker: when its frame was
    // written whole (another process, the fork server say, still held the
    // pipe's read end for a moment), the pool cannot know it was never
    // read, and reports worker-lost rather than risk a second run. The
    // calls after it succeed.
    for (int i = 0; i < 3; i++) {
      ASSERT_EQ(
          mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr), 0);
      if (i == 0 && status == MPROC_EWORKERLOST)
        continue;
      EXPECT_EQ(status, 0) << "call " << i;
    }
  }
  // Both replaced, well within the pool's idle checks.
  std::vector<mproc_pid_t> after;
  mproc_test::wait_until([&] {
    after = pool.pids();
    return after.size() == 2 &&
           std::find(after.begin(), after.end(), before[0]) == after.end() &&
           std::find(after.begin(), after.end(), before[1]) == after.end();
  });
  ASSERT_EQ(after.size(), 2u);
  for (mproc_pid_t pid : before)
    EXPECT_EQ(std::find(after.begin(), after.end(), pid), after.end());
}

TEST_P(PoolM, StressRandomWorkerKillsDuringMap) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool pool(3);
    const int n = 20000;
    std::vector<int> items(n);
    for (int i = 0; i < n; i++)
      items[i] = i;
    std::atomic<bool> stop{false};
    std::atomic<int> kills{0};
    std::thread killer([&] {
      std::mt19937 rng(12345);
      int64_t next_at = 0;
      while (!stop.load()) {
        std::vector<mproc_pid_t> pids = pool.pids();
        // A kill waits for the replacement of the last one and for some
        // work done since: a spawned worker (in a sanitizer build above
        // all) starts far slower than a fork, and kills faster than the
        // pool can replace workers would only measure the start-up.
        if (pids.size() == 3 && shared()->tasks_run.load() >= next_at) {
          mproc_pid_t pid = pids[rng() % pids.size()];
          // Only a worker of this pool: a child of this process.
          if (is_our_child(pid)) {
            mproc_test::kill_pid(pid);
            kills++;
            next_at = shared()->tasks_run.load() + kTasksBetweenKills;
          }
        }
        // Not synchronisation: the killer's pace, at random.
        mproc_test::sleep_us(3000 + rng() % 4000);
      }
    });
    long lost = 0, ok = 0;
    for (int round = 0; round < 20; round++) {
      for (int i = 0; i < n; i++)
        shared()->runs[i].store(0);
      std::vector<int> out(n, -1), st(n, 12345);
      int r = mproc_pool_map(pool.p, count_run, items.data(), sizeof(int), n, 1,
                             out.data(), sizeof(int), st.data());
      EXPECT_TRUE(r == 0 || r == MPROC_EWORKERLOST) << r;
      int bad = 0;
      for (int i = 0; i < n; i++) {
        int runs = shared()->runs[i].load();
        if (st[i] == 0) {
          ok++;
          bad += out[i] != i * 3 || runs != 1; // ran exactly once
        } else if (st[i] == MPROC_EWORKERLOST) {
          lost++;
          bad += runs > 1; // never run again after it was lost
        } else {
          bad++;
        }
      }
      EXPECT_EQ(bad, 0) << "round " << round;
    }
    stop = true;
    killer.join();
    EXPECT_GT(kills.load(), 0);
    EXPECT_GT(ok, 0);
    std::printf("stress: %d kills, %ld tasks ok, %ld lost with their worker\n",
                kills.load(), ok, lost);
    // The pool still works, with all its workers. A worker killed just
    // before the killer stopped may not be noticed yet, and may take the
    // next task down with it: that task alone reports it, the next works.
    int status = MPROC_EWORKERLOST;
    for (int attempt = 0; attempt < 5 && status == MPROC_EWORKERLOST; attempt++)
      ASSERT_EQ(
          mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, 0);
  }
}

} // namespace
