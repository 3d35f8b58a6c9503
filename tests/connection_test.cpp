// SPDX-License-Identifier: MIT
// Connection (Python's Pipe) between processes of every start method:
// order and boundaries, round trips at a changing pace, 0-byte and 256 MiB
// messages, both directions at once, a peer that closes, a peer killed
// while sending, a reader killed while receiving, poll timeouts, use after
// close, an end passed to a pool task; the receive's spin policy; and
// waiting on many connections, queues and processes.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connection_spin.h"
#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using shared_testing::Child;
using shared_testing::MethodTest;

namespace {

class ConnectionProcs : public MethodTest {};
class WaitProcs : public MethodTest {};

const int64_t kLong = 60000; // ms: bounded, never reached when all is well

// A pipe whose ends are closed when the test ends (unless closed before).
struct Pipe {
  mproc_connection_t a{}, b{};
  bool a_open = false, b_open = false;
  explicit Pipe(int one_way = 0, size_t capacity = 0) {
    mproc_pipe_options_t o = {};
    o.one_way = one_way;
    o.capacity = capacity;
    EXPECT_EQ(mproc_pipe(&a, &b, &o), 0);
    a_open = b_open = true;
  }
  ~Pipe() {
    if (a_open)
      mproc_connection_close(&a);
    if (b_open)
      mproc_connection_close(&b);
  }
};

// The byte at position i of message n: every message is checkable whole.
unsigned char pattern(size_t n, size_t i) {
  return (unsigned char)((n * 131 + i * 7 + (i >> 12)) & 0xff);
}

std::vector<unsigned char> message(size_t n, size_t size) {
  std::vector<unsigned char> m(size);
  for (size_t i = 0; i < size; i++)
    m[i] = pattern(n, i);
  return m;
}

bool is_message(const void *data, size_t n, size_t size) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t i = 0; i < size; i++)
    if (p[i] != pattern(n, i))
      return false;
  return true;
}

// Receives one message and checks that it is message n of `size` bytes.
::testing::AssertionResult got_message(const mproc_connection_t *c, size_t n,
                                       size_t size) {
  void *data = nullptr;
  size_t got = 0;
  int rc = mproc_connection_recv(c, &data, &got, kLong);
  if (rc != 0)
    return ::testing::AssertionFailure() << mproc_error_name(rc);
  bool ok = got == size && is_message(data, n, got);
  mproc_free(data);
  if (!ok)
    return ::testing::AssertionFailure() << "message " << n << " differs";
  return ::testing::AssertionSuccess();
}

// What a receive of at most one byte returns.
int recv_code(const mproc_connection_t *c, int64_t timeout_ms = kLong) {
  size_t size = 0;
  char byte;
  return mproc_connection_recv_into(c, &byte, 1, &size, timeout_ms);
}

// What a child is given: its end, and an event for handshakes.
struct Arg {
  mproc_connection_t end;
  mproc_event_t ev;
  uint64_t n;
  uint64_t size;
};

struct Ev {
  mproc_event_t ev{};
  Ev() { EXPECT_EQ(mproc_event_create(&ev), 0); }
  ~Ev() { mproc_event_destroy(&ev); }
};

// ---- order and boundaries, both ways ---------------------------------------

// Receives n messages of sizes 0..n-1, checks each, answers each with its
// size as 8 bytes.
int echo_sizes(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  for (uint64_t k = 0; k < a.n; k++) {
    void *data = nullptr;
    size_t size = 0;
    if (mproc_connection_recv(&a.end, &data, &size, kLong) != 0)
      return 10;
    bool ok = size == k * 97 && is_message(data, k, size);
    mproc_free(data);
    if (!ok)
      return 11;
    uint64_t s = size;
    if (mproc_connection_send(&a.end, &s, sizeof s, kLong) != 0)
      return 12;
  }
  return mproc_connection_close(&a.end) == 0 ? 0 : 13;
}
MPROC_TARGET(echo_sizes);

