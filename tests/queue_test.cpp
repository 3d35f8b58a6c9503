// SPDX-License-Identifier: MIT
// Queue and JoinableQueue across processes, including processes killed at
// random instants in the middle of puts and gets; the cross-process tests
// run under every start method.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <signal.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "queue_batch.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using mproc_test::sleep_ms;
using mproc_test::sleep_us;
using shared_testing::atomic_at;
using shared_testing::attach;
using shared_testing::Child;
using shared_testing::MethodTest;
using shared_testing::mix;
using shared_testing::SharedMem;
using shared_testing::SharedRef;

namespace {

// The suites whose tests run once per start method.
class QueueProcs : public MethodTest {};
class JoinableQueue : public MethodTest {};

// Message bytes that depend on (stream, index, size), so that any torn,
// shifted or mixed-up message is caught.
void fill(std::vector<unsigned char> &buf, uint64_t stream, uint64_t index) {
  uint64_t x = mix(stream * 1000003u + index);
  size_t i = 0;
  for (; i + 8 <= buf.size(); i += 8) {
    x = mix(x);
    memcpy(&buf[i], &x, 8);
  }
  for (; i < buf.size(); i++)
    buf[i] = (unsigned char)(x >> (i % 8));
}

bool same_as_expected(const void *data, size_t size, uint64_t stream,
                      uint64_t index) {
  std::vector<unsigned char> want(size);
  fill(want, stream, index);
  return size == 0 || memcmp(data, want.data(), size) == 0;
}

// ---- bad input -----------------------------------------------------------

TEST(QueueBadInput, Codes) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_queue_t q, zero;
  memset(&zero, 0, sizeof zero);
  void *msg = nullptr;
  size_t size = 0;
  char buf[8];
  int flag;
  EXPECT_EQ(mproc_queue_create(nullptr, nullptr), MPROC_EINVAL);
  mproc_queue_options_t huge = {0, (size_t)1 << 31, 0, {0}};
  EXPECT_EQ(mproc_queue_create(&q, &huge), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_put(nullptr, "x", 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_put(&zero, "x", 1, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_queue_get(&zero, &msg, &size, 0), MPROC_EBADHANDLE);
  ASSERT_EQ(mproc_queue_create(&q, nullptr), 0);
  EXPECT_EQ(mproc_queue_put(&q, nullptr, 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_put(&q, "x", 1, -7), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_get(&q, nullptr, &size, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_get(&q, &msg, nullptr, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_get_into(&q, nullptr, 4, &size, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_get_into(&q, buf, sizeof buf, nullptr, 0),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_size(&q, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_queue_empty(&q, nullptr), MPROC_EINVAL);
  // Not a JoinableQueue.
  EXPECT_EQ(mproc_queue_task_done(&q), MPROC_ESTATE);
  EXPECT_EQ(mproc_queue_join(&q, 0), MPROC_ESTATE);
  // Another kind's handle.
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  mproc_queue_t as_queue;
  memcpy(&as_queue, &lock, sizeof lock);
  EXPECT_EQ(mproc_queue_put(&as_queue, "x", 1, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);

  mproc_queue_t copy = q;
  EXPECT_EQ(mproc_queue_put(&q, "x", 1, 0), 0);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
  EXPECT_EQ(mproc_queue_put(&q, "x", 1, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_queue_get(&copy, &msg, &size, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_queue_empty(&copy, &flag), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_queue_destroy(&copy), MPROC_EBADHANDLE);
  mproc_free(nullptr);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// Sizes whose sum with a record header or a segment header wraps around
// SIZE_MAX: each is refused before a byte of the message is read (the
// buffer here is 8 bytes), and leaves the queue as it was.
TEST(QueueBadInput, SizesNearSizeMaxAreRefusedWithoutTouchingMemory) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_queue_options_t o = {0, 4096, 0, {0}};
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, &o), 0);
  char buf[8] = "abcdefg";
  std::vector<size_t> sizes = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1,
                               (size_t)PTRDIFF_MAX, (size_t)PTRDIFF_MAX - 63};
  for (size_t k = 1; k <= 72; k++)
    sizes.push_back(SIZE_MAX - k);
  for (size_t size : sizes) {
    EXPECT_EQ(mproc_queue_put(&q, buf, size, 0), MPROC_ENOMEM) << size;
    EXPECT_EQ(mproc_queue_put(&q, buf, size, MPROC_INFINITE), MPROC_ENOMEM)
        << size;
  }
  size_t count = 1;
  EXPECT_EQ(mproc_queue_size(&q, &count), 0);
  EXPECT_EQ(count, 0u);
  // The queue still works, at its inline limit and just past it.
  std::vector<unsigned char> m(4096 / 2 - 8 + 1, 'm');
  for (size_t size : {m.size() - 1, m.size()}) {
    ASSERT_EQ(mproc_queue_put(&q, m.data(), size, 0), 0);
    size_t got = 0;
    std::vector<unsigned char> back(size);
    ASSERT_EQ(mproc_queue_get_into(&q, back.data(), SIZE_MAX, &got, 0), 0);
    EXPECT_EQ(got, size);
    EXPECT_EQ(back, std::vector<unsigned char>(size, 'm'));
  }
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- sizes and order -----------------------------------------------------

// When a consumer waits before it looks at the tail (src/queue_batch.h): a
// steady stream starts batching, a request and its answer never do, and
// batching ends as soon as a wait shows it bought nothing.
TEST(QueueBatch, AStreamBatchesARequestAndItsAnswerNeverDo) {
  const uint32_t batch_at = MPROC__STREAK_BATCH;
  uint32_t streak = 0;
  // One message queued at a time, however quickly it comes: never.
  for (int i = 0; i < 1000; i++)
    streak = mproc__queue_streak_after(streak, mproc__queue_batching(streak),
                                       i % 3, 1);
  EXPECT_EQ(streak, 0u);
  EXPECT_FALSE(mproc__queue_batching(streak));
  // Short waits that find several messages: after batch_at of them.
  for (uint32_t i = 0; i < batch_at; i++) {
    EXPECT_FALSE(mproc__queue_batching(streak)) << i;
    streak = mproc__queue_streak_after(streak, 0, 2, 5);
  }
  EXPECT_TRUE(mproc__queue_batching(streak));
  for (int i = 0; i < 100; i++)
    streak = mproc__queue_streak_after(streak, 1, MPROC__BATCH_PAUSES, 7);
  EXPECT_TRUE(mproc__queue_batching(streak));
  // Data already there at the first look, even one message, keeps it.
  streak = mproc__queue_streak_after(streak, 1, 0, 1);
  EXPECT_TRUE(mproc__queue_batching(streak));
  // The pause found a single message: it bought nothing.
  EXPECT_EQ(mproc__queue_streak_after(streak, 1, MPROC__BATCH_PAUSES, 1), 0u);
  // A wait longer than a short one, batching or not.
  EXPECT_EQ(mproc__queue_streak_after(streak, 1, MPROC__KEPT_UP_PAUSES + 1, 9),
            0u);
  EXPECT_EQ(
      mproc__queue_streak_after(batch_at - 1, 0, MPROC__KEPT_UP_PAUSES + 1, 9),
      0u);
  // A short wait that finds one message neither raises nor ends a streak
  // that has not reached batching yet.
  EXPECT_EQ(mproc__queue_streak_after(3, 0, 1, 1), 3u);
}

TEST(Queue, SizesAroundTheRingInOneProcess) {
  mproc_queue_options_t o = {0, 4096, 0, {0}};
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, &o), 0);
  const size_t ring = 4096;
  std::vector<size_t> sizes = {0,
                               1,
                               7,
                               8,
                               9,
                               ring / 2 - 9,
                               ring / 2 - 8,
                               ring / 2 - 7,
                               ring - 1,
                               ring,
                               ring + 1,
                               3 * ring + 5};
  for (int pass = 0; pass < 3; pass++) {
    for (size_t i = 0; i < sizes.size(); i++) {
      std::vector<unsigned char> m(sizes[i]);
      fill(m, pass, i);
      ASSERT_EQ(mproc_queue_put(&q, m.data(), m.size(), 0), 0) << sizes[i];
      size_t got = 12345;
      if (i % 2) {
        void *data = nullptr;
        ASSERT_EQ(mproc_queue_get(&q, &data, &got, 0), 0);
        ASSERT_NE(data, nullptr);
        EXPECT_EQ(got, sizes[i]);
        EXPECT_TRUE(same_as_expected(data, got, pass, i));
        mproc_free(data);
      } else {
        std::vector<unsigned char> buf(sizes[i] + 3);
        ASSERT_EQ(mproc_queue_get_into(&q, buf.data(), buf.size(), &got, 0), 0);
        EXPECT_EQ(got, sizes[i]);
        EXPECT_TRUE(same_as_expected(buf.data(), got, pass, i));
      }
    }
  }
  // Several queued at once, wrapping around the ring, come out in order.
  int next_out = 0;
  auto take_one = [&]() {
    void *d = nullptr;
    size_t n = 0;
    ASSERT_EQ(mproc_queue_get(&q, &d, &n, 0), 0);
    EXPECT_EQ(n, (size_t)(next_out * 37) % 900);
    EXPECT_TRUE(same_as_expected(d, n, 7, (uint64_t)next_out));
    mproc_free(d);
    next_out++;
  };
  for (int i = 0; i < 200; i++) {
    std::vector<unsigned char> m((size_t)(i * 37) % 900);
    fill(m, 7, (uint64_t)i);
    int rc;
    while ((rc = mproc_queue_put(&q, m.data(), m.size(), 0)) == MPROC_EFULL)
      take_one();
    ASSERT_EQ(rc, 0);
  }
  while (next_out < 200)
    take_one();
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
}

TEST(Queue, MessageTooLargeForTheBufferStaysQueued) {
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, nullptr), 0);
  std::vector<unsigned char> big(5000), huge(3u << 20);
  fill(big, 1, 1);
  fill(huge, 1, 2);
  ASSERT_EQ(mproc_queue_put(&q, big.data(), big.size(), 0), 0);
  ASSERT_EQ(mproc_queue_put(&q, huge.data(), huge.size(), 0), 0);
  char small[100];
  size_t need = 0;
  EXPECT_EQ(mproc_queue_get_into(&q, small, sizeof small, &need, 0),
            MPROC_EMSGSIZE);
  EXPECT_EQ(need, big.size());
  EXPECT_EQ(mproc_queue_get_into(&q, nullptr, 0, &need, 0), MPROC_EMSGSIZE);
  EXPECT_EQ(need, big.size());
  std::vector<unsigned char> buf(need);
  ASSERT_EQ(mproc_queue_get_into(&q, buf.data(), buf.size(), &need, 0), 0);
  EXPECT_EQ(buf, big);
  // The same for a message in its own segment.
  EXPECT_EQ(mproc_queue_get_into(&q, small, sizeof small, &need, 0),
            MPROC_EMSGSIZE);
  EXPECT_EQ(need, huge.size());
  buf.resize(need);
  ASSERT_EQ(mproc_queue_get_into(&q, buf.data(), buf.size(), &need, 0), 0);
  EXPECT_EQ(buf, huge);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
}

struct BigArgs {
  mproc_queue_t q;
  size_t size;
};

int put_big(const void *arg, size_t) {
  BigArgs a;
  memcpy(&a, arg, sizeof a);
  std::vector<unsigned char> m(a.size);
  fill(m, 99, 1);
  int rc = mproc_queue_put(&a.q, m.data(), m.size(), MPROC_INFINITE);
  if (rc != 0)
    return 1;
  // The producer may exit before the message is taken.
  return 0;
}
MPROC_TARGET(put_big);

TEST_P(QueueProcs, QuarterGigabyteMessageBetweenProcesses) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  BigArgs a;
  ASSERT_EQ(mproc_queue_create(&a.q, nullptr), 0);
  a.size = (size_t)256 << 20;
  Child c(put_big, &a, sizeof a);
  EXPECT_EQ(c.finish(), 0);
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_queue_get(&a.q, &data, &size, scaled_ms(60000)), 0);
  ASSERT_EQ(size, a.size);
  EXPECT_TRUE(same_as_expected(data, size, 99, 1));
  mproc_free(data);
  // Also one left in the queue at destroy: its segment goes with the queue.
  Child c2(put_big, &a, sizeof a);
  EXPECT_EQ(c2.finish(), 0);
  EXPECT_EQ(mproc_queue_destroy(&a.q), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- full, empty, timeouts, close ----------------------------------------

TEST(Queue, FullEmptyAndTimeoutCodes) {
  mproc_queue_options_t o = {2, 0, 0, {0}};
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, &o), 0);
  int flag = -1;
  size_t n = 99;
  EXPECT_EQ(mproc_queue_empty(&q, &flag), 0);
  EXPECT_EQ(flag, 1);
  EXPECT_EQ(mproc_queue_put(&q, "a", 1, 0), 0);
  EXPECT_EQ(mproc_queue_put(&q, "b", 1, MPROC_INFINITE), 0);
  EXPECT_EQ(mproc_queue_full(&q, &flag), 0);
  EXPECT_EQ(flag, 1);
  EXPECT_EQ(mproc_queue_size(&q, &n), 0);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(mproc_queue_put(&q, "c", 1, 0), MPROC_EFULL);
  EXPECT_EQ(mproc_queue_put(&q, "c", 1, 20), MPROC_EFULL);
  char c;
  size_t got;
  EXPECT_EQ(mproc_queue_get_into(&q, &c, 1, &got, 0), 0);
  EXPECT_EQ(c, 'a');
  EXPECT_EQ(mproc_queue_get_into(&q, &c, 1, &got, 20), 0);
  EXPECT_EQ(c, 'b');
  EXPECT_EQ(mproc_queue_get_into(&q, &c, 1, &got, 0), MPROC_EEMPTY);
  EXPECT_EQ(mproc_queue_get_into(&q, &c, 1, &got, 20), MPROC_EEMPTY);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);

  // Bounded by bytes only.
  mproc_queue_options_t bytes = {0, 4096, 0, {0}};
  ASSERT_EQ(mproc_queue_create(&q, &bytes), 0);
  std::vector<unsigned char> m(1000);
  int puts = 0;
  while (mproc_queue_put(&q, m.data(), m.size(), 0) == 0)
    puts++;
  EXPECT_EQ(puts, 4);
  EXPECT_EQ(mproc_queue_put(&q, m.data(), m.size(), 10), MPROC_EFULL);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
}

// Handles for children that sleep in a queue call (a put into a full
// queue, a get from an empty one), the code the call is to end with, and
// the words they raise just before they call.
struct SleeperCase {
  mproc_queue_t full, empty;
  int expect;
  SharedRef flags;
};

int put_into_full_queue(const void *arg, size_t) {
  SleeperCase c;
  memcpy(&c, arg, sizeof c);
  uint32_t *flag = attach<uint32_t>(c.flags);
  if (!flag)
    return 2;
  atomic_at(&flag[0]).store(1);
  int rc = mproc_queue_put(&c.full, "z", 1, 30000);
  return rc == c.expect ? 0 : 10 - rc; // the code, for the report
}
MPROC_TARGET(put_into_full_queue);

int get_from_empty_queue(const void *arg, size_t) {
  SleeperCase c;
  memcpy(&c, arg, sizeof c);
  uint32_t *flag = attach<uint32_t>(c.flags);
  if (!flag)
    return 2;
  atomic_at(&flag[1]).store(1);
  size_t size = 0;
  int rc = mproc_queue_get_into(&c.empty, nullptr, 0, &size, 30000);
  return rc == c.expect ? 0 : 10 - rc; // the code, for the report
}
MPROC_TARGET(get_from_empty_queue);

TEST_P(QueueProcs, CloseFailsPuttersAtOnceAndLetsGettersDrain) {
  SharedMem<uint32_t> flags(2);
  mproc_queue_options_t o = {1, 0, 0, {0}};
  SleeperCase sc;
  ASSERT_EQ(mproc_queue_create(&sc.full, &o), 0);
  ASSERT_EQ(mproc_queue_create(&sc.empty, nullptr), 0);
  ASSERT_EQ(mproc_queue_put(&sc.full, "y", 1, 0), 0);
  sc.expect = MPROC_ECLOSED;
  sc.flags = flags.ref();
  mproc_queue_t full = sc.full, empty = sc.empty;
  Child putter(put_into_full_queue, &sc, sizeof sc);
  Child getter(get_from_empty_queue, &sc, sizeof sc);
  // Both asleep in their calls: close wakes them.
  EXPECT_TRUE(shared_testing::wait_until_asleep(putter.pid(), &flags[0]));
  EXPECT_TRUE(shared_testing::wait_until_asleep(getter.pid(), &flags[1]));
  EXPECT_EQ(mproc_queue_close(&full), 0);
  EXPECT_EQ(mproc_queue_close(&empty), 0);
  EXPECT_EQ(putter.finish(), 0);
  EXPECT_EQ(getter.finish(), 0);
  EXPECT_EQ(mproc_queue_put(&full, "x", 1, 0), MPROC_ECLOSED);
  EXPECT_EQ(mproc_queue_put(&full, "x", 1, MPROC_INFINITE), MPROC_ECLOSED);
  char c = 0;
  size_t got = 0;
  EXPECT_EQ(mproc_queue_get_into(&full, &c, 1, &got, 0), 0);
  EXPECT_EQ(c, 'y');
  EXPECT_EQ(mproc_queue_get_into(&full, &c, 1, &got, 0), MPROC_ECLOSED);
  EXPECT_EQ(mproc_queue_get_into(&full, &c, 1, &got, MPROC_INFINITE),
            MPROC_ECLOSED);
  EXPECT_EQ(mproc_queue_close(&full), 0);
  EXPECT_EQ(mproc_queue_destroy(&full), 0);
  EXPECT_EQ(mproc_queue_destroy(&empty), 0);
}

// ---- destroy wakes sleepers with MPROC_EBADHANDLE ---------------------------

TEST_P(QueueProcs, DestroyWakesSleepersWithBadHandle) {
  SharedMem<uint32_t> flags(2);
  mproc_queue_options_t o = {1, 0, 0, {0}};
  SleeperCase c;
  ASSERT_EQ(mproc_queue_create(&c.full, &o), 0);
  ASSERT_EQ(mproc_queue_create(&c.empty, nullptr), 0);
  ASSERT_EQ(mproc_queue_put(&c.full, "y", 1, 0), 0);
  c.expect = MPROC_EBADHANDLE;
  c.flags = flags.ref();
  Child putter(put_into_full_queue, &c, sizeof c);
  Child getter(get_from_empty_queue, &c, sizeof c);
  ASSERT_TRUE(shared_testing::wait_until_asleep(putter.pid(), &flags[0]));
  ASSERT_TRUE(shared_testing::wait_until_asleep(getter.pid(), &flags[1]));
  mproc_queue_t full = c.full, empty = c.empty;
  EXPECT_EQ(mproc_queue_destroy(&full), 0);
  EXPECT_EQ(mproc_queue_destroy(&empty), 0);
  EXPECT_EQ(putter.finish(), 0);
  EXPECT_EQ(getter.finish(), 0);
}

// ---- many producers, many consumers --------------------------------------

struct Msg {
  uint32_t producer;
  uint32_t seq;
  uint64_t check;
};

uint64_t msg_check(uint32_t producer, uint32_t seq) {
  return mix(((uint64_t)producer << 32) | seq);
}

struct StreamArgs {
  mproc_queue_t q;
  uint32_t producer;
  uint32_t count;
  SharedRef seen;     // uint8_t [producer * count + seq]: times delivered
  SharedRef bad;      // uint32_t: torn or out-of-order messages seen
  uint32_t big_every; // every Nth message is large (0: none)
  uint32_t big_size;
};

int produce_stream(const void *arg, size_t) {
  StreamArgs a;
  memcpy(&a, arg, sizeof a);
  std::vector<unsigned char> buf(sizeof(Msg) + (a.big_every ? a.big_size : 64));
  for (uint32_t s = 0; s < a.count; s++) {
    Msg m = {a.producer, s, msg_check(a.producer, s)};
    size_t size = sizeof m + (s % 5) * 8;
    if (a.big_every && s % a.big_every == a.big_every - 1)
      size = sizeof m + a.big_size;
    memcpy(buf.data(), &m, sizeof m);
    for (size_t i = sizeof m; i < size; i++)
      buf[i] = (unsigned char)(m.check >> (i % 8) * 8 ^ i);
    if (mproc_queue_put(&a.q, buf.data(), size, MPROC_INFINITE) != 0)
      return 1;
  }
  return 0;
}
MPROC_TARGET(produce_stream);

int consume_stream(const void *arg, size_t) {
  StreamArgs a;
  memcpy(&a, arg, sizeof a);
  uint8_t *seen = attach<uint8_t>(a.seen);
  uint32_t *bad = attach<uint32_t>(a.bad);
  if (!seen || !bad)
    return 2;
  std::vector<int64_t> last(8, -1);
  for (;;) {
    void *data = nullptr;
    size_t size = 0;
    int rc = mproc_queue_get(&a.q, &data, &size, MPROC_INFINITE);
    if (rc == MPROC_ECLOSED)
      return 0;
    if (rc != 0)
      return 1;
    Msg m;
    bool ok = size >= sizeof m;
    if (ok) {
      memcpy(&m, data, sizeof m);
      ok = m.producer < 8 && m.seq < a.count &&
           m.check == msg_check(m.producer, m.seq);
      for (size_t i = sizeof m; ok && i < size; i++)
        ok = ((unsigned char *)data)[i] ==
             (unsigned char)(m.check >> (i % 8) * 8 ^ i);
      // FIFO per producer: this consumer sees each producer's messages in
      // increasing order.
      if (ok && (int64_t)m.seq <= last[m.producer])
        ok = false;
      if (ok)
        last[m.producer] = m.seq;
    }
    if (ok)
      atomic_at(&seen[(size_t)m.producer * a.count + m.seq]).fetch_add(1);
    else
      atomic_at(bad).fetch_add(1);
    mproc_free(data);
  }
}
MPROC_TARGET(consume_stream);

TEST_P(QueueProcs, FourProducersFourConsumersNothingLostNothingDuplicated) {
  const uint32_t count = 100000;
  SharedMem<uint8_t> seen(4 * count);
  SharedMem<uint32_t> bad;
  StreamArgs a = {};
  mproc_queue_options_t o = {0, 64 * 1024, 0, {0}};
  ASSERT_EQ(mproc_queue_create(&a.q, &o), 0);
  a.count = count;
  a.seen = seen.ref();
  a.bad = bad.ref();
  std::vector<std::unique_ptr<Child>> consumers, producers;
  for (int i = 0; i < 4; i++)
    consumers.emplace_back(new Child(consume_stream, &a, sizeof a));
  for (uint32_t p = 0; p < 4; p++) {
    a.producer = p;
    producers.emplace_back(new Child(produce_stream, &a, sizeof a));
  }
  for (auto &p : producers)
    EXPECT_EQ(p->finish(120000), 0);
  EXPECT_EQ(mproc_queue_close(&a.q), 0);
  for (auto &c : consumers)
    EXPECT_EQ(c->finish(120000), 0);
  EXPECT_EQ(*bad.get(), 0u);
  size_t missing = 0, dup = 0;
  for (size_t i = 0; i < 4 * (size_t)count; i++) {
    if (seen[i] == 0)
      missing++;
    if (seen[i] > 1)
      dup++;
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(dup, 0u);
  EXPECT_EQ(mproc_queue_destroy(&a.q), 0);
}

TEST_P(QueueProcs, RandomKillsOfProducersAndConsumers) {
  const auto segments_before = shared_testing::live_segments(mproc_getpid());
  const uint32_t count = 1500;
  const int rounds = 200;
  SharedMem<uint8_t> seen(2 * count);
  SharedMem<uint32_t> bad;
  srand(4242);
  int killed_producers = 0, killed_consumers = 0, mid_stream_kills = 0;
  for (int round = 0; round < rounds; round++) {
    memset(seen.get(), 0, 2 * count);
    StreamArgs a = {};
    // A small ring, so messages wrap; every 50th message is larger than
    // half of it and travels in its own segment.
    mproc_queue_options_t o = {0, 16 * 1024, 0, {0}};
    ASSERT_EQ(mproc_queue_create(&a.q, &o), 0);
    a.count = count;
    a.seen = seen.ref();
    a.bad = bad.ref();
    a.big_every = 50;
    a.big_size = 12 * 1024;
    std::vector<std::unique_ptr<Child>> consumers, producers;
    for (int i = 0; i < 2; i++)
      consumers.emplace_back(new Child(consume_stream, &a, sizeof a));
    for (uint32_t p = 0; p < 2; p++) {
      a.producer = p;
      producers.emplace_back(new Child(produce_stream, &a, sizeof a));
    }
    // One process dies, at a random instant; the other three go on.
    int victim = rand() % 4;
    sleep_us(rand() % 3000); // not synchronisation: the instant of the kill
    bool producer_victim = victim < 2;
    Child &doomed = producer_victim ? *producers[(size_t)victim]
                                    : *consumers[(size_t)victim - 2];
    if (doomed.alive())
      mid_stream_kills++;
    doomed.kill();
    if (producer_victim)
      killed_producers++;
    else
      killed_consumers++;
    for (int p = 0; p < 2; p++) {
      if (producer_victim && p == victim)
        continue;
      ASSERT_EQ(producers[(size_t)p]->finish(30000), 0) << "round " << round;
    }
    ASSERT_EQ(mproc_queue_close(&a.q), 0);
    for (int c = 0; c < 2; c++) {
      if (!producer_victim && c == victim - 2)
        continue;
      ASSERT_EQ(consumers[(size_t)c]->finish(30000), 0) << "round " << round;
    }
    ASSERT_EQ(*bad.get(), 0u) << "round " << round;
    for (uint32_t p = 0; p < 2; p++) {
      size_t missing = 0;
      for (uint32_t s = 0; s < count; s++) {
        uint8_t n = seen[(size_t)p * count + s];
        ASSERT_LE(n, 1) << "duplicate in round " << round;
        if (n == 0)
          missing++;
      }
      // A surviving producer's messages all arrive, except the one a killed
      // consumer may have taken and not yet counted.
      bool producer_survived = !(producer_victim && (int)p == victim);
      if (producer_survived) {
        ASSERT_LE(missing, producer_victim ? 0u : 1u) << "round " << round;
      }
    }
    ASSERT_EQ(mproc_queue_destroy(&a.q), 0);
  }
  EXPECT_GT(killed_producers, 0);
  EXPECT_GT(killed_consumers, 0);
  // Most deaths happen mid-stream, not after the work was done.
  EXPECT_GT(mid_stream_kills, rounds / 2);
  // Killed producers may have left large-message segments named after the
  // queue's creator (this process): destroy removed them. (A consumer
  // killed between removing a segment and its marker leaves the marker,
  // which reclaim removes once this process is gone.)
  EXPECT_EQ(shared_testing::live_segments(mproc_getpid()), segments_before);
}

// ---- JoinableQueue -------------------------------------------------------

int work_off(const void *arg, size_t) {
  mproc_queue_t q;
  memcpy(&q, arg, sizeof q);
  for (;;) {
    char c;
    size_t n;
    int rc = mproc_queue_get_into(&q, &c, 1, &n, MPROC_INFINITE);
    if (rc == MPROC_ECLOSED)
      return 0;
    if (rc != 0)
      return 1;
    sleep_us(200); // not synchronisation: the work, so that tasks overlap
    if (mproc_queue_task_done(&q) != 0)
      return 2;
  }
}
MPROC_TARGET(work_off);

TEST_P(JoinableQueue, JoinWaitsForEveryTaskDone) {
  mproc_queue_options_t o = {0, 0, 1, {0}};
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, &o), 0);
  EXPECT_EQ(mproc_queue_join(&q, 0), 0); // nothing put yet
  EXPECT_EQ(mproc_queue_task_done(&q), MPROC_ESTATE);
  for (int i = 0; i < 100; i++)
    ASSERT_EQ(mproc_queue_put(&q, "t", 1, 0), 0);
  EXPECT_EQ(mproc_queue_join(&q, 10), MPROC_ETIMEDOUT);
  Child w1(work_off, &q, sizeof q);
  Child w2(work_off, &q, sizeof q);
  EXPECT_EQ(mproc_queue_join(&q, MPROC_INFINITE), 0);
  size_t n = 99;
  EXPECT_EQ(mproc_queue_size(&q, &n), 0);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(mproc_queue_task_done(&q), MPROC_ESTATE);
  EXPECT_EQ(mproc_queue_close(&q), 0);
  EXPECT_EQ(w1.finish(), 0);
  EXPECT_EQ(w2.finish(), 0);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
}

