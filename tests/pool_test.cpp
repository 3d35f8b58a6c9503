// SPDX-License-Identifier: MIT
// Pool: apply, map, imap, lifecycle, and workers that die under their tasks,
// under every start method. Workers of spawn and forkserver pools are fresh
// runs of this binary: tasks are registered (MPROC_TASK), and what workers
// share with the test lives in memory every process maps by its name.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "platform.h"
#include "shared_testing.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <sys/wait.h>
#endif

using mproc_test::proc_state;
using mproc_test::scaled_ms;
using mproc_test::sleep_us;

namespace {

// ---- what differs between POSIX and Windows ----------------------------

#ifdef _WIN32
// mproc reports its own kill as -9 everywhere; Windows' <signal.h> has no
// SIGKILL.
#define SIGKILL 9

// A crash ends a worker with its exception code (the NTSTATUS as the int
// with the same bits), abort() with exit code 3, and a TerminateProcess
// from outside with the code it was given: mproc maps only its own kill to
// -9 (docs/windows.md).
const int kSegvExit = (int)0xC0000005u;
const int kAbortExit = 3;
const DWORD kOutsideKillCode = 0x10009; // the code mproc's kill uses
const int kOutsideKillExit = (int)kOutsideKillCode;

// Ends a process by pid from outside, as kill(pid, SIGKILL) does.
bool kill_by_pid(mproc_pid_t pid) {
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
  if (!h)
    return false;
  bool ok = TerminateProcess(h, kOutsideKillCode) != 0;
  CloseHandle(h);
  return ok;
}

// Windows keeps the pid of the process that created this one.
mproc_pid_t proc_ppid(mproc_pid_t pid) {
  mproc_proc_info_t info;
  int r = mproc_proc_info(pid, &info);
  mproc_pid_t ppid = -1;
  if ((r == 0 || r == MPROC_EPERM) && (info.valid & MPROC_PROC_HAS_PPID))
    ppid = info.ppid;
  if (r == 0 || r == MPROC_EPERM)
    mproc_proc_info_free(&info);
  return ppid;
}

// Windows has no raise() of a real fault: a write to address 0, which the
// compiler cannot see (and drop), is one: an access violation.
volatile uintptr_t g_nowhere = 0;
void crash() { *reinterpret_cast<volatile int *>(g_nowhere) = 1; }

void set_env(const char *name, const char *value) { _putenv_s(name, value); }

// Tasks done between two kills of the stress test: a Windows process
// (under Wine above all) starts far slower still than a spawned POSIX one.
const int64_t kTasksBetweenKills = 1000;
#else
const int kSegvExit = -SIGSEGV;
const int kAbortExit = -SIGABRT;
const int kOutsideKillExit = -SIGKILL;

bool kill_by_pid(mproc_pid_t pid) { return kill(pid, SIGKILL) == 0; }

using mproc_test::proc_ppid;

void crash() {
  signal(SIGSEGV, SIG_DFL); // a sanitizer's handler would exit instead
  raise(SIGSEGV);
}

void set_env(const char *name, const char *value) { setenv(name, value, 1); }

const int64_t kTasksBetweenKills = 100;
#endif

// ---- tasks (registered: spawn and forkserver workers find them by name) --

int echo(const void *arg, size_t size, mproc_buf_t *out) {
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(echo);

int fail_with(const void *arg, size_t, mproc_buf_t *out) {
  int code;
  memcpy(&code, arg, sizeof code);
  mproc_buf_set(out, "partial", 7);
  return code;
}
MPROC_TASK(fail_with);

int sleep_then_echo(const void *arg, size_t size, mproc_buf_t *out) {
  int ms;
  memcpy(&ms, arg, sizeof ms);
  sleep_us((int64_t)ms * 1000);
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(sleep_then_echo);

int big_result(const void *arg, size_t, mproc_buf_t *out) {
  size_t n;
  memcpy(&n, arg, sizeof n);
  unsigned char *p = static_cast<unsigned char *>(mproc_buf_extend(out, n));
  if (!p)
    return 1;
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 7 + (i >> 20));
  return 0;
}
MPROC_TASK(big_result);

int double_it(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  v *= 2;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(double_it);

// Items i with i % 10 == 3 fail with status 5.
int some_fail(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  if (v % 10 == 3)
    return 5;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(some_fail);

int my_pid(const void *, size_t, mproc_buf_t *out) {
  int64_t pid = mproc_getpid();
  sleep_us(2000);
  return mproc_buf_set(out, &pid, sizeof pid);
}
MPROC_TASK(my_pid);

// What each worker's initializer saw, and how often it ran in it.
char g_init_arg[32];
int g_init_runs;

int initializer(const void *arg, size_t size) {
  g_init_runs++;
  memcpy(g_init_arg, arg,
         size < sizeof g_init_arg ? size : sizeof g_init_arg - 1);
  return 0;
}
MPROC_TARGET(initializer);

struct InitReport {
  int64_t pid;
  int runs;
  char arg[32];
};

int report_init(const void *, size_t, mproc_buf_t *out) {
  InitReport r;
  memset(&r, 0, sizeof r);
  r.pid = mproc_getpid();
  r.runs = g_init_runs;
  memcpy(r.arg, g_init_arg, sizeof r.arg);
  return mproc_buf_set(out, &r, sizeof r);
}
MPROC_TASK(report_init);

// Deaths, chosen by the argument.
enum Death { DIE_SEGV, DIE_ABORT, DIE_EXIT3, DIE_WAIT_FOR_KILL };

// Shared with workers of every start method: memory whose name the test
// process puts in the environment before it starts any child, so that
// spawned workers and the fork server (and its children) inherit it.
struct Shared {
  std::atomic<int64_t> victim_pid;
  std::atomic<int64_t> tasks_run; // by count_run, in every worker
  std::atomic<int> met;           // by meet, in every worker
  std::atomic<int> runs[20000];
};

const char kSharedEnv[] = "MPROC_POOL_TEST_SHARED";

// Mapped once per process; a fork worker inherits the mapping.
Shared *g_shared;

// The test process's own memory, unmapped and its name removed at exit.
shared_testing::SharedRef g_shared_ref;
intptr_t g_shared_keep = -1;

void remove_shared_memory() {
  shared_testing::unmap_shared(g_shared, g_shared_ref, g_shared_keep);
}

struct SharedMemorySetup {
  SharedMemorySetup() {
    // Workers run this too (they are runs of this binary): they inherit
    // the variable and keep it.
    if (getenv(kSharedEnv))
      return;
    void *p = shared_testing::map_new_shared(sizeof(Shared), &g_shared_ref,
                                             &g_shared_keep);
    if (!p)
      return;
    g_shared = static_cast<Shared *>(p);
    set_env(kSharedEnv, g_shared_ref.path);
    atexit(remove_shared_memory);
  }
} g_shared_memory_setup;

Shared *shared() {
  const char *name = getenv(kSharedEnv);
  if (!g_shared && name) {
    shared_testing::SharedRef ref = {};
    snprintf(ref.path, sizeof ref.path, "%s", name);
    ref.bytes = sizeof(Shared);
    g_shared = static_cast<Shared *>(shared_testing::map_shared(ref));
  }
  return g_shared;
}

// In the test: the shared state, zeroed.
Shared *reset_shared() {
  Shared *sh = shared();
  EXPECT_NE(sh, nullptr);
  if (sh)
    memset(static_cast<void *>(sh), 0, sizeof(Shared));
  return sh;
}

// A rendezvous: returns 0 once `n` (its argument) tasks have arrived, 1
// when they did not within 30 s. n tasks that all succeed ran at once, in
// n workers.
int meet(const void *arg, size_t, mproc_buf_t *) {
  int n;
  memcpy(&n, arg, sizeof n);
  shared()->met.fetch_add(1);
  for (int i = 0; i < 30000 && shared()->met.load() < n; i++)
    sleep_us(1000);
  return shared()->met.load() >= n ? 0 : 1;
}
MPROC_TASK(meet);

int die(const void *arg, size_t, mproc_buf_t *) {
  int how;
  memcpy(&how, arg, sizeof how);
  switch (how) {
  case DIE_SEGV:
    crash();
    break;
  case DIE_ABORT:
    signal(SIGABRT, SIG_DFL);
#ifdef _MSC_VER
    // The Universal CRT's abort() would end the process with a fast-fail
    // code (0xC0000409) instead of exit code 3.
    _set_abort_behavior(0, _WRITE_ABORT_MSG | _CALL_REPORTFAULT);
#endif
    abort();
  case DIE_EXIT3:
    _exit(3); // exit() would run the test binary's atexit handlers
  case DIE_WAIT_FOR_KILL:
    if (!shared())
      return 1;
    shared()->victim_pid.store(mproc_getpid());
    for (int i = 0; i < 600; i++)
      sleep_us(100000);
    break;
  }
  return 0;
}
MPROC_TASK(die);

int count_run(const void *arg, size_t, mproc_buf_t *out) {
  int i;
  memcpy(&i, arg, sizeof i);
  if (!shared())
    return 1;
  shared()->runs[i].fetch_add(1);
  shared()->tasks_run.fetch_add(1);
  int v = i * 3;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(count_run);

// ---- helpers ----------------------------------------------------------

// Every start method the suite runs under: those this build has (only
// spawn on Windows).
using shared_testing::method_name;
using shared_testing::methods;

// The start method of the running test, for Pool and Process helpers.
mproc_start_method_t g_method = MPROC_START_DEFAULT;

class PoolM : public ::testing::TestWithParam<mproc_start_method_t> {
protected:
  void SetUp() override { g_method = GetParam(); }
  void TearDown() override {
    g_method = MPROC_START_DEFAULT;
    mproc_set_start_method(MPROC_START_DEFAULT);
  }
};

struct Pool {
  mproc_pool_t *p = nullptr;
  explicit Pool(const mproc_pool_options_t *o = nullptr) {
    mproc_pool_options_t with_method = {};
    if (o)
      with_method = *o;
    if (with_method.start_method == MPROC_START_DEFAULT)
      with_method.start_method = g_method;
    EXPECT_EQ(mproc_pool_create(&p, &with_method), 0);
  }
  explicit Pool(int processes) {
    mproc_pool_options_t o = {};
    o.processes = processes;
    o.start_method = g_method;
    EXPECT_EQ(mproc_pool_create(&p, &o), 0);
  }
  ~Pool() { EXPECT_EQ(mproc_pool_free(p), 0); }
  std::vector<mproc_pid_t> pids() {
    mproc_pid_t buf[64];
    size_t n = 0;
    EXPECT_EQ(mproc_pool_worker_pids(p, buf, 64, &n), 0);
    return std::vector<mproc_pid_t>(buf, buf + n);
  }
};

std::string get_string(mproc_async_result_t *r, int *status) {
  const void *data = nullptr;
  size_t size = 0;
  EXPECT_EQ(mproc_async_result_get(r, scaled_ms(30000), status, &data, &size),
            0);
  return std::string(static_cast<const char *>(data), size);
}

// Whether pid is a child of this process, or (forkserver) a child of the
// fork server this process started: a worker of one of its pools.
bool ours(mproc_pid_t pid) {
  mproc_pid_t parent = proc_ppid(pid);
  if (parent == mproc_getpid())
    return true;
  return g_method == MPROC_START_FORKSERVER && parent > 0 &&
         proc_ppid(parent) == mproc_getpid();
}

// The pid a `die` task with DIE_WAIT_FOR_KILL published once it runs, or
// 0 when none did within 3 s.
mproc_pid_t victim_pid() {
  for (int i = 0; i < 3000 && shared()->victim_pid.load() == 0; i++)
    sleep_us(1000);
  return (mproc_pid_t)shared()->victim_pid.load();
}

// Kills, from outside and by pid, the worker running a DIE_WAIT_FOR_KILL
// task: false when no worker of this pool published its pid.
bool kill_victim() {
  mproc_pid_t pid = victim_pid();
  return pid > 0 && ours(pid) && kill_by_pid(pid);
}

// True once every pid is gone from the process table (reaped, no zombie).
bool all_reaped(const std::vector<mproc_pid_t> &pids) {
  for (int tries = 0; tries < 200; tries++) {
    int present = 0;
    for (mproc_pid_t pid : pids)
      present += proc_state(pid) != 0 && ours(pid);
    if (present == 0)
      return true;
    sleep_us(10000);
  }
  return false;
}

// ---- tests ------------------------------------------------------------

// The seam under Pool: a wait on more ends than one WaitForMultipleObjects
// takes (64) wakes for data and for end of file on any of them, reports
// only those, and times out when there is neither.
TEST(PoolPipes, WaitReadableOnManyEnds) {
  const size_t n = 150;
  std::vector<mproc__pipe_t> rd(n, MPROC__PIPE_INVALID),
      wr(n, MPROC__PIPE_INVALID);
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(mproc__pipe_create(&rd[i], &wr[i]), 0) << i;
  std::vector<unsigned char> ready(n, 9);
  auto only = [&](size_t k) {
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++)
      wrong += ready[i] != (i == k);
    return wrong == 0;
  };
  EXPECT_EQ(mproc__pipe_wait_readable(
                rd.data(), n, mproc__clock_ns() + 50 * 1000000LL, ready.data()),
            MPROC_ETIMEDOUT);

  // Data on the last end, written while the wait sleeps.
  std::thread writer([&] {
    sleep_us(100000);
    EXPECT_EQ(mproc__pipe_write_all(wr[n - 1], "b", 1), 0);
  });
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  writer.join();
  EXPECT_TRUE(only(n - 1));
  char c = 0;
  EXPECT_EQ(mproc__pipe_read_all(rd[n - 1], &c, 1), 0);
  EXPECT_EQ(c, 'b');

  // End of file on one in the middle: its writer closed while the wait
  // sleeps.
  std::thread closer([&] {
    sleep_us(100000);
    mproc__pipe_close(&wr[100]);
  });
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  closer.join();
  EXPECT_TRUE(only(100));
  EXPECT_EQ(mproc__pipe_read_all(rd[100], &c, 1), MPROC_ECLOSED);
  // It stays readable: a fresh pipe takes its place.
  mproc__pipe_close(&rd[100]);
  ASSERT_EQ(mproc__pipe_create(&rd[100], &wr[100]), 0);

  // Data already there on the first: no sleep. A non-blocking end with
  // nothing buffered says so at once.
  ASSERT_EQ(mproc__pipe_write_all(wr[0], "a", 1), 0);
  EXPECT_EQ(
      mproc__pipe_wait_readable(rd.data(), n, MPROC_INFINITE, ready.data()), 0);
  EXPECT_TRUE(only(0));
  size_t got = 0;
  ASSERT_EQ(mproc__pipe_set_nonblocking(rd[0]), 0);
  EXPECT_EQ(mproc__pipe_read_some(rd[0], &c, 1, &got), 0);
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(mproc__pipe_read_some(rd[0], &c, 1, &got), MPROC_EEMPTY);

  // A write to a pipe whose reader is gone fails, with no signal.
  mproc__pipe_close(&rd[1]);
  EXPECT_EQ(mproc__pipe_write_all(wr[1], "x", 1), MPROC_ECLOSED);
  for (size_t i = 0; i < n; i++) {
    mproc__pipe_close(&rd[i]);
    mproc__pipe_close(&wr[i]);
  }
}

TEST(Pool, BadInput) {
  mproc_pool_t *p = nullptr;
  mproc_pool_options_t o = {};
  EXPECT_EQ(mproc_pool_create(nullptr, nullptr), MPROC_EINVAL);
  o.processes = -1;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.task_timeout_ms = -5;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.initargs_size = 4;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o = {};
  o.start_method = (mproc_start_method_t)42;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  EXPECT_EQ(p, nullptr);

  Pool pool(1);
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, nullptr, "x", 1, nullptr, &r),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, nullptr, 3, nullptr, &r),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_apply_async(nullptr, echo, "x", 1, nullptr, &r),
            MPROC_EINVAL);
  int status;
  EXPECT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, nullptr, nullptr, nullptr),
            MPROC_EINVAL);
  int64_t items[2] = {1, 2};
  EXPECT_EQ(
      mproc_pool_map(pool.p, double_it, items, 8, 2, 0, nullptr, 8, nullptr),
      MPROC_EINVAL);
  EXPECT_EQ(
      mproc_pool_map(pool.p, double_it, nullptr, 8, 2, 0, nullptr, 0, nullptr),
      MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, SIZE_MAX / 2, 4, 0,
                           nullptr, 0, nullptr),
            MPROC_EINVAL);
  // Products of a count and a size past any array's size (PTRDIFF_MAX),
  // whether or not they wrap SIZE_MAX: refused before a byte is read.
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 2, (size_t)PTRDIFF_MAX, 0,
                           nullptr, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 8, 2, 0, items,
                           (size_t)PTRDIFF_MAX, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, items, 8, 2, 0, items,
                           SIZE_MAX - 3, nullptr),
            MPROC_EINVAL);
  mproc_imap_t *it = nullptr;
  EXPECT_EQ(mproc_pool_imap(pool.p, double_it, items, SIZE_MAX - 7, 2, 0, &it),
            MPROC_EINVAL);
  // Items of no bytes: nothing bounds the count but memory, and the
  // statuses it needs (count * sizeof(int) wraps here) are refused.
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, nullptr, 0, SIZE_MAX / 4 + 2,
                           SIZE_MAX, nullptr, 0, nullptr),
            MPROC_ENOMEM);
  EXPECT_EQ(mproc_pool_imap(pool.p, double_it, items, 8, 2, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_async_result_get(nullptr, 0, &status, nullptr, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_async_result_ready(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_async_result_free(nullptr), 0);
  EXPECT_EQ(mproc_imap_next(nullptr, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_join(pool.p, -7), MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_free(nullptr), 0);
  size_t n;
  EXPECT_EQ(mproc_pool_worker_pids(pool.p, nullptr, 0, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_pool_worker_pids(pool.p, nullptr, 0, &n), MPROC_ERANGE);
  EXPECT_EQ(n, 1u);
  // Outside a task, the buffer calls refuse a NULL buffer.
  EXPECT_EQ(mproc_buf_set(nullptr, "x", 1), MPROC_EINVAL);
  EXPECT_EQ(mproc_buf_extend(nullptr, 1), nullptr);
}

TEST_P(PoolM, FreedPoolIsReported) {
  mproc_pool_t *p;
  mproc_pool_options_t o = {};
  o.processes = 1;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  ASSERT_EQ(mproc_pool_free(p), 0);
  EXPECT_EQ(mproc_pool_close(p), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_pool_free(p), MPROC_EBADHANDLE);
}

TEST_P(PoolM, ApplyReturnsBytesAndStatus) {
  Pool pool(2);
  int status = -1;
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "hello", 5, &status, &data, &size),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "hello");
  mproc_pool_result_free(data);

  int code = 7;
  ASSERT_EQ(mproc_pool_apply(pool.p, fail_with, &code, sizeof code, &status,
                             &data, &size),
            0);
  EXPECT_EQ(status, 7); // the task's failure code reaches the caller
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "partial");
  mproc_pool_result_free(data);
}

TEST_P(PoolM, ApplyAsyncReadyWaitGetWithTimeouts) {
  Pool pool(2);
  int ms = 300;
  mproc_async_result_t *r;
  ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms, sizeof ms,
                                   nullptr, &r),
            0);
  int status = 0;
  EXPECT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr),
            MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_async_result_ready(r), 0);
  EXPECT_EQ(mproc_async_result_successful(r), MPROC_ESTATE);
  EXPECT_EQ(mproc_async_result_wait(r, 10), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_async_result_wait(r, scaled_ms(20000)), 0);
  EXPECT_EQ(mproc_async_result_ready(r), 1);
  EXPECT_EQ(mproc_async_result_successful(r), 1);
  std::string s = get_string(r, &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(s, std::string(reinterpret_cast<char *>(&ms), sizeof ms));
  int code;
  EXPECT_EQ(mproc_async_result_exitcode(r, &code), MPROC_ESTATE);
  EXPECT_EQ(mproc_async_result_free(r), 0);
}