TEST_P(ConnectionProcs, OrderAndBoundariesBothWays) {
  Pipe p(0, 4096); // a small ring: messages wrap it and wait for room
  Arg a = {};
  a.end = p.b;
  a.n = 200;
  Child c(echo_sizes, &a, sizeof a);
  for (uint64_t k = 0; k < a.n; k++) {
    auto m = message(k, k * 97);
    ASSERT_EQ(mproc_connection_send(&p.a, m.data(), m.size(), kLong), 0);
  }
  for (uint64_t k = 0; k < a.n; k++) {
    uint64_t s = 0;
    size_t size = 0;
    ASSERT_EQ(mproc_connection_recv_into(&p.a, &s, sizeof s, &size, kLong), 0);
    ASSERT_EQ(size, sizeof s);
    EXPECT_EQ(s, k * 97);
  }
  // The child closed its end after its last answer.
  EXPECT_EQ(recv_code(&p.a), MPROC_ECLOSED);
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- round trips at a changing pace ----------------------------------------

// Keeps the processor busy for `us` microseconds: a pace, not a handshake.
void busy_for(int us) {
  auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Sends back each of a.n messages as it comes, now and then after a pause
// long enough that the parent's receive stops spinning and sleeps.
int echo_paced(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  unsigned char buf[512]; // the parent's messages are smaller
  for (uint64_t k = 0; k < a.n; k++) {
    size_t size = 0;
    if (mproc_connection_recv_into(&a.end, buf, sizeof buf, &size, kLong) != 0)
      return 10;
    if (k % 50 == 25)
      busy_for(200);
    if (mproc_connection_send(&a.end, buf, size, kLong) != 0)
      return 11;
  }
  return mproc_connection_close(&a.end) == 0 ? 0 : 12;
}
MPROC_TARGET(echo_paced);

// A receive spins a little before it sleeps, and stops spinning when that
// does not pay (src/connection_spin.h): round trips at a pace that changes
// under it, both ways, lose, reorder or tear nothing.
TEST_P(ConnectionProcs, RoundTripsAtAChangingPaceKeepOrderAndBoundaries) {
  Pipe p(0, 4096);
  Arg a = {};
  a.end = p.b;
  a.n = 3000;
  Child c(echo_paced, &a, sizeof a);
  for (uint64_t k = 0; k < a.n; k++) {
    size_t size = (size_t)(k * 37 % 300);
    auto m = message(k, size);
    if (k % 64 == 0)
      busy_for(200);
    ASSERT_EQ(mproc_connection_send(&p.a, m.data(), m.size(), kLong), 0);
    ASSERT_TRUE(got_message(&p.a, k, size)) << "round trip " << k;
  }
  EXPECT_EQ(recv_code(&p.a), MPROC_ECLOSED);
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- 0-byte and 256 MiB messages ------------------------------------------

// Receives one message of a.size bytes (message 1), sends it back as
// message 2, then a 0-byte message.
int big_echo(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  void *data = nullptr;
  size_t size = 0;
  if (mproc_connection_recv(&a.end, &data, &size, kLong) != 0)
    return 10;
  bool ok = size == a.size && is_message(data, 1, size);
  mproc_free(data);
  if (!ok)
    return 11;
  auto m = message(2, (size_t)a.size);
  if (mproc_connection_send(&a.end, m.data(), m.size(), kLong) != 0)
    return 12;
  if (mproc_connection_send(&a.end, nullptr, 0, kLong) != 0)
    return 13;
  return mproc_connection_close(&a.end) == 0 ? 0 : 14;
}
MPROC_TARGET(big_echo);

TEST_P(ConnectionProcs, ZeroByteAnd256MiBMessages) {
  const size_t big = (size_t)256 << 20;
  Pipe p;
  Arg a = {};
  a.end = p.b;
  a.size = big;
  Child c(big_echo, &a, sizeof a);
  {
    auto m = message(1, big);
    ASSERT_EQ(mproc_connection_send(&p.a, m.data(), m.size(), kLong), 0);
  }
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_connection_recv(&p.a, &data, &size, kLong), 0);
  EXPECT_EQ(size, big);
  EXPECT_TRUE(is_message(data, 2, size));
  mproc_free(data);
  ASSERT_EQ(mproc_connection_recv(&p.a, &data, &size, kLong), 0);
  EXPECT_EQ(size, 0u);
  EXPECT_NE(data, nullptr);
  mproc_free(data);
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- both directions at once ------------------------------------------------

// Sends a.n messages of a.size bytes without reading, then reads as many.
int send_then_read(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  if (mproc_event_set(&a.ev) != 0)
    return 9;
  for (uint64_t k = 0; k < a.n; k++) {
    auto m = message(k, (size_t)a.size);
    if (mproc_connection_send(&a.end, m.data(), m.size(), kLong) != 0)
      return 10;
  }
  for (uint64_t k = 0; k < a.n; k++) {
    void *data = nullptr;
    size_t size = 0;
    if (mproc_connection_recv(&a.end, &data, &size, kLong) != 0)
      return 11;
    bool ok = size == a.size && is_message(data, k + 100, size);
    mproc_free(data);
    if (!ok)
      return 12;
  }
  return mproc_connection_close(&a.end) == 0 ? 0 : 13;
}
MPROC_TARGET(send_then_read);

TEST_P(ConnectionProcs, LargeMessagesBothWaysAtOnceDoNotDeadlock) {
  Ev ev;
  Pipe p(0, 1 << 20); // 1 MiB rings; 8 MiB messages
  Arg a = {};
  a.end = p.b;
  a.ev = ev.ev;
  a.n = 4;
  a.size = 8 << 20;
  Child c(send_then_read, &a, sizeof a);
  ASSERT_EQ(mproc_event_wait(&ev.ev, kLong), 0);
  for (uint64_t k = 0; k < a.n; k++) {
    auto m = message(k + 100, (size_t)a.size);
    ASSERT_EQ(mproc_connection_send(&p.a, m.data(), m.size(), kLong), 0);
  }
  for (uint64_t k = 0; k < a.n; k++)
    EXPECT_TRUE(got_message(&p.a, k, (size_t)a.size));
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- a peer that closes -----------------------------------------------------

// Sends three messages and closes.
int send_three_and_close(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  for (uint64_t k = 0; k < 3; k++) {
    auto m = message(k, 1000);
    if (mproc_connection_send(&a.end, m.data(), m.size(), kLong) != 0)
      return 10;
  }
  return mproc_connection_close(&a.end) == 0 ? 0 : 11;
}
MPROC_TARGET(send_three_and_close);

TEST_P(ConnectionProcs, PeerClosedDrainsThenClosed) {
  Pipe p;
  Arg a = {};
  a.end = p.b;
  Child c(send_three_and_close, &a, sizeof a);
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
  for (uint64_t k = 0; k < 3; k++)
    EXPECT_TRUE(got_message(&p.a, k, 1000));
  void *data = nullptr;
  size_t size = 0;
  EXPECT_EQ(mproc_connection_recv(&p.a, &data, &size, kLong), MPROC_ECLOSED);
  EXPECT_EQ(data, nullptr);
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.a, 0, &yes), 0);
    EXPECT_EQ(yes, 1);
  } // end of file is "ready"
  EXPECT_EQ(mproc_connection_send(&p.a, "x", 1, kLong), MPROC_ECLOSED);
}

// A one-way pipe: the child holds the sending end.
TEST_P(ConnectionProcs, OneWayPipe) {
  Pipe p(1);
  Arg a = {};
  a.end = p.b;
  Child c(send_three_and_close, &a, sizeof a);
  for (uint64_t k = 0; k < 3; k++)
    EXPECT_TRUE(got_message(&p.a, k, 1000));
  EXPECT_EQ(recv_code(&p.a), MPROC_ECLOSED);
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- a peer killed while sending --------------------------------------------

// Sends 4 MiB messages, numbered, until killed.
int send_forever(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  for (uint64_t k = 0;; k++) {
    auto m = message(k, (size_t)a.size);
    if (mproc_connection_send(&a.end, m.data(), m.size(), kLong) != 0)
      return 10;
  }
}
MPROC_TARGET(send_forever);

TEST_P(ConnectionProcs, PeerKilledMidSendLeavesWholeMessagesThenClosed) {
  for (size_t size : {(size_t)3000, (size_t)4 << 20}) {
    Pipe p(0, 1 << 16);
    Arg a = {};
    a.end = p.b;
    a.size = size;
    Child c(send_forever, &a, sizeof a);
    uint64_t k = 0;
    void *data = nullptr;
    size_t got = 0;
    // The first message proves the child is sending; it is killed while it
    // sends the ones after (it never waits for anything else).
    ASSERT_TRUE(got_message(&p.a, k++, size));
    c.kill();
    int rc;
    while ((rc = mproc_connection_recv(&p.a, &data, &got, kLong)) == 0) {
      EXPECT_TRUE(got == size && is_message(data, k, got)) << "message " << k;
      k++;
      mproc_free(data);
    }
    EXPECT_EQ(rc, MPROC_ECLOSED) << mproc_error_name(rc);
  }
}

// ---- a reader killed while receiving ----------------------------------------

// Says it is about to receive, then waits in recv.
int recv_forever(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  void *data = nullptr;
  size_t size = 0;
  int ready = -1;
  // Takes the end, sees nothing.
  if (mproc_connection_poll(&a.end, 0, &ready) != 0 || ready != 0)
    return 9;
  if (mproc_event_set(&a.ev) != 0)
    return 10;
  mproc_connection_recv(&a.end, &data, &size, MPROC_INFINITE);
  return 11;
}
MPROC_TARGET(recv_forever);

TEST_P(ConnectionProcs, ReaderKilledMidRecvGivesClosedNotSigpipe) {
  Ev ev;
  Pipe p;
  Arg a = {};
  a.end = p.b;
  a.ev = ev.ev;
  Child c(recv_forever, &a, sizeof a);
  ASSERT_EQ(mproc_event_wait(&ev.ev, kLong), 0);
  c.kill();
  // Sends go on (into the ring, or failing) until the death is seen; the
  // ring holds at most 64 of these, so the count is bounded.
  std::vector<unsigned char> m(64 << 10, 1);
  int rc = 0;
  for (int i = 0; i < 100000 && rc == 0; i++)
    rc = mproc_connection_send(&p.a, m.data(), m.size(), kLong);
  EXPECT_EQ(rc, MPROC_ECLOSED) << mproc_error_name(rc);
  EXPECT_EQ(mproc_connection_send(&p.a, "x", 1, kLong), MPROC_ECLOSED);
}

// ---- poll -------------------------------------------------------------------

// Waits for the event, then sends one message.
int send_on_event(const void *p, size_t) {
  Arg a;
  memcpy(&a, p, sizeof a);
  if (mproc_event_wait(&a.ev, kLong) != 0)
    return 10;
  if (mproc_connection_send(&a.end, "hello", 5, kLong) != 0)
    return 11;
  return mproc_connection_close(&a.end) == 0 ? 0 : 12;
}
MPROC_TARGET(send_on_event);

TEST_P(ConnectionProcs, PollTimesOutThenSeesTheMessage) {
  Ev ev;
  Pipe p;
  Arg a = {};
  a.end = p.b;
  a.ev = ev.ev;
  Child c(send_on_event, &a, sizeof a);
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.a, 0, &yes), 0);
    EXPECT_EQ(yes, 0);
  }
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.a, 30, &yes), 0);
    EXPECT_EQ(yes, 0);
  }
  size_t size = 0;
  char buf[8];
  EXPECT_EQ(mproc_connection_recv_into(&p.a, buf, sizeof buf, &size, 20),
            MPROC_ETIMEDOUT);
  ASSERT_EQ(mproc_event_set(&ev.ev), 0);
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.a, kLong, &yes), 0);
    EXPECT_EQ(yes, 1);
  }
  ASSERT_EQ(mproc_connection_recv_into(&p.a, buf, sizeof buf, &size, 0), 0);
  EXPECT_EQ(std::string(buf, size), "hello");
  EXPECT_EQ(c.finish(), 0);
  p.b_open = false;
}

