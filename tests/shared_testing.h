// Support for the shared-object tests: children started through mproc,
// memory shared with them, and a look at /dev/shm. Every wait is bounded,
// and only processes a test started are ever killed, by their handle.
#pragma once

#include <gtest/gtest.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <string>
#include <vector>

#include "helpers.h"
#include "mproc.h"

namespace shared_testing {

// A child process started with the fork method; killed and reaped if the
// test ends before it does.
class Child {
 public:
  Child(mproc_target_fn fn, const void *arg, size_t size) {
    EXPECT_EQ(mproc_process_create(&p_, fn, arg, size, nullptr), 0);
    if (p_) {
      EXPECT_EQ(mproc_process_start(p_), 0);
    }
  }
  Child(const Child &) = delete;
  Child &operator=(const Child &) = delete;
  ~Child() {
    if (!p_) return;
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
  bool alive() const {
    int a = 0;
    return mproc_process_is_alive(p_, &a) == 0 && a;
  }

 private:
  mproc_process_t *p_ = nullptr;
};

// Anonymous shared memory, inherited by fork children, unmapped at the end.
template <typename T>
class SharedMem {
 public:
  explicit SharedMem(size_t count = 1) : bytes_(sizeof(T) * count) {
    void *p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    p_ = p == MAP_FAILED ? nullptr : static_cast<T *>(p);
    if (p_) memset(static_cast<void *>(p_), 0, bytes_);
  }
  ~SharedMem() {
    if (p_) munmap(p_, bytes_);
  }
  T *get() const { return p_; }
  T &operator[](size_t i) const { return p_[i]; }

 private:
  size_t bytes_;
  T *p_;
};

// Names of segments mproc made (without the '/') in /dev/shm and in the
// portable build's marker directory, optionally only those of one creator
// pid.
// Sorted. A test compares what its own pid has at its end with what it had
// at its start: pids are reused, and a dead process that had this pid may
// have left names nobody has reclaimed yet.
std::vector<std::string> mproc_segments(mproc_pid_t creator = 0);

// The names mproc_shared_reclaim() looks at in this build.
std::vector<std::string> reclaimable_names(mproc_pid_t creator = 0);

// A small deterministic generator for test data.
inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace shared_testing
