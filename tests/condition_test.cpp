// SPDX-License-Identifier: MIT
// Condition across processes, under every start method: producers and
// consumers, notify counts, a holder that dies, waiters that die.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using shared_testing::Child;
using shared_testing::MethodTest;

namespace {

class ConditionProcs : public MethodTest {};

// What the children share: a condition bound to a Lock, a second one on
// the same lock to report progress, and counters in a Value.
enum { ARRIVED, WOKEN, ITEMS, PRODUCED, CONSUMED, SUM, NCOUNTERS };

struct Shared {
  mproc_lock_t lock;
  mproc_condition_t cond;
  mproc_condition_t progress;
  mproc_array_t counters; // int64_t[NCOUNTERS], guarded by lock
  int64_t n;              // per test: items per producer, ...
};

class Fixture {
public:
  Fixture() {
    EXPECT_EQ(mproc_lock_create(&s.lock), 0);
    mproc_condition_options_t o = {};
    o.lock = &s.lock;
    EXPECT_EQ(mproc_condition_create(&s.cond, &o), 0);
    EXPECT_EQ(mproc_condition_create(&s.progress, &o), 0);
    mproc_array_options_t raw = {};
    raw.raw = 1;
    EXPECT_EQ(mproc_array_create(&s.counters, sizeof(int64_t), NCOUNTERS, &raw),
              0);
    s.n = 0;
  }
  ~Fixture() {
    EXPECT_EQ(mproc_condition_destroy(&s.cond), 0);
    EXPECT_EQ(mproc_condition_destroy(&s.progress), 0);
    EXPECT_EQ(mproc_array_destroy(&s.counters), 0);
    EXPECT_EQ(mproc_lock_destroy(&s.lock), 0);
  }
  // Holding the lock, waits on `progress` until counter i reaches v.
  int64_t wait_until(int i, int64_t v, int64_t timeout_ms = 20000) {
    int64_t *c = counters(&s);
    int64_t deadline = mproc_test::now_ms() + scaled_ms(timeout_ms);
    while (c[i] < v && mproc_test::now_ms() < deadline)
      mproc_condition_wait(&s.progress, 100);
    return c[i];
  }
  static int64_t *counters(Shared *sh) {
    void *p = nullptr;
    return mproc_array_ptr(&sh->counters, &p) == 0 ? (int64_t *)p : nullptr;
  }
  Shared s;
};

Shared args_of(const void *arg) {
  Shared s;
  memcpy(&s, arg, sizeof s);
  return s;
}

// ---- in one process -------------------------------------------------------

TEST(Condition, OwnershipTimeoutsAndBadInput) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_condition_t c;
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  mproc_condition_options_t both = {};
  mproc_rlock_t rl;
  ASSERT_EQ(mproc_rlock_create(&rl), 0);
  both.lock = &lock;
  both.rlock = &rl;
  EXPECT_EQ(mproc_condition_create(nullptr, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_condition_create(&c, &both), MPROC_EINVAL);
  mproc_lock_t junk;
  memset(&junk, 0x33, sizeof junk);
  mproc_condition_options_t bad = {};
  bad.lock = &junk;
  EXPECT_EQ(mproc_condition_create(&c, &bad), MPROC_EBADHANDLE);

  for (int kind = 0; kind < 3; kind++) {
    mproc_condition_options_t o = {};
    if (kind == 1)
      o.lock = &lock;
    if (kind == 2)
      o.rlock = &rl;
    ASSERT_EQ(mproc_condition_create(&c, &o), 0) << kind;
    EXPECT_EQ(mproc_condition_wait(&c, 0), MPROC_ENOTOWNER) << kind;
    EXPECT_EQ(mproc_condition_notify(&c, 1), MPROC_ENOTOWNER) << kind;
    EXPECT_EQ(mproc_condition_notify_all(&c), MPROC_ENOTOWNER) << kind;
    ASSERT_EQ(mproc_condition_acquire(&c, 0), 0);
    EXPECT_EQ(mproc_condition_wait(&c, -7), MPROC_EINVAL);
    EXPECT_EQ(mproc_condition_notify(&c, 0), 0);
    EXPECT_EQ(mproc_condition_notify(&c, 3), 0); // nobody waits
    EXPECT_EQ(mproc_condition_wait(&c, 0), MPROC_ETIMEDOUT);
    EXPECT_EQ(mproc_condition_wait(&c, 20), MPROC_ETIMEDOUT);
    // Another thread may not wait or notify while this one holds the lock.
    int other_wait = 0, other_notify = 0;
    std::thread t([&] {
      other_wait = mproc_condition_wait(&c, 0);
      other_notify = mproc_condition_notify(&c, 1);
    });
    t.join();
    EXPECT_EQ(other_wait, MPROC_ENOTOWNER) << kind;
    EXPECT_EQ(other_notify, MPROC_ENOTOWNER) << kind;
    EXPECT_EQ(mproc_condition_release(&c), 0);
    EXPECT_EQ(mproc_condition_release(&c), MPROC_ENOTOWNER);
    EXPECT_EQ(mproc_condition_destroy(&c), 0);
    EXPECT_EQ(mproc_condition_wait(&c, 0), MPROC_EBADHANDLE);
  }
  // An RLock held twice is released completely by wait and held twice
  // again after it.
  mproc_condition_options_t o = {};
  o.rlock = &rl;
  ASSERT_EQ(mproc_condition_create(&c, &o), 0);
  ASSERT_EQ(mproc_rlock_acquire(&rl, 0), 0);
  ASSERT_EQ(mproc_rlock_acquire(&rl, 0), 0);
  int other_took = 1;
  std::thread waiter_side([&] {
    // Runs while the main thread waits: the lock must be free then.
    other_took = mproc_rlock_acquire(&rl, scaled_ms(20000));
    if (other_took == 0) {
      mproc_condition_notify(&c, 1);
      mproc_rlock_release(&rl);
    }
  });
  EXPECT_EQ(mproc_condition_wait(&c, scaled_ms(20000)), 0);
  waiter_side.join();
  EXPECT_EQ(other_took, 0);
  EXPECT_EQ(mproc_rlock_release(&rl), 0);
  EXPECT_EQ(mproc_rlock_release(&rl), 0);
  EXPECT_EQ(mproc_rlock_release(&rl), MPROC_ENOTOWNER);
  EXPECT_EQ(mproc_condition_destroy(&c), 0);
  EXPECT_EQ(mproc_rlock_destroy(&rl), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- producers and consumers ------------------------------------------------

const int64_t kCapacity = 8;

int produce(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  for (int64_t i = 1; i <= s.n; i++) {
    if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
      return 1;
    while (c[ITEMS] >= kCapacity) {
      int rc = mproc_condition_wait(&s.cond, 50); // timeouts are fine here
      if (rc != 0 && rc != MPROC_ETIMEDOUT)
        return 2;
    }
    c[ITEMS]++;
    c[PRODUCED]++;
    c[SUM] += i;
    mproc_condition_notify(&s.cond, 1);
    mproc_lock_release(&s.lock);
  }
  return 0;
}
MPROC_TARGET(produce);

int consume(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
    return 1;
  for (;;) {
    while (c[ITEMS] == 0 && c[CONSUMED] < 2 * s.n) {
      int rc = mproc_condition_wait(&s.cond, 50);
      if (rc != 0 && rc != MPROC_ETIMEDOUT)
        return 2;
    }
    if (c[CONSUMED] >= 2 * s.n)
      break;
    c[ITEMS]--;
    c[CONSUMED]++;
    // Both producers and the other consumer may wait on the same
    // condition: wake them all, as Python's bounded-buffer recipe does.
    mproc_condition_notify_all(&s.cond);
  }
  mproc_condition_notify_all(&s.cond);
  mproc_lock_release(&s.lock);
  return 0;
}
MPROC_TARGET(consume);

TEST_P(ConditionProcs, BoundedBufferWithTwoProducersAndTwoConsumers) {
  Fixture f;
  f.s.n = 2000;
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 2; i++) {
    kids.emplace_back(new Child(produce, &f.s, sizeof f.s));
    kids.emplace_back(new Child(consume, &f.s, sizeof f.s));
  }
  for (auto &k : kids)
    EXPECT_EQ(k->finish(120000), 0);
  int64_t *c = Fixture::counters(&f.s);
  EXPECT_EQ(c[PRODUCED], 4000);
  EXPECT_EQ(c[CONSUMED], 4000);
  EXPECT_EQ(c[ITEMS], 0);
  EXPECT_EQ(c[SUM], 2 * (2000 * 2001 / 2));
}

// ---- notify counts ----------------------------------------------------------

// Arrives (counted, under the lock) and waits once; counts itself woken.
int wait_once(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
    return 1;
  c[ARRIVED]++;
  mproc_condition_notify_all(&s.progress);
  int rc = mproc_condition_wait(&s.cond, scaled_ms(60000));
  if (rc == 0) {
    c[WOKEN]++;
    mproc_condition_notify_all(&s.progress);
  }
  mproc_lock_release(&s.lock);
  return rc == 0 ? 0 : 10 - rc;
}
MPROC_TARGET(wait_once);

TEST_P(ConditionProcs, NotifyWakesAsManyAsAskedAndNotifyAllTheRest) {
  Fixture f;
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 4; i++)
    kids.emplace_back(new Child(wait_once, &f.s, sizeof f.s));
  ASSERT_EQ(mproc_lock_acquire(&f.s.lock, MPROC_INFINITE), 0);
  // Each counted itself holding the lock and released it only by waiting.
  ASSERT_EQ(f.wait_until(ARRIVED, 4), 4);
  ASSERT_EQ(mproc_condition_notify(&f.s.cond, 2), 0);
  EXPECT_EQ(f.wait_until(WOKEN, 2), 2);
  // No third one comes: the lock is free while this waits.
  EXPECT_EQ(f.wait_until(WOKEN, 3, 300), 2);
  ASSERT_EQ(mproc_condition_notify(&f.s.cond, 1), 0);
  EXPECT_EQ(f.wait_until(WOKEN, 3), 3);
  ASSERT_EQ(mproc_condition_notify_all(&f.s.cond), 0);
  EXPECT_EQ(f.wait_until(WOKEN, 4), 4);
  ASSERT_EQ(mproc_lock_release(&f.s.lock), 0);
  for (auto &k : kids)
    EXPECT_EQ(k->finish(), 0);
}

// ---- deaths ---------------------------------------------------------------

// Takes the lock once the waiter is in its wait (it arrived, then released
// the lock only by waiting), notifies, reports, and holds the lock until
// killed.
int notify_then_hold(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
    return 1;
  while (c[ARRIVED] == 0)
    if (mproc_condition_wait(&s.progress, MPROC_INFINITE) != 0)
      return 2;
  mproc_condition_notify_all(&s.cond);
  c[PRODUCED] = 1;
  for (int i = 0; i < 600; i++)
    mproc_test::sleep_ms(100); // not synchronisation: killed long before
  return 0;
}
MPROC_TARGET(notify_then_hold);

int wait_expecting_owner_dead(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
    return 1;
  c[ARRIVED]++;
  mproc_condition_notify_all(&s.progress);
  int rc = mproc_condition_wait(&s.cond, MPROC_INFINITE);
  mproc_lock_release(&s.lock);
  return rc == MPROC_EOWNERDEAD ? 0 : 10 - rc;
}
MPROC_TARGET(wait_expecting_owner_dead);

TEST_P(ConditionProcs, HolderDeathReachesTheWaiterAsOwnerDead) {
  Fixture f;
  int64_t *c = Fixture::counters(&f.s);
  Child waiter(wait_expecting_owner_dead, &f.s, sizeof f.s);
  Child holder(notify_then_hold, &f.s, sizeof f.s);
  ASSERT_TRUE(mproc_test::wait_until(
      [c] { return shared_testing::atomic_at(&c[PRODUCED]).load() != 0; }));
  ASSERT_EQ(c[PRODUCED], 1);
  EXPECT_EQ(c[ARRIVED], 1);
  holder.kill();
  EXPECT_EQ(waiter.finish(), 0);
  int rc = mproc_lock_acquire(&f.s.lock, scaled_ms(20000));
  EXPECT_TRUE(rc == 0 || rc == MPROC_EOWNERDEAD) << rc;
  EXPECT_EQ(mproc_lock_release(&f.s.lock), 0);
}

TEST_P(ConditionProcs, ADeadWaiterTakesNoNotificationFromTheLiving) {
  Fixture f;
  for (int round = 0; round < 3; round++) {
    int64_t *c = Fixture::counters(&f.s);
    c[ARRIVED] = 0;
    c[WOKEN] = 0;
    Child victim(wait_once, &f.s, sizeof f.s);
    Child survivor(wait_once, &f.s, sizeof f.s);
    ASSERT_EQ(mproc_lock_acquire(&f.s.lock, MPROC_INFINITE), 0);
    ASSERT_EQ(f.wait_until(ARRIVED, 2), 2);
    ASSERT_EQ(mproc_lock_release(&f.s.lock), 0);
    // Killed in its wait: its slot still says "waiting".
    victim.kill();
    ASSERT_EQ(mproc_lock_acquire(&f.s.lock, MPROC_INFINITE), 0);
    ASSERT_EQ(mproc_condition_notify(&f.s.cond, 1), 0);
    EXPECT_EQ(f.wait_until(WOKEN, 1), 1) << "round " << round;
    ASSERT_EQ(mproc_lock_release(&f.s.lock), 0);
    EXPECT_EQ(survivor.finish(), 0) << "round " << round;
  }
}

TEST_P(ConditionProcs, ANotificationAWaiterDiedWithIsHandedOn) {
  Fixture f;
  int64_t *c = Fixture::counters(&f.s);
  Child victim(wait_once, &f.s, sizeof f.s);
  ASSERT_EQ(mproc_lock_acquire(&f.s.lock, MPROC_INFINITE), 0);
  ASSERT_EQ(f.wait_until(ARRIVED, 1), 1);
  // Notified, but it cannot take the notification: this thread holds the
  // lock it needs first. Then it dies.
  ASSERT_EQ(mproc_condition_notify(&f.s.cond, 1), 0);
  victim.kill();
  ASSERT_EQ(mproc_lock_release(&f.s.lock), 0);
  // A waiter that came later is the only one left: the notification is
  // its, with no further notify.
  Child survivor(wait_once, &f.s, sizeof f.s);
  EXPECT_EQ(survivor.finish(), 0);
  EXPECT_EQ(c[WOKEN], 1);
}

int wait_until_destroyed(const void *arg, size_t) {
  Shared s = args_of(arg);
  int64_t *c = Fixture::counters(&s);
  if (mproc_lock_acquire(&s.lock, MPROC_INFINITE) != 0)
    return 1;
  c[ARRIVED]++;
  mproc_condition_notify_all(&s.progress);
  int rc = mproc_condition_wait(&s.cond, scaled_ms(60000));
  return rc == MPROC_EBADHANDLE ? 0 : 10 - rc;
}
MPROC_TARGET(wait_until_destroyed);

TEST_P(ConditionProcs, DestroyWakesWaitersWithBadHandle) {
  Fixture f;
  mproc_condition_t doomed;
  mproc_condition_options_t o = {};
  o.lock = &f.s.lock;
  ASSERT_EQ(mproc_condition_create(&doomed, &o), 0);
  Shared s = f.s;
  s.cond = doomed;
  Child waiter(wait_until_destroyed, &s, sizeof s);
  ASSERT_EQ(mproc_lock_acquire(&f.s.lock, MPROC_INFINITE), 0);
  ASSERT_EQ(f.wait_until(ARRIVED, 1), 1);
  ASSERT_EQ(mproc_lock_release(&f.s.lock), 0);
  EXPECT_EQ(mproc_condition_destroy(&doomed), 0);
  EXPECT_EQ(waiter.finish(), 0);
}

// ---- every way of letting go of the lock wakes the notified ---------------

// A notify marks its waiter at once but wakes it when the notifier lets go
// of the lock, whichever call does that: each of these rounds ends with a
// different one, and the child must see every turn.
enum { VIA_CONDITION, VIA_LOCK, VIA_RLOCK, VIA_VALUE, VIA_WAIT, NVIA };

struct PingPong {
  mproc_condition_t cond;
  mproc_lock_t lock;   // VIA_LOCK: the condition's lock
  mproc_rlock_t rlock; // VIA_RLOCK: the condition's lock
  mproc_array_t value; // VIA_VALUE: its lock is the condition's; the turn
  int64_t rounds;
};

int64_t *turn_of(PingPong *p) {
  void *v = nullptr;
  return mproc_array_ptr(&p->value, &v) == 0 ? (int64_t *)v : nullptr;
}

// Waits for each turn (1), hands it back (0) and notifies.
int pong_turns(const void *arg, size_t) {
  PingPong p;
  memcpy(&p, arg, sizeof p);
  int64_t *turn = turn_of(&p);
  if (!turn || mproc_condition_acquire(&p.cond, MPROC_INFINITE) != 0)
    return 1;
  for (int64_t i = 0; i < p.rounds; i++) {
    while (*turn != 1) {
      int rc = mproc_condition_wait(&p.cond, scaled_ms(60000));
      if (rc != 0)
        return 10 - rc;
    }
    *turn = 0;
    if (mproc_condition_notify(&p.cond, 1) != 0)
      return 2;
  }
  return mproc_condition_release(&p.cond) == 0 ? 0 : 3;
}
MPROC_TARGET(pong_turns);

// Gives the turn (holding the lock), lets go of the lock `via`, and takes
// the turn back.
void ping_via(PingPong *p, int via) {
  int64_t *turn = turn_of(p);
  ASSERT_NE(turn, nullptr);
  if (via == VIA_RLOCK) { // held twice: only the last release lets go
    ASSERT_EQ(mproc_rlock_acquire(&p->rlock, MPROC_INFINITE), 0);
  }
  *turn = 1;
  ASSERT_EQ(mproc_condition_notify(&p->cond, 1), 0);
  switch (via) {
  case VIA_CONDITION:
    ASSERT_EQ(mproc_condition_release(&p->cond), 0);
    break;
  case VIA_LOCK:
    ASSERT_EQ(mproc_lock_release(&p->lock), 0);
    break;
  case VIA_RLOCK:
    ASSERT_EQ(mproc_rlock_release(&p->rlock), 0);
    ASSERT_EQ(mproc_rlock_release(&p->rlock), 0);
    break;
  case VIA_VALUE:
    ASSERT_EQ(mproc_array_release(&p->value), 0);
    break;
  case VIA_WAIT:
    while (*turn != 0) {
      ASSERT_EQ(mproc_condition_wait(&p->cond, scaled_ms(60000)), 0);
    }
    return;
  }
  ASSERT_EQ(mproc_condition_acquire(&p->cond, MPROC_INFINITE), 0);
  while (*turn != 0) {
    ASSERT_EQ(mproc_condition_wait(&p->cond, scaled_ms(60000)), 0);
  }
}

TEST_P(ConditionProcs, NotifiedWaiterWakesWhicheverCallLetsGoOfTheLock) {
  for (int via = 0; via < NVIA; via++) {
    SCOPED_TRACE(via);
    PingPong p = {};
    mproc_condition_options_t o = {};
    ASSERT_EQ(mproc_lock_create(&p.lock), 0);
    ASSERT_EQ(mproc_rlock_create(&p.rlock), 0);
    ASSERT_EQ(mproc_value_create(&p.value, sizeof(int64_t), nullptr), 0);
    mproc_rlock_t value_lock;
    ASSERT_EQ(mproc_array_get_lock(&p.value, &value_lock), 0);
    if (via == VIA_LOCK)
      o.lock = &p.lock;
    else if (via == VIA_RLOCK)
      o.rlock = &p.rlock;
    else if (via == VIA_VALUE)
      o.rlock = &value_lock;
    ASSERT_EQ(mproc_condition_create(&p.cond, &o), 0);
    p.rounds = 50;
    {
      Child pong(pong_turns, &p, sizeof p);
      ASSERT_EQ(mproc_condition_acquire(&p.cond, MPROC_INFINITE), 0);
      for (int64_t i = 0; i < p.rounds && !HasFatalFailure(); i++)
        ping_via(&p, via);
      EXPECT_EQ(mproc_condition_release(&p.cond), 0);
      EXPECT_EQ(pong.finish(), 0);
    }
    EXPECT_EQ(mproc_condition_destroy(&p.cond), 0);
    EXPECT_EQ(mproc_array_destroy(&p.value), 0);
    EXPECT_EQ(mproc_rlock_destroy(&p.rlock), 0);
    EXPECT_EQ(mproc_lock_destroy(&p.lock), 0);
  }
}

MPROC_INSTANTIATE_METHODS(ConditionProcs);

} // namespace
