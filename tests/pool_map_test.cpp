// SPDX-License-Identifier: MIT
// Pool: map, map_async, imap and imap_unordered: order, chunks, failed
// items, slots, and iterators freed early.
// Every TEST_P runs under every start method (pool_testing.h).
#include "pool_testing.h"

#include <string.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace {

using namespace pool_testing;
using mproc_test::scaled_ms;

TEST_P(PoolM, MapKeepsOrderForManySizesAndChunks) {
  Pool pool(2);
  for (size_t n : {0, 1, 7, 100000}) {
    std::vector<int64_t> items(n);
    for (size_t i = 0; i < n; i++)
      items[i] = (int64_t)i - 50;
    for (size_t chunk : {0, 1, 3, 1000}) {
      if (n == 100000 && chunk == 1)
        continue; // covered by the stress test
      std::vector<int64_t> out(n, -1);
      std::vector<int> st(n, -1);
      ASSERT_EQ(mproc_pool_map(pool.p, double_it, items.data(), sizeof(int64_t),
                               n, chunk, out.data(), sizeof(int64_t),
                               st.data()),
                0)
          << n << " " << chunk;
      size_t bad = 0;
      for (size_t i = 0; i < n; i++)
        bad += out[i] != items[i] * 2 || st[i] != 0;
      EXPECT_EQ(bad, 0u) << n << " " << chunk;
    }
  }
}

TEST_P(PoolM, MapReportsFailedItemsAndSmallSlots) {
  Pool pool(2);
  std::vector<int64_t> items(50), out(50);
  std::vector<int> st(50);
  for (int i = 0; i < 50; i++)
    items[i] = i;
  EXPECT_EQ(mproc_pool_map(pool.p, some_fail, items.data(), 8, 50, 4,
                           out.data(), 8, st.data()),
            5);
  for (int i = 0; i < 50; i++) {
    EXPECT_EQ(st[i], i % 10 == 3 ? 5 : 0) << i;
    if (i % 10 != 3) {
      EXPECT_EQ(out[i], i);
    }
  }
  // A 4-byte slot cannot hold an 8-byte result.
  std::vector<int32_t> small(50);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items.data(), 8, 50, 0,
                           small.data(), 4, st.data()),
            MPROC_ERANGE);
  EXPECT_EQ(st[0], MPROC_ERANGE);
  // A shorter result leaves the rest of its slot zeroed.
  std::vector<unsigned char> wide(50 * 16, 0xff);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items.data(), 8, 50, 0,
                           wide.data(), 16, nullptr),
            0);
  int64_t v, tail[1];
  memcpy(&v, &wide[16 * 7], 8);
  memcpy(tail, &wide[16 * 7 + 8], 8);
  EXPECT_EQ(v, 14);
  EXPECT_EQ(tail[0], 0);
}

// ---- map_async: a result handle for a whole map ------------------------

// What a map_async callback saw; a mutex, since it runs on the pool's
// thread.
struct MapCallback {
  std::mutex m;
  int calls = 0, errors = 0, status = -1;
  std::vector<unsigned char> data;
};

void on_map_done(void *user, int status, const void *data, size_t size) {
  MapCallback *c = static_cast<MapCallback *>(user);
  std::lock_guard<std::mutex> g(c->m);
  (status == 0 ? c->calls : c->errors)++;
  c->status = status;
  c->data.assign(static_cast<const unsigned char *>(data),
                 static_cast<const unsigned char *>(data) + size);
}

