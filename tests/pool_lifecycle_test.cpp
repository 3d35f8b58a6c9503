// SPDX-License-Identifier: MIT
// Pool: how it starts, closes, terminates and ends: queued work on close,
// work in flight on terminate, worker recycling, no zombies, and the pipes
// under it.
// Every TEST_P runs under every start method (pool_testing.h).
#include "pool_testing.h"

#include <string.h>

#include <map>
#include <thread>
#include <vector>

#include "platform.h"

namespace {

using namespace pool_testing;
using mproc_test::scaled_ms;

// The seam under Pool: a wait on more ends than one WaitForMultipleObjects
// takes (64) wakes for data and for end of file on any of them, reports
// only those, and times out when there is neither.
TEST(PoolPipes, WaitReadableOnManyEnds) {
  const size_t n = 150;
  std::vector<mproc__pipe_t> rd(n, MPROC__PIPE_INVALID),
      wr(n, MPROC__PIPE_INVALID);
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(mproc__pipe_create(&rd[i], &wr[i]), 0) << i;
  std::vector<unsigned char> ready(n, 9);
  auto only = [&](size_t k) {
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
      wrong += ready[i] != (i == k);
    return wrong == 0;
  };
  EXPECT_EQ(mproc__pipe_wait_readable(
                rd.data(), n, mproc__clock_ns() + 50 * 1000000LL, ready.data()),
            MPROC_ETIMEDOUT);

  // Data on the last end, written while the wait sleeps. The thread cannot
  // tell when the wait has begun; data there before it passes the test too.
  std::thread writer([&] {
    mproc_test::sleep_ms(100); // not synchronisation: either order passes
    EXPECT_EQ(mproc__pipe_write_all(wr[n - 1], "b", 1), 0);
  });
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  writer.join();
  EXPECT_TRUE(only(n - 1));
  char c = 0;
  EXPECT_EQ(mproc__pipe_read_all(rd[n - 1], &c, 1), 0);
  EXPECT_EQ(c, 'b');

  // End of file on one in the middle: its writer closed while the wait
  // sleeps (or before it: either order passes).
  std::thread closer([&] {
    mproc_test::sleep_ms(100); // not synchronisation: either order passes
    mproc__pipe_close(&wr[100]);
  });
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  closer.join();
  EXPECT_TRUE(only(100));
  EXPECT_EQ(mproc__pipe_read_all(rd[100], &c, 1), MPROC_ECLOSED);
  // It stays readable: a fresh pipe takes its place.
  mproc__pipe_close(&rd[100]);
  ASSERT_EQ(mproc__pipe_create(&rd[100], &wr[100]), 0);

  // Data already there on the first: no sleep. A non-blocking end with
  // nothing buffered says so at once.
  ASSERT_EQ(mproc__pipe_write_all(wr[0], "a", 1), 0);
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  EXPECT_TRUE(only(0));
  size_t got = 0;
  ASSERT_EQ(mproc__pipe_set_nonblocking(rd[0]), 0);
  EXPECT_EQ(mproc__pipe_read_some(rd[0], &c, 1, &got), 0);
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(mproc__pipe_read_some(rd[0], &c, 1, &got), MPROC_EEMPTY);

  // A write to a pipe whose reader is gone fails, with no signal.
  mproc__pipe_close(&rd[1]);
  EXPECT_EQ(mproc__pipe_write_all(wr[1], "x", 1), MPROC_ECLOSED);
  for (size_t i = 0; i < n; i++) {
    mproc__pipe_close(&rd[i]);
    mproc__pipe_close(&wr[i]);
  }
}

TEST_P(PoolM, FreedPoolIsReported) {
  mproc_pool_t *p;
  mproc_pool_options_t o = {};
  o.processes = 1;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  ASSERT_EQ(mproc_pool_free(p), 0);
  EXPECT_EQ(mproc_pool_close(p), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_pool_free(p), MPROC_EBADHANDLE);
}

TEST_P(PoolM, CloseThenJoinFinishesQueuedWork) {
  Pool pool(2);
  std::vector<mproc_async_result_t *> rs(10);
  for (int i = 0; i < 10; i++) {
    int ms = 20;
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms, sizeof ms,
                                     nullptr, &rs[i]),
              0);
  }
  std::vector<mproc_pid_t> pids = pool.pids();
  EXPECT_EQ(mproc_pool_join(pool.p, 0), MPROC_ESTATE); // not closed yet
  ASSERT_EQ(mproc_pool_close(pool.p), 0);
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  ASSERT_EQ(mproc_pool_join(pool.p, scaled_ms(30000)), 0);
  for (auto r : rs) {
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
    mproc_async_result_free(r);
  }
  // Use after close.
  mproc_async_result_t *r;
  int status;
  int64_t item = 1, out;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, &r),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, &item, 8, 1, 0, &out, 8, nullptr),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_join(pool.p, 0), 0);
  EXPECT_TRUE(shared_testing::all_gone(pids));
}

