// SPDX-License-Identifier: MIT
// Lock, RLock, Semaphore and Event across processes, under every start
// method for the cross-process tests.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "platform.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using mproc_test::sleep_ms;
using mproc_test::sleep_us;
using shared_testing::atomic_at;
using shared_testing::attach;
using shared_testing::Child;
using shared_testing::MethodTest;
using shared_testing::SharedMem;
using shared_testing::SharedRef;

namespace {

// The suites whose tests run once per start method.
class Lock : public MethodTest {};
class RLock : public MethodTest {};
class SemaphoreProcs : public MethodTest {};
class Event : public MethodTest {};

// ---- the wait/wake primitive of the seam ----------------------------------

// Sleeps on the word w[0] until it changes; raises w[1] just before.
int wait_for_change(const void *arg, size_t) {
  SharedRef ref;
  memcpy(&ref, arg, sizeof ref);
  uint32_t *w = attach<uint32_t>(ref);
  if (!w)
    return 2;
  atomic_at(&w[1]).store(1);
  while (atomic_at(w).load() == 0)
    if (mproc__wait32(w, 0, MPROC_INFINITE) != 0)
      return 1;
  return 0;
}
MPROC_TARGET(wait_for_change);

TEST(WaitWake, ReturnsOnChangeOnWakeAndAtTheDeadline) {
  SharedMem<uint32_t> word(2);
  // A value other than the expected one: no sleep at all.
  word[0] = 1;
  EXPECT_EQ(mproc__wait32(word.get(), 0, MPROC_INFINITE), 0);
  // A deadline already past.
  word[0] = 0;
  EXPECT_EQ(mproc__wait32(word.get(), 0, mproc__clock_ns() - 1),
            MPROC_ETIMEDOUT);
  // A short deadline: it comes back, with MPROC_ETIMEDOUT or (allowed) 0.
  int64_t deadline = mproc__clock_ns() + 5 * 1000000;
  int rc = 0;
  while (rc == 0 && mproc__clock_ns() < deadline)
    rc = mproc__wait32(word.get(), 0, deadline);
  EXPECT_EQ(rc, MPROC_ETIMEDOUT);
  // A sleeper in another process is woken by a change and a wake.
  uint32_t *w = word.get();
  Child c(wait_for_change, &word.ref(), sizeof word.ref());
  EXPECT_TRUE(shared_testing::wait_until_asleep(c.pid(), &w[1]));
  atomic_at(w).store(7);
  mproc__wake32(w);
  EXPECT_EQ(c.finish(), 0);
}

// ---- bad input -----------------------------------------------------------

TEST(SyncBadInput, NullZeroedDestroyedAndWrongKind) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_lock_t zero_lock;
  memset(&zero_lock, 0, sizeof zero_lock);
  EXPECT_EQ(mproc_lock_create(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_lock_acquire(nullptr, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_lock_release(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_lock_acquire(&zero_lock, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_lock_release(&zero_lock), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_lock_destroy(&zero_lock), MPROC_EBADHANDLE);

  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  EXPECT_EQ(mproc_lock_acquire(&lock, -5), MPROC_EINVAL);
  mproc_lock_t copy = lock;
  // The same bytes used as another kind of object are refused.
  mproc_rlock_t as_rlock;
  memcpy(&as_rlock, &lock, sizeof lock);
  EXPECT_EQ(mproc_rlock_acquire(&as_rlock, 0), MPROC_EBADHANDLE);
  mproc_semaphore_t as_sem;
  memcpy(&as_sem, &lock, sizeof lock);
  EXPECT_EQ(mproc_semaphore_release(&as_sem), MPROC_EBADHANDLE);

  ASSERT_EQ(mproc_lock_destroy(&lock), 0);
  EXPECT_EQ(mproc_lock_acquire(&lock, 0), MPROC_EBADHANDLE);
  // A copy made before destroy is refused too, and so is a second destroy.
  EXPECT_EQ(mproc_lock_acquire(&copy, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_lock_release(&copy), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_lock_destroy(&copy), MPROC_EBADHANDLE);

  // A handle with garbage bytes.
  mproc_event_t junk;
  memset(&junk, 0xab, sizeof junk);
  EXPECT_EQ(mproc_event_set(&junk), MPROC_EBADHANDLE);

  int flag = 0;
  unsigned value = 0;
  mproc_semaphore_t sem;
  EXPECT_EQ(mproc_semaphore_create(nullptr, 1, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_semaphore_create(&sem, 3, 2), MPROC_EINVAL);
  ASSERT_EQ(mproc_semaphore_create(&sem, 1, 0), 0);
  EXPECT_EQ(mproc_semaphore_value(&sem, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_semaphore_destroy(&sem), 0);
  EXPECT_EQ(mproc_semaphore_value(&sem, &value), MPROC_EBADHANDLE);
  mproc_event_t ev;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  EXPECT_EQ(mproc_event_is_set(&ev, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_event_wait(&ev, -2), MPROC_EINVAL);
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
  EXPECT_EQ(mproc_event_is_set(&ev, &flag), MPROC_EBADHANDLE);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- Lock ----------------------------------------------------------------

struct CounterArgs {
  mproc_lock_t lock;
  SharedRef counter; // memory shared with the children
  int rounds;
};

int increment_under_lock(const void *arg, size_t) {
  CounterArgs a;
  memcpy(&a, arg, sizeof a);
  uint64_t *counter = attach<uint64_t>(a.counter);
  if (!counter)
    return 3;
  for (int i = 0; i < a.rounds; i++) {
    if (mproc_lock_acquire(&a.lock, MPROC_INFINITE) != 0)
      return 1;
    // A plain read-modify-write: only the lock keeps it exact.
    volatile uint64_t *c = counter;
    *c = *c + 1;
    if (mproc_lock_release(&a.lock) != 0)
      return 2;
  }
  return 0;
}
MPROC_TARGET(increment_under_lock);

TEST_P(Lock, MutualExclusionAcrossEightProcesses) {
  SharedMem<uint64_t> counter;
  CounterArgs a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  a.counter = counter.ref();
  a.rounds = 100000;
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 8; i++)
    kids.emplace_back(new Child(increment_under_lock, &a, sizeof a));
  for (auto &k : kids)
    EXPECT_EQ(k->finish(120000), 0);
  EXPECT_EQ(*counter.get(), 800000u);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
}

struct LockArgs {
  mproc_lock_t lock;
  mproc_rlock_t rlock;
  mproc_event_t held; // set by a child once it holds what it was told to
  mproc_event_t done; // set by the parent to let the child go on
};

int try_lock_held_elsewhere(const void *arg, size_t) {
  LockArgs a;
  memcpy(&a, arg, sizeof a);
  if (mproc_lock_acquire(&a.lock, 0) != MPROC_ETIMEDOUT)
    return 1;
  if (mproc_lock_acquire(&a.lock, 30) != MPROC_ETIMEDOUT)
    return 2;
  if (mproc_lock_release(&a.lock) != MPROC_ENOTOWNER)
    return 3;
  return 0;
}
MPROC_TARGET(try_lock_held_elsewhere);

TEST_P(Lock, TimeoutsAndReleaseByNonOwner) {
  LockArgs a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  EXPECT_EQ(mproc_lock_release(&a.lock), MPROC_ENOTOWNER); // not held
  ASSERT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
  // Held by this thread: trying again never deadlocks.
  EXPECT_EQ(mproc_lock_acquire(&a.lock, 0), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_lock_acquire(&a.lock, 10), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_lock_acquire(&a.lock, MPROC_INFINITE), MPROC_ESTATE);
  // Another thread of this process may neither take nor release it.
  int thread_try = 1, thread_release = 1;
  std::thread t([&] {
    thread_try = mproc_lock_acquire(&a.lock, 20);
    thread_release = mproc_lock_release(&a.lock);
  });
  t.join();
  EXPECT_EQ(thread_try, MPROC_ETIMEDOUT);
  EXPECT_EQ(thread_release, MPROC_ENOTOWNER);
  // Nor may another process.
  Child c(try_lock_held_elsewhere, &a, sizeof a);
  EXPECT_EQ(c.finish(), 0);
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  EXPECT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
}

int hold_lock_until_killed(const void *arg, size_t) {
  LockArgs a;
  memcpy(&a, arg, sizeof a);
  if (mproc_lock_acquire(&a.lock, MPROC_INFINITE) != 0)
    return 1;
  mproc_event_set(&a.held);
  for (int i = 0; i < 600; i++)
    sleep_ms(100); // not synchronisation: killed long before
  return 0;
}
MPROC_TARGET(hold_lock_until_killed);

TEST_P(Lock, OwnerDeathHandsTheLockOnWithEownerdead) {
  LockArgs a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  ASSERT_EQ(mproc_event_create(&a.held), 0);
  for (int64_t timeout :
       {(int64_t)0, (int64_t)scaled_ms(20000), MPROC_INFINITE}) {
    // The next acquirer comes after the holder died: a try, a timed
    // acquire and an untimed one each get the lock and the news.
    ASSERT_EQ(mproc_event_clear(&a.held), 0);
    Child c(hold_lock_until_killed, &a, sizeof a);
    ASSERT_EQ(mproc_event_wait(&a.held, scaled_ms(20000)), 0);
    EXPECT_EQ(mproc_lock_acquire(&a.lock, 0), MPROC_ETIMEDOUT);
    c.kill();
    EXPECT_EQ(mproc_lock_acquire(&a.lock, timeout), MPROC_EOWNERDEAD)
        << timeout;
    EXPECT_EQ(mproc_lock_release(&a.lock), 0);
    EXPECT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
    EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  }
  {
    // The next acquirer is already waiting when the holder dies.
    ASSERT_EQ(mproc_event_clear(&a.held), 0);
    Child c(hold_lock_until_killed, &a, sizeof a);
    ASSERT_EQ(mproc_event_wait(&a.held, scaled_ms(20000)), 0);
    std::atomic<int> got{1};
    std::atomic<int> released{1};
    std::thread waiter([&] {
      got = mproc_lock_acquire(&a.lock, MPROC_INFINITE);
      released = mproc_lock_release(&a.lock);
    });
    // Not synchronisation: meant to let the waiter sleep in the acquire
    // first, but a waiter that comes after the death passes as well.
    sleep_ms(20);
    c.kill();
    waiter.join();
    EXPECT_EQ(got.load(), MPROC_EOWNERDEAD);
    EXPECT_EQ(released.load(), 0);
    EXPECT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
    EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  }
  EXPECT_EQ(mproc_event_destroy(&a.held), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
}

// Locks a process holds are linked in a list per thread for the system to
// find at its death; taking and letting go in any order must keep that
// list whole.
struct ManyLocksArgs {
  mproc_lock_t locks[8];
  mproc_rlock_t rlock;
  mproc_event_t held;
  mproc_event_t thread_held;
};

// Takes locks 0..5 and the RLock, lets go of 1, 4 and 0 (from the middle,
// the front and the back of what it holds), takes 1 again, has a second
// thread take 7, and then waits to be killed: it dies holding 1, 2, 3, 5,
// 7 and the RLock, not 0, 4 or 6.
int hold_many_until_killed(const void *arg, size_t) {
  ManyLocksArgs a;
  memcpy(&a, arg, sizeof a);
  for (int i = 0; i < 6; i++)
    if (mproc_lock_acquire(&a.locks[i], MPROC_INFINITE) != 0)
      return 1;
  if (mproc_rlock_acquire(&a.rlock, MPROC_INFINITE) != 0 ||
      mproc_rlock_acquire(&a.rlock, MPROC_INFINITE) != 0)
    return 2;
  for (int i : {1, 4, 0})
    if (mproc_lock_release(&a.locks[i]) != 0)
      return 3;
  if (mproc_lock_acquire(&a.locks[1], 0) != 0)
    return 4;
  std::thread t([&a] {
    if (mproc_lock_acquire(&a.locks[7], MPROC_INFINITE) == 0)
      mproc_event_set(&a.thread_held);
    for (int i = 0; i < 600; i++)
      sleep_ms(100); // not synchronisation: killed long before
  });
  if (mproc_event_wait(&a.thread_held, MPROC_INFINITE) != 0)
    return 5;
  mproc_event_set(&a.held);
  t.join();
  return 0;
}
MPROC_TARGET(hold_many_until_killed);

TEST_P(Lock, OwnerDeathIsReportedForEveryLockHeldWhateverTheOrder) {
  ManyLocksArgs a;
  for (auto &l : a.locks)
    ASSERT_EQ(mproc_lock_create(&l), 0);
  ASSERT_EQ(mproc_rlock_create(&a.rlock), 0);
  ASSERT_EQ(mproc_event_create(&a.held), 0);
  ASSERT_EQ(mproc_event_create(&a.thread_held), 0);
  {
    Child c(hold_many_until_killed, &a, sizeof a);
    ASSERT_EQ(mproc_event_wait(&a.held, scaled_ms(20000)), 0);
    c.kill();
  }
  for (int i = 0; i < 8; i++) {
    bool died_holding = i != 0 && i != 4 && i != 6;
    EXPECT_EQ(mproc_lock_acquire(&a.locks[i], scaled_ms(20000)),
              died_holding ? MPROC_EOWNERDEAD : 0)
        << "lock " << i;
    EXPECT_EQ(mproc_lock_release(&a.locks[i]), 0) << "lock " << i;
    EXPECT_EQ(mproc_lock_destroy(&a.locks[i]), 0);
  }
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, scaled_ms(20000)), MPROC_EOWNERDEAD);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), 0);
  EXPECT_EQ(mproc_rlock_destroy(&a.rlock), 0);
  EXPECT_EQ(mproc_event_destroy(&a.held), 0);
  EXPECT_EQ(mproc_event_destroy(&a.thread_held), 0);
}

struct KillLoopArgs {
  mproc_lock_t lock;
  SharedRef mem; // [0] the counter, [1] how often EOWNERDEAD was seen
  int rounds;
};

int increment_counting_deaths(const void *arg, size_t) {
  KillLoopArgs a;
  memcpy(&a, arg, sizeof a);
  uint64_t *mem = attach<uint64_t>(a.mem);
  if (!mem)
    return 3;
  for (int i = 0; i < a.rounds; i++) {
    int rc = mproc_lock_acquire(&a.lock, MPROC_INFINITE);
    if (rc == MPROC_EOWNERDEAD)
      atomic_at(&mem[1]).fetch_add(1);
    else if (rc != 0)
      return 1;
    volatile uint64_t *c = &mem[0];
    *c = *c + 1;
    if (mproc_lock_release(&a.lock) != 0)
      return 2;
  }
  return 0;
}
MPROC_TARGET(increment_counting_deaths);

TEST_P(Lock, SurvivesHoldersKilledAtRandomInstants) {
  SharedMem<uint64_t> mem(2);
  KillLoopArgs a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  a.mem = mem.ref();
  a.rounds = 20000;
  srand(12345);
  for (int round = 0; round < 20; round++) {
    Child victim(increment_counting_deaths, &a, sizeof a);
    Child survivor1(increment_counting_deaths, &a, sizeof a);
    Child survivor2(increment_counting_deaths, &a, sizeof a);
    sleep_us(rand() % 3000); // not synchronisation: the instant of the kill
    victim.kill();
    ASSERT_EQ(survivor1.finish(), 0) << "round " << round;
    ASSERT_EQ(survivor2.finish(), 0) << "round " << round;
  }
  // This process can still take it, whatever the last death left.
  int rc = mproc_lock_acquire(&a.lock, scaled_ms(20000));
  EXPECT_TRUE(rc == 0 || rc == MPROC_EOWNERDEAD) << rc;
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
}

// ---- RLock ---------------------------------------------------------------

int rlock_from_other_process(const void *arg, size_t) {
  LockArgs a;
  memcpy(&a, arg, sizeof a);
  if (mproc_rlock_acquire(&a.rlock, 0) != MPROC_ETIMEDOUT)
    return 1;
  if (mproc_rlock_acquire(&a.rlock, 20) != MPROC_ETIMEDOUT)
    return 2;
  if (mproc_rlock_release(&a.rlock) != MPROC_ENOTOWNER)
    return 3;
  return 0;
}
MPROC_TARGET(rlock_from_other_process);

int hold_rlock_twice_until_killed(const void *arg, size_t) {
  LockArgs a;
  memcpy(&a, arg, sizeof a);
  if (mproc_rlock_acquire(&a.rlock, MPROC_INFINITE) != 0)
    return 1;
  if (mproc_rlock_acquire(&a.rlock, MPROC_INFINITE) != 0)
    return 2;
  mproc_event_set(&a.held);
  for (int i = 0; i < 600; i++)
    sleep_ms(100); // not synchronisation: killed long before
  return 0;
}
MPROC_TARGET(hold_rlock_twice_until_killed);

TEST_P(RLock, RecursionOwnershipAndOwnerDeath) {
  LockArgs a;
  ASSERT_EQ(mproc_rlock_create(&a.rlock), 0);
  ASSERT_EQ(mproc_event_create(&a.held), 0);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), MPROC_ENOTOWNER);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(mproc_rlock_acquire(&a.rlock, 0), 0);
  int other_thread = 1;
  std::thread t([&] { other_thread = mproc_rlock_release(&a.rlock); });
  t.join();
  EXPECT_EQ(other_thread, MPROC_ENOTOWNER);
  {
    Child c(rlock_from_other_process, &a, sizeof a);
    EXPECT_EQ(c.finish(), 0);
  }
  for (int i = 0; i < 3; i++)
    EXPECT_EQ(mproc_rlock_release(&a.rlock), 0);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), MPROC_ENOTOWNER);

  Child c(hold_rlock_twice_until_killed, &a, sizeof a);
  ASSERT_EQ(mproc_event_wait(&a.held, scaled_ms(20000)), 0);
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, 0), MPROC_ETIMEDOUT);
  c.kill();
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, scaled_ms(20000)), MPROC_EOWNERDEAD);
  // Held once now, whatever depth the dead owner had.
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, 0), 0);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), 0);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), 0);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), MPROC_ENOTOWNER);
  EXPECT_EQ(mproc_event_destroy(&a.held), 0);
  EXPECT_EQ(mproc_rlock_destroy(&a.rlock), 0);
}