// ---- an end passed to a pool task -------------------------------------------

// The task answers on the end in its argument: the message it receives,
// reversed, then closes the end.
int reverse_task(const void *arg, size_t, mproc_buf_t *) {
  mproc_connection_t end;
  memcpy(&end, arg, sizeof end);
  char buf[64];
  size_t size = 0;
  if (mproc_connection_recv_into(&end, buf, sizeof buf, &size, kLong) != 0)
    return 10;
  std::string s(buf, size);
  std::string r(s.rbegin(), s.rend());
  if (mproc_connection_send(&end, r.data(), r.size(), kLong) != 0)
    return 11;
  return mproc_connection_close(&end) == 0 ? 0 : 12;
}
MPROC_TASK(reverse_task);

TEST_P(ConnectionProcs, AnEndPassedToAPoolTaskStartedBeforeThePipe) {
  mproc_pool_options_t o = {};
  o.processes = 1;
  o.start_method = GetParam();
  mproc_pool_t *pool = nullptr;
  ASSERT_EQ(mproc_pool_create(&pool, &o), 0);
  // The pipe is made after the worker started.
  Pipe p;
  mproc_async_result_t *r = nullptr;
  ASSERT_EQ(
      mproc_pool_apply_async(pool, reverse_task, &p.b, sizeof p.b, nullptr, &r),
      0);
  ASSERT_EQ(mproc_connection_send(&p.a, "stressed", 8, kLong), 0);
  char buf[64];
  size_t size = 0;
  ASSERT_EQ(mproc_connection_recv_into(&p.a, buf, sizeof buf, &size, kLong), 0);
  EXPECT_EQ(std::string(buf, size), "desserts");
  int status = -1;
  ASSERT_EQ(mproc_async_result_get(r, kLong, &status, nullptr, nullptr), 0);
  EXPECT_EQ(status, 0);
  mproc_async_result_free(r);
  p.b_open = false;
  EXPECT_EQ(mproc_connection_recv_into(&p.a, buf, sizeof buf, &size, kLong),
            MPROC_ECLOSED);
  mproc_pool_close(pool);
  mproc_pool_join(pool, kLong);
  mproc_pool_free(pool);
}

