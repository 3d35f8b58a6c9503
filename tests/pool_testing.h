/* SPDX-License-Identifier: MIT */
// What the Pool suites (pool_*_test.cpp, one binary) share: the tasks
// their workers run, the memory those workers report through, and the
// fixture that runs each test under every start method. Workers of spawn
// and forkserver pools are fresh runs of the test binary: tasks are
// registered (MPROC_TASK, in pool_testing.cpp), and what workers share with
// the test lives in memory every process maps by its name.
#pragma once

#include <gtest/gtest.h>
#include <stdint.h>

#include <atomic>
#include <string>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"
#include "test_tasks.h"

namespace pool_testing {

using shared_testing::g_start_method;
using shared_testing::is_our_child;
using shared_testing::Pool;

// Every Pool test that runs once per start method (instantiated once, in
// pool_testing.cpp, as Methods/PoolM.Name/method).
class PoolM : public shared_testing::MethodTest {};

// ---- tasks ----------------------------------------------------------------

// echo, fail_with and double_it: test_tasks.h.
using test_tasks::double_it;
using test_tasks::echo;
using test_tasks::fail_with;
// Takes the int it is given in milliseconds, then answers it: for work
// that lasts, never for synchronisation.
int sleep_then_echo(const void *arg, size_t size, mproc_buf_t *out);
// Answers a GateArg's value once the test sets its event, or fails
// with 1 when it is not set within a minute.
int echo_when_open(const void *arg, size_t size, mproc_buf_t *out);
// Answers size_t n bytes (i * 7 + (i >> 20) at byte i).
int big_result(const void *arg, size_t size, mproc_buf_t *out);
// Answers the int64_t it is given; items i with i % 10 == 3 fail with 5.
int some_fail(const void *arg, size_t size, mproc_buf_t *out);
// Answers the worker's pid (int64_t).
int my_pid(const void *arg, size_t size, mproc_buf_t *out);
// Answers an InitReport: what the worker's initializer saw.
int report_init(const void *arg, size_t size, mproc_buf_t *out);
// The pool initializer report_init reports on.
int initializer(const void *arg, size_t size);
// A rendezvous: returns 0 once n (its int argument) tasks have arrived, 1
// when they did not within 30 s. n tasks that all succeed ran at once, in
// n workers.
int meet(const void *arg, size_t size, mproc_buf_t *out);
// Ends its worker as a Death says.
int die(const void *arg, size_t size, mproc_buf_t *out);
// Counts its run of item i (its int argument) in Shared, answers i * 3.
int count_run(const void *arg, size_t size, mproc_buf_t *out);
// Counts its start in Shared::started, then runs until killed (a minute at
// most).
int start_then_wait_for_kill(const void *arg, size_t size, mproc_buf_t *out);

// What echo_when_open() is given: a Gate's Event, and what to
// answer once it is set.
struct GateArg {
  mproc_event_t open;
  int value;
};

// A GateArg whose Gate the test holds closed until open(). Declared before the
// Pool whose tasks wait on it, so that the Pool ends first.
class HeldGate {
public:
  explicit HeldGate(int value) {
    g_.open = gate_.event();
    g_.value = value;
  }
  void open() { gate_.open(); }
  const GateArg *get() const { return &g_; }

private:
  shared_testing::Gate gate_;
  GateArg g_;
};

struct InitReport {
  int64_t pid;
  int runs;
  char arg[32];
};

// Deaths, chosen by die()'s argument.
enum Death { DIE_SEGV, DIE_ABORT, DIE_EXIT3, DIE_WAIT_FOR_KILL };

// ---- memory shared with workers of every start method -----------------------

// The test process puts this memory's name in the environment before it
// starts any child, so that spawned workers and the fork server (and its
// children) inherit it.
struct Shared {
  std::atomic<int64_t> victim_pid; // set by a DIE_WAIT_FOR_KILL task
  std::atomic<int64_t> tasks_run;  // by count_run, in every worker
  std::atomic<int> met;            // by meet, in every worker
  std::atomic<int> started;        // by start_then_wait_for_kill
  std::atomic<int> runs[20000];    // per item, by count_run
};

// The shared memory, mapped once per process, or NULL.
Shared *shared();
// In the test: the shared memory, zeroed.
Shared *reset_shared();

// ---- the test's side --------------------------------------------------------

// Waits for a result and returns its bytes; its status in *status.
std::string get_string(mproc_async_result_t *r, int *status);

// What the callbacks on_ok and on_error of an apply saw (they run on the
// pool's thread).
struct CallbackLog {
  std::atomic<int> ok{0}, failed{0}, last_status{0};
  std::atomic<size_t> last_size{0};
};

inline void on_ok(void *user, int status, const void *, size_t size) {
  auto *log = static_cast<CallbackLog *>(user);
  log->last_status = status;
  log->last_size = size;
  log->ok++;
}

inline void on_error(void *user, int status, const void *, size_t) {
  auto *log = static_cast<CallbackLog *>(user);
  log->last_status = status;
  log->failed++;
}

// The pid a `die` task with DIE_WAIT_FOR_KILL published once it runs, or
// 0 when none did within 30 s.
mproc_pid_t victim_pid();

// Kills, from outside and by pid, the worker running a DIE_WAIT_FOR_KILL
// task: false when no worker of this test published its pid.
bool kill_victim();

} // namespace pool_testing