// ---- Semaphore -----------------------------------------------------------

TEST(Semaphore, CountsBoundsAndTimeouts) {
  mproc_semaphore_t s;
  unsigned v = 99;
  ASSERT_EQ(mproc_semaphore_create(&s, 2, 0), 0);
  EXPECT_EQ(mproc_semaphore_acquire(&s, 0), 0);
  EXPECT_EQ(mproc_semaphore_acquire(&s, 0), 0);
  EXPECT_EQ(mproc_semaphore_acquire(&s, 0), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_semaphore_acquire(&s, 20), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_semaphore_value(&s, &v), 0);
  EXPECT_EQ(v, 0u);
  for (int i = 0; i < 5; i++)
    EXPECT_EQ(mproc_semaphore_release(&s), 0);
  EXPECT_EQ(mproc_semaphore_value(&s, &v), 0);
  EXPECT_EQ(v, 5u);
  EXPECT_EQ(mproc_semaphore_destroy(&s), 0);

  mproc_semaphore_t b;
  ASSERT_EQ(mproc_semaphore_create(&b, 1, 1), 0);
  EXPECT_EQ(mproc_semaphore_release(&b), MPROC_EOVERFLOW);
  EXPECT_EQ(mproc_semaphore_acquire(&b, 0), 0);
  EXPECT_EQ(mproc_semaphore_release(&b), 0);
  EXPECT_EQ(mproc_semaphore_release(&b), MPROC_EOVERFLOW);
  EXPECT_EQ(mproc_semaphore_value(&b, &v), 0);
  EXPECT_EQ(v, 1u);
  EXPECT_EQ(mproc_semaphore_destroy(&b), 0);
}