MPROC_INSTANTIATE_METHODS(ConnectionProcs);

// ---- in one process: sizes, errors, use after close -----------------------

TEST(Connection, RecvIntoTooSmallLeavesTheMessage) {
  Pipe p;
  ASSERT_EQ(mproc_connection_send(&p.a, "0123456789", 10, 0), 0);
  char buf[16];
  size_t size = 0;
  EXPECT_EQ(mproc_connection_recv_into(&p.b, buf, 4, &size, 0), MPROC_EMSGSIZE);
  EXPECT_EQ(size, 10u);
  ASSERT_EQ(mproc_connection_recv_into(&p.b, buf, sizeof buf, &size, 0), 0);
  EXPECT_EQ(std::string(buf, size), "0123456789");
}

// The receive's spin policy alone: each failed spin doubles the receives
// that then sleep at once, up to 1023; a spin that pays lowers the level
// and spins again at the next receive.
TEST(ConnectionSpin, FailuresBackOffAndASpinThatPaysComesBack) {
  uint32_t level = 0, skip = 0;
  EXPECT_EQ(mproc__spin_turn(&skip), 1);
  mproc__spin_done(0, &level, &skip);
  EXPECT_EQ(level, 1u);
  EXPECT_EQ(skip, 1u);
  EXPECT_EQ(mproc__spin_turn(&skip), 0);
  EXPECT_EQ(skip, 0u);
  EXPECT_EQ(mproc__spin_turn(&skip), 1);
  for (int i = 0; i < 20; i++)
    mproc__spin_done(0, &level, &skip);
  EXPECT_EQ(level, MPROC__SPIN_LEVEL_MAX);
  EXPECT_EQ(skip, (1u << MPROC__SPIN_LEVEL_MAX) - 1u);
  int turns = 0;
  for (uint32_t i = 0; i < (1u << MPROC__SPIN_LEVEL_MAX); i++)
    turns += mproc__spin_turn(&skip);
  EXPECT_EQ(turns, 1); // the last of 1024
  mproc__spin_done(1, &level, &skip);
  EXPECT_EQ(level, MPROC__SPIN_LEVEL_MAX - 1u);
  EXPECT_EQ(skip, 0u);
  EXPECT_EQ(mproc__spin_turn(&skip), 1);
  level = 1;
  mproc__spin_done(1, &level, &skip);
  mproc__spin_done(1, &level, &skip);
  EXPECT_EQ(level, 0u);
  EXPECT_EQ(skip, 0u);
}