// ---- what crashes leave behind -------------------------------------------

#ifndef _WIN32 // names to reclaim: a Windows segment goes with its last handle

struct Orphans {
  int fd; // the child writes its queue handle here
};

int create_then_wait_to_be_killed(const void *arg, size_t) {
  Orphans o;
  memcpy(&o, arg, sizeof o);
  mproc_queue_t q;
  mproc_lock_t lock;
  if (mproc_queue_create(&q, nullptr) != 0)
    return 1;
  if (mproc_lock_create(&lock) != 0)
    return 2;
  std::vector<unsigned char> big(3u << 20, 7);
  if (mproc_queue_put(&q, big.data(), big.size(), 0) != 0)
    return 3; // own segment
  if (mproc_lock_acquire(&lock, 0) != 0)
    return 4;
  if (!mproc_test::write_full(o.fd, &q, sizeof q))
    return 5;
  if (!mproc_test::write_full(o.fd, &lock, sizeof lock))
    return 6;
  for (int i = 0; i < 600; i++)
    sleep_ms(100); // not synchronisation: the test kills it
  return 0;
}

TEST(SharedLifetime, NothingLeftInDevShmAfterEveryUserIsKilled) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Orphans o = {fds[1]};
  mproc_queue_t q;
  mproc_lock_t lock;
  mproc_pid_t creator;
  {
    Child c(create_then_wait_to_be_killed, &o, sizeof o);
    creator = c.pid();
    ASSERT_TRUE(mproc_test::read_full(fds[0], &q, sizeof q, 20000));
    ASSERT_TRUE(mproc_test::read_full(fds[0], &lock, sizeof lock, 20000));
    // Attached here too, then the creator dies without destroying.
    EXPECT_EQ(mproc_lock_acquire(&lock, 0), MPROC_ETIMEDOUT);
    EXPECT_GE(shared_testing::mproc_segments(creator).size(), 3u);
    c.kill();
  }
  close(fds[0]);
  close(fds[1]);
  // The objects still work for a process that was attached.
  EXPECT_EQ(mproc_lock_acquire(&lock, scaled_ms(20000)), MPROC_EOWNERDEAD);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  size_t removed = 0;
  EXPECT_EQ(mproc_shared_reclaim(&removed), 0);
  EXPECT_GE(removed, 3u);
  EXPECT_TRUE(shared_testing::reclaimable_names(creator).empty());
  // No name of a dead creator is left by anyone.
  for (const std::string &name : shared_testing::reclaimable_names()) {
    unsigned pid = (unsigned)strtoul(name.c_str() + 6, nullptr, 16);
    EXPECT_TRUE(pid != 0 && kill((pid_t)pid, 0) == 0) << name;
  }
  // The big message was in a segment of its own, mapped by nobody now.
  void *data;
  size_t size;
  int rc = mproc_queue_get(&q, &data, &size, 0);
  EXPECT_TRUE(rc == MPROC_EEMPTY || rc == MPROC_EBADHANDLE || rc == 0) << rc;
  if (rc == 0)
    mproc_free(data);
}
#endif

MPROC_INSTANTIATE_METHODS(QueueProcs);
MPROC_INSTANTIATE_METHODS(JoinableQueue);

} // namespace
