// SPDX-License-Identifier: MIT
// The ABI of mproc.h: the size and every field offset of each public
// struct are pinned, so a change that would break callers compiled against
// an older header fails here first. A field added later takes words from
// `reserved`, leaving every size and offset below as it is. The values are
// those of 64-bit Linux (LP64) and of 64-bit Windows built with MinGW-w64
// (LLP64); CMake builds this test for 64-bit targets only.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "mproc.h"

namespace {

struct Layout {
  std::string what;
  size_t actual;
  size_t expected;
};

#define SIZE(T, n)                                                             \
  { "sizeof(" #T ")", sizeof(T), n }
#define AT(T, f, n)                                                            \
  { "offsetof(" #T ", " #f ")", offsetof(T, f), n }

std::vector<Layout> layouts() {
  // clang-format off
  return {
#if defined(_WIN64)
      // 64-bit Windows (MinGW-w64): long is 32 bits, but no public struct
      // has a long, so the figures match LP64's field for field.
      SIZE(mproc_process_options_t, 80),
      AT(mproc_process_options_t, name, 0),
      AT(mproc_process_options_t, daemon, 8),
      AT(mproc_process_options_t, start_method, 12),
      AT(mproc_process_options_t, reserved, 16),
      SIZE(mproc_target_entry_t, 24),
      AT(mproc_target_entry_t, name, 0),
      AT(mproc_target_entry_t, fn, 8),
      AT(mproc_target_entry_t, next, 16),
      SIZE(mproc_task_entry_t, 24),
      AT(mproc_task_entry_t, name, 0),
      AT(mproc_task_entry_t, fn, 8),
      AT(mproc_task_entry_t, next, 16),
      SIZE(mproc_proc_info_t, 536),
      AT(mproc_proc_info_t, valid, 0),
      AT(mproc_proc_info_t, pid, 8),
      AT(mproc_proc_info_t, ppid, 16),
      AT(mproc_proc_info_t, name, 24),
      AT(mproc_proc_info_t, state, 280),
      AT(mproc_proc_info_t, state_code, 284),
      AT(mproc_proc_info_t, start_time_ms, 288),
      AT(mproc_proc_info_t, rss_bytes, 296),
      AT(mproc_proc_info_t, user_time_us, 304),
      AT(mproc_proc_info_t, system_time_us, 312),
      AT(mproc_proc_info_t, num_threads, 320),
      AT(mproc_proc_info_t, argc, 328),
      AT(mproc_proc_info_t, argv, 336),
      AT(mproc_proc_info_t, user, 344),
      AT(mproc_proc_info_t, reserved, 472),
      SIZE(mproc_queue_options_t, 88),
      AT(mproc_queue_options_t, maxsize, 0),
      AT(mproc_queue_options_t, capacity, 8),
      AT(mproc_queue_options_t, joinable, 16),
      AT(mproc_queue_options_t, reserved, 24),
      SIZE(mproc_pool_options_t, 120),
      AT(mproc_pool_options_t, processes, 0),
      AT(mproc_pool_options_t, initializer, 8),
      AT(mproc_pool_options_t, initargs, 16),
      AT(mproc_pool_options_t, initargs_size, 24),
      AT(mproc_pool_options_t, maxtasksperchild, 32),
      AT(mproc_pool_options_t, start_method, 40),
      AT(mproc_pool_options_t, task_timeout_ms, 48),
      AT(mproc_pool_options_t, reserved, 56),
      SIZE(mproc_apply_options_t, 88),
      AT(mproc_apply_options_t, callback, 0),
      AT(mproc_apply_options_t, error_callback, 8),
      AT(mproc_apply_options_t, user, 16),
      AT(mproc_apply_options_t, reserved, 24),
#else
      // 64-bit Linux (LP64).
      SIZE(mproc_process_options_t, 80),
      AT(mproc_process_options_t, name, 0),
      AT(mproc_process_options_t, daemon, 8),
      AT(mproc_process_options_t, start_method, 12),
      AT(mproc_process_options_t, reserved, 16),
      SIZE(mproc_target_entry_t, 24),
      AT(mproc_target_entry_t, name, 0),
      AT(mproc_target_entry_t, fn, 8),
      AT(mproc_target_entry_t, next, 16),
      SIZE(mproc_task_entry_t, 24),
      AT(mproc_task_entry_t, name, 0),
      AT(mproc_task_entry_t, fn, 8),
      AT(mproc_task_entry_t, next, 16),
      SIZE(mproc_proc_info_t, 536),
      AT(mproc_proc_info_t, valid, 0),
      AT(mproc_proc_info_t, pid, 8),
      AT(mproc_proc_info_t, ppid, 16),
      AT(mproc_proc_info_t, name, 24),
      AT(mproc_proc_info_t, state, 280),
      AT(mproc_proc_info_t, state_code, 284),
      AT(mproc_proc_info_t, start_time_ms, 288),
      AT(mproc_proc_info_t, rss_bytes, 296),
      AT(mproc_proc_info_t, user_time_us, 304),
      AT(mproc_proc_info_t, system_time_us, 312),
      AT(mproc_proc_info_t, num_threads, 320),
      AT(mproc_proc_info_t, argc, 328),
      AT(mproc_proc_info_t, argv, 336),
      AT(mproc_proc_info_t, user, 344),
      AT(mproc_proc_info_t, reserved, 472),
      SIZE(mproc_queue_options_t, 88),
      AT(mproc_queue_options_t, maxsize, 0),
      AT(mproc_queue_options_t, capacity, 8),
      AT(mproc_queue_options_t, joinable, 16),
      AT(mproc_queue_options_t, reserved, 24),
      SIZE(mproc_pool_options_t, 120),
      AT(mproc_pool_options_t, processes, 0),
      AT(mproc_pool_options_t, initializer, 8),
      AT(mproc_pool_options_t, initargs, 16),
      AT(mproc_pool_options_t, initargs_size, 24),
      AT(mproc_pool_options_t, maxtasksperchild, 32),
      AT(mproc_pool_options_t, start_method, 40),
      AT(mproc_pool_options_t, task_timeout_ms, 48),
      AT(mproc_pool_options_t, reserved, 56),
      SIZE(mproc_apply_options_t, 88),
      AT(mproc_apply_options_t, callback, 0),
      AT(mproc_apply_options_t, error_callback, 8),
      AT(mproc_apply_options_t, user, 16),
      AT(mproc_apply_options_t, reserved, 24),
#endif
      // The value handles: 64 bytes everywhere, copied whole.
      SIZE(mproc_lock_t, 64),
      SIZE(mproc_rlock_t, 64),
      SIZE(mproc_semaphore_t, 64),
      SIZE(mproc_event_t, 64),
      SIZE(mproc_queue_t, 64),
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
}

} // namespace