struct SemArgs {
  mproc_semaphore_t sem;
  SharedRef mem; // [0] how many are inside now, [1] the most ever at once
};

int use_semaphore(const void *arg, size_t) {
  SemArgs a;
  memcpy(&a, arg, sizeof a);
  int *mem = attach<int>(a.mem);
  if (!mem)
    return 3;
  int *inside = &mem[0], *highest = &mem[1];
  for (int i = 0; i < 200; i++) {
    if (mproc_semaphore_acquire(&a.sem, MPROC_INFINITE) != 0)
      return 1;
    int now = atomic_at(inside).fetch_add(1) + 1;
    int hi = atomic_at(highest).load();
    while (now > hi && !atomic_at(highest).compare_exchange_strong(hi, now)) {
    }
    if (i % 16 == 0)
      sleep_us(100); // not synchronisation: held a while, so holders overlap
    atomic_at(inside).fetch_sub(1);
    if (mproc_semaphore_release(&a.sem) != 0)
      return 2;
  }
  return 0;
}
MPROC_TARGET(use_semaphore);

TEST_P(SemaphoreProcs, BoundsConcurrencyAcrossProcesses) {
  SharedMem<int> mem(2);
  SemArgs a;
  ASSERT_EQ(mproc_semaphore_create(&a.sem, 2, 2), 0);
  a.mem = mem.ref();
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 5; i++)
    kids.emplace_back(new Child(use_semaphore, &a, sizeof a));
  for (auto &k : kids)
    EXPECT_EQ(k->finish(), 0);
  EXPECT_GE(mem[1], 1);
  EXPECT_LE(mem[1], 2);
  unsigned v = 0;
  EXPECT_EQ(mproc_semaphore_value(&a.sem, &v), 0);
  EXPECT_EQ(v, 2u);
  EXPECT_EQ(mproc_semaphore_destroy(&a.sem), 0);
}

