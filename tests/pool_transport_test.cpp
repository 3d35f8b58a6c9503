// SPDX-License-Identifier: MIT
// The pool's transport seam (src/pool_transport.h), tested against its
// contract without the engine: what every transport must do. It runs on
// the local transport under every start method; another transport can run
// the same cases by adding itself to transports().
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "platform.h"
#include "pool_transport.h"
#include "pool_wire.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;

namespace {

int echo(const void *arg, size_t size, mproc_buf_t *out) {
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(echo);

// A transport opened for `n` workers under the test's start method.
struct Opened {
  const mproc__transport_t *tp = &mproc__transport_local;
  void *ts = nullptr;
  mproc__transport_config_t cfg = {};
  std::vector<unsigned char> args;
  explicit Opened(mproc_start_method_t method, int n = 1) {
    cfg.nworkers = n;
    cfg.method = method;
    EXPECT_EQ(tp->version, MPROC__TRANSPORT_VERSION);
    EXPECT_EQ(tp->open(&cfg, &ts), 0);
    // The worker arguments the engine would make: no initializer.
    worker_args_t wa;
    memset(&wa, 0, sizeof wa);
    wa.magic = WORKER_ARGS_MAGIC;
    wa.by_name = (uint32_t)cfg.by_name;
    args.assign(reinterpret_cast<unsigned char *>(&wa),
                reinterpret_cast<unsigned char *>(&wa) + sizeof wa);
  }
  ~Opened() {
    if (ts)
      tp->close(ts);
  }
  int start(int slot, int64_t *id) {
    return tp->start(ts, slot, args.data(), args.size(), id);
  }
  // Send echo(arg) as a task frame.
  int send_echo(int slot, const std::string &arg) {
    frame_t f;
    memset(&f, 0, sizeof f);
    f.kind = FRAME_TASK;
    f.size = arg.size();
    const char *name = cfg.by_name ? "echo" : nullptr;
    if (name)
      f.name_len = strlen(name);
    else
      f.fn = echo;
    std::vector<unsigned char> buf(mproc__frame_bytes(&f));
    mproc__frame_pack(buf.data(), &f, name, arg.data());
    return tp->send(ts, slot, buf.data(), buf.size());
  }
};

struct Answer {
  int frames = 0;
  int status = -1;
  std::string bytes;
};

int on_answer(void *ctx, const frame_t *f, const unsigned char *payload,
              unsigned char *owned) {
  Answer *a = static_cast<Answer *>(ctx);
  a->frames++;
  a->status = f->status;
  a->bytes.assign(reinterpret_cast<const char *>(payload), (size_t)f->size);
  free(owned);
  return 0;
}

// Wait for and read slot's stream until one answer is whole or the worker
// is lost. Returns 0 with the answer, MPROC_ECLOSED, or MPROC_ETIMEDOUT.
int read_answer(Opened &o, int slot, Answer *a) {
  mproc__frame_reader_t rd;
  memset(&rd, 0, sizeof rd);
  int64_t deadline = mproc__deadline_from_timeout(scaled_ms(30000));
  int r = 0;
  while (a->frames == 0 && r == 0) {
    unsigned char ready = 0, buf[4096];
    int woken = 0;
    size_t got = 0;
    if ((r = o.tp->wait(o.ts, &slot, 1, 0, deadline, &ready, &woken)) != 0)
      break;
    EXPECT_EQ(woken, 0); // no wake-up without `wake`
    r = o.tp->recv(o.ts, slot, buf, sizeof buf, &got);
    if (r == MPROC_EEMPTY)
      r = 0; // ready may be spurious
    else if (r == 0)
      r = mproc__frame_reader_feed(&rd, buf, got, on_answer, a);
  }
  mproc__frame_reader_reset(&rd);
  return r;
}

// Read until the loss shows: MPROC_ECLOSED once what was sent is read.
int read_until_lost(Opened &o, int slot) {
  int64_t deadline = mproc__deadline_from_timeout(scaled_ms(30000));
  for (;;) {
    unsigned char ready = 0, buf[4096];
    int woken = 0;
    size_t got = 0;
    int r = o.tp->wait(o.ts, &slot, 1, 0, deadline, &ready, &woken);
    if (r != 0)
      return r;
    r = o.tp->recv(o.ts, slot, buf, sizeof buf, &got);
    if (r != 0 && r != MPROC_EEMPTY)
      return r;
  }
}

class PoolTransport : public shared_testing::MethodTest {};

TEST_P(PoolTransport, AWorkerAnswersInOrderThenEndsWhenStopped) {
  Opened o(GetParam());
  EXPECT_EQ(o.cfg.by_name, GetParam() != MPROC_START_FORK);
  int64_t id = 0;
  ASSERT_EQ(o.start(0, &id), 0);
  EXPECT_GT(id, 0);
  char info[64];
  o.tp->info(o.ts, 0, info, sizeof info);
  EXPECT_NE(std::string(info).find(std::to_string(id)), std::string::npos);
  int alive = 0;
  EXPECT_EQ(o.tp->alive(o.ts, 0, &alive), 0);
  EXPECT_EQ(alive, 1);
  for (const char *arg : {"one", "", "three"}) {
    ASSERT_EQ(o.send_echo(0, arg), 0);
    Answer a;
    ASSERT_EQ(read_answer(o, 0, &a), 0);
    EXPECT_EQ(a.status, 0);
    EXPECT_EQ(a.bytes, arg);
  }
  // Stopped: it answers what it was sent, then its stream ends.
  ASSERT_EQ(o.send_echo(0, "last"), 0);
  o.tp->stop(o.ts, 0);
  Answer a;
  ASSERT_EQ(read_answer(o, 0, &a), 0);
  EXPECT_EQ(a.bytes, "last");
  EXPECT_EQ(read_until_lost(o, 0), MPROC_ECLOSED);
  int code = -1;
  EXPECT_EQ(o.tp->reap(o.ts, 0, scaled_ms(30000), &code), 1);
  EXPECT_EQ(code, 0);
  // The slot is empty again: a new worker starts in it.
  ASSERT_EQ(o.start(0, &id), 0);
  o.tp->stop(o.ts, 0);
  EXPECT_EQ(read_until_lost(o, 0), MPROC_ECLOSED);
  EXPECT_EQ(o.tp->reap(o.ts, 0, scaled_ms(30000), &code), 1);
}

TEST_P(PoolTransport, AKilledWorkerIsLostWithItsExitCode) {
  Opened o(GetParam(), 2);
  int64_t id0 = 0, id1 = 0;
  ASSERT_EQ(o.start(0, &id0), 0);
  ASSERT_EQ(o.start(1, &id1), 0);
  EXPECT_NE(id0, id1);
  o.tp->kill(o.ts, 1);
  EXPECT_EQ(read_until_lost(o, 1), MPROC_ECLOSED);
  int code = 0;
  EXPECT_EQ(o.tp->reap(o.ts, 1, scaled_ms(30000), &code), 1);
  EXPECT_EQ(code, -9); // mproc's own kill reads -9 everywhere
  // The other worker did not notice.
  ASSERT_EQ(o.send_echo(0, "still here"), 0);
  Answer a;
  ASSERT_EQ(read_answer(o, 0, &a), 0);
  EXPECT_EQ(a.bytes, "still here");
  o.tp->kill(o.ts, 0);
  EXPECT_EQ(o.tp->reap(o.ts, 0, MPROC_INFINITE, &code), 1);
}

TEST_P(PoolTransport, WaitTimesOutAndRecvDoesNotWait) {
  Opened o(GetParam());
  int64_t id;
  ASSERT_EQ(o.start(0, &id), 0);
  int slot = 0, woken = 1;
  unsigned char ready = 1, buf[16];
  size_t got = 0;
  EXPECT_EQ(o.tp->recv(o.ts, 0, buf, sizeof buf, &got), MPROC_EEMPTY);
  EXPECT_EQ(o.tp->wait(o.ts, &slot, 1, 1, mproc__deadline_from_timeout(20),
                       &ready, &woken),
            MPROC_ETIMEDOUT);
  o.tp->stop(o.ts, 0);
  int code;
  EXPECT_EQ(o.tp->reap(o.ts, 0, scaled_ms(30000), &code), 1);
}

// The contract of wake: none is ever lost. A waker posts a number, then
// wakes; after each wait that woke, the waiter reads the last number
// posted. A wake-up posted after that read must wake a later wait, so a
// wait may time out only when nothing was posted since — the old pool
// thread, which cleared its flag before draining its pipe, failed this.
TEST_P(PoolTransport, AWakeUpIsNeverLost) {
  Opened o(GetParam());
  const int64_t kWakes = 200000;
  std::atomic<int64_t> posted{0};
  std::thread waker([&] {
    uint32_t x = 12345;
    for (int64_t i = 1; i <= kWakes; i++) {
      posted.store(i);
      o.tp->wake(o.ts);
      // A pause of varying length, so that wake-ups land at every point
      // of the waiter's consuming one.
      x = x * 1664525u + 1013904223u;
      for (volatile uint32_t k = 0; k < (x >> 24); k = k + 1) {
      }
    }
  });
  int64_t seen = 0;
  bool joined = false;
  while (seen < kWakes) {
    int woken = 0;
    int64_t ms = joined ? scaled_ms(10000) : 1000;
    int r = o.tp->wait(o.ts, nullptr, 0, 1, mproc__deadline_from_timeout(ms),
                       nullptr, &woken);
    if (r == 0 && woken) {
      seen = posted.load();
      continue;
    }
    ASSERT_EQ(r, MPROC_ETIMEDOUT);
    if (joined) {
      ADD_FAILURE() << "a wake-up after number " << seen << " was lost";
      break;
    }
    // Perhaps the waker is only slow: once it is done, a wake-up it
    // posted after `seen` must wake the next wait at once.
    waker.join();
    joined = true;
    if (posted.load() == seen)
      break;
  }
  if (!joined)
    waker.join();
  EXPECT_EQ(seen, kWakes);
}

MPROC_INSTANTIATE_METHODS(PoolTransport);

} // namespace
