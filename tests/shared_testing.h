/* SPDX-License-Identifier: MIT */
// Support for the shared-object tests: children started through mproc,
// memory shared with them, and a look at the segments mproc leaves. Every
// wait is bounded, and only processes a test started are ever killed, by
// their handle. POSIX and Windows implement the memory and the segment
// listing in shared_testing_posix.cpp and shared_testing_win32.cpp.
#pragma once

#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <string>
#include <vector>

#include "helpers.h"
#include "mproc.h"

namespace shared_testing {

// The start method Child uses: the platform's default, or the one a
// parametrised test chose (MethodTest below sets it for each test).
inline mproc_start_method_t g_start_method = MPROC_START_DEFAULT;

// Atomic access to a plain integer in shared memory, on every compiler
// (std::atomic_ref is C++20): a lock-free std::atomic<T> has T's layout.
template <typename T> std::atomic<T> &atomic_at(T *p) {
  static_assert(sizeof(std::atomic<T>) == sizeof(T), "atomic must be plain");
  return *reinterpret_cast<std::atomic<T> *>(p);
}

// Of fork, spawn and forkserver, the start methods this build has (only
// spawn on Windows), as mproc_set_start_method() tells: every start method
// the cross-process suites run under.
inline std::vector<mproc_start_method_t> methods() {
  std::vector<mproc_start_method_t> out;
  for (mproc_start_method_t m :
       {MPROC_START_FORK, MPROC_START_SPAWN, MPROC_START_FORKSERVER})
    if (mproc_set_start_method(m) == 0)
      out.push_back(m);
  mproc_set_start_method(MPROC_START_DEFAULT);
  return out;
}

inline std::string
method_name(const ::testing::TestParamInfo<mproc_start_method_t> &i) {
  return i.param == MPROC_START_FORK    ? "fork"
         : i.param == MPROC_START_SPAWN ? "spawn"
                                        : "forkserver";
}

// Instantiates a MethodTest suite once per start method of methods().
#define MPROC_INSTANTIATE_METHODS(suite)                                       \
  INSTANTIATE_TEST_SUITE_P(Methods, suite,                                     \
                           ::testing::ValuesIn(shared_testing::methods()),     \
                           shared_testing::method_name)

// A test run once per start method: its Child objects use GetParam().
// Targets must then be registered (MPROC_TARGET), and children reach the
// test only through shared objects and SharedMem references: a
// forkserver child inherits none of the test's descriptors.
class MethodTest : public ::testing::TestWithParam<mproc_start_method_t> {
protected:
  void SetUp() override { g_start_method = GetParam(); }
  void TearDown() override {
    g_start_method = MPROC_START_DEFAULT;
    // A test that chose the program's default leaves none behind.
    mproc_set_start_method(MPROC_START_DEFAULT);
  }
};

// A child process started with g_start_method; killed and reaped if the
// test ends before it does.
class Child {
public:
  Child(mproc_target_fn fn, const void *arg, size_t size) {
    mproc_process_options_t o = {};
    o.start_method = g_start_method;
    EXPECT_EQ(mproc_process_create(&p_, fn, arg, size, &o), 0);
    if (p_) {
      int rc = mproc_process_start(p_);
      EXPECT_EQ(rc, 0) << mproc_error_name(rc) << ", native error "
                       << mproc_os_error();
    }
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  ~Child() {
    if (!p_)
      return;
    int alive = 0;
    if (mproc_process_is_alive(p_, &alive) == 0 && alive) {
      mproc_process_kill(p_);
      mproc_process_join(p_, MPROC_INFINITE);
    }
    mproc_process_free(p_);
  }
  // The exit code, or -1000 - (error) when it did not end in time (it is
  // killed then).
  int finish(int timeout_ms = 60000) {
    int rc = mproc_process_join(p_, mproc_test::scaled_ms(timeout_ms));
    if (rc != 0) {
      mproc_process_kill(p_);
      mproc_process_join(p_, MPROC_INFINITE);
      return -2000;
    }
    int code = -3000;
    mproc_process_exitcode(p_, &code);
    return code;
  }
  void kill() {
    mproc_process_kill(p_);
    mproc_process_join(p_, MPROC_INFINITE);
  }
  mproc_pid_t pid() const { return mproc_process_pid(p_); }
  mproc_process_t *process() const { return p_; }
  bool alive() const {
    int a = 0;
    return mproc_process_is_alive(p_, &a) == 0 && a;
  }

private:
  mproc_process_t *p_ = nullptr;
};

// Whether pid is a child of this process or a child of one (a worker
// started by the fork server this process started): a process the test
// started, which it may kill. Other tests' processes may reuse a reaped
// pid; they are not ours.
inline bool is_our_child(mproc_pid_t pid) {
  mproc_pid_t parent = mproc_test::proc_ppid(pid);
  if (parent == mproc_getpid())
    return true;
  return parent > 1 && mproc_test::proc_ppid(parent) == mproc_getpid();
}

// The leftovers check for processes: true once none of pids is still one
// of ours (is_our_child()), alive or a zombie, within timeout_ms (scaled).
inline bool all_gone(const std::vector<mproc_pid_t> &pids,
                     int timeout_ms = 30000) {
  return mproc_test::wait_until(
      [&] {
        for (mproc_pid_t pid : pids)
          if (mproc_test::proc_state(pid) != 0 && is_our_child(pid))
            return false;
        return true;
      },
      timeout_ms);
}

// An Event a test creates, hands to children by value (in their
// argument: every start method can take it there) and sets when they may
// go on: the handshake that replaces "sleep and hope the child is still
// there". Declare it before the children and pools that wait on it, so
// that they end first.
class Gate {
public:
  Gate() { EXPECT_EQ(mproc_event_create(&ev_), 0); }
  Gate(const Gate &) = delete;
  Gate &operator=(const Gate &) = delete;
  ~Gate() { mproc_event_destroy(&ev_); }
  void open() { EXPECT_EQ(mproc_event_set(&ev_), 0); }
  const mproc_event_t &event() const { return ev_; }

private:
  mproc_event_t ev_;
};

// In a child: waits until the Event in arg (a Gate's event()) is set, a
// minute at most. 0 when it was set, 1 when it was not.
inline int wait_for_gate(const void *arg, size_t size) {
  mproc_event_t ev;
  if (size != sizeof ev)
    return 2;
  memcpy(&ev, arg, sizeof ev);
  return mproc_event_wait(&ev, mproc_test::scaled_ms(60000)) == 0 ? 0 : 1;
}

// Waits until a child raised *flag (a word in shared memory it sets just
// before a blocking call) and then, where the system tells a process's
// state, until the child sleeps in the kernel: inside that call, when it
// makes no other blocking call after raising the flag. Bounded: false when
// the flag was not raised within 30 s (scaled).
inline bool wait_until_asleep(mproc_pid_t pid, uint32_t *flag) {
  if (!mproc_test::wait_until([&] { return atomic_at(flag).load() != 0; }))
    return false;
#ifdef _WIN32
  // Windows reports no sleeping state (a process it can open is running):
  // the flag is all there is.
  (void)pid;
#else
  mproc_test::wait_until([pid] {
    mproc_proc_info_t info;
    if (mproc_proc_info(pid, &info) != 0)
      return true; // no state to look at: the flag is all there is
    bool done = !(info.valid & MPROC_PROC_HAS_STATE) ||
                info.state == MPROC_PROC_UNKNOWN ||
                info.state == MPROC_PROC_SLEEPING;
    mproc_proc_info_free(&info);
    return done;
  });
#endif
  return true;
}

// A Pool started with g_start_method (unless the options name one), freed
// at the end of the test.
class Pool {
public:
  explicit Pool(const mproc_pool_options_t *o = nullptr) {
    mproc_pool_options_t with_method = {};
    if (o)
      with_method = *o;
    if (with_method.start_method == MPROC_START_DEFAULT)
      with_method.start_method = g_start_method;
    EXPECT_EQ(mproc_pool_create(&p, &with_method), 0);
  }
  explicit Pool(int processes) {
    mproc_pool_options_t o = {};
    o.processes = processes;
    o.start_method = g_start_method;
    EXPECT_EQ(mproc_pool_create(&p, &o), 0);
  }
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;
  ~Pool() { EXPECT_EQ(mproc_pool_free(p), 0); }
  // The pids of its workers now.
  std::vector<mproc_pid_t> pids() const {
    mproc_pid_t buf[64];
    size_t n = 0;
    EXPECT_EQ(mproc_pool_worker_pids(p, buf, 64, &n), 0);
    return std::vector<mproc_pid_t>(buf, buf + n);
  }