// ---- Event ---------------------------------------------------------------

struct EventArgs {
  mproc_event_t go;
  mproc_event_t reply;
  mproc_semaphore_t checked; // released once a child saw `go` not set
};

int wait_then_reply(const void *arg, size_t) {
  EventArgs a;
  memcpy(&a, arg, sizeof a);
  if (mproc_event_wait(&a.go, 0) != MPROC_ETIMEDOUT)
    return 1;
  if (mproc_semaphore_release(&a.checked) != 0)
    return 5;
  if (mproc_event_wait(&a.go, MPROC_INFINITE) != 0)
    return 2;
  int set = 0;
  if (mproc_event_is_set(&a.go, &set) != 0 || !set)
    return 3;
  return mproc_event_set(&a.reply) == 0 ? 0 : 4;
}
MPROC_TARGET(wait_then_reply);

TEST_P(Event, SetWakesWaitersInOtherProcesses) {
  EventArgs a;
  ASSERT_EQ(mproc_event_create(&a.go), 0);
  ASSERT_EQ(mproc_event_create(&a.reply), 0);
  ASSERT_EQ(mproc_semaphore_create(&a.checked, 0, 0), 0);
  EXPECT_EQ(mproc_event_wait(&a.reply, 20), MPROC_ETIMEDOUT);
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 3; i++)
    kids.emplace_back(new Child(wait_then_reply, &a, sizeof a));
  // Each saw `go` not set; set now, while they wait or just before they
  // do (an Event stays set: either order passes).
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(mproc_semaphore_acquire(&a.checked, scaled_ms(30000)), 0);
  ASSERT_EQ(mproc_event_set(&a.go), 0);
  for (auto &k : kids)
    EXPECT_EQ(k->finish(), 0);
  EXPECT_EQ(mproc_event_wait(&a.reply, 0), 0);
  int set = 0;
  EXPECT_EQ(mproc_event_clear(&a.go), 0);
  EXPECT_EQ(mproc_event_is_set(&a.go, &set), 0);
  EXPECT_EQ(set, 0);
  EXPECT_EQ(mproc_event_destroy(&a.go), 0);
  EXPECT_EQ(mproc_event_destroy(&a.reply), 0);
  EXPECT_EQ(mproc_semaphore_destroy(&a.checked), 0);
}