// Runs map_async and, on the same items, map; both must agree.
void expect_map_async_matches_map(mproc_pool_t *pool, mproc_task_fn fn,
                                  std::vector<int64_t> items, size_t chunk,
                                  size_t slot) {
  size_t n = items.size();
  std::vector<unsigned char> want(n * slot + 1);
  std::vector<int> want_st(n + 1);
  int want_rc = mproc_pool_map(pool, fn, items.data(), 8, n, chunk, want.data(),
                               slot, want_st.data());
  MapCallback cb;
  mproc_apply_options_t o = {on_map_done, on_map_done, &cb, {0}};
  mproc_async_result_t *r = nullptr;
  ASSERT_EQ(
      mproc_pool_map_async(pool, fn, items.data(), 8, n, chunk, slot, &o, &r),
      0);
  // The items were copied: the caller's array may change at once.
  std::fill(items.begin(), items.end(), 0);
  int status = -1;
  const void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_async_result_get(r, scaled_ms(30000), &status, &data, &size),
            0);
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_ready(r, &yes), 0);
    EXPECT_EQ(yes, 1);
  }
  EXPECT_EQ(status, want_rc) << n << " " << chunk;
  {
    int yes = -1;
    EXPECT_EQ(mproc_async_result_successful(r, &yes), 0);
    EXPECT_EQ(yes, want_rc == 0 ? 1 : 0);
  }
  ASSERT_EQ(size, n * slot);
  EXPECT_EQ(memcmp(data, want.data(), size), 0) << n << " " << chunk;
  const int *st = nullptr;
  size_t count = 0;
  ASSERT_EQ(mproc_async_result_statuses(r, &st, &count), 0);
  ASSERT_EQ(count, n);
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(st[i], want_st[i]) << i;
  int code;
  EXPECT_EQ(mproc_async_result_exitcode(r, &code), MPROC_ESTATE);
  {
    // The callback ran once, before the result was ready, with the same
    // status and results.
    std::lock_guard<std::mutex> g(cb.m);
    EXPECT_EQ(cb.calls + cb.errors, 1);
    EXPECT_EQ(want_rc == 0 ? cb.calls : cb.errors, 1);
    EXPECT_EQ(cb.status, want_rc);
    EXPECT_EQ(cb.data, std::vector<unsigned char>(want.begin(),
                                                  want.begin() + n * slot));
  }
  EXPECT_EQ(mproc_async_result_free(r), 0);
}

TEST_P(PoolM, MapAsyncGivesWhatMapGives) {
  Pool pool(2);
  for (size_t n : {0, 1, 7, 5000})
    for (size_t chunk : {0, 1, 64}) {
      std::vector<int64_t> items(n);
      for (size_t i = 0; i < n; i++)
        items[i] = (int64_t)i - 3;
      expect_map_async_matches_map(pool.p, double_it, items, chunk, 8);
      expect_map_async_matches_map(pool.p, some_fail, items, chunk, 8);
      // Slots too small for the results: every item fails with ERANGE.
      expect_map_async_matches_map(pool.p, double_it, items, chunk, 4);
    }
}

TEST_P(PoolM, MapAsyncBesideOtherWorkAndFreedBeforeReady) {
  Pool pool(2);
  std::vector<int64_t> items(2000);
  for (int i = 0; i < 2000; i++)
    items[i] = i;
  std::vector<mproc_async_result_t *> maps(4);
  for (auto &r : maps)
    ASSERT_EQ(mproc_pool_map_async(pool.p, double_it, items.data(), 8,
                                   items.size(), 7, 8, nullptr, &r),
              0);
  // One handle freed at once: its map runs on, and nothing leaks.
  EXPECT_EQ(mproc_async_result_free(maps[3]), 0);
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
  for (int k = 0; k < 3; k++) {
    const void *data = nullptr;
    size_t size = 0;
    ASSERT_EQ(mproc_async_result_get(maps[k], scaled_ms(30000), &status, &data,
                                     &size),
              0);
    EXPECT_EQ(status, 0);
    ASSERT_EQ(size, items.size() * 8);
    const int64_t *out = static_cast<const int64_t *>(data);
    for (int i = 0; i < 2000; i++)
      ASSERT_EQ(out[i], 2 * i);
    mproc_async_result_free(maps[k]);
  }
  // close and join wait for every map, the freed one included.
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  EXPECT_EQ(mproc_pool_join(pool.p, scaled_ms(30000)), 0);
}