// Two tasks run (they said so) and the rest wait in the queue when the
// pool is terminated: every one of them fails.
TEST_P(PoolM, TerminateFailsWorkInFlight) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  CallbackLog log;
  mproc_apply_options_t cb = {on_ok, on_error, &log, {0}};
  std::vector<mproc_async_result_t *> rs(6);
  for (auto &r : rs)
    ASSERT_EQ(mproc_pool_apply_async(pool.p, start_then_wait_for_kill, nullptr,
                                     0, &cb, &r),
              0);
  std::vector<int> items(100, 30000);
  mproc_imap_t *it;
  ASSERT_EQ(mproc_pool_imap(pool.p, sleep_then_echo, items.data(), sizeof(int),
                            100, 1, &it),
            0);
  ASSERT_TRUE(
      mproc_test::wait_until([] { return shared()->started.load() == 2; }));
  std::vector<mproc_pid_t> pids = pool.pids();
  ASSERT_EQ(mproc_pool_terminate(pool.p), 0);
  for (auto r : rs) {
    int status = 0;
    ASSERT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, MPROC_ECLOSED);
    mproc_async_result_free(r);
  }
  EXPECT_EQ(log.failed.load(), 6);
  for (int i = 0; i < 100; i++) {
    int status = 0;
    ASSERT_EQ(mproc_imap_next(it, 0, nullptr, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, MPROC_ECLOSED);
  }
  mproc_imap_free(it);
  mproc_async_result_t *r;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, &r),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_join(pool.p, scaled_ms(10000)), 0);
  EXPECT_EQ(mproc_pool_terminate(pool.p), 0); // twice is harmless
  EXPECT_TRUE(shared_testing::all_gone(pids));
}

// Lives a minute, unless killed.
int sleep_a_while(const void *, size_t) {
  for (int i = 0; i < 600; i++)
    mproc_test::sleep_ms(100); // not synchronisation: the test kills it
  return 0;
}
MPROC_TARGET(sleep_a_while);

// Pipe ends must not leak into other children: a worker's death is seen
// through end of file on its result pipe, and a worker is told to exit
// through end of file on its task pipe. Neither works if the workers of a
// pool created later, or a Process started later, hold copies.
TEST_P(PoolM, OtherChildrenDoNotHoldAWorkersPipes) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool a(2);
    // One round trip first, so that a's thread is past its start-up and
    // idle when b's workers are forked: a fork while another thread is in
    // the sanitizers' allocator (which takes no lock around fork, unlike
    // glibc's malloc) can leave the child stuck on that lock.
    int64_t one = 1;
    int done = -1;
    void *answer = nullptr;
    size_t answer_size = 0;
    ASSERT_EQ(mproc_pool_apply(a.p, double_it, &one, sizeof one, &done, &answer,
                               &answer_size),
              0);
    EXPECT_EQ(done, 0);
    mproc_free(answer);
    Pool b(2);
    shared_testing::Child other(sleep_a_while, nullptr, 0);
    int how = DIE_WAIT_FOR_KILL;
    mproc_async_result_t *r;
    ASSERT_EQ(mproc_pool_apply_async(a.p, die, &how, sizeof how, nullptr, &r),
              0);
    ASSERT_TRUE(kill_victim());
    int status = 0;
    EXPECT_EQ(
        mproc_async_result_get(r, scaled_ms(5000), &status, nullptr, nullptr),
        0);
    EXPECT_EQ(status, MPROC_EWORKERLOST);
    mproc_async_result_free(r);
    // Told to exit through end of file on their task pipes, the workers of
    // both pools exit while the other process, started after them, lives.
    ASSERT_EQ(mproc_pool_close(a.p), 0);
    ASSERT_EQ(mproc_pool_close(b.p), 0);
    EXPECT_EQ(mproc_pool_join(a.p, scaled_ms(5000)), 0);
    EXPECT_EQ(mproc_pool_join(b.p, scaled_ms(5000)), 0);
    EXPECT_TRUE(other.alive());
  }
}

TEST_P(PoolM, TerminateEndsABlockingApply) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  Death how = DIE_WAIT_FOR_KILL; // runs for a minute unless killed
  int status = 0, rc = -1;
  std::thread caller([&] {
    rc = mproc_pool_apply(pool.p, die, &how, sizeof how, &status, nullptr,
                          nullptr);
  });
  EXPECT_GT(victim_pid(), 0);
  std::vector<mproc_pid_t> pids = pool.pids();
  ASSERT_EQ(mproc_pool_terminate(pool.p), 0);
  caller.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(status, MPROC_ECLOSED);
  EXPECT_TRUE(shared_testing::all_gone(pids));
}