// An Event and a Semaphore to sleep on, and the words the sleepers raise
// just before they do.
struct Both {
  mproc_event_t ev;
  mproc_semaphore_t sem;
  SharedRef flags;
};

int event_sleeper(const void *arg, size_t) {
  Both b;
  memcpy(&b, arg, sizeof b);
  uint32_t *flags = attach<uint32_t>(b.flags);
  if (!flags)
    return 2;
  atomic_at(&flags[0]).store(1);
  return mproc_event_wait(&b.ev, 30000) == MPROC_EBADHANDLE ? 0 : 1;
}
MPROC_TARGET(event_sleeper);

int semaphore_sleeper(const void *arg, size_t) {
  Both b;
  memcpy(&b, arg, sizeof b);
  uint32_t *flags = attach<uint32_t>(b.flags);
  if (!flags)
    return 2;
  atomic_at(&flags[1]).store(1);
  return mproc_semaphore_acquire(&b.sem, 30000) == MPROC_EBADHANDLE ? 0 : 1;
}
MPROC_TARGET(semaphore_sleeper);

TEST_P(Event, DestroyWakesSleepersWithBadHandle) {
  SharedMem<uint32_t> flags(2);
  mproc_event_t ev;
  mproc_semaphore_t sem;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  ASSERT_EQ(mproc_semaphore_create(&sem, 0, 0), 0);
  // Sleepers in another process, which keeps its own mapping.
  Both both = {ev, sem, flags.ref()};
  Child c1(event_sleeper, &both, sizeof both);
  Child c2(semaphore_sleeper, &both, sizeof both);
  EXPECT_TRUE(shared_testing::wait_until_asleep(c1.pid(), &flags[0]));
  EXPECT_TRUE(shared_testing::wait_until_asleep(c2.pid(), &flags[1]));
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
  EXPECT_EQ(mproc_semaphore_destroy(&sem), 0);
  EXPECT_EQ(c1.finish(), 0);
  EXPECT_EQ(c2.finish(), 0);
}

