// SPDX-License-Identifier: MIT
// The ABI of mproc.h: the size and every field offset of each public
// struct are pinned, so a change that would break callers compiled against
// an older header fails here first. A field added later takes words from
// `reserved`, leaving every size and offset below as it is. The values are
// those of 64-bit Linux (LP64) and of 64-bit Windows built with MinGW-w64
// (LLP64), side by side; CMake builds this test for 64-bit targets only.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "mproc.h"
#include "mproc_mpi.h"

namespace {

struct Layout {
  std::string what;
  size_t actual;
  size_t expected;
};

// Each figure twice: on 64-bit Linux (LP64), then on 64-bit Windows
// built with MinGW-w64 (LLP64). Windows's long is 32 bits, but no public
// struct has a long, so the two agree field for field today.
#if defined(_WIN64)
#define EXPECTED(lp64, llp64) (llp64)
#else
#define EXPECTED(lp64, llp64) (lp64)
#endif
#define SIZE(T, lp64, llp64)                                                   \
  { "sizeof(" #T ")", sizeof(T), EXPECTED(lp64, llp64) }
#define AT(T, f, lp64, llp64)                                                  \
  { "offsetof(" #T ", " #f ")", offsetof(T, f), EXPECTED(lp64, llp64) }

std::vector<Layout> layouts() {
  // clang-format off
  return {
      SIZE(mproc_process_options_t, 80, 80),
      AT(mproc_process_options_t, name, 0, 0),
      AT(mproc_process_options_t, daemon, 8, 8),
      AT(mproc_process_options_t, start_method, 12, 12),
      AT(mproc_process_options_t, reserved, 16, 16),
      SIZE(mproc_target_entry_t, 24, 24),
      AT(mproc_target_entry_t, name, 0, 0),
      AT(mproc_target_entry_t, fn, 8, 8),
      AT(mproc_target_entry_t, next, 16, 16),
      SIZE(mproc_task_entry_t, 24, 24),
      AT(mproc_task_entry_t, name, 0, 0),
      AT(mproc_task_entry_t, fn, 8, 8),
      AT(mproc_task_entry_t, next, 16, 16),
      SIZE(mproc_proc_info_t, 536, 536),
      AT(mproc_proc_info_t, valid, 0, 0),
      AT(mproc_proc_info_t, pid, 8, 8),
      AT(mproc_proc_info_t, ppid, 16, 16),
      AT(mproc_proc_info_t, name, 24, 24),
      AT(mproc_proc_info_t, state, 280, 280),
      AT(mproc_proc_info_t, state_code, 284, 284),
      AT(mproc_proc_info_t, start_time_ms, 288, 288),
      AT(mproc_proc_info_t, rss_bytes, 296, 296),
      AT(mproc_proc_info_t, user_time_us, 304, 304),
      AT(mproc_proc_info_t, system_time_us, 312, 312),
      AT(mproc_proc_info_t, num_threads, 320, 320),
      AT(mproc_proc_info_t, argc, 328, 328),
      AT(mproc_proc_info_t, argv, 336, 336),
      AT(mproc_proc_info_t, user, 344, 344),
      AT(mproc_proc_info_t, reserved, 472, 472),
      SIZE(mproc_queue_options_t, 88, 88),
      AT(mproc_queue_options_t, maxsize, 0, 0),
      AT(mproc_queue_options_t, capacity, 8, 8),
      AT(mproc_queue_options_t, joinable, 16, 16),
      AT(mproc_queue_options_t, reserved, 24, 24),
      SIZE(mproc_pool_options_t, 120, 120),
      AT(mproc_pool_options_t, processes, 0, 0),
      AT(mproc_pool_options_t, initializer, 8, 8),
      AT(mproc_pool_options_t, initargs, 16, 16),
      AT(mproc_pool_options_t, initargs_size, 24, 24),
      AT(mproc_pool_options_t, maxtasksperchild, 32, 32),
      AT(mproc_pool_options_t, start_method, 40, 40),
      AT(mproc_pool_options_t, task_timeout_ms, 48, 48),
      AT(mproc_pool_options_t, reserved, 56, 56),
      SIZE(mproc_apply_options_t, 88, 88),
      AT(mproc_apply_options_t, callback, 0, 0),
      AT(mproc_apply_options_t, error_callback, 8, 8),
      AT(mproc_apply_options_t, user, 16, 16),
      AT(mproc_apply_options_t, reserved, 24, 24),
      SIZE(mproc_array_options_t, 80, 80),
      AT(mproc_array_options_t, raw, 0, 0),
      AT(mproc_array_options_t, lock, 8, 8),
      AT(mproc_array_options_t, reserved, 16, 16),
      SIZE(mproc_condition_options_t, 80, 80),
      AT(mproc_condition_options_t, lock, 0, 0),
      AT(mproc_condition_options_t, rlock, 8, 8),
      AT(mproc_condition_options_t, reserved, 16, 16),
      SIZE(mproc_barrier_options_t, 96, 96),
      AT(mproc_barrier_options_t, action, 0, 0),
      AT(mproc_barrier_options_t, action_arg, 8, 8),
      AT(mproc_barrier_options_t, action_arg_size, 16, 16),
      AT(mproc_barrier_options_t, timeout_ms, 24, 24),
      AT(mproc_barrier_options_t, reserved, 32, 32),
      SIZE(mproc_shm_options_t, 72, 72),
      AT(mproc_shm_options_t, mode, 0, 0),
      AT(mproc_shm_options_t, persistent, 4, 4),
      AT(mproc_shm_options_t, reserved, 8, 8),
      SIZE(mproc_pipe_options_t, 80, 80),
      AT(mproc_pipe_options_t, one_way, 0, 0),
      AT(mproc_pipe_options_t, capacity, 8, 8),
      AT(mproc_pipe_options_t, reserved, 16, 16),
      // An element of mproc_wait()'s array, not an options struct: it
      // has no reserved words (see docs/api-conventions.md).
      SIZE(mproc_wait_item_t, 40, 40),
      AT(mproc_wait_item_t, kind, 0, 0),
      AT(mproc_wait_item_t, connection, 8, 8),
      AT(mproc_wait_item_t, process, 16, 16),
      AT(mproc_wait_item_t, queue, 24, 24),
      AT(mproc_wait_item_t, ready, 32, 32),
      // mproc_mpi.h: the header is the same on every platform, whether
      // or not libmproc_mpi is built.
      SIZE(mproc_mpi_options_t, 104, 104),
      AT(mproc_mpi_options_t, workers, 0, 0),
      AT(mproc_mpi_options_t, layout, 4, 4),
      AT(mproc_mpi_options_t, local_processes, 8, 8),
      AT(mproc_mpi_options_t, hosts, 16, 16),
      AT(mproc_mpi_options_t, hostfile, 24, 24),
      AT(mproc_mpi_options_t, command, 32, 32),
      AT(mproc_mpi_options_t, reserved, 40, 40),
      SIZE(mproc_mpi_worker_info_t, 144, 144),
      AT(mproc_mpi_worker_info_t, rank, 0, 0),
      AT(mproc_mpi_worker_info_t, slot, 4, 4),
      AT(mproc_mpi_worker_info_t, pid, 8, 8),
      AT(mproc_mpi_worker_info_t, host, 16, 16),
      AT(mproc_mpi_worker_info_t, reserved, 80, 80),
      // The value handles: 64 bytes everywhere, copied whole.
      SIZE(mproc_array_t, 64, 64),
      SIZE(mproc_condition_t, 64, 64),
      SIZE(mproc_lock_t, 64, 64),
      SIZE(mproc_rlock_t, 64, 64),
      SIZE(mproc_semaphore_t, 64, 64),
      SIZE(mproc_event_t, 64, 64),
      SIZE(mproc_queue_t, 64, 64),
      SIZE(mproc_barrier_t, 64, 64),
      SIZE(mproc_connection_t, 72, 72),
  };
  // clang-format on
}

TEST(Abi, StructLayoutsArePinned) {
  for (const Layout &l : layouts())
    EXPECT_EQ(l.actual, l.expected) << l.what;
}

TEST(Abi, EveryOptionsStructKeepsItsReservedWords) {
  EXPECT_EQ(MPROC_RESERVED_WORDS, 8);
  EXPECT_EQ(sizeof(mproc_process_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_queue_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_pool_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_apply_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_proc_info_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_array_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_condition_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_barrier_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_shm_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_pipe_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_mpi_options_t{}.reserved), 64u);
  EXPECT_EQ(sizeof(mproc_mpi_worker_info_t{}.reserved), 64u);
}

TEST(Abi, VersionHexMatchesTheHeaderAndTheLibrary) {
  EXPECT_EQ(MPROC_VERSION_HEX, (MPROC_VERSION_MAJOR << 16) |
                                   (MPROC_VERSION_MINOR << 8) |
                                   MPROC_VERSION_PATCH);
  EXPECT_EQ(mproc_version_hex(), (unsigned)MPROC_VERSION_HEX);
  char text[32];
  snprintf(text, sizeof text, "%u.%u.%u", mproc_version_hex() >> 16,
           (mproc_version_hex() >> 8) & 0xff, mproc_version_hex() & 0xff);
  EXPECT_STREQ(mproc_version(), text);
}

int ignored_target(const void *, size_t) { return 0; }
int ignored_task(const void *, size_t, mproc_buf_t *) { return 0; }
MPROC_TASK(ignored_task);

TEST(Abi, NonZeroReservedWordIsRefused) {
  for (int word = 0; word < MPROC_RESERVED_WORDS; word++) {
    mproc_process_options_t po;
    memset(&po, 0, sizeof po);
    po.reserved[word] = 1;
    mproc_process_t *p = nullptr;
    EXPECT_EQ(mproc_process_create(&p, ignored_target, nullptr, 0, &po),
              MPROC_EINVAL)
        << word;
    EXPECT_EQ(p, nullptr);

    mproc_queue_options_t qo;
    memset(&qo, 0, sizeof qo);
    qo.reserved[word] = (uint64_t)1 << 63;
    mproc_queue_t q;
    EXPECT_EQ(mproc_queue_create(&q, &qo), MPROC_EINVAL) << word;

    mproc_array_options_t ao;
    memset(&ao, 0, sizeof ao);
    ao.reserved[word] = 2;
    mproc_array_t a;
    EXPECT_EQ(mproc_array_create(&a, 8, 4, &ao), MPROC_EINVAL) << word;

    mproc_condition_options_t co;
    memset(&co, 0, sizeof co);
    co.reserved[word] = 3;
    mproc_condition_t c;
    EXPECT_EQ(mproc_condition_create(&c, &co), MPROC_EINVAL) << word;

    mproc_pool_options_t plo;
    memset(&plo, 0, sizeof plo);
    plo.reserved[word] = 4;
    mproc_pool_t *pool = nullptr;
    EXPECT_EQ(mproc_pool_create(&pool, &plo), MPROC_EINVAL) << word;
    EXPECT_EQ(pool, nullptr);

    mproc_barrier_options_t bo;
    memset(&bo, 0, sizeof bo);
    bo.reserved[word] = 5;
    mproc_barrier_t b;
    EXPECT_EQ(mproc_barrier_create(&b, 2, &bo), MPROC_EINVAL) << word;

    mproc_shm_options_t so;
    memset(&so, 0, sizeof so);
    so.reserved[word] = 6;
    mproc_shm_t *shm = nullptr;
    EXPECT_EQ(mproc_shm_create(&shm, nullptr, 64, &so), MPROC_EINVAL) << word;
    EXPECT_EQ(shm, nullptr);

    mproc_pipe_options_t pio;
    memset(&pio, 0, sizeof pio);
    pio.reserved[word] = 7;
    mproc_connection_t e0, e1;
    EXPECT_EQ(mproc_pipe(&e0, &e1, &pio), MPROC_EINVAL) << word;
  }
  // All zero is the default, and accepted.
  mproc_process_options_t po = {};
  mproc_process_t *p = nullptr;
  ASSERT_EQ(mproc_process_create(&p, ignored_target, nullptr, 0, &po), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  mproc_queue_options_t qo = {};
  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, &qo), 0);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);
  mproc_array_options_t ao = {};
  mproc_array_t a;
  ASSERT_EQ(mproc_array_create(&a, 8, 4, &ao), 0);
  EXPECT_EQ(mproc_array_destroy(&a), 0);
  mproc_condition_options_t co = {};
  mproc_condition_t c;
  ASSERT_EQ(mproc_condition_create(&c, &co), 0);
  EXPECT_EQ(mproc_condition_destroy(&c), 0);
  mproc_barrier_options_t bo = {};
  mproc_barrier_t b;
  ASSERT_EQ(mproc_barrier_create(&b, 2, &bo), 0);
  EXPECT_EQ(mproc_barrier_destroy(&b), 0);
  mproc_shm_options_t so = {};
  mproc_shm_t *shm = nullptr;
  ASSERT_EQ(mproc_shm_create(&shm, nullptr, 64, &so), 0);
  EXPECT_EQ(mproc_shm_unlink(shm), 0);
  EXPECT_EQ(mproc_shm_close(shm), 0);
  mproc_pipe_options_t pio = {};
  mproc_connection_t e0, e1;
  ASSERT_EQ(mproc_pipe(&e0, &e1, &pio), 0);
  EXPECT_EQ(mproc_connection_close(&e0), 0);
  EXPECT_EQ(mproc_connection_close(&e1), 0);

  // apply_async's options, on a pool of one worker: refused before
  // anything is queued.
  mproc_pool_options_t plo = {};
  plo.processes = 1;
  mproc_pool_t *pool = nullptr;
  ASSERT_EQ(mproc_pool_create(&pool, &plo), 0);
  mproc_apply_options_t ao2 = {};
  ao2.reserved[MPROC_RESERVED_WORDS - 1] = 1;
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(mproc_pool_apply_async(pool, ignored_task, nullptr, 0, &ao2, &r),
            MPROC_EINVAL);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(mproc_pool_free(pool), 0);
}

int answer_task(const void *, size_t, mproc_buf_t *out) {
  return mproc_buf_set(out, "answer", 6);
}
MPROC_TASK(answer_task);

// One call frees every plain buffer the library returns, whichever call
// returned it; the names used before it are still there, as aliases.
TEST(Abi, EveryReturnedBufferIsFreedWithMprocFree) {
  mproc_free(nullptr);
  void *data = nullptr;
  size_t size = 0;

  mproc_queue_t q;
  ASSERT_EQ(mproc_queue_create(&q, nullptr), 0);
  ASSERT_EQ(mproc_queue_put(&q, "queued", 6, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_queue_get(&q, &data, &size, MPROC_INFINITE), 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "queued");
  mproc_free(data);
  EXPECT_EQ(mproc_queue_destroy(&q), 0);

  mproc_connection_t e0, e1;
  ASSERT_EQ(mproc_pipe(&e0, &e1, nullptr), 0);
  ASSERT_EQ(mproc_connection_send(&e1, "sent", 4, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_connection_recv(&e0, &data, &size, MPROC_INFINITE), 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "sent");
  mproc_free(data);
  EXPECT_EQ(mproc_connection_close(&e0), 0);
  EXPECT_EQ(mproc_connection_close(&e1), 0);

  mproc_pool_options_t po = {};
  po.processes = 1;
  mproc_pool_t *pool = nullptr;
  ASSERT_EQ(mproc_pool_create(&pool, &po), 0);
  int status = -1;
  ASSERT_EQ(
      mproc_pool_apply(pool, answer_task, nullptr, 0, &status, &data, &size),
      0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "answer");
  mproc_free(data);

  // The deprecated names free as mproc_free() does.
  ASSERT_EQ(
      mproc_pool_apply(pool, answer_task, nullptr, 0, &status, &data, &size),
      0);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  mproc_pool_result_free(data);
  mproc_queue_free_message(nullptr);
  mproc_connection_free_message(nullptr);
#pragma GCC diagnostic pop
  EXPECT_EQ(mproc_pool_free(pool), 0);
}

} // namespace