struct CallbackLog {
  std::atomic<int> ok{0}, failed{0}, last_status{0};
  std::atomic<size_t> last_size{0};
};

void on_ok(void *user, int status, const void *, size_t size) {
  auto *log = static_cast<CallbackLog *>(user);
  log->last_status = status;
  log->last_size = size;
  log->ok++;
}

void on_error(void *user, int status, const void *, size_t) {
  auto *log = static_cast<CallbackLog *>(user);
  log->last_status = status;
  log->failed++;
}

TEST_P(PoolM, CallbacksRunBeforeReady) {
  Pool pool(2);
  CallbackLog log;
  mproc_apply_options_t cb = {on_ok, on_error, &log, {0}};
  mproc_async_result_t *r1, *r2;
  ASSERT_EQ(mproc_pool_apply_async(pool.p, echo, "abc", 3, &cb, &r1), 0);
  int status;
  get_string(r1, &status);
  EXPECT_EQ(log.ok.load(), 1);
  EXPECT_EQ(log.failed.load(), 0);
  EXPECT_EQ(log.last_size.load(), 3u);
  int code = 9;
  ASSERT_EQ(
      mproc_pool_apply_async(pool.p, fail_with, &code, sizeof code, &cb, &r2),
      0);
  get_string(r2, &status);
  EXPECT_EQ(status, 9);
  EXPECT_EQ(mproc_async_result_successful(r2), 0);
  EXPECT_EQ(log.failed.load(), 1);
  EXPECT_EQ(log.last_status.load(), 9);
  mproc_async_result_free(r1);
  mproc_async_result_free(r2);
}