// ---- handles in processes that existed before the object ------------------

// Handles the test makes after the child started, and a flag set once they
// are there.
struct LateHandles {
  uint32_t ready;
  mproc_lock_t lock;
  mproc_event_t ev;
};

int attach_late(const void *arg, size_t) {
  SharedRef ref;
  memcpy(&ref, arg, sizeof ref);
  LateHandles *h = attach<LateHandles>(ref);
  if (!h)
    return 7;
  if (!mproc_test::wait_until([h] { return atomic_at(&h->ready).load(); }))
    return 1;
  mproc_lock_t lock = h->lock;
  mproc_event_t ev = h->ev;
  if (mproc_lock_acquire(&lock, 0) != MPROC_ETIMEDOUT)
    return 3; // parent holds it
  if (mproc_event_set(&ev) != 0)
    return 4;
  if (mproc_lock_acquire(&lock, 20000) != 0)
    return 5;
  return mproc_lock_release(&lock) == 0 ? 0 : 6;
}
MPROC_TARGET(attach_late);

TEST(SharedHandles, WorkInAProcessStartedBeforeTheObject) {
  SharedMem<LateHandles> late;
  Child c(attach_late, &late.ref(), sizeof late.ref());
  // Created after the child started: it has no mapping and attaches by name.
  mproc_lock_t lock;
  mproc_event_t ev;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  ASSERT_EQ(mproc_event_create(&ev), 0);
  ASSERT_EQ(mproc_lock_acquire(&lock, 0), 0);
  late[0].lock = lock;
  late[0].ev = ev;
  atomic_at(&late[0].ready).store(1);
  EXPECT_EQ(mproc_event_wait(&ev, scaled_ms(20000)), 0);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(c.finish(), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
}

// ---- handles in a fresh run of the program (what spawn children get) ------

std::string to_hex(const void *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = static_cast<const unsigned char *>(p)[i];
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

bool from_hex(const char *s, void *p, size_t n) {
  if (strlen(s) != 2 * n)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1)
      return false;
    static_cast<unsigned char *>(p)[i] = (unsigned char)v;
  }
  return true;
}