  mproc_pool_t *p = nullptr;
};

// How a child of any start method finds a SharedMem: copy it into the
// child's argument bytes, and attach() there.
struct SharedRef {
  char path[64];
  size_t bytes;
};

// Zeroed memory that children of every start method can map by its name:
// a file of its own on POSIX, a named file mapping on Windows. Sets *ref
// and returns the address, or NULL; *keep is what unmap_shared() needs.
void *map_new_shared(size_t bytes, SharedRef *ref, intptr_t *keep);
// In any process: maps the memory a SharedRef names, or returns NULL.
void *map_shared(const SharedRef &ref);
// Unmaps what map_new_shared() made and removes its name.
void unmap_shared(void *p, const SharedRef &ref, intptr_t keep);

// In a child: map the memory a SharedRef names (for the child's life), or
// NULL.
template <typename T> T *attach(const SharedRef &ref) {
  return static_cast<T *>(map_shared(ref));
}

// Zeroed shared memory which children of every start method can map by its
// name (ref()); a fork child may also use get()'s address. Unmapped and
// removed at the end.
template <typename T> class SharedMem {
public:
  explicit SharedMem(size_t count = 1) {
    p_ = static_cast<T *>(map_new_shared(sizeof(T) * count, &ref_, &keep_));
    EXPECT_NE(p_, nullptr);
  }
  SharedMem(const SharedMem &) = delete;
  SharedMem &operator=(const SharedMem &) = delete;
  ~SharedMem() { unmap_shared(p_, ref_, keep_); }
  T *get() const { return p_; }
  T &operator[](size_t i) const { return p_[i]; }
  const SharedRef &ref() const { return ref_; }

private:
  SharedRef ref_;
  intptr_t keep_ = -1;
  T *p_;
};

// Names of segments mproc made (without the '/') in /dev/shm and in the
// portable build's marker directory, optionally only those of one creator
// pid. Always empty on Windows, where a segment is a kernel object that
// goes with its last handle, with no name left in any directory.
// Sorted. A test compares what its own pid has at its end with what it had
// at its start: pids are reused, and a dead process that had this pid may
// have left names nobody has reclaimed yet.
std::vector<std::string> mproc_segments(mproc_pid_t creator = 0);

// Of mproc_segments(creator), the names that still have a segment. Where
// markers are kept beside segments (the portable build), a process killed
// between removing a segment and removing its marker leaves the marker
// alone, by design: mproc_shared_reclaim() removes it once its creator is
// gone. Linux only: elsewhere segments cannot be opened to check.
std::vector<std::string> live_segments(mproc_pid_t creator = 0);

// The names mproc_shared_reclaim() looks at in this build.
std::vector<std::string> reclaimable_names(mproc_pid_t creator = 0);

// A small deterministic generator for test data.
inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

} // namespace shared_testing