TEST_P(PoolM, EmptyAndHugeResults) {
  Pool pool(2);
  int status = -1;
  void *data = nullptr;
  size_t size = 99;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, nullptr, 0, &status, &data, &size),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(size, 0u);
  EXPECT_NE(data, nullptr);
  mproc_pool_result_free(data);

  // 64 MiB, twice at once: the pool reads while workers write.
  size_t n = (size_t)64 << 20;
  mproc_async_result_t *r[2];
  for (auto &x : r)
    ASSERT_EQ(
        mproc_pool_apply_async(pool.p, big_result, &n, sizeof n, nullptr, &x),
        0);
  for (auto &x : r) {
    const void *d;
    size_t got;
    ASSERT_EQ(mproc_async_result_get(x, scaled_ms(60000), &status, &d, &got),
              0);
    EXPECT_EQ(status, 0);
    ASSERT_EQ(got, n);
    const unsigned char *p = static_cast<const unsigned char *>(d);
    size_t bad = 0;
    for (size_t i = 0; i < n; i += 4093)
      bad += p[i] != (unsigned char)(i * 7 + (i >> 20));
    EXPECT_EQ(bad, 0u);
    mproc_async_result_free(x);
  }
  // A big argument goes down as well.
  std::string arg(8 << 20, 'q');
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, arg.data(), arg.size(), &status,
                             &data, &size),
            0);
  EXPECT_EQ(size, arg.size());
  EXPECT_EQ(memcmp(data, arg.data(), size), 0);
  mproc_pool_result_free(data);
}

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
  EXPECT_EQ(mproc_async_result_ready(r), 1);
  EXPECT_EQ(status, want_rc) << n << " " << chunk;
  EXPECT_EQ(mproc_async_result_successful(r), want_rc == 0 ? 1 : 0);
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
  Pool pool(3);
  const size_t n = 200;
  std::vector<int> ms(n);
  for (size_t i = 0; i < n; i++)
    ms[i] = (int)((i * 37) % 5); // uneven durations
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

  // A timeout on next while the item is still running.
  int slow = 400;
  ASSERT_EQ(
      mproc_pool_imap(pool.p, sleep_then_echo, &slow, sizeof slow, 1, 0, &it),
      0);
  EXPECT_EQ(mproc_imap_next(it, 20, nullptr, nullptr, nullptr, nullptr),
            MPROC_ETIMEDOUT);
  // Freed before it is done: the pool finishes the item and frees it.
  EXPECT_EQ(mproc_imap_free(it), 0);
  // An empty iterator is exhausted at once.
  ASSERT_EQ(mproc_pool_imap(pool.p, echo, nullptr, 0, 0, 0, &it), 0);
  EXPECT_EQ(mproc_imap_next(it, 0, nullptr, nullptr, nullptr, nullptr),
            MPROC_EEMPTY);
  EXPECT_EQ(mproc_imap_free(it), 0);
}

