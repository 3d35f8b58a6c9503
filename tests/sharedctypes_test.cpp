// SPDX-License-Identifier: MIT
// Value and Array (Python's sharedctypes) across processes, under every
// start method, and in Pool workers started before the array.
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

class ArrayProcs : public MethodTest {};

TEST(ArrayBadInput, SizesHandlesAndRawArrays) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_array_t a;
  mproc_rlock_t lock;
  void *p = nullptr;
  size_t elem = 0, count = 0;
  EXPECT_EQ(mproc_array_create(nullptr, 4, 4, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_array_create(&a, 0, 4, nullptr), MPROC_EINVAL);
  // elem_size × count past the address space; then more than the system
  // holds (a pebibyte).
  EXPECT_EQ(mproc_array_create(&a, SIZE_MAX / 2, 3, nullptr), MPROC_EOVERFLOW);
  EXPECT_EQ(mproc_array_create(&a, 1, SIZE_MAX, nullptr), MPROC_EOVERFLOW);
  EXPECT_EQ(mproc_array_create(&a, (size_t)1 << 40, 1024, nullptr),
            MPROC_ENOMEM);
  mproc_array_options_t both = {};
  both.raw = 1;
  both.lock = &lock;
  EXPECT_EQ(mproc_array_create(&a, 4, 4, &both), MPROC_EINVAL);
  mproc_rlock_t junk;
  memset(&junk, 0x5a, sizeof junk);
  mproc_array_options_t bad_lock = {};
  bad_lock.lock = &junk;
  EXPECT_EQ(mproc_array_create(&a, 4, 4, &bad_lock), MPROC_EBADHANDLE);

  // A raw array has no lock.
  mproc_array_options_t raw = {};
  raw.raw = 1;
  ASSERT_EQ(mproc_array_create(&a, 8, 0, &raw), 0);
  EXPECT_EQ(mproc_array_get_lock(&a, &lock), MPROC_ESTATE);
  EXPECT_EQ(mproc_array_acquire(&a, 0), MPROC_ESTATE);
  EXPECT_EQ(mproc_array_release(&a), MPROC_ESTATE);
  EXPECT_EQ(mproc_array_ptr(&a, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_array_ptr(&a, &p), 0);
  EXPECT_EQ(mproc_array_length(&a, &elem, &count), 0);
  EXPECT_EQ(elem, 8u);
  EXPECT_EQ(count, 0u);
  mproc_array_t copy = a;
  EXPECT_EQ(mproc_array_destroy(&a), 0);
  EXPECT_EQ(mproc_array_ptr(&copy, &p), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_array_destroy(&copy), MPROC_EBADHANDLE);
  // Another kind's handle is refused.
  mproc_event_t ev;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  mproc_array_t as_array;
  memcpy(&as_array, &ev, sizeof ev);
  EXPECT_EQ(mproc_array_ptr(&as_array, &p), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

TEST(Array, ZeroFilledLargeAndWithAGivenLock) {
  const auto segments_before = shared_testing::mproc_segments(mproc_getpid());
  mproc_array_t a;
  const size_t n = (size_t)16 << 20; // 128 MiB of uint64_t
  ASSERT_EQ(mproc_array_create(&a, sizeof(uint64_t), n, nullptr), 0);
  uint64_t *p = nullptr;
  ASSERT_EQ(mproc_array_ptr(&a, (void **)&p), 0);
  EXPECT_EQ((uintptr_t)p % 64, 0u);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i += 4096)
    sum += p[i];
  EXPECT_EQ(sum, 0u);
  p[n - 1] = 7;
  EXPECT_EQ(mproc_array_destroy(&a), 0);

  // Guarded by an RLock of the program's, which outlives the value.
  mproc_rlock_t lock;
  ASSERT_EQ(mproc_rlock_create(&lock), 0);
  mproc_array_options_t o = {};
  o.lock = &lock;
  mproc_value_t v;
  ASSERT_EQ(mproc_value_create(&v, sizeof(int), &o), 0);
  mproc_rlock_t got;
  ASSERT_EQ(mproc_array_get_lock(&v, &got), 0);
  EXPECT_EQ(memcmp(&got, &lock, sizeof lock), 0);
  EXPECT_EQ(mproc_array_acquire(&v, 0), 0);
  EXPECT_EQ(mproc_rlock_release(&lock), 0); // the same lock
  EXPECT_EQ(mproc_array_release(&v), MPROC_ENOTOWNER);
  EXPECT_EQ(mproc_array_destroy(&v), 0);
  EXPECT_EQ(mproc_rlock_acquire(&lock, 0), 0);
  EXPECT_EQ(mproc_rlock_release(&lock), 0);
  EXPECT_EQ(mproc_rlock_destroy(&lock), 0);
  EXPECT_EQ(shared_testing::mproc_segments(mproc_getpid()), segments_before);
}

// ---- across processes -------------------------------------------------------

struct FillArgs {
  mproc_array_t array;
  uint32_t seed;
};

// Checks the parent's pattern, then writes its own.
int check_then_fill(const void *arg, size_t) {
  FillArgs a;
  memcpy(&a, arg, sizeof a);
  uint32_t *p = nullptr;
  size_t elem = 0, count = 0;
  if (mproc_array_ptr(&a.array, (void **)&p) != 0)
    return 1;
  if (mproc_array_length(&a.array, &elem, &count) != 0 || elem != 4)
    return 2;
  for (size_t i = 0; i < count; i++)
    if (p[i] != (uint32_t)(shared_testing::mix(a.seed + i)))
      return 3;
  for (size_t i = 0; i < count; i++)
    p[i] = (uint32_t)shared_testing::mix(a.seed + 1000000 + i);
  return 0;
}
MPROC_TARGET(check_then_fill);

TEST_P(ArrayProcs, ElementsAreSharedBothWays) {
  FillArgs a;
  const size_t n = 100000;
  ASSERT_EQ(mproc_array_create(&a.array, sizeof(uint32_t), n, nullptr), 0);
  a.seed = 99;
  uint32_t *p = nullptr;
  ASSERT_EQ(mproc_array_ptr(&a.array, (void **)&p), 0);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint32_t)shared_testing::mix(a.seed + i);
  Child c(check_then_fill, &a, sizeof a);
  ASSERT_EQ(c.finish(), 0);
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(p[i], (uint32_t)shared_testing::mix(a.seed + 1000000 + i)) << i;
  EXPECT_EQ(mproc_array_destroy(&a.array), 0);
}

struct IncrementArgs {
  mproc_value_t value;
  int rounds;
};

int increment_value_locked(const void *arg, size_t) {
  IncrementArgs a;
  memcpy(&a, arg, sizeof a);
  uint64_t *p = nullptr;
  if (mproc_array_ptr(&a.value, (void **)&p) != 0)
    return 1;
  volatile uint64_t *v = p;
  for (int i = 0; i < a.rounds; i++) {
    if (mproc_array_acquire(&a.value, MPROC_INFINITE) != 0)
      return 2;
    *v = *v + 1; // a plain read-modify-write: only the lock keeps it exact
    if (mproc_array_release(&a.value) != 0)
      return 3;
  }
  return 0;
}
MPROC_TARGET(increment_value_locked);

TEST_P(ArrayProcs, LockedIncrementsAreExact) {
  IncrementArgs a;
  ASSERT_EQ(mproc_value_create(&a.value, sizeof(uint64_t), nullptr), 0);
  a.rounds = 100000;
  std::vector<std::unique_ptr<Child>> kids;
  for (int i = 0; i < 4; i++)
    kids.emplace_back(new Child(increment_value_locked, &a, sizeof a));
  for (auto &k : kids)
    EXPECT_EQ(k->finish(120000), 0);
  uint64_t *p = nullptr;
  ASSERT_EQ(mproc_array_ptr(&a.value, (void **)&p), 0);
  EXPECT_EQ(*p, 400000u);
  EXPECT_EQ(mproc_array_destroy(&a.value), 0);
}

// ---- Pool workers started before the array ----------------------------------

int add_to_value(const void *arg, size_t, mproc_buf_t *out) {
  mproc_value_t v;
  memcpy(&v, arg, sizeof v);
  int64_t *p = nullptr;
  int rc = mproc_array_ptr(&v, (void **)&p);
  if (rc != 0)
    return 1;
  rc = mproc_array_acquire(&v, MPROC_INFINITE);
  if (rc != 0)
    return 2;
  *p += 1;
  int64_t seen = *p;
  mproc_array_release(&v);
  return mproc_buf_set(out, &seen, sizeof seen) == 0 ? 0 : 3;
}
MPROC_TASK(add_to_value);

TEST_P(ArrayProcs, WorksInPoolWorkersStartedBeforeIt) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.start_method = GetParam();
  mproc_pool_t *pool = nullptr;
  ASSERT_EQ(mproc_pool_create(&pool, &o), 0);
  // Made after the workers started: they attach it by name.
  mproc_value_t v;
  ASSERT_EQ(mproc_value_create(&v, sizeof(int64_t), nullptr), 0);
  for (int i = 0; i < 20; i++) {
    int status = -1;
    ASSERT_EQ(mproc_pool_apply(pool, add_to_value, &v, sizeof v, &status,
                               nullptr, nullptr),
              0);
    EXPECT_EQ(status, 0);
  }
  int64_t *p = nullptr;
  ASSERT_EQ(mproc_array_ptr(&v, (void **)&p), 0);
  EXPECT_EQ(*p, 20);
  EXPECT_EQ(mproc_pool_close(pool), 0);
  EXPECT_EQ(mproc_pool_join(pool, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_pool_free(pool), 0);
  EXPECT_EQ(mproc_array_destroy(&v), 0);
}

MPROC_INSTANTIATE_METHODS(ArrayProcs);

} // namespace
