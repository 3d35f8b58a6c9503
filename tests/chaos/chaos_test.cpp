// SPDX-License-Identifier: MIT
// A bounded chaos run: producers and consumers on a queue, lock users, and
// a pool's workers, all at once, while the test kills, stops and continues
// them at random and gives random timeouts; and, meanwhile, random closes:
// a second queue closed by one of its producers while the others put and a
// consumer gets, then made again; the pool closed or terminated in the
// middle of a map, and a fresh one started; a Connection whose end is
// closed by its sender or by its receiver, then made again. At the end
// (and at each close) every invariant is checked: no message lost or
// duplicated (of those accepted before a close, every one received once;
// of those accepted during it, none twice, and what no consumer took still
// in the queue), order per producer kept, the lock never held twice and
// still usable, every pool task completed or failed with a reason, no
// child or segment left.
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

// Put (id, seq) messages with random timeouts, storing the count of
// accepted ones in *acked, until max_seq, *stop, or the queue's close;
// before_put(seq) may end the run first (returning its code), or return
// -1 to go on. Returns 0, or 3 for an error no put may give.
template <typename BeforePut>
int produce(mproc_queue_t *q, uint32_t id, unsigned seed, uint32_t max_seq,
            uint32_t *acked, uint32_t *stop, BeforePut before_put) {
  std::minstd_rand rng(seed);
  for (uint32_t seq = 0; seq < max_seq && !(stop && load(stop));) {
    int ended = before_put(seq);
    if (ended >= 0)
      return ended;
    uint32_t msg[2] = {id, seq};
    int rc = mproc_queue_put(q, msg, sizeof msg, (int64_t)(rng() % 20));
    if (rc == 0) {
      atomic_at(acked).store(++seq);
    } else if (rc != MPROC_EFULL) {
      return rc == MPROC_ECLOSED ? 0 : 3;
    }
  }
  return 0;
}

// Take (producer, seq) messages with random timeouts until the queue is
// closed and drained, counting each in seen and every message that comes
// before one it should follow. Returns 0, or 4 for a malformed message.
template <size_t P, size_t S>
int consume(mproc_queue_t *q, unsigned seed, uint8_t (&seen)[P][S],
            uint32_t *order_broken) {
  std::vector<int64_t> last(P, -1);
  std::minstd_rand rng(seed);
  for (;;) {
    uint32_t msg[2];
    size_t n = 0;
    int rc =
        mproc_queue_get_into(q, msg, sizeof msg, &n, (int64_t)(rng() % 30));
    if (rc == MPROC_EEMPTY)
      continue;
    if (rc == MPROC_ECLOSED)
      return 0;
    if (rc != 0 || n != sizeof msg || msg[0] >= P || msg[1] >= S)
      return 4;
    if ((int64_t)msg[1] <= last[msg[0]])
      atomic_at(order_broken).fetch_add(1);
    last[msg[0]] = msg[1];
    atomic_at(&seen[msg[0]][msg[1]]).fetch_add(1);
  }
}

int producer(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  Board *b = attach<Board>(a.board);
  if (!b)
    return 2;
  return produce(&a.q, a.id, a.id, kMaxSeq, &b->acked[a.id], &b->stop,
                 [](uint32_t) { return -1; });
}
MPROC_TARGET(producer);