TEST_P(PoolM, CloseThenJoinFinishesQueuedWork) {
  Pool pool(2);
  std::vector<mproc_async_result_t *> rs(10);
  for (int i = 0; i < 10; i++) {
    int ms = 20;
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms, sizeof ms,
                                     nullptr, &rs[i]),
              0);
  }
  std::vector<mproc_pid_t> pids = pool.pids();
  EXPECT_EQ(mproc_pool_join(pool.p, 0), MPROC_ESTATE); // not closed yet
  ASSERT_EQ(mproc_pool_close(pool.p), 0);
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  ASSERT_EQ(mproc_pool_join(pool.p, scaled_ms(30000)), 0);
  for (auto r : rs) {
    EXPECT_EQ(mproc_async_result_ready(r), 1);
    EXPECT_EQ(mproc_async_result_successful(r), 1);
    mproc_async_result_free(r);
  }
  // Use after close.
  mproc_async_result_t *r;
  int status;
  int64_t item = 1, out;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, &r),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_map(pool.p, double_it, &item, 8, 1, 0, &out, 8, nullptr),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_join(pool.p, 0), 0);
  EXPECT_TRUE(all_reaped(pids));
}

TEST_P(PoolM, TerminateFailsWorkInFlight) {
  Pool pool(2);
  CallbackLog log;
  mproc_apply_options_t cb = {on_ok, on_error, &log, {0}};
  std::vector<mproc_async_result_t *> rs(6);
  int ms = 30000;
  for (auto &r : rs)
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms, sizeof ms,
                                     &cb, &r),
              0);
  std::vector<int> items(100, 30000);
  mproc_imap_t *it;
  ASSERT_EQ(mproc_pool_imap(pool.p, sleep_then_echo, items.data(), sizeof(int),
                            100, 1, &it),
            0);
  sleep_us(100000); // let two of them start
  std::vector<mproc_pid_t> pids = pool.pids();
  ASSERT_EQ(mproc_pool_terminate(pool.p), 0);
  for (auto r : rs) {
    int status = 0;
    ASSERT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, MPROC_ECLOSED);
    mproc_async_result_free(r);
  }
  EXPECT_EQ(log.failed.load(), 6);
  for (int i = 0; i < 100; i++) {
    int status = 0;
    ASSERT_EQ(mproc_imap_next(it, 0, nullptr, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, MPROC_ECLOSED);
  }
  mproc_imap_free(it);
  mproc_async_result_t *r;
  EXPECT_EQ(mproc_pool_apply_async(pool.p, echo, "x", 1, nullptr, &r),
            MPROC_ESTATE);
  EXPECT_EQ(mproc_pool_join(pool.p, scaled_ms(10000)), 0);
  EXPECT_EQ(mproc_pool_terminate(pool.p), 0); // twice is harmless
  EXPECT_TRUE(all_reaped(pids));
}