TEST(Connection, UseAfterCloseIsAnError) {
  Pipe p;
  ASSERT_EQ(mproc_connection_send(&p.b, "x", 1, 0), 0);
  ASSERT_EQ(mproc_connection_close(&p.a), 0);
  p.a_open = false;
  char buf[4];
  size_t size = 0;
  void *data = nullptr;
  EXPECT_EQ(mproc_connection_send(&p.a, "x", 1, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_connection_recv(&p.a, &data, &size, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_connection_recv_into(&p.a, buf, 4, &size, 0),
            MPROC_EBADHANDLE);
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.a, 0, &yes), MPROC_EBADHANDLE);
  }
  EXPECT_EQ(mproc_connection_close(&p.a), MPROC_EBADHANDLE);
  // The other end: what it sent is lost with the closed end; it reads end
  // of file and cannot send.
  EXPECT_EQ(mproc_connection_recv_into(&p.b, buf, 4, &size, 0), MPROC_ECLOSED);
  EXPECT_EQ(mproc_connection_send(&p.b, "x", 1, 0), MPROC_ECLOSED);
  ASSERT_EQ(mproc_connection_close(&p.b), 0);
  p.b_open = false;
  // Both closed: the pair is gone.
  EXPECT_EQ(mproc_connection_send(&p.b, "x", 1, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_connection_close(&p.b), MPROC_EBADHANDLE);
}