struct ExecArgs {
  mproc_lock_t lock;
  mproc_event_t event;
  mproc_queue_t queue;
};

MPROC_TEST_HELPER(shared_from_exec) {
  ExecArgs a;
  if (argc != 1 || !from_hex(argv[0], &a, sizeof a))
    return 10;
  // This process maps nothing yet: every object is attached by its name.
  if (mproc_lock_acquire(&a.lock, 0) != MPROC_ETIMEDOUT)
    return 11;
  if (mproc_lock_release(&a.lock) != MPROC_ENOTOWNER)
    return 12;
  if (mproc_event_set(&a.event) != 0)
    return 13;
  if (mproc_queue_put(&a.queue, "from exec", 9, 0) != 0)
    return 14;
  return 0;
}

TEST(SharedHandles, WorkInAFreshRunOfTheProgram) {
  ExecArgs a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  ASSERT_EQ(mproc_event_create(&a.event), 0);
  ASSERT_EQ(mproc_queue_create(&a.queue, nullptr), 0);
  ASSERT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
  auto r =
      mproc_test::run_helper("shared_from_exec", {to_hex(&a, sizeof a)}, 20000);
  EXPECT_EQ(r.exit_code(), 0) << r.status << " " << r.err;
  EXPECT_EQ(mproc_event_wait(&a.event, 0), 0);
  char buf[16];
  size_t n = 0;
  ASSERT_EQ(mproc_queue_get_into(&a.queue, buf, sizeof buf, &n, 0), 0);
  EXPECT_EQ(std::string(buf, n), "from exec");
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
  EXPECT_EQ(mproc_event_destroy(&a.event), 0);
  EXPECT_EQ(mproc_queue_destroy(&a.queue), 0);
}