TEST_P(PoolM, EveryKindOfWorkerDeathFailsOnlyItsTask) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool pool(2);
    struct Case {
      Death how;
      int exitcode;
    } cases[] = {{DIE_SEGV, kSegvExit},
                 {DIE_ABORT, kAbortExit},
                 {DIE_EXIT3, 3},
                 {DIE_WAIT_FOR_KILL, kOutsideKillExit}};
    for (const Case &c : cases) {
      shared()->victim_pid.store(0);
      std::vector<mproc_async_result_t *> before(5), after(5);
      int ms = 5;
      for (auto &r : before)
        ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms,
                                         sizeof ms, nullptr, &r),
                  0);
      mproc_async_result_t *victim;
      ASSERT_EQ(mproc_pool_apply_async(pool.p, die, &c.how, sizeof c.how,
                                       nullptr, &victim),
                0);
      for (auto &r : after)
        ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &ms,
                                         sizeof ms, nullptr, &r),
                  0);
      if (c.how == DIE_WAIT_FOR_KILL) {
        // Killed from outside, by pid, while it runs the task.
        ASSERT_TRUE(kill_victim());
      }
      int status = 0, code = 0;
      get_string(victim, &status);
      EXPECT_EQ(status, MPROC_EWORKERLOST) << c.how;
      EXPECT_EQ(mproc_async_result_successful(victim), 0);
      ASSERT_EQ(mproc_async_result_exitcode(victim, &code), 0);
      EXPECT_EQ(code, c.exitcode) << c.how;
      mproc_async_result_free(victim);
      for (auto *v : {&before, &after}) {
        for (auto r : *v) {
          get_string(r, &status);
          EXPECT_EQ(status, 0) << c.how;
          mproc_async_result_free(r);
        }
      }
    }
    // The pool still has its two workers: two tasks meet, each in one. (The
    // last replacement may start only now.)
    int two = 2, status = -1;
    std::vector<mproc_async_result_t *> both(2);
    for (auto &r : both)
      ASSERT_EQ(
          mproc_pool_apply_async(pool.p, meet, &two, sizeof two, nullptr, &r),
          0);
    for (auto r : both) {
      get_string(r, &status);
      EXPECT_EQ(status, 0);
      mproc_async_result_free(r);
    }
    EXPECT_EQ(pool.pids().size(), 2u);
  }
}

// Item 7 crashes its worker: its chunk (items 5..9) fails, nothing else.
int crash_on_seven(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  if (v == 7)
    crash();
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(crash_on_seven);

TEST_P(PoolM, WorkerDeathFailsItsWholeChunkOnly) {
  Pool pool(2);
  std::vector<int64_t> items(20), out(20);
  std::vector<int> st(20);
  for (int i = 0; i < 20; i++)
    items[i] = i;
  EXPECT_EQ(mproc_pool_map(pool.p, crash_on_seven, items.data(), 8, 20, 5,
                           out.data(), 8, st.data()),
            MPROC_EWORKERLOST);
  for (int i = 0; i < 20; i++) {
    if (i >= 5 && i < 10) {
      EXPECT_EQ(st[i], MPROC_EWORKERLOST) << i;
    } else {
      EXPECT_EQ(st[i], 0) << i;
      EXPECT_EQ(out[i], i);
    }
  }
}

int sleep_a_while(const void *, size_t) {
  for (int i = 0; i < 100; i++)
    sleep_us(100000);
  return 0;
}
MPROC_TARGET(sleep_a_while);

// Pipe ends must not leak into other children: a worker's death is seen
// through end of file on its result pipe, and a worker is told to exit
// through end of file on its task pipe. Neither works if the workers of a
// pool created later, or a Process started later, hold copies.
TEST_P(PoolM, OtherChildrenDoNotHoldAWorkersPipes) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool a(2);
    Pool b(2);
    mproc_process_t *other;
    mproc_process_options_t po = {};
    po.start_method = g_method;
    ASSERT_EQ(mproc_process_create(&other, sleep_a_while, nullptr, 0, &po), 0);
    ASSERT_EQ(mproc_process_start(other), 0);
    int how = DIE_WAIT_FOR_KILL;
    mproc_async_result_t *r;
    ASSERT_EQ(mproc_pool_apply_async(a.p, die, &how, sizeof how, nullptr, &r),
              0);
    ASSERT_TRUE(kill_victim());
    int status = 0;
    EXPECT_EQ(
        mproc_async_result_get(r, scaled_ms(5000), &status, nullptr, nullptr),
        0);
    EXPECT_EQ(status, MPROC_EWORKERLOST);
    mproc_async_result_free(r);
    // Told to exit through end of file on their task pipes, the workers of
    // both pools exit while the other process, started after them, lives.
    ASSERT_EQ(mproc_pool_close(a.p), 0);
    ASSERT_EQ(mproc_pool_close(b.p), 0);
    EXPECT_EQ(mproc_pool_join(a.p, scaled_ms(5000)), 0);
    EXPECT_EQ(mproc_pool_join(b.p, scaled_ms(5000)), 0);
    int alive = 0;
    EXPECT_EQ(mproc_process_is_alive(other, &alive), 0);
    EXPECT_EQ(alive, 1);
    mproc_process_kill(other);
    mproc_process_join(other, MPROC_INFINITE);
    mproc_process_free(other);
  }
}