int consumer(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  Board *b = attach<Board>(a.board);
  if (!b)
    return 2;
  return consume(&a.q, a.id + 1000, b->seen, &b->order_broken);
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

// ---- a queue closed by one of its producers ---------------------------

constexpr uint32_t kCloseProducers = 3;
constexpr uint32_t kCloseMaxSeq = 3000;

struct CloseBoard {
  uint32_t acked[kCloseProducers];
  // What the closer saw of each producer's acked count just before it
  // closed: those messages were accepted before the close.
  uint32_t before_close[kCloseProducers];
  uint32_t closed;
  uint8_t seen[kCloseProducers][kCloseMaxSeq];
  uint32_t order_broken;
};

struct CloseArgs {
  mproc_queue_t q;
  SharedRef board;
  uint32_t id;          // producer 0 closes the queue
  uint32_t close_after; // its puts before it does
};

int close_producer(const void *arg, size_t) {
  CloseArgs a;
  memcpy(&a, arg, sizeof a);
  CloseBoard *b = attach<CloseBoard>(a.board);
  if (!b)
    return 2;
  return produce(&a.q, a.id, a.id * 7919 + a.close_after, kCloseMaxSeq,
                 &b->acked[a.id], nullptr, [&](uint32_t seq) {
                   if (a.id != 0 || seq != a.close_after)
                     return -1;
                   for (uint32_t p = 0; p < kCloseProducers; p++)
                     atomic_at(&b->before_close[p]).store(load(&b->acked[p]));
                   atomic_at(&b->closed).store(1);
                   return mproc_queue_close(&a.q) == 0 ? 0 : 8;
                 });
}
MPROC_TARGET(close_producer);

int close_consumer(const void *arg, size_t) {
  CloseArgs a;
  memcpy(&a, arg, sizeof a);
  CloseBoard *b = attach<CloseBoard>(a.board);
  if (!b)
    return 2;
  return consume(&a.q, a.id + 77, b->seen, &b->order_broken);
}
MPROC_TARGET(close_consumer);

// One round of the closing queue: its producers (one of which closes it)
// and a consumer, started with random start methods.
struct CloseRound {
  SharedMem<CloseBoard> board;
  mproc_queue_t q = {};
  std::vector<std::unique_ptr<Child>> children;
  bool running = false;
  int rounds = 0;
  uint64_t accepted = 0, during_close = 0, left_in_queue = 0;

  void start(std::mt19937 &rng, const std::vector<mproc_start_method_t> &m) {
    memset(board.get(), 0, sizeof(CloseBoard));
    mproc_queue_options_t qo = {8, 0, 0, {0}};
    ASSERT_EQ(mproc_queue_create(&q, &qo), 0);
    CloseArgs a = {};
    a.q = q;
    a.board = board.ref();
    a.close_after = (uint32_t)(rng() % 400);
    for (uint32_t i = 0; i <= kCloseProducers; i++) {
      a.id = i < kCloseProducers ? i : 0;
      shared_testing::g_start_method = m[rng() % m.size()];
      children.push_back(std::make_unique<Child>(
          i < kCloseProducers ? close_producer : close_consumer, &a, sizeof a));
    }
    running = true;
  }

  bool done() const {
    for (auto &c : children)
      if (c->alive())
        return false;
    return true;
  }

  // Wait for the round's processes, check it, and free its queue.
  void finish() {
    if (!running)
      return;
    running = false;
    for (auto &c : children)
      EXPECT_EQ(c->finish(), 0);
    children.clear();
    CloseBoard *b = board.get();
    EXPECT_EQ(b->closed, 1u);
    EXPECT_EQ(b->order_broken, 0u);
    uint64_t unseen = 0;
    for (uint32_t p = 0; p < kCloseProducers; p++) {
      for (uint32_t s = 0; s < kCloseMaxSeq; s++) {
        uint8_t n = b->seen[p][s];
        if (s < b->before_close[p])
          ASSERT_EQ(n, 1) << "closing queue: producer " << p << " message " << s
                          << " (accepted before the close)";
        else if (s < b->acked[p])
          ASSERT_LE(n, 1) << "closing queue: producer " << p << " message " << s
                          << " (accepted during the close)";
        else
          ASSERT_EQ(n, 0) << "closing queue: producer " << p << " message " << s
                          << " (refused)";
        unseen += s < b->acked[p] && n == 0;
      }
      accepted += b->acked[p];
      during_close += b->acked[p] - b->before_close[p];
    }
    // What no consumer took is still in the queue, whole: nothing lost.
    size_t left = 99;
    EXPECT_EQ(mproc_queue_size(&q, &left), 0);
    EXPECT_EQ(left, unseen);
    left_in_queue += left;
    EXPECT_EQ(mproc_queue_destroy(&q), 0);
    rounds++;
  }
};

// ---- a Connection closed by one side -------------------------------------

struct ConnBoard {
  uint32_t sent; // messages whose send returned 0
  uint32_t sender_closed;
};

struct ConnArgs {
  mproc_connection_t end;
  SharedRef board;
  uint32_t close_after; // the sender closes its end after as many sends
};

int conn_sender(const void *arg, size_t) {
  ConnArgs a;
  memcpy(&a, arg, sizeof a);
  ConnBoard *b = attach<ConnBoard>(a.board);
  if (!b)
    return 2;
  std::minstd_rand rng(a.close_after);
  for (uint32_t seq = 0;;) {
    if (seq == a.close_after) {
      atomic_at(&b->sender_closed).store(1);
      return mproc_connection_close(&a.end) == 0 ? 0 : 9;
    }
    int rc =
        mproc_connection_send(&a.end, &seq, sizeof seq, (int64_t)(rng() % 20));
    if (rc == 0) {
      atomic_at(&b->sent).store(++seq);
    } else if (rc == MPROC_ECLOSED) {
      // The receiver closed its end: ours goes too, and removes the pair.
      return mproc_connection_close(&a.end) == 0 ? 0 : 10;
    } else if (rc != MPROC_ETIMEDOUT) {
      return 11;
    }
  }
}
MPROC_TARGET(conn_sender);

// One round of the Connection: a sender child, this process receiving.
struct ConnRound {
  SharedMem<ConnBoard> board;
  mproc_connection_t end = {};
  std::unique_ptr<Child> sender;
  bool running = false, mine_open = false, got_closed = false;
  uint32_t received = 0;
  int rounds = 0, sender_closes = 0, receiver_closes = 0;

  void start(std::mt19937 &rng, const std::vector<mproc_start_method_t> &m) {
    memset(board.get(), 0, sizeof(ConnBoard));
    mproc_pipe_options_t o = {};
    o.capacity = 4096;
    ConnArgs a = {};
    ASSERT_EQ(mproc_pipe(&end, &a.end, &o), 0);
    a.board = board.ref();
    a.close_after = 50 + (uint32_t)(rng() % 2000);
    shared_testing::g_start_method = m[rng() % m.size()];
    sender = std::make_unique<Child>(conn_sender, &a, sizeof a);
    // The child has its copy of the handle; this process never uses it.
    running = mine_open = true;
    got_closed = false;
    received = 0;
  }

  // Take what has come (waiting up to timeout_ms for more), in order,
  // each message once.
  void drain(int64_t timeout_ms = 0) {
    while (running && mine_open && !got_closed) {
      uint32_t v = 0;
      size_t n = 0;
      int rc = mproc_connection_recv_into(&end, &v, sizeof v, &n, timeout_ms);
      if (rc == MPROC_ETIMEDOUT)
        return;
      if (rc == MPROC_ECLOSED) {
        got_closed = true;
        return;
      }
      ASSERT_EQ(rc, 0) << mproc_error_name(rc);
      ASSERT_EQ(n, sizeof v);
      ASSERT_EQ(v, received) << "connection: message out of order";
      received++;
    }
  }

  void close_mine() {
    drain();
    if (running && mine_open && !got_closed) {
      EXPECT_EQ(mproc_connection_close(&end), 0);
      mine_open = false;
    }
  }

  void finish() {
    if (!running)
      return;
    ConnBoard *b = board.get();
    // The sender closes its end after its last send: all of it comes,
    // then MPROC_ECLOSED.
    int64_t give_up = mproc_test::now_ms() + mproc_test::scaled_ms(60000);
    while (mine_open && !got_closed && !::testing::Test::HasFatalFailure() &&
           mproc_test::now_ms() < give_up)
      drain(1000);
    EXPECT_TRUE(got_closed || !mine_open) << "connection: no end of file";
    if (mine_open) {
      EXPECT_EQ(mproc_connection_close(&end), 0);
      mine_open = false;
      // Its close came first: every message it sent was received.
      EXPECT_EQ(b->sender_closed, 1u);
      EXPECT_EQ(received, b->sent);
      sender_closes++;
    } else {
      receiver_closes++;
    }
    EXPECT_EQ(sender->finish(), 0);
    sender.reset();
    EXPECT_LE(received, b->sent);
    running = false;
    rounds++;
  }
};

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

// The pool, made again after each close or terminate; every task sent to
// any of them, with the generation of the pool it went to.
struct Pools {
  struct Task {
    int64_t first; // the value of its (first) item
    size_t count;  // 1 for an apply, the items of a map
    size_t gen;    // which pool
    mproc_async_result_t *r;
  };
  std::vector<mproc_pool_t *> all;
  std::vector<bool> terminated;
  std::vector<Task> tasks;
  int64_t next_value = 0;
  int closes = 0, terminates = 0;

  mproc_pool_t *now() { return all.back(); }

  void make(std::mt19937 &rng, const std::vector<mproc_start_method_t> &m) {
    mproc_pool_options_t po = {};
    po.processes = 2;
    po.task_timeout_ms = 3000;
    po.start_method = m[rng() % m.size()];
    mproc_pool_t *pool = nullptr;
    ASSERT_EQ(mproc_pool_create(&pool, &po), 0);
    all.push_back(pool);
    terminated.push_back(false);
  }

  void apply() {
    int64_t v = next_value++;
    mproc_async_result_t *r = nullptr;
    ASSERT_EQ(mproc_pool_apply_async(now(), square, &v, sizeof v, nullptr, &r),
              0);
    tasks.push_back({v, 1, all.size() - 1, r});
  }

  void map(size_t count) {
    std::vector<int64_t> items(count);
    for (size_t i = 0; i < count; i++)
      items[i] = next_value + (int64_t)i;
    mproc_async_result_t *r = nullptr;
    ASSERT_EQ(mproc_pool_map_async(now(), square, items.data(), sizeof(int64_t),
                                   count, 2, sizeof(int64_t), nullptr, &r),
              0);
    tasks.push_back({next_value, count, all.size() - 1, r});
    next_value += (int64_t)count;
  }

  // In the middle of a map: close (its tasks still run) or terminate (they
  // fail with MPROC_ECLOSED) this pool, then start a fresh one.
  void close_mid_map(std::mt19937 &rng,
                     const std::vector<mproc_start_method_t> &m) {
    map(12 + rng() % 12);
    mproc_test::sleep_ms(rng() % 30);
    mproc_pool_t *pool = now();
    if (rng() % 2) {
      terminated.back() = true;
      EXPECT_EQ(mproc_pool_terminate(pool), 0);
      terminates++;
    } else {
      // A stopped worker would never see the close: all run again.
      mproc_pid_t pids[8];
      size_t n = 0;
      if (mproc_pool_worker_pids(pool, pids, 8, &n) == 0)
        for (size_t i = 0; i < n; i++)
          kill((pid_t)pids[i], SIGCONT);
      EXPECT_EQ(mproc_pool_close(pool), 0);
      EXPECT_EQ(mproc_pool_join(pool, mproc_test::scaled_ms(60000)), 0);
      closes++;
    }
    make(rng, m);
  }

  // One item's outcome: its result, or a reason.
  void check(const Task &t, int64_t v, int status, const void *data,
             size_t *done, size_t *lost, size_t *timed_out, size_t *cut) {
    if (status == 0) {
      int64_t got = 0;
      memcpy(&got, data, sizeof got);
      EXPECT_EQ(got, v * v);
      ++*done;
    } else if (status == MPROC_EWORKERLOST) {
      ++*lost;
    } else if (status == MPROC_ECLOSED && terminated[t.gen]) {
      ++*cut;
    } else {
      EXPECT_EQ(status, MPROC_ETIMEDOUT) << mproc_error_name(status);
      ++*timed_out;
    }
  }
};

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

  Pools pools;
  pools.make(rng, methods);
  if (HasFatalFailure())
    return;
  CloseRound closing;
  ConnRound conn;
  closing.start(rng, methods);
  conn.start(rng, methods);
  if (HasFatalFailure())
    return;

  int kills = 0, stops = 0;
  int64_t next_pool_close = mproc_test::now_ms() + 3000;
  const int64_t end = mproc_test::now_ms() + seconds * 1000;
  while (mproc_test::now_ms() < end && !HasFatalFailure()) {
    for (int i = 0; i < 8; i++)
      pools.apply();
    mproc_test::sleep_ms(rng() % 40);
    conn.drain();
    switch (rng() % 9) {
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
    case 3: // the closing queue: once closed and drained, again
      if (closing.done()) {
        closing.finish();
        closing.start(rng, methods);
      }
      break;
    case 4: // the connection: its receiver closes, or it is made again
      if (!conn.sender->alive()) {
        conn.finish();
        conn.start(rng, methods);
      } else if (rng() % 3 == 0) {
        conn.close_mine();
      }
      break;
    case 5: // the pool closed or terminated mid-map, a fresh one after
      if (mproc_test::now_ms() >= next_pool_close) {
        pools.close_mid_map(rng, methods);
        next_pool_close = mproc_test::now_ms() + 2000 + rng() % 3000;
        break;
      }
      [[fallthrough]];
    default: { // a pool worker: killed, or stopped (its task times out)
      mproc_pid_t pids[8];
      size_t n = 0;
      if (mproc_pool_worker_pids(pools.now(), pids, 8, &n) == 0 && n > 0) {
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
  closing.finish();
  conn.finish();

  // Every task completed with its result, or failed with a reason.
  size_t done = 0, lost = 0, timed_out = 0, cut = 0, items = 0;
  for (auto &t : pools.tasks) {
    int status = 0;
    const void *data = nullptr;
    size_t size = 0;
    ASSERT_EQ(mproc_async_result_get(t.r, mproc_test::scaled_ms(60000), &status,
                                     &data, &size),
              0)
        << "task " << t.first << " never finished";
    if (t.count == 1) {
      ASSERT_TRUE(status != 0 || size == sizeof(int64_t));
      pools.check(t, t.first, status, data, &done, &lost, &timed_out, &cut);
    } else {
      const int *statuses = nullptr;
      size_t n = 0;
      ASSERT_EQ(mproc_async_result_statuses(t.r, &statuses, &n), 0);
      ASSERT_EQ(n, t.count);
      ASSERT_EQ(size, t.count * sizeof(int64_t));
      for (size_t i = 0; i < n; i++)
        pools.check(t, t.first + (int64_t)i, statuses[i],
                    (const int64_t *)data + i, &done, &lost, &timed_out, &cut);
    }
    items += t.count;
    mproc_async_result_free(t.r);
  }
  for (mproc_pool_t *pool : pools.all) {
    if (pool == pools.now()) {
      EXPECT_EQ(mproc_pool_terminate(pool), 0);
    }
    EXPECT_EQ(mproc_pool_free(pool), 0);
  }

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
         "producers; %llu lock turns (%u after an owner died); %zu tasks "
         "(%zu items): %zu done, %zu worker lost, %zu timed out, %zu cut by "
         "a terminate\n",
         kills, stops, (unsigned long long)delivered, next_producer,
         (unsigned long long)b->increments, b->owner_dead, pools.tasks.size(),
         items, done, lost, timed_out, cut);
  printf("chaos: closes: %d queue rounds (%llu messages accepted, %llu of "
         "them during the close, %llu left in the queue), %d pools closed "
         "and %d terminated mid-map, %d connection rounds (%d closed by the "
         "sender, %d by the receiver)\n",
         closing.rounds, (unsigned long long)closing.accepted,
         (unsigned long long)closing.during_close,
         (unsigned long long)closing.left_in_queue, pools.closes,
         pools.terminates, conn.rounds, conn.sender_closes,
         conn.receiver_closes);
}

} // namespace
