// SPDX-License-Identifier: MIT
// Barrier across processes, under every start method: indices, the action
// once per round, timeouts, abort, reset, and a participant's death.
#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>

#include <memory>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using shared_testing::Child;
using shared_testing::MethodTest;

namespace {

class BarrierProcs : public MethodTest {};

const int kParties = 4;
const int kRounds = 5;

// counters: [0] rounds the action ran, then seen[round][index].
struct Args {
  mproc_barrier_t barrier;
  mproc_array_t counters; // int64_t, raw: atomics only
  int64_t timeout_ms;
};

int64_t *counters_of(mproc_array_t *a) {
  void *p = nullptr;
  return mproc_array_ptr(a, &p) == 0 ? (int64_t *)p : nullptr;
}

int count_round(const void *arg, size_t size) {
  mproc_array_t a;
  if (size != sizeof a)
    return 1;
  memcpy(&a, arg, sizeof a);
  int64_t *c = counters_of(&a);
  if (!c)
    return 2;
  shared_testing::atomic_at(&c[0]).fetch_add(1);
  return 0;
}
MPROC_TARGET(count_round);

int fail_action(const void *, size_t) { return 3; }
MPROC_TARGET(fail_action);

int never_registered(const void *, size_t) { return 0; }

mproc_array_t make_counters(size_t n) {
  mproc_array_t a;
  mproc_array_options_t raw = {};
  raw.raw = 1;
  EXPECT_EQ(mproc_array_create(&a, sizeof(int64_t), n, &raw), 0);
  return a;
}

// Polls (bounded) until n participants wait.
bool until_waiting(mproc_barrier_t *b, unsigned n) {
  return mproc_test::wait_until([&] {
    unsigned waiting = 0;
    return mproc_barrier_state(b, nullptr, &waiting, nullptr) == 0 &&
           waiting == n;
  });
}

TEST(Barrier, BadInputTimeoutAbortResetInOneProcess) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_barrier_t b;
  mproc_barrier_options_t o = {};
  EXPECT_EQ(mproc_barrier_create(nullptr, 2, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_barrier_create(&b, 0, nullptr), MPROC_EINVAL);
  o.timeout_ms = -1;
  EXPECT_EQ(mproc_barrier_create(&b, 2, &o), MPROC_EINVAL);
  o = {};
  o.action_arg_size = MPROC_BARRIER_ACTION_ARG_MAX + 1;
  char big[MPROC_BARRIER_ACTION_ARG_MAX + 1] = {0};
  o.action_arg = big;
  EXPECT_EQ(mproc_barrier_create(&b, 2, &o), MPROC_EINVAL);
  o = {};
  o.action = never_registered;
  EXPECT_EQ(mproc_barrier_create(&b, 2, &o), MPROC_ENOTREG);

  // One party: every wait is a whole round, and runs the action.
  mproc_array_t c = make_counters(1);
  o = {};
  o.action = count_round;
  o.action_arg = &c;
  o.action_arg_size = sizeof c;
  ASSERT_EQ(mproc_barrier_create(&b, 1, &o), 0);
  unsigned index = 9;
  EXPECT_EQ(mproc_barrier_wait(&b, -5, &index), MPROC_EINVAL);
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(mproc_barrier_wait(&b, 0, &index), 0);
    EXPECT_EQ(index, 0u);
  }
  EXPECT_EQ(counters_of(&c)[0], 3);
  EXPECT_EQ(mproc_barrier_destroy(&b), 0);
  EXPECT_EQ(mproc_barrier_wait(&b, 0, &index), MPROC_EBADHANDLE);

  // A failing action breaks it.
  o = {};
  o.action = fail_action;
  ASSERT_EQ(mproc_barrier_create(&b, 1, &o), 0);
  EXPECT_EQ(mproc_barrier_wait(&b, 0, &index), MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_wait(&b, 0, &index), MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_destroy(&b), 0);