TEST_P(PoolM, TaskTimeoutKillsAndReplacesTheWorker) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.task_timeout_ms = 200;
  Pool pool(&o);
  int slow = 30000, quick = 5;
  mproc_async_result_t *r, *q[6];
  ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &slow, sizeof slow,
                                   nullptr, &r),
            0);
  for (auto &x : q)
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &quick,
                                     sizeof quick, nullptr, &x),
              0);
  int status = 0, code = 0;
  get_string(r, &status);
  EXPECT_EQ(status, MPROC_ETIMEDOUT);
  ASSERT_EQ(mproc_async_result_exitcode(r, &code), 0);
  EXPECT_EQ(code, -SIGKILL);
  mproc_async_result_free(r);
  for (auto x : q) {
    get_string(x, &status);
    EXPECT_EQ(status, 0);
    mproc_async_result_free(x);
  }
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
}

// Defect: a large task timeout overflowed the task's deadline (UBSan
// aborted; otherwise the deadline lay in the past and tasks timed out at
// once). MPROC_INFINITE, like every timeout, and any huge value mean no
// limit; only other negatives are refused.
TEST_P(PoolM, TaskTimeoutInfiniteOrHugeIsNoLimit) {
  for (int64_t ms : {MPROC_INFINITE, INT64_MAX, INT64_MAX / 1000000 + 1,
                     INT64_MAX / 1000000}) {
    mproc_pool_options_t o = {};
    o.processes = 1;
    o.task_timeout_ms = ms;
    Pool pool(&o);
    ASSERT_NE(pool.p, nullptr) << ms;
    int wait = 20, status = -1;
    // Through the pool's thread and through a lease.
    mproc_async_result_t *r;
    ASSERT_EQ(mproc_pool_apply_async(pool.p, sleep_then_echo, &wait,
                                     sizeof wait, nullptr, &r),
              0);
    get_string(r, &status);
    EXPECT_EQ(status, 0) << ms;
    mproc_async_result_free(r);
    ASSERT_EQ(mproc_pool_apply(pool.p, sleep_then_echo, &wait, sizeof wait,
                               &status, nullptr, nullptr),
              0);
    EXPECT_EQ(status, 0) << ms;
  }
  mproc_pool_options_t o = {};
  mproc_pool_t *p = nullptr;
  o.task_timeout_ms = -2;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
  o.task_timeout_ms = INT64_MIN;
  EXPECT_EQ(mproc_pool_create(&p, &o), MPROC_EINVAL);
}

// ---- blocking apply: the calling thread talks to an idle worker itself ---

// The argument and result of one blocking apply from one of many threads.
TEST_P(PoolM, BlockingApplyFromManyThreadsBesideAMap) {
  Pool pool(2);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; i++) {
        std::string arg = "t" + std::to_string(t) + ":" + std::to_string(i);
        int status = -1;
        void *data = nullptr;
        size_t size = 0;
        if (mproc_pool_apply(pool.p, echo, arg.data(), arg.size(), &status,
                             &data, &size) != 0 ||
            status != 0 || std::string(static_cast<char *>(data), size) != arg)
          wrong++;
        mproc_pool_result_free(data);
      }
    });
  }
  // A map at the same time: its chunks queue while callers lease workers.
  std::vector<int64_t> items(2000), out(2000);
  for (int i = 0; i < 2000; i++)
    items[i] = i;
  ASSERT_EQ(mproc_pool_map(pool.p, double_it, items.data(), 8, items.size(), 3,
                           out.data(), 8, nullptr),
            0);
  for (auto &th : threads)
    th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < 2000; i++)
    ASSERT_EQ(out[i], 2 * i);
}

TEST_P(PoolM, BlockingApplyWorkerDeathFailsOnlyThatCall) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  for (Death how : {DIE_SEGV, DIE_ABORT, DIE_EXIT3, DIE_WAIT_FOR_KILL}) {
    shared()->victim_pid.store(0);
    int status = 0, rc = -1;
    std::thread caller([&] {
      rc = mproc_pool_apply(pool.p, die, &how, sizeof how, &status, nullptr,
                            nullptr);
    });
    if (how == DIE_WAIT_FOR_KILL) {
      EXPECT_TRUE(kill_victim()); // the caller is joined either way
    }
    caller.join();
    EXPECT_EQ(rc, 0) << how;
    EXPECT_EQ(status, MPROC_EWORKERLOST) << how;
    ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
              0);
    EXPECT_EQ(status, 0) << how;
  }
  // The replacements are started by the pool's thread, perhaps still now.
  size_t workers = 0;
  for (int i = 0; i < 1000 && workers != 2; i++) {
    workers = pool.pids().size();
    sleep_us(10000);
  }
  EXPECT_EQ(workers, 2u);
}

TEST_P(PoolM, BlockingApplyPastTheTaskTimeout) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.task_timeout_ms = 200;
  Pool pool(&o);
  int slow = 30000, status = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, sleep_then_echo, &slow, sizeof slow,
                             &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, MPROC_ETIMEDOUT);
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
}

TEST_P(PoolM, TerminateEndsABlockingApply) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  Death how = DIE_WAIT_FOR_KILL; // runs for a minute unless killed
  int status = 0, rc = -1;
  std::thread caller([&] {
    rc = mproc_pool_apply(pool.p, die, &how, sizeof how, &status, nullptr,
                          nullptr);
  });
  EXPECT_GT(victim_pid(), 0);
  std::vector<mproc_pid_t> pids = pool.pids();
  ASSERT_EQ(mproc_pool_terminate(pool.p), 0);
  caller.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(status, MPROC_ECLOSED);
  EXPECT_TRUE(all_reaped(pids));
}

// Says it runs (its pid in the shared victim_pid), then takes 300 ms.
int announce_then_sleep(const void *, size_t, mproc_buf_t *) {
  if (!shared())
    return 1;
  shared()->victim_pid.store(mproc_getpid());
  sleep_us(300000);
  return 0;
}
MPROC_TASK(announce_then_sleep);

TEST_P(PoolM, CloseLetsABlockingApplyFinish) {
  ASSERT_NE(reset_shared(), nullptr);
  Pool pool(2);
  int status = -1, rc = -1;
  std::thread caller([&] {
    rc = mproc_pool_apply(pool.p, announce_then_sleep, nullptr, 0, &status,
                          nullptr, nullptr);
  });
  EXPECT_GT(victim_pid(), 0); // the call's task runs: close comes after it
  EXPECT_EQ(mproc_pool_close(pool.p), 0);
  EXPECT_EQ(mproc_pool_join(pool.p, scaled_ms(30000)), 0);
  caller.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(status, 0);
}