TEST(Connection, BadInputIsRefused) {
  mproc_connection_t zero = {}, junk;
  memset(&junk, 0x5a, sizeof junk);
  size_t size = 0;
  void *data = nullptr;
  for (mproc_connection_t *c : {&zero, &junk}) {
    EXPECT_EQ(mproc_connection_send(c, "x", 1, 0), MPROC_EBADHANDLE);
    EXPECT_EQ(mproc_connection_recv(c, &data, &size, 0), MPROC_EBADHANDLE);
    {
      int yes = -1;
      EXPECT_EQ(mproc_connection_poll(c, 0, &yes), MPROC_EBADHANDLE);
    }
    EXPECT_EQ(mproc_connection_close(c), MPROC_EBADHANDLE);
  }
  EXPECT_EQ(mproc_connection_send(nullptr, "x", 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_close(nullptr), MPROC_EINVAL);
  mproc_connection_t a, b;
  EXPECT_EQ(mproc_pipe(nullptr, &b, nullptr), MPROC_EINVAL);
  mproc_pipe_options_t o = {};
  o.capacity = (size_t)1 << 31;
  EXPECT_EQ(mproc_pipe(&a, &b, &o), MPROC_EINVAL);
  Pipe p(1);
  EXPECT_EQ(mproc_connection_send(&p.a, "x", 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_recv(&p.b, &data, &size, 0), MPROC_EINVAL);
  {
    int yes = -1;
    EXPECT_EQ(mproc_connection_poll(&p.b, 0, &yes), MPROC_EINVAL);
  }
  EXPECT_EQ(mproc_connection_poll(&p.a, 0, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_send(&p.b, nullptr, 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_send(&p.b, "x", 1, -5), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_recv(&p.a, nullptr, &size, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_recv_into(&p.a, nullptr, 4, &size, 0),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_connection_recv(&p.a, &data, &size, 0), MPROC_ETIMEDOUT);
}

// ---- waiting on many ------------------------------------------------------

int wait_event_exit(const void *p, size_t) {
  mproc_event_t ev;
  memcpy(&ev, p, sizeof ev);
  return mproc_event_wait(&ev, MPROC_INFINITE) == 0 ? 0 : 1;
}
MPROC_TARGET(wait_event_exit);

std::vector<size_t> ready_of(const std::vector<mproc_wait_item_t> &items) {
  std::vector<size_t> out;
  for (size_t i = 0; i < items.size(); i++)
    if (items[i].ready)
      out.push_back(i);
  return out;
}

// 40 connections, 40 queues and 20 processes in one wait.
TEST_P(WaitProcs, OverAHundredObjectsReportsExactlyTheReadyOnes) {
  const size_t np = 40, nq = 40, nc = 20;
  std::vector<std::unique_ptr<Pipe>> pipes;
  std::vector<mproc_queue_t> queues(nq);
  std::vector<Ev> evs(nc);
  std::vector<std::unique_ptr<Child>> kids;
  std::vector<mproc_wait_item_t> items;
  for (size_t i = 0; i < np; i++) {
    pipes.emplace_back(new Pipe());
    mproc_wait_item_t it = {};
    it.kind = MPROC_WAIT_CONNECTION;
    it.connection = &pipes[i]->a;
    items.push_back(it);
  }
  for (size_t i = 0; i < nq; i++) {
    ASSERT_EQ(mproc_queue_create(&queues[i], nullptr), 0);
    mproc_wait_item_t it = {};
    it.kind = MPROC_WAIT_QUEUE;
    it.queue = &queues[i];
    items.push_back(it);
  }
  for (size_t i = 0; i < nc; i++) {
    kids.emplace_back(new Child(wait_event_exit, &evs[i].ev, sizeof evs[i].ev));
    mproc_wait_item_t it = {};
    it.kind = MPROC_WAIT_PROCESS;
    it.process = kids[i]->process();
    items.push_back(it);
  }
  size_t nready = 99;
  EXPECT_EQ(mproc_wait(items.data(), items.size(), 0, &nready),
            MPROC_ETIMEDOUT);
  EXPECT_EQ(nready, 0u);
  EXPECT_EQ(mproc_wait(items.data(), items.size(), 30, &nready),
            MPROC_ETIMEDOUT);
  EXPECT_TRUE(ready_of(items).empty());

  // A process ends.
  ASSERT_EQ(mproc_event_set(&evs[7].ev), 0);
  ASSERT_EQ(mproc_wait(items.data(), items.size(), kLong, &nready), 0);
  EXPECT_EQ(ready_of(items), std::vector<size_t>({np + nq + 7}));
  EXPECT_EQ(nready, 1u);
  EXPECT_EQ(kids[7]->finish(), 0);
  items.erase(items.begin() + (long)(np + nq + 7));

  // A message on connection 13 (sent by a thread while we sleep), then one
  // on queue 21.
  std::thread t([&] {
    mproc_test::sleep_ms(20); // not synchronisation: either order passes
    mproc_connection_send(&pipes[13]->b, "m", 1, kLong);
  });
  ASSERT_EQ(mproc_wait(items.data(), items.size(), kLong, &nready), 0);
  t.join();
  EXPECT_EQ(ready_of(items), std::vector<size_t>({13}));
  ASSERT_EQ(mproc_queue_put(&queues[21], "q", 1, 0), 0);
  ASSERT_EQ(mproc_wait(items.data(), items.size(), kLong, &nready), 0);
  EXPECT_EQ(ready_of(items), std::vector<size_t>({13, np + 21}));
  EXPECT_EQ(nready, 2u);

  for (size_t i = 0; i < nc; i++)
    mproc_event_set(&evs[i].ev);
  for (size_t i = 0; i < nc; i++) {
    if (i != 7) {
      EXPECT_EQ(kids[i]->finish(), 0);
    }
  }
  for (auto &q : queues)
    mproc_queue_destroy(&q);
}

// Another process sends while the wait sleeps; a peer killed makes its end
// ready (end of file).
TEST_P(WaitProcs, WakesOnAMessageFromAChildAndOnItsDeath) {
  Ev ev;
  Pipe p;
  Arg a = {};
  a.end = p.b;
  a.ev = ev.ev;
  {
    Child c(send_on_event, &a, sizeof a);
    mproc_wait_item_t it[2] = {};
    it[0].kind = MPROC_WAIT_CONNECTION;
    it[0].connection = &p.a;
    it[1].kind = MPROC_WAIT_PROCESS;
    it[1].process = c.process();
    std::thread t([&] {
      mproc_test::sleep_ms(20); // not synchronisation: either order passes
      mproc_event_set(&ev.ev);
    });
    ASSERT_EQ(mproc_wait(it, 2, kLong, nullptr), 0);
    t.join();
    EXPECT_EQ(it[0].ready, 1);
    EXPECT_EQ(c.finish(), 0);
  }
  p.b_open = false;

  Pipe q;
  Ev ev2;
  Arg b = {};
  b.end = q.b;
  b.ev = ev2.ev;
  Child c(recv_forever, &b, sizeof b);
  ASSERT_EQ(mproc_event_wait(&ev2.ev, kLong), 0);
  c.kill();
  mproc_wait_item_t it = {};
  it.kind = MPROC_WAIT_CONNECTION;
  it.connection = &q.a;
  ASSERT_EQ(mproc_wait(&it, 1, kLong, nullptr), 0);
  EXPECT_EQ(it.ready, 1);
  EXPECT_EQ(recv_code(&q.a, 0), MPROC_ECLOSED);
}

// What a child of the queue waits is given.
struct QueueWaitArg {
  mproc_queue_t in, out;
  mproc_event_t ev;
  uint32_t rounds;
};

// Answers each message on `in` with one on `out`; ends at the message
// `rounds`, so that it runs while the parent looks at it.
int echo_queue(const void *p, size_t) {
  QueueWaitArg a;
  memcpy(&a, p, sizeof a);
  for (uint32_t i = 0; i <= a.rounds; i++) {
    uint32_t v = 0;
    size_t size = 0;
    if (mproc_queue_get_into(&a.in, &v, sizeof v, &size, kLong) != 0 ||
        size != sizeof v || v != i)
      return 10;
    if (i == a.rounds)
      return 0;
    v++;
    if (mproc_queue_put(&a.out, &v, sizeof v, kLong) != 0)
      return 11;
  }
  return 0;
}
MPROC_TARGET(echo_queue);

// Every answer is put by another process while the wait may sleep, and
// found by the wait: the wake crosses processes (on Windows through the
// session's doorbell, src/win32/wait.c).
TEST_P(WaitProcs, WakesWhenAnotherProcessPutsOnAQueue) {
  QueueWaitArg a = {};
  a.rounds = 200;
  ASSERT_EQ(mproc_queue_create(&a.in, nullptr), 0);
  ASSERT_EQ(mproc_queue_create(&a.out, nullptr), 0);
  {
    Child c(echo_queue, &a, sizeof a);
    mproc_wait_item_t it[2] = {};
    it[0].kind = MPROC_WAIT_QUEUE;
    it[0].queue = &a.out;
    it[1].kind = MPROC_WAIT_PROCESS;
    it[1].process = c.process();
    for (uint32_t i = 0; i < a.rounds; i++) {
      ASSERT_EQ(mproc_queue_put(&a.in, &i, sizeof i, kLong), 0);
      size_t nready = 0;
      ASSERT_EQ(mproc_wait(it, 2, kLong, &nready), 0) << "round " << i;
      ASSERT_EQ(it[0].ready, 1) << "round " << i;
      ASSERT_EQ(it[1].ready, 0) << "round " << i;
      EXPECT_EQ(nready, 1u);
      uint32_t v = 0;
      size_t size = 0;
      ASSERT_EQ(mproc_queue_get_into(&a.out, &v, sizeof v, &size, 0), 0);
      ASSERT_EQ(v, i + 1);
    }
    ASSERT_EQ(mproc_queue_put(&a.in, &a.rounds, sizeof a.rounds, kLong), 0);
    EXPECT_EQ(c.finish(), 0);
  }
  mproc_queue_destroy(&a.in);
  mproc_queue_destroy(&a.out);
}

// Sets the event, then waits on the queue alone; 0 when the wait reports
// the queue's destroy.
int wait_until_queue_destroyed(const void *p, size_t) {
  QueueWaitArg a;
  memcpy(&a, p, sizeof a);
  mproc_wait_item_t it = {};
  it.kind = MPROC_WAIT_QUEUE;
  it.queue = &a.in;
  if (mproc_event_set(&a.ev) != 0)
    return 10;
  int rc = mproc_wait(&it, 1, kLong, nullptr);
  return rc == MPROC_EBADHANDLE ? 0 : 20 - rc; // the code, for the report
}
MPROC_TARGET(wait_until_queue_destroyed);

TEST_P(WaitProcs, ADestroyWakesAWaiterInAnotherProcess) {
  Ev ev;
  QueueWaitArg a = {};
  a.ev = ev.ev;
  ASSERT_EQ(mproc_queue_create(&a.in, nullptr), 0);
  Child c(wait_until_queue_destroyed, &a, sizeof a);
  // The child is in its wait or about to be; a destroy before the wait
  // starts is reported alike.
  ASSERT_EQ(mproc_event_wait(&ev.ev, kLong), 0);
  ASSERT_EQ(mproc_queue_destroy(&a.in), 0);
  EXPECT_EQ(c.finish(), 0);
}

MPROC_INSTANTIATE_METHODS(WaitProcs);

int return_zero(const void *, size_t) { return 0; }
MPROC_TARGET(return_zero);

TEST(Wait, BadInputIsRefused) {
  mproc_wait_item_t it = {};
  EXPECT_EQ(mproc_wait(nullptr, 1, 0, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_wait(&it, 0, 0, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_EINVAL); // kind 0
  it.kind = MPROC_WAIT_QUEUE;
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_EINVAL); // NULL queue
  mproc_queue_t zero_q = {};
  it.queue = &zero_q;
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_EBADHANDLE);
  it.queue = nullptr;
  it.kind = MPROC_WAIT_PROCESS;
  mproc_process_t *p = nullptr;
  ASSERT_EQ(mproc_process_create(&p, return_zero, nullptr, 0, nullptr), 0);
  it.process = p;
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_free(p), 0);
  it.process = nullptr;
  it.kind = MPROC_WAIT_CONNECTION;
  Pipe one_way(1);
  it.connection = &one_way.b; // sends only
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_EINVAL);
  mproc_connection_t zero_c = {};
  it.connection = &zero_c;
  EXPECT_EQ(mproc_wait(&it, 1, 0, nullptr), MPROC_EBADHANDLE);
  it.connection = &one_way.a;
  EXPECT_EQ(mproc_wait(&it, 1, -2, nullptr), MPROC_EINVAL);
}

} // namespace