TEST_P(PoolM, MapAsyncBadInputAndStates) {
  Pool pool(1);
  int64_t item = 1;
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(mproc_pool_map_async(pool.p, double_it, &item, 8, 1, 0, 8, nullptr,
                                 nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(
      mproc_pool_map_async(pool.p, nullptr, &item, 8, 1, 0, 8, nullptr, &r),
      MPROC_EINVAL);
  EXPECT_EQ(
      mproc_pool_map_async(pool.p, double_it, nullptr, 8, 1, 0, 8, nullptr, &r),
      MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map_async(pool.p, double_it, &item, 8, 1, 0,
                                 (size_t)UINT32_MAX + 1, nullptr, &r),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map_async(pool.p, double_it, &item, 8, SIZE_MAX / 4, 0,
                                 8, nullptr, &r),
            MPROC_EINVAL);
  mproc_apply_options_t bad = {};
  bad.reserved[0] = 1; // reserved words must be zero
  EXPECT_EQ(
      mproc_pool_map_async(pool.p, double_it, &item, 8, 1, 0, 8, &bad, &r),
      MPROC_EINVAL);
  EXPECT_EQ(r, nullptr);
  // An apply's result has no per-item statuses; a map's only once ready.
  const int *st = nullptr;
  ASSERT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, &r), 0);
  EXPECT_EQ(mproc_async_result_wait(r, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_async_result_statuses(r, &st, nullptr), MPROC_ESTATE);
  EXPECT_EQ(mproc_async_result_statuses(nullptr, &st, nullptr), MPROC_EINVAL);
  mproc_async_result_free(r);
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  EXPECT_EQ(
      mproc_pool_map_async(pool.p, double_it, &item, 8, 1, 0, 8, nullptr, &r),
      MPROC_ESTATE);
  EXPECT_EQ(r, nullptr);
}

TEST_P(PoolM, ImapOrderedAndUnordered) {
  HeldGate gate(400);
  Pool pool(3);
  const size_t n = 200;
  std::vector<int> ms(n);
  for (size_t i = 0; i < n; i++)
    ms[i] = (int)((i * 37) % 5); // uneven durations, to reorder results
  mproc_imap_t *it;
  ASSERT_EQ(mproc_pool_imap(pool.p, sleep_then_echo, ms.data(), sizeof(int), n,
                            2, &it),
            0);
  for (size_t i = 0; i < n; i++) {
    size_t index = 99999;
    int status = -1;
    const void *data;
    size_t size;
    ASSERT_EQ(
        mproc_imap_next(it, scaled_ms(30000), &index, &status, &data, &size),
        0);
    EXPECT_EQ(index, i);
    EXPECT_EQ(status, 0);
    ASSERT_EQ(size, sizeof(int));
    EXPECT_EQ(memcmp(data, &ms[i], sizeof(int)), 0);
  }
  EXPECT_EQ(mproc_imap_next(it, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EEMPTY);
  EXPECT_EQ(mproc_imap_free(it), 0);

  ASSERT_EQ(mproc_pool_imap_unordered(pool.p, sleep_then_echo, ms.data(),
                                      sizeof(int), n, 1, &it),
            0);
  std::set<size_t> seen;
  for (size_t i = 0; i < n; i++) {
    size_t index;
    int status;
    ASSERT_EQ(mproc_imap_next(it, scaled_ms(30000), &index, &status, nullptr,
                              nullptr),
              0);
    EXPECT_EQ(status, 0);
    seen.insert(index);
  }
  EXPECT_EQ(seen.size(), n);
  EXPECT_EQ(mproc_imap_next(it, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EEMPTY);
  EXPECT_EQ(mproc_imap_free(it), 0);

  // A timeout on next while the item is still running (it waits for the
  // gate).
  ASSERT_EQ(mproc_pool_imap(pool.p, echo_when_open, gate.get(), sizeof(GateArg),
                            1, 0, &it),
            0);
  EXPECT_EQ(mproc_imap_next(it, 20, nullptr, nullptr, nullptr, nullptr),
            MPROC_ETIMEDOUT);
  // Freed before it is done: the pool finishes the item and frees it.
  EXPECT_EQ(mproc_imap_free(it), 0);
  gate.open();
  // An empty iterator is exhausted at once.
  ASSERT_EQ(mproc_pool_imap(pool.p, echo, nullptr, 0, 0, 0, &it), 0);
  EXPECT_EQ(mproc_imap_next(it, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EEMPTY);
  EXPECT_EQ(mproc_imap_free(it), 0);
}

// Jobs queued together go to the idle workers breadth first: ten items
// at chunksize 1 on two workers go five and five (not eight and two,
// which leaves one worker idle while the other still has three to run).
TEST_P(PoolM, QueuedJobsAreSpreadOverTheWorkers) {
  Pool pool(2);
  std::vector<int64_t> pids(10, 0);
  ASSERT_EQ(mproc_pool_map(pool.p, my_pid, nullptr, 0, pids.size(), 1,
                           pids.data(), sizeof(int64_t), nullptr),
            0);
  std::map<int64_t, int> per_worker;
  for (int64_t pid : pids)
    per_worker[pid]++;
  ASSERT_EQ(per_worker.size(), 2u);
  for (const auto &w : per_worker)
    EXPECT_EQ(w.second, 5) << "worker " << w.first;
}

} // namespace