// Says it runs (its pid in the shared victim_pid), then answers once the
// test opens its Gate.
int announce_then_echo_when_open(const void *arg, size_t size,
                                 mproc_buf_t *out) {
  if (!shared())
    return 1;
  shared()->victim_pid.store(mproc_getpid());
  return echo_when_open(arg, size, out);
}
MPROC_TASK(announce_then_echo_when_open);

TEST_P(PoolM, CloseLetsABlockingApplyFinish) {
  ASSERT_NE(reset_shared(), nullptr);
  HeldGate gate(1);
  Pool pool(2);
  int status = -1, rc = -1;
  std::thread caller([&] {
    rc = mproc_pool_apply(pool.p, announce_then_echo_when_open, gate.get(),
                          sizeof(GateArg), &status, nullptr, nullptr);
  });
  EXPECT_GT(victim_pid(), 0); // the call's task runs: close comes after it
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  gate.open();
  EXPECT_EQ(mproc_pool_join(pool.p, scaled_ms(30000)), 0);
  caller.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(status, 0);
}

void check_recycling(size_t maxtasks) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.maxtasksperchild = maxtasks;
  o.initializer = initializer;
  o.initargs = "hello";
  o.initargs_size = 6;
  Pool pool(&o);
  const size_t n = 30;
  std::vector<InitReport> out(n);
  std::vector<int> st(n);
  ASSERT_EQ(mproc_pool_map(pool.p, report_init, nullptr, 0, n, 1, out.data(),
                           sizeof(InitReport), st.data()),
            0);
  std::map<int64_t, int> per_pid;
  for (size_t i = 0; i < n; i++) {
    EXPECT_EQ(st[i], 0);
    EXPECT_EQ(out[i].runs, 1); // the initializer ran once in this worker
    EXPECT_STREQ(out[i].arg, "hello");
    per_pid[out[i].pid]++;
  }
  for (auto &kv : per_pid)
    EXPECT_LE(kv.second, (int)maxtasks) << kv.first;
  EXPECT_GE(per_pid.size(), n / maxtasks);
}

TEST_P(PoolM, MaxTasksPerChildOne) { check_recycling(1); }
TEST_P(PoolM, MaxTasksPerChildThree) { check_recycling(3); }

TEST_P(PoolM, NoZombiesAfterFree) {
  std::vector<mproc_pid_t> pids;
  {
    mproc_pool_options_t o = {};
    o.processes = 3;
    o.maxtasksperchild = 2;
    Pool pool(&o);
    std::vector<int64_t> out(12);
    ASSERT_EQ(mproc_pool_map(pool.p, my_pid, nullptr, 0, 12, 1, out.data(), 8,
                             nullptr),
              0);
    for (int64_t p : out)
      pids.push_back((mproc_pid_t)p);
    for (mproc_pid_t p : pool.pids())
      pids.push_back(p);
  }
  EXPECT_TRUE(shared_testing::all_gone(pids));
}

int lock_task(const void *arg, size_t size, mproc_buf_t *) {
  mproc_lock_t l;
  if (size != sizeof l)
    return 100;
  memcpy(&l, arg, sizeof l);
  int r = mproc_lock_acquire(&l, 10000);
  if (r != 0)
    return 200 - r;
  return mproc_lock_release(&l) == 0 ? 0 : 300;
}
MPROC_TASK(lock_task);

int try_lock_task(const void *arg, size_t, mproc_buf_t *) {
  mproc_lock_t l;
  memcpy(&l, arg, sizeof l);
  return mproc_lock_acquire(&l, 0) == MPROC_ETIMEDOUT ? 0 : 1;
}
MPROC_TASK(try_lock_task);

TEST_P(PoolM, SharedLockCreatedAfterThePool) {
  Pool pool(2);
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  std::vector<mproc_lock_t> items(8, lock);
  std::vector<int> st(8, -1);
  EXPECT_EQ(mproc_pool_map(pool.p, lock_task, items.data(), sizeof lock, 8, 1,
                           nullptr, 0, st.data()),
            0);
  for (int s : st)
    EXPECT_EQ(s, 0);
  // Held by the parent: a worker's try times out and says so.
  ASSERT_EQ(mproc_lock_acquire(&lock, 0), 0);
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool.p, try_lock_task, &lock, sizeof lock, &status,
                             nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
}

} // namespace