  // Two parties, one here: its timeout (given or the default) breaks it
  // until reset; abort breaks it too.
  o = {};
  o.timeout_ms = 20;
  ASSERT_EQ(mproc_barrier_create(&b, 2, &o), 0);
  unsigned parties = 0, waiting = 9;
  int broken = 9;
  EXPECT_EQ(mproc_barrier_state(&b, &parties, &waiting, &broken), 0);
  EXPECT_EQ(parties, 2u);
  EXPECT_EQ(waiting, 0u);
  EXPECT_EQ(broken, 0);
  EXPECT_EQ(mproc_barrier_wait(&b, 10, &index), MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_state(&b, nullptr, &waiting, &broken), 0);
  EXPECT_EQ(broken, 1);
  EXPECT_EQ(waiting, 0u);
  EXPECT_EQ(mproc_barrier_wait(&b, MPROC_INFINITE, &index), MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_reset(&b), 0);
  EXPECT_EQ(mproc_barrier_wait(&b, MPROC_BARRIER_DEFAULT_TIMEOUT, &index),
            MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_reset(&b), 0);
  EXPECT_EQ(mproc_barrier_abort(&b), 0);
  EXPECT_EQ(mproc_barrier_state(&b, nullptr, nullptr, &broken), 0);
  EXPECT_EQ(broken, 1);
  EXPECT_EQ(mproc_barrier_destroy(&b), 0);
  EXPECT_EQ(mproc_array_destroy(&c), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- across processes -------------------------------------------------------

// kRounds rounds; records its index in seen[round][index] and checks that
// the round's action ran before it was released.
int rounds_of_waits(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  int64_t *c = counters_of(&a.counters);
  if (!c)
    return 1;
  for (int r = 0; r < kRounds; r++) {
    unsigned index = 99;
    int rc = mproc_barrier_wait(&a.barrier, scaled_ms(30000), &index);
    if (rc != 0)
      return 10 - rc;
    if (index >= (unsigned)kParties)
      return 2;
    if (shared_testing::atomic_at(&c[0]).load() < r + 1)
      return 3; // released before its round's action ran
    shared_testing::atomic_at(&c[1 + r * kParties + index]).fetch_add(1);
  }
  return 0;
}
MPROC_TARGET(rounds_of_waits);

TEST_P(BarrierProcs, DistinctIndicesAndTheActionOncePerRound) {
  Args a;
  a.counters = make_counters(1 + kRounds * kParties);
  mproc_barrier_options_t o = {};
  o.action = count_round;
  o.action_arg = &a.counters;
  o.action_arg_size = sizeof a.counters;
  ASSERT_EQ(mproc_barrier_create(&a.barrier, kParties, &o), 0);
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < kParties; i++)
    kids.emplace_back(new Child(rounds_of_waits, &a, sizeof a));
  for (auto &k : kids)
    EXPECT_EQ(k->finish(), 0);
  int64_t *c = counters_of(&a.counters);
  EXPECT_EQ(c[0], kRounds);
  for (int i = 1; i < 1 + kRounds * kParties; i++)
    EXPECT_EQ(c[i], 1) << "round " << (i - 1) / kParties << " index "
                       << (i - 1) % kParties;
  EXPECT_EQ(mproc_barrier_destroy(&a.barrier), 0);
  EXPECT_EQ(mproc_array_destroy(&a.counters), 0);
}

// One wait; exit 0 when it ended with MPROC_EBROKEN.
int wait_expecting_broken(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  int rc = mproc_barrier_wait(&a.barrier, a.timeout_ms, nullptr);
  return rc == MPROC_EBROKEN ? 0 : 10 - rc;
}
MPROC_TARGET(wait_expecting_broken);

TEST_P(BarrierProcs, ATimeoutBreaksItForEveryone) {
  Args a;
  a.counters = make_counters(1);
  a.timeout_ms = scaled_ms(60000);
  ASSERT_EQ(mproc_barrier_create(&a.barrier, 4, nullptr), 0);
  Child c1(wait_expecting_broken, &a, sizeof a);
  Child c2(wait_expecting_broken, &a, sizeof a);
  ASSERT_TRUE(until_waiting(&a.barrier, 2));
  EXPECT_EQ(mproc_barrier_wait(&a.barrier, 30, nullptr), MPROC_EBROKEN);
  EXPECT_EQ(c1.finish(), 0);
  EXPECT_EQ(c2.finish(), 0);
  EXPECT_EQ(mproc_barrier_destroy(&a.barrier), 0);
  EXPECT_EQ(mproc_array_destroy(&a.counters), 0);
}

TEST_P(BarrierProcs, AbortAndResetReleaseWaitersBroken) {
  Args a;
  a.counters = make_counters(1);
  a.timeout_ms = MPROC_INFINITE;
  ASSERT_EQ(mproc_barrier_create(&a.barrier, 3, nullptr), 0);
  {
    Child c1(wait_expecting_broken, &a, sizeof a);
    Child c2(wait_expecting_broken, &a, sizeof a);
    ASSERT_TRUE(until_waiting(&a.barrier, 2));
    EXPECT_EQ(mproc_barrier_abort(&a.barrier), 0);
    EXPECT_EQ(c1.finish(), 0);
    EXPECT_EQ(c2.finish(), 0);
  }
  int broken = 0;
  EXPECT_EQ(mproc_barrier_state(&a.barrier, nullptr, nullptr, &broken), 0);
  EXPECT_EQ(broken, 1);
  EXPECT_EQ(mproc_barrier_reset(&a.barrier), 0);
  {
    // Reset while two wait: they get the broken code, the barrier is not
    // broken afterwards.
    Child c1(wait_expecting_broken, &a, sizeof a);
    Child c2(wait_expecting_broken, &a, sizeof a);
    ASSERT_TRUE(until_waiting(&a.barrier, 2));
    EXPECT_EQ(mproc_barrier_reset(&a.barrier), 0);
    EXPECT_EQ(c1.finish(), 0);
    EXPECT_EQ(c2.finish(), 0);
  }
  EXPECT_EQ(mproc_barrier_state(&a.barrier, nullptr, nullptr, &broken), 0);
  EXPECT_EQ(broken, 0);
  EXPECT_EQ(mproc_barrier_destroy(&a.barrier), 0);
  EXPECT_EQ(mproc_array_destroy(&a.counters), 0);
}

int wait_until_killed(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  mproc_barrier_wait(&a.barrier, MPROC_INFINITE, nullptr);
  for (int i = 0; i < 600; i++)
    mproc_test::sleep_ms(100); // not synchronisation: killed long before
  return 0;
}
MPROC_TARGET(wait_until_killed);

TEST_P(BarrierProcs, AParticipantKilledWhileOthersWaitBreaksIt) {
  Args a;
  a.counters = make_counters(1);
  a.timeout_ms = MPROC_INFINITE; // only the death can end their waits
  ASSERT_EQ(mproc_barrier_create(&a.barrier, 4, nullptr), 0);
  Child victim(wait_until_killed, &a, sizeof a);
  ASSERT_TRUE(until_waiting(&a.barrier, 1));
  Child s1(wait_expecting_broken, &a, sizeof a);
  Child s2(wait_expecting_broken, &a, sizeof a);
  ASSERT_TRUE(until_waiting(&a.barrier, 3));
  victim.kill();
  EXPECT_EQ(s1.finish(20000), 0);
  EXPECT_EQ(s2.finish(20000), 0);
  // Broken for later arrivals too, until reset.
  EXPECT_EQ(mproc_barrier_wait(&a.barrier, MPROC_INFINITE, nullptr),
            MPROC_EBROKEN);
  EXPECT_EQ(mproc_barrier_reset(&a.barrier), 0);
  EXPECT_EQ(mproc_barrier_destroy(&a.barrier), 0);
  EXPECT_EQ(mproc_array_destroy(&a.counters), 0);
}

int wait_until_destroyed(const void *arg, size_t) {
  Args a;
  memcpy(&a, arg, sizeof a);
  int rc = mproc_barrier_wait(&a.barrier, scaled_ms(60000), nullptr);
  return rc == MPROC_EBADHANDLE ? 0 : 10 - rc;
}
MPROC_TARGET(wait_until_destroyed);

TEST_P(BarrierProcs, DestroyWakesWaitersWithBadHandle) {
  Args a;
  a.counters = make_counters(1);
  ASSERT_EQ(mproc_barrier_create(&a.barrier, 2, nullptr), 0);
  Child c(wait_until_destroyed, &a, sizeof a);
  ASSERT_TRUE(until_waiting(&a.barrier, 1));
  EXPECT_EQ(mproc_barrier_destroy(&a.barrier), 0);
  EXPECT_EQ(c.finish(), 0);
  EXPECT_EQ(mproc_array_destroy(&a.counters), 0);
}

MPROC_INSTANTIATE_METHODS(BarrierProcs);

} // namespace