// ---- handles in spawn children --------------------------------------------

struct AllKinds {
  mproc_lock_t lock;
  mproc_rlock_t rlock;
  mproc_semaphore_t sem;
  mproc_event_t event;
  mproc_queue_t queue;
};

int use_every_kind(const void *arg, size_t size) {
  AllKinds a;
  if (size != sizeof a)
    return 10;
  memcpy(&a, arg, sizeof a);
  if (mproc_lock_acquire(&a.lock, 0) != MPROC_ETIMEDOUT)
    return 11; // parent holds it
  if (mproc_rlock_acquire(&a.rlock, 0) != 0)
    return 12;
  if (mproc_rlock_acquire(&a.rlock, 0) != 0)
    return 13;
  if (mproc_semaphore_acquire(&a.sem, 0) != 0)
    return 14;
  if (mproc_queue_put(&a.queue, "spawned", 7, 0) != 0)
    return 15;
  if (mproc_event_set(&a.event) != 0)
    return 16;
  // Holds the RLock (twice) until killed.
  for (int i = 0; i < 600; i++)
    sleep_ms(100); // not synchronisation: killed long before
  return 0;
}
} // namespace
MPROC_TARGET(use_every_kind);
namespace {

TEST(SharedHandles, WorkInSpawnChildrenAndTheirDeathIsSeen) {
  AllKinds a;
  ASSERT_EQ(mproc_lock_create(&a.lock), 0);
  ASSERT_EQ(mproc_rlock_create(&a.rlock), 0);
  ASSERT_EQ(mproc_semaphore_create(&a.sem, 1, 1), 0);
  ASSERT_EQ(mproc_event_create(&a.event), 0);
  ASSERT_EQ(mproc_queue_create(&a.queue, nullptr), 0);
  ASSERT_EQ(mproc_lock_acquire(&a.lock, 0), 0);
  mproc_process_options_t o = {};
  o.start_method = MPROC_START_SPAWN;
  mproc_process_t *p = nullptr;
  ASSERT_EQ(mproc_process_create(&p, use_every_kind, &a, sizeof a, &o), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_event_wait(&a.event, scaled_ms(20000)), 0);
  char buf[16];
  size_t n = 0;
  EXPECT_EQ(
      mproc_queue_get_into(&a.queue, buf, sizeof buf, &n, scaled_ms(20000)), 0);
  EXPECT_EQ(std::string(buf, n), "spawned");
  unsigned v = 9;
  EXPECT_EQ(mproc_semaphore_value(&a.sem, &v), 0);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, 0), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_process_kill(p), 0);
  EXPECT_EQ(mproc_process_join(p, MPROC_INFINITE), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  EXPECT_EQ(mproc_rlock_acquire(&a.rlock, scaled_ms(20000)), MPROC_EOWNERDEAD);
  EXPECT_EQ(mproc_rlock_release(&a.rlock), 0);
  EXPECT_EQ(mproc_lock_release(&a.lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&a.lock), 0);
  EXPECT_EQ(mproc_rlock_destroy(&a.rlock), 0);
  EXPECT_EQ(mproc_semaphore_destroy(&a.sem), 0);
  EXPECT_EQ(mproc_event_destroy(&a.event), 0);
  EXPECT_EQ(mproc_queue_destroy(&a.queue), 0);
}

MPROC_INSTANTIATE_METHODS(Lock);
MPROC_INSTANTIATE_METHODS(RLock);
MPROC_INSTANTIATE_METHODS(SemaphoreProcs);
MPROC_INSTANTIATE_METHODS(Event);

} // namespace