// An idle worker killed from outside: the next call may write to its dead
// pipe (which on POSIX must not raise SIGPIPE in the caller: its default
// action would end this test process), still succeeds, and the worker is
// replaced.
TEST_P(PoolM, IdleWorkerKilledFromOutside) {
  Pool pool(2);
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr),
            0);
  std::vector<mproc_pid_t> before = pool.pids();
  ASSERT_EQ(before.size(), 2u);
  for (mproc_pid_t victim : before) {
    ASSERT_TRUE(ours(victim));
    kill_by_pid(victim);
    ASSERT_TRUE(mproc_test::wait_dead(victim, scaled_ms(10000)));
    // The first call may land on the dead worker: when its frame was
    // written whole (another process, the fork server say, still held the
    // pipe's read end for a moment), the pool cannot know it was never
    // read, and reports worker-lost rather than risk a second run. The
    // calls after it succeed.
    for (int i = 0; i < 3; i++) {
      ASSERT_EQ(
          mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr), 0);
      if (i == 0 && status == MPROC_EWORKERLOST)
        continue;
      EXPECT_EQ(status, 0) << "call " << i;
    }
  }
  // Both replaced, well within the pool's idle checks.
  std::vector<mproc_pid_t> after;
  for (int i = 0; i < 500; i++) {
    after = pool.pids();
    if (after.size() == 2 &&
        std::find(after.begin(), after.end(), before[0]) == after.end() &&
        std::find(after.begin(), after.end(), before[1]) == after.end())
      break;
    sleep_us(10000);
  }
  ASSERT_EQ(after.size(), 2u);
  for (mproc_pid_t pid : before)
    EXPECT_EQ(std::find(after.begin(), after.end(), pid), after.end());
}

void check_recycling(size_t maxtasks) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.maxtasksperchild = maxtasks;
  o.initializer = initializer;
  o.initargs = "hello";
  o.initargs_size = 6;
  Pool pool(&o);
  const size_t n = 30;
  std::vector<InitReport> out(n);
  std::vector<int> st(n);
  ASSERT_EQ(mproc_pool_map(pool.p, report_init, nullptr, 0, n, 1, out.data(),
                           sizeof(InitReport), st.data()),
            0);
  std::map<int64_t, int> per_pid;
  for (size_t i = 0; i < n; i++) {
    EXPECT_EQ(st[i], 0);
    EXPECT_EQ(out[i].runs, 1); // the initializer ran once in this worker
    EXPECT_STREQ(out[i].arg, "hello");
    per_pid[out[i].pid]++;
  }
  for (auto &kv : per_pid)
    EXPECT_LE(kv.second, (int)maxtasks) << kv.first;
  EXPECT_GE(per_pid.size(), n / maxtasks);
}

TEST_P(PoolM, MaxTasksPerChildOne) { check_recycling(1); }
TEST_P(PoolM, MaxTasksPerChildThree) { check_recycling(3); }

TEST_P(PoolM, StressRandomWorkerKillsDuringMap) {
  ASSERT_NE(reset_shared(), nullptr);
  {
    Pool pool(3);
    const int n = 20000;
    std::vector<int> items(n);
    for (int i = 0; i < n; i++)
      items[i] = i;
    std::atomic<bool> stop{false};
    std::atomic<int> kills{0};
    std::thread killer([&] {
      std::mt19937 rng(12345);
      int64_t next_at = 0;
      while (!stop.load()) {
        std::vector<mproc_pid_t> pids = pool.pids();
        // A kill waits for the replacement of the last one and for some
        // work done since: a spawned worker (in a sanitizer build above
        // all) starts far slower than a fork, and kills faster than the
        // pool can replace workers would only measure the start-up.
        if (pids.size() == 3 && shared()->tasks_run.load() >= next_at) {
          mproc_pid_t pid = pids[rng() % pids.size()];
          // Only a worker of this pool: a child of this process.
          if (ours(pid) && kill_by_pid(pid)) {
            kills++;
            next_at = shared()->tasks_run.load() + kTasksBetweenKills;
          }
        }
        sleep_us(3000 + rng() % 4000);
      }
    });
    long lost = 0, ok = 0;
    for (int round = 0; round < 20; round++) {
      for (int i = 0; i < n; i++)
        shared()->runs[i].store(0);
      std::vector<int> out(n, -1), st(n, 12345);
      int r = mproc_pool_map(pool.p, count_run, items.data(), sizeof(int), n, 1,
                             out.data(), sizeof(int), st.data());
      EXPECT_TRUE(r == 0 || r == MPROC_EWORKERLOST) << r;
      int bad = 0;
      for (int i = 0; i < n; i++) {
        int runs = shared()->runs[i].load();
        if (st[i] == 0) {
          ok++;
          bad += out[i] != i * 3 || runs != 1; // ran exactly once
        } else if (st[i] == MPROC_EWORKERLOST) {
          lost++;
          bad += runs > 1; // never run again after it was lost
        } else {
          bad++;
        }
      }
      EXPECT_EQ(bad, 0) << "round " << round;
    }
    stop = true;
    killer.join();
    EXPECT_GT(kills.load(), 0);
    EXPECT_GT(ok, 0);
    std::printf("stress: %d kills, %ld tasks ok, %ld lost with their worker\n",
                kills.load(), ok, lost);
    // The pool still works, with all its workers. A worker killed just
    // before the killer stopped may not be noticed yet, and may take the
    // next task down with it: that task alone reports it, the next works.
    int status = MPROC_EWORKERLOST;
    for (int attempt = 0; attempt < 5 && status == MPROC_EWORKERLOST; attempt++)
      ASSERT_EQ(
          mproc_pool_apply(pool.p, echo, "x", 1, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, 0);
  }
}

TEST_P(PoolM, NoZombiesAfterFree) {
  std::vector<mproc_pid_t> pids;
  {
    mproc_pool_options_t o = {};
    o.processes = 3;
    o.maxtasksperchild = 2;
    Pool pool(&o);
    std::vector<int64_t> out(12);
    ASSERT_EQ(mproc_pool_map(pool.p, my_pid, nullptr, 0, 12, 1, out.data(), 8,
                             nullptr),
              0);
    for (int64_t p : out)
      pids.push_back((mproc_pid_t)p);
    for (mproc_pid_t p : pool.pids())
      pids.push_back(p);
  }
  EXPECT_TRUE(all_reaped(pids));
}

int lock_task(const void *arg, size_t size, mproc_buf_t *) {
  mproc_lock_t l;
  if (size != sizeof l)
    return 100;
  memcpy(&l, arg, sizeof l);
  int r = mproc_lock_acquire(&l, 10000);
  if (r != 0)
    return 200 - r;
  return mproc_lock_release(&l) == 0 ? 0 : 300;
}
MPROC_TASK(lock_task);

int try_lock_task(const void *arg, size_t, mproc_buf_t *) {
  mproc_lock_t l;
  memcpy(&l, arg, sizeof l);
  return mproc_lock_acquire(&l, 0) == MPROC_ETIMEDOUT ? 0 : 1;
}
MPROC_TASK(try_lock_task);

TEST_P(PoolM, SharedLockCreatedAfterThePool) {
  Pool pool(2);
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  std::vector<mproc_lock_t> items(8, lock);
  std::vector<int> st(8, -1);
  EXPECT_EQ(mproc_pool_map(pool.p, lock_task, items.data(), sizeof lock, 8, 1,
                           nullptr, 0, st.data()),
            0);
  for (int s : st)
    EXPECT_EQ(s, 0);
  // Held by the parent: a worker's try times out and says so.
  ASSERT_EQ(mproc_lock_acquire(&lock, 0), 0);
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool.p, try_lock_task, &lock, sizeof lock, &status,
                             nullptr, nullptr),
            0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
}

