// SPDX-License-Identifier: MIT
// A bounded chaos run: producers and consumers on a queue, lock users, and
// a pool's workers, all at once, while the test kills, stops and continues
// them at random, closes nothing early and gives random timeouts. At the
// end every invariant is checked: no message lost or duplicated, order per
// producer kept, the lock never held twice and still usable, every pool
// task completed or failed with a reason, no child or segment left.
//
// Not part of the default CTest run (ci/test.sh runs it): it lasts
// MPROC_CHAOS_SECONDS (default 60) and prints its seed, which
// MPROC_CHAOS_SEED replays. Only processes it started are ever signalled.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using shared_testing::atomic_at;
using shared_testing::attach;
using shared_testing::Child;
using shared_testing::SharedMem;
using shared_testing::SharedRef;

namespace {

constexpr int kMaxProducers = 64; // every producer ever started
constexpr uint32_t kMaxSeq = 4000;

struct Board {
  // Producers: the last sequence number whose put returned 0, plus one.
  uint32_t acked[kMaxProducers];
  // Consumers: how many times each (producer, seq) was received, and the
  // last seq each consumer saw of each producer (order check).
  uint8_t seen[kMaxProducers][kMaxSeq];
  uint32_t order_broken;
  // Lock users: how many are inside the critical section now, and the
  // worst that was seen; how many times the lock came with EOWNERDEAD.
  int32_t inside;
  int32_t worst;
  uint32_t owner_dead;
  uint64_t increments;
  uint32_t stop; // everyone winds down
};

struct Args {
  mproc_queue_t q;
  mproc_lock_t lock;
  SharedRef board;
  uint32_t id;
};

uint32_t load(uint32_t *p) { return atomic_at(p).load(); }

int producer(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  Board *b = attach<Board>(a.board);
  if (!b)
    return 2;
  std::minstd_rand rng(a.id);
  for (uint32_t seq = 0; seq < kMaxSeq && !load(&b->stop);) {
    uint32_t msg[2] = {a.id, seq};
    int rc = mproc_queue_put(&a.q, msg, sizeof msg, (int64_t)(rng() % 20));
    if (rc == 0) {
      atomic_at(&b->acked[a.id]).store(++seq);
    } else if (rc != MPROC_EFULL) {
      return rc == MPROC_ECLOSED ? 0 : 3;
    }
  }
  return 0;
}
MPROC_TARGET(producer);

int consumer(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  Board *b = attach<Board>(a.board);
  if (!b)
    return 2;
  std::vector<int64_t> last(kMaxProducers, -1);
  std::minstd_rand rng(a.id + 1000);
  for (;;) {
    uint32_t msg[2];
    size_t n = 0;
    int rc =
        mproc_queue_get_into(&a.q, msg, sizeof msg, &n, (int64_t)(rng() % 30));
    if (rc == MPROC_EEMPTY)
      continue;
    if (rc == MPROC_ECLOSED)
      return 0;
    if (rc != 0 || n != sizeof msg || msg[0] >= kMaxProducers ||
        msg[1] >= kMaxSeq)
      return 4;
    if ((int64_t)msg[1] <= last[msg[0]])
      atomic_at(&b->order_broken).fetch_add(1);
    last[msg[0]] = msg[1];
    atomic_at(&b->seen[msg[0]][msg[1]]).fetch_add(1);
  }
}
MPROC_TARGET(consumer);

int lock_user(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  Board *b = attach<Board>(a.board);
  if (!b)
    return 2;
  while (!load(&b->stop)) {
    int rc = mproc_lock_acquire(&a.lock, 50);
    if (rc == MPROC_ETIMEDOUT)
      continue;
    if (rc == MPROC_EOWNERDEAD) {
      // The dead holder's count is ours to take back.
      atomic_at(&b->owner_dead).fetch_add(1);
      atomic_at(&b->inside).store(0);
    } else if (rc != 0) {
      return 5;
    }
    int32_t now = atomic_at(&b->inside).fetch_add(1) + 1;
    int32_t worst = atomic_at(&b->worst).load();
    while (now > worst &&
           !atomic_at(&b->worst).compare_exchange_weak(worst, now)) {
    }
    atomic_at(&b->increments).fetch_add(1);
    atomic_at(&b->inside).fetch_sub(1);
    if (mproc_lock_release(&a.lock) != 0)
      return 6;
  }
  return 0;
}
MPROC_TARGET(lock_user);

int square(const void *arg, size_t size, mproc_buf_t *out) {
  int64_t v;
  if (size != sizeof v)
    return 1;
  memcpy(&v, arg, sizeof v);
  if (v % 7 == 0)
    mproc_test::sleep_ms(v % 50); // some tasks take a while
  v *= v;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(square);

int env_int(const char *name, int fallback) {
  const char *v = getenv(name);
  return v && *v ? atoi(v) : fallback;
}

// A process the run may stop, continue and kill: only its own children.
struct Victim {
  std::unique_ptr<Child> child;
  bool stopped = false;
};

void signal_child(Victim &v, int sig) {
  if (v.child && v.child->alive() && v.child->pid() > 0)
    kill((pid_t)v.child->pid(), sig);
}

TEST(Chaos, KillsStopsAndTimeoutsOverQueuesPoolsAndLocks) {
  const int seconds = env_int("MPROC_CHAOS_SECONDS", 60);
  const unsigned seed =
      (unsigned)env_int("MPROC_CHAOS_SEED", (int)time(nullptr));
  printf("chaos: seed %u (replay with MPROC_CHAOS_SEED=%u), %d s\n", seed, seed,
         seconds);
  fflush(stdout);
  std::mt19937 rng(seed);
  const auto methods = shared_testing::methods();
  auto pick_method = [&] {
    shared_testing::g_start_method = methods[rng() % methods.size()];
  };
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());

  SharedMem<Board> board;
  Args a = {};
  mproc_queue_options_t qo = {16, 0, 0, {0}};
  ASSERT_EQ(mproc_queue_create(&a.q, &qo), 0);
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  a.board = board.ref();

  uint32_t next_producer = 0;
  std::vector<uint32_t> producer_ids;
  auto start = [&](mproc_target_fn fn, uint32_t id) {
    Args mine = a;
    mine.id = id;
    pick_method();
    Victim v;
    v.child = std::make_unique<Child>(fn, &mine, sizeof mine);
    return v;
  };
  std::vector<Victim> producers, consumers, lockers;
  for (int i = 0; i < 3; i++) {
    producer_ids.push_back(next_producer);
    producers.push_back(start(producer, next_producer++));
  }
  for (uint32_t i = 0; i < 2; i++)
    consumers.push_back(start(consumer, i));
  for (uint32_t i = 0; i < 3; i++)
    lockers.push_back(start(lock_user, i));

  mproc_pool_options_t po = {};
  po.processes = 2;
  po.task_timeout_ms = 3000;
  po.start_method = methods[rng() % methods.size()];
  mproc_pool_t *pool = nullptr;
  ASSERT_EQ(mproc_pool_create(&pool, &po), 0);
  std::vector<std::pair<int64_t, mproc_async_result_t *>> tasks;

  int kills = 0, stops = 0;
  const int64_t end = mproc_test::now_ms() + seconds * 1000;
  while (mproc_test::now_ms() < end) {
    for (int i = 0; i < 8; i++) {
      int64_t v = (int64_t)tasks.size();
      mproc_async_result_t *r = nullptr;
      ASSERT_EQ(mproc_pool_apply_async(pool, square, &v, sizeof v, nullptr, &r),
                0);
      tasks.push_back({v, r});
    }
    mproc_test::sleep_ms(rng() % 40);
    switch (rng() % 6) {
    case 0: { // kill a producer; a new one takes over with a new id
      size_t i = rng() % producers.size();
      if (next_producer < kMaxProducers) {
        producers[i].child->kill();
        kills++;
        producer_ids.push_back(next_producer);
        producers[i] = start(producer, next_producer++);
      }
      break;
    }
    case 1: { // kill a lock user, maybe while it holds the lock
      size_t i = rng() % lockers.size();
      lockers[i].child->kill();
      kills++;
      lockers[i] = start(lock_user, (uint32_t)(rng() % 1000));
      break;
    }
    case 2: { // stop or continue a consumer or a producer
      auto &group = rng() % 2 ? consumers : producers;
      Victim &v = group[rng() % group.size()];
      signal_child(v, v.stopped ? SIGCONT : SIGSTOP);
      v.stopped = !v.stopped;
      stops++;
      break;
    }
    default: { // a pool worker: killed, or stopped (its task times out)
      mproc_pid_t pids[8];
      size_t n = 0;
      if (mproc_pool_worker_pids(pool, pids, 8, &n) == 0 && n > 0) {
        mproc_pid_t pid = pids[rng() % n];
        kill((pid_t)pid, rng() % 3 ? SIGKILL : SIGSTOP);
        kills++;
      }
      break;
    }
    }
  }

  // Wind down: everyone runs again, producers finish, the queue drains.
  for (auto *group : {&producers, &consumers})
    for (Victim &v : *group)
      if (v.stopped)
        signal_child(v, SIGCONT);
  atomic_at(&board.get()->stop).store(1);
  for (Victim &v : producers)
    EXPECT_EQ(v.child->finish(), 0);
  ASSERT_EQ(mproc_queue_close(&a.q), 0);
  for (Victim &v : consumers)
    EXPECT_EQ(v.child->finish(), 0);
  for (Victim &v : lockers)
    EXPECT_EQ(v.child->finish(), 0);

  // Every task completed with its result, or failed with a reason.
  size_t done = 0, lost = 0, timed_out = 0;
  for (auto &t : tasks) {
    int status = 0;
    const void *data = nullptr;
    size_t size = 0;
    ASSERT_EQ(mproc_async_result_get(t.second, mproc_test::scaled_ms(60000),
                                     &status, &data, &size),
              0)
        << "task " << t.first << " never finished";
    if (status == 0) {
      int64_t v = 0;
      ASSERT_EQ(size, sizeof v);
      memcpy(&v, data, sizeof v);
      EXPECT_EQ(v, t.first * t.first);
      done++;
    } else if (status == MPROC_EWORKERLOST) {
      lost++;
    } else {
      EXPECT_EQ(status, MPROC_ETIMEDOUT) << mproc_error_name(status);
      timed_out++;
    }
    mproc_async_result_free(t.second);
  }
  EXPECT_EQ(mproc_pool_terminate(pool), 0);
  EXPECT_EQ(mproc_pool_free(pool), 0);

  // No message lost, none duplicated, order kept per producer.
  Board *b = board.get();
  uint64_t delivered = 0;
  for (uint32_t p : producer_ids) {
    uint32_t acked = b->acked[p];
    for (uint32_t s = 0; s < kMaxSeq; s++) {
      uint8_t n = b->seen[p][s];
      delivered += n;
      if (s < acked)
        ASSERT_EQ(n, 1) << "producer " << p << " message " << s;
      else if (s == acked)
        ASSERT_LE(n, 1) << "producer " << p << " message " << s
                        << " (its put was cut short)";
      else
        ASSERT_EQ(n, 0) << "producer " << p << " message " << s;
    }
  }
  EXPECT_EQ(b->order_broken, 0u);
  // The lock: never held by two, and still usable.
  EXPECT_LE(b->worst, 1);
  int rc = mproc_lock_acquire(&a.lock, 5000);
  EXPECT_TRUE(rc == 0 || rc == MPROC_EOWNERDEAD) << mproc_error_name(rc);
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);

  EXPECT_EQ(mproc_queue_destroy(&a.q), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
  size_t children = 99;
  EXPECT_EQ(mproc_active_children(nullptr, 0, &children), 0);
  EXPECT_EQ(children, 0u);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
  printf("chaos: %d kills, %d stops or continues; %llu messages from %u "
         "producers; %llu lock turns (%u after an owner died); %zu tasks: "
         "%zu done, %zu worker lost, %zu timed out\n",
         kills, stops, (unsigned long long)delivered, next_producer,
         (unsigned long long)b->increments, b->owner_dead, tasks.size(), done,
         lost, timed_out);
}

} // namespace