// Deliberately not registered.
int unregistered_task(const void *, size_t, mproc_buf_t *) { return 0; }
int unregistered_initializer(const void *, size_t) { return 0; }

// Under fork a task travels by address; under spawn and forkserver by its
// registered name, and a call naming an unregistered one fails before
// anything is queued.
TEST_P(PoolM, UnregisteredTaskOrInitializer) {
  const int expected = g_method == MPROC_START_FORK ? 0 : MPROC_ENOTREG;
  mproc_pool_options_t o = {};
  o.processes = 1;
  o.start_method = g_method;
  o.initializer = unregistered_initializer;
  mproc_pool_t *p = nullptr;
  EXPECT_EQ(mproc_pool_create(&p, &o), expected);
  EXPECT_EQ(mproc_pool_free(p), 0);

  Pool pool(1);
  int status = -1;
  EXPECT_EQ(mproc_pool_apply(pool.p, unregistered_task, "x", 1, &status,
                             nullptr, nullptr),
            expected);
  mproc_async_result_t *r = nullptr;
  EXPECT_EQ(
      mproc_pool_apply_async(pool.p, unregistered_task, "x", 1, nullptr, &r),
      expected);
  EXPECT_EQ(r != nullptr, expected == 0);
  mproc_async_result_free(r);
  int64_t items[3] = {1, 2, 3};
  EXPECT_EQ(mproc_pool_map(pool.p, unregistered_task, items, 8, 3, 1, nullptr,
                           0, nullptr),
            expected);
  mproc_imap_t *it = nullptr;
  EXPECT_EQ(mproc_pool_imap(pool.p, unregistered_task, items, 8, 3, 1, &it),
            expected);
  mproc_imap_free(it);
  it = nullptr;
  EXPECT_EQ(
      mproc_pool_imap_unordered(pool.p, unregistered_task, items, 8, 3, 1, &it),
      expected);
  mproc_imap_free(it);
  // The pool goes on with registered tasks.
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(mproc_pool_apply(pool.p, echo, "ok", 2, &status, &data, &size), 0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(std::string(static_cast<char *>(data), size), "ok");
  mproc_pool_result_free(data);
}

// Set by the test process only: a fork worker has its copy, a spawned or
// forkserver worker (a fresh run of the program) has the initial value.
int g_marker = 0;

int read_marker(const void *, size_t, mproc_buf_t *out) {
  return mproc_buf_set(out, &g_marker, sizeof g_marker);
}
MPROC_TASK(read_marker);

TEST_P(PoolM, WorkersAreStartedWithThePoolsMethod) {
  g_marker = 42;
  Pool pool(1);
  g_marker = 0;
  int status = -1;
  void *data = nullptr;
  size_t size = 0;
  ASSERT_EQ(
      mproc_pool_apply(pool.p, read_marker, nullptr, 0, &status, &data, &size),
      0);
  ASSERT_EQ(size, sizeof(int));
  int seen;
  memcpy(&seen, data, sizeof seen);
  mproc_pool_result_free(data);
  EXPECT_EQ(seen, g_method == MPROC_START_FORK ? 42 : 0);
}

// The default start method (mproc_set_start_method) chooses the workers'.
TEST_P(PoolM, ProgramDefaultStartMethod) {
  ASSERT_EQ(mproc_set_start_method(g_method), 0);
  mproc_pool_options_t o = {};
  o.processes = 1;
  mproc_pool_t *p = nullptr;
  ASSERT_EQ(mproc_pool_create(&p, &o), 0);
  int status = -1;
  int expected = g_method == MPROC_START_FORK ? 0 : MPROC_ENOTREG;
  EXPECT_EQ(
      mproc_pool_apply(p, unregistered_task, "x", 1, &status, nullptr, nullptr),
      expected);
  EXPECT_EQ(mproc_pool_apply(p, echo, "x", 1, &status, nullptr, nullptr), 0);
  EXPECT_EQ(mproc_pool_free(p), 0);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_DEFAULT), 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, PoolM, ::testing::ValuesIn(methods()),
                         method_name);

#ifdef MPROC_POOL_EXAMPLE_DIR
TEST(Pool, SeedExampleApplyAsync) {
  // 200 ms instead of the seed's 2 s per task.
#ifdef _WIN32
  const char *exe = "/pool_apply_async.exe";
#else
  const char *exe = "/pool_apply_async";
#endif
  auto r = mproc_test::run_program(
      {std::string(MPROC_POOL_EXAMPLE_DIR) + exe, "200"}, scaled_ms(60000));
  ASSERT_EQ(r.exit_code(), 0) << r.status << r.err;
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < r.out.size()) {
    size_t nl = r.out.find('\n', at);
    if (nl == std::string::npos)
      nl = r.out.size();
    lines.push_back(r.out.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 11u) << r.out;
  std::set<std::string> msgs;
  for (int i = 0; i < 10; i++) {
    size_t dash = lines[i].find(" -- Tedu ");
    ASSERT_NE(dash, std::string::npos) << lines[i];
    msgs.insert(lines[i].substr(dash + 4));
  }
  EXPECT_EQ(msgs.size(), 10u);
  EXPECT_EQ(lines[10], "8888");
}
#endif

} // namespace
