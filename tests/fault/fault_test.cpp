// SPDX-License-Identifier: MIT
// A fault at every system call: each scenario runs in a helper process of
// its own against the fault-injection build of mproc, once with its calls
// counted, then once for each N with the Nth call failing, then once with
// every call that can be interrupted interrupted once by EINTR. After each
// run the helper checks that the result was either right or a clean
// MPROC_E* code, that EINTR changed nothing, and that no descriptor,
// thread, child or segment was left; the test checks that the helper
// neither crashed nor hung.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
// windows.h before these
#include <tlhelp32.h>
#include <winternl.h>
#else
#include <dirent.h>
#include <unistd.h>
#endif

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_table.h"
#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"
#include "test_tasks.h"

namespace {

using mproc_test::run_helper;

// ---- scenarios -------------------------------------------------------------

// A scenario's armed part returns 0 when its result was right, a negative
// MPROC_E* code when a call failed cleanly, or a positive number when the
// result was wrong. It calls disarm() before cleaning up, and its clean-up
// (unarmed) must succeed: a failure may not leave an object unusable.
using Disarm = void (*)();
using ScenarioFn = int (*)(Disarm disarm);

void disarm_table() { mproc_fault_disarm(); }

constexpr int WRONG = 1;
constexpr int CLEANUP_FAILED = 3;

int exit_seven(const void *arg, size_t size) {
  return size == 3 && memcmp(arg, "abc", 3) == 0 ? 7 : 1;
}
MPROC_TARGET(exit_seven);

int process_with(mproc_start_method_t method, Disarm disarm) {
  mproc_process_options_t o = {};
  o.start_method = method;
  mproc_process_t *p = nullptr;
  int rc = mproc_process_create(&p, exit_seven, "abc", 3, &o);
  if (rc != 0) {
    disarm();
    return rc;
  }
  int started = (rc = mproc_process_start(p)) == 0;
  if (rc == 0)
    rc = mproc_process_join(p, 30000);
  if (rc == 0) {
    int code = 0;
    rc = mproc_process_exitcode(p, &code);
    if (rc == 0 && code != 7) {
      fprintf(stderr, "exit code %d\n", code);
      rc = WRONG;
    }
  }
  disarm();
  if (started && mproc_process_join(p, 30000) != 0)
    return CLEANUP_FAILED;
  if (mproc_process_free(p) != 0)
    return CLEANUP_FAILED;
  return rc;
}

[[maybe_unused]] int process_fork(Disarm d) {
  return process_with(MPROC_START_FORK, d);
}
int process_spawn(Disarm d) { return process_with(MPROC_START_SPAWN, d); }
[[maybe_unused]] int process_forkserver(Disarm d) {
  return process_with(MPROC_START_FORKSERVER, d);
}

// Put messages of a size into a queue, get them back, compare.
int queue_round_trip(size_t size, Disarm disarm) {
  mproc_queue_options_t o = {0, 4096, 0, {0}};
  mproc_queue_t q;
  int rc = mproc_queue_create(&q, &o);
  if (rc != 0) {
    disarm();
    return rc;
  }
  std::vector<unsigned char> msg(size), back(size);
  for (size_t i = 0; i < size; i++)
    msg[i] = (unsigned char)(i * 7 + 1);
  int put = 0, got = 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    msg[0] = (unsigned char)i;
    if ((rc = mproc_queue_put(&q, msg.data(), size, 1000)) == 0)
      put++;
  }
  for (int i = 0; i < put && rc == 0; i++) {
    size_t n = 0;
    if ((rc = mproc_queue_get_into(&q, back.data(), size, &n, 1000)) != 0)
      break;
    got++;
    msg[0] = (unsigned char)i;
    if (n != size || back != msg)
      rc = WRONG;
  }
  disarm();
  // Whatever was put and not taken is still there, whole.
  for (; got < put && rc < 0; got++) {
    size_t n = 0;
    if (mproc_queue_get_into(&q, back.data(), size, &n, 0) != 0 || n != size)
      return WRONG;
  }
  size_t left = 1;
  if (mproc_queue_size(&q, &left) != 0 || mproc_queue_destroy(&q) != 0)
    return CLEANUP_FAILED;
  return left != 0 && rc == 0 ? WRONG : rc;
}

int queue_small(Disarm d) { return queue_round_trip(24, d); }
int queue_large(Disarm d) { return queue_round_trip(10000, d); }

// A consumer process takes what the test puts into a queue of one slot,
// so both sides sleep in the kernel in turn.
int consume_five(const void *arg, size_t) {
  mproc_queue_t q;
  memcpy(&q, arg, sizeof q);
  for (uint32_t i = 0; i < 5; i++) {
    uint32_t v = 0;
    size_t n = 0;
    if (mproc_queue_get_into(&q, &v, sizeof v, &n, 30000) != 0 || v != i)
      return 1;
  }
  return 0;
}
MPROC_TARGET(consume_five);

[[maybe_unused]] int queue_between_processes(Disarm disarm) {
  mproc_queue_options_t o = {1, 0, 0, {0}};
  mproc_queue_t q;
  int rc = mproc_queue_create(&q, &o);
  if (rc != 0) {
    disarm();
    return rc;
  }
  mproc_process_options_t po = {};
  po.start_method = MPROC_START_FORK;
  mproc_process_t *p = nullptr;
  uint32_t sent = 0;
  if ((rc = mproc_process_create(&p, consume_five, &q, sizeof q, &po)) == 0 &&
      (rc = mproc_process_start(p)) == 0) {
    while (sent < 5 &&
           (rc = mproc_queue_put(&q, &sent, sizeof sent, 30000)) == 0)
      sent++;
  }
  disarm();
  if (p) {
    // A consumer that runs is owed what was not put; then it must have
    // seen every message once, in order.
    for (; mproc_process_pid(p) != 0 && sent < 5; sent++)
      if (mproc_queue_put(&q, &sent, sizeof sent, 30000) != 0)
        return CLEANUP_FAILED;
    int code = -1;
    if (mproc_process_pid(p) != 0 &&
        (mproc_process_join(p, 30000) != 0 ||
         mproc_process_exitcode(p, &code) != 0 || code != 0)) {
      fprintf(stderr, "consumer: %d\n", code);
      return WRONG;
    }
    if (mproc_process_free(p) != 0)
      return CLEANUP_FAILED;
  }
  if (mproc_queue_destroy(&q) != 0)
    return CLEANUP_FAILED;
  return rc;
}

int locks_and_waits(Disarm disarm) {
  mproc_lock_t lock;
  mproc_semaphore_t sem;
  mproc_event_t ev;
  int made = 0, rc;
  if ((rc = mproc_lock_create(&lock)) == 0 && ++made &&
      (rc = mproc_semaphore_create(&sem, 0, 0)) == 0 && ++made &&
      (rc = mproc_event_create(&ev)) == 0 && ++made) {
    // A thread holds the lock until the main thread waits for it, then
    // sets the event the main thread waits for next.
    std::atomic<int> held{0};
    std::thread t([&] {
      if (mproc_lock_acquire(&lock, MPROC_INFINITE) != 0)
        return;
      held = 1;
      mproc_test::sleep_ms(2);
      mproc_lock_release(&lock);
      mproc_event_set(&ev);
    });
    while (!held.load())
      std::this_thread::yield();
    rc = mproc_lock_acquire(&lock, 30000);
    if (rc == 0)
      rc = mproc_lock_release(&lock);
    int r2 = mproc_event_wait(&ev, 30000);
    if (rc == 0)
      rc = r2;
    int r3 = mproc_semaphore_acquire(&sem, 5);
    if (rc == 0 && r3 != MPROC_ETIMEDOUT)
      rc = r3 == 0 ? WRONG : r3;
    t.join();
  }
  disarm();
  if ((made > 0 && mproc_lock_destroy(&lock) != 0) ||
      (made > 1 && mproc_semaphore_destroy(&sem) != 0) ||
      (made > 2 && mproc_event_destroy(&ev) != 0))
    return CLEANUP_FAILED;
  return rc;
}

using test_tasks::square; // ../test_tasks.cpp

int pool_with(mproc_start_method_t method, Disarm disarm) {
  mproc_pool_options_t o = {};
  o.processes = 2;
  o.start_method = method;
  mproc_pool_t *pool = nullptr;
  int rc = mproc_pool_create(&pool, &o);
  if (rc != 0) {
    disarm();
    return rc;
  }
  int items[6] = {1, 2, 3, 4, 5, 6}, results[6] = {0}, statuses[6];
  rc = mproc_pool_map(pool, square, items, sizeof(int), 6, 2, results,
                      sizeof(int), statuses);
  for (int i = 0; i < 6 && rc == 0; i++) {
    if (statuses[i] < 0)
      rc = statuses[i]; // worker lost, or another of mproc's codes
    else if (statuses[i] != 0 || results[i] != items[i] * items[i])
      rc = WRONG;
  }
  if (rc == 0) {
    int status = 0, v = 9;
    void *data = nullptr;
    size_t size = 0;
    rc = mproc_pool_apply(pool, square, &v, sizeof v, &status, &data, &size);
    if (rc == 0 && status < 0)
      rc = status;
    else if (rc == 0) {
      int r = 0;
      if (status != 0 || size != sizeof r)
        rc = WRONG;
      else if (memcpy(&r, data, sizeof r), r != 81)
        rc = WRONG;
    }
    mproc_free(data);
  }
  int r2 = mproc_pool_terminate(pool);
  if (rc == 0)
    rc = r2;
  disarm();
  if (mproc_pool_free(pool) != 0)
    return CLEANUP_FAILED;
  return rc;
}

[[maybe_unused]] int pool_fork(Disarm d) {
  return pool_with(MPROC_START_FORK, d);
}
[[maybe_unused]] int pool_spawn(Disarm d) {
  return pool_with(MPROC_START_SPAWN, d);
}

[[maybe_unused]] int procinfo(Disarm disarm) {
  mproc_proc_info_t info;
  int rc = mproc_proc_info(mproc_getpid(), &info);
  if (rc == 0) {
    if (info.pid != mproc_getpid())
      rc = WRONG;
    mproc_proc_info_free(&info);
  }
  mproc_proc_info_t *list = nullptr;
  size_t n = 0;
  int r2 = mproc_proc_list(MPROC_PROC_ALL, 0, &list, &n);
  if (r2 == 0) {
    bool self = false;
    for (size_t i = 0; i < n; i++)
      self = self || list[i].pid == mproc_getpid();
    if (!self)
      r2 = WRONG;
    mproc_proc_list_free(list, n);
  }
  disarm();
  return rc != 0 ? rc : r2;
}

struct Scenario {
  const char *name;
  ScenarioFn fn;
};

// Under Wine every process start takes a good part of a second: Windows
// sweeps process start and join, queues and locks, within a minute or two.
const Scenario kScenarios[] = {
#ifndef _WIN32
    {"ProcessFork", process_fork},
#endif
    {"ProcessSpawn", process_spawn},
#ifndef _WIN32
    {"ProcessForkserver", process_forkserver},
#endif
    {"QueueSmall", queue_small},
    {"QueueLarge", queue_large},
#ifndef _WIN32
    {"QueueBetweenProcesses", queue_between_processes},
#endif
    {"LocksAndWaits", locks_and_waits},
#ifndef _WIN32
    {"PoolFork", pool_fork},
    {"PoolSpawn", pool_spawn},
    {"ProcInfo", procinfo},
#endif
};

const Scenario *find_scenario(const char *name) {
  for (const Scenario &s : kScenarios)
    if (strcmp(s.name, name) == 0)
      return &s;
  return nullptr;
}

// ---- what a run may not leave behind
// ------------------------------------------

struct Leftovers {
  size_t fds, threads, children; // fds: descriptors, or handles on Windows
  std::vector<std::string> segments;
  std::string fd_kinds; // for the message: Windows handles by object type
  bool operator==(const Leftovers &o) const {
    return fds == o.fds && threads == o.threads && children == o.children &&
           segments == o.segments;
  }
};

#ifdef _WIN32
Leftovers leftovers() {
  Leftovers l;
  l.fds = mproc_test::count_handles(&l.fd_kinds);
  l.threads = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snap != INVALID_HANDLE_VALUE) {
    THREADENTRY32 t;
    t.dwSize = sizeof t;
    for (BOOL more = Thread32First(snap, &t); more;
         more = Thread32Next(snap, &t))
      l.threads += t.th32OwnerProcessID == GetCurrentProcessId();
    CloseHandle(snap);
  }
  // mproc's children that are still running (Windows has no zombies).
  l.children = 0;
  mproc_active_children(nullptr, 0, &l.children);
  l.segments = shared_testing::mproc_segments(mproc_getpid());
  return l;
}
#else
size_t count_dir(const char *path) {
  size_t n = 0;
  DIR *d = opendir(path);
  if (!d)
    return 0;
  while (struct dirent *e = readdir(d))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

Leftovers leftovers() {
  Leftovers l;
  l.fds = count_dir("/proc/self/fd");
  l.threads = count_dir("/proc/self/task");
  // Each thread's children, as the kernel lists them (a child belongs to
  // the thread that forked it): no scan of every process.
  l.children = 0;
  if (DIR *d = opendir("/proc/self/task")) {
    while (struct dirent *e = readdir(d)) {
      if (e->d_name[0] == '.')
        continue;
      std::string path = std::string("/proc/self/task/") + e->d_name;
      if (FILE *f = fopen((path + "/children").c_str(), "r")) {
        long pid;
        while (fscanf(f, "%ld", &pid) == 1)
          l.children++;
        fclose(f);
      }
    }
    closedir(d);
  }
  l.segments = shared_testing::mproc_segments(mproc_getpid());
  return l;
}
#endif

// How many readings in a row must agree before the baseline is taken.
// Under Wine a reading lists every thread of the machine (Toolhelp), a
// good part of a millisecond each.
#ifdef _WIN32
constexpr int kSettleReadings = 5;
#else
constexpr int kSettleReadings = 25;
#endif

// Children are reaped, and threads end, a moment after the calls that
// ended them return: wait (boundedly) for the counts to come back.
bool settles_to(const Leftovers &before, Leftovers *after) {
  int64_t deadline = mproc_test::now_ms() + mproc_test::scaled_ms(3000);
  for (;;) {
    *after = leftovers();
    if (*after == before)
      return true;
    if (mproc_test::now_ms() > deadline)
      return false;
    mproc_test::sleep_ms(1);
  }
}

// argv: scenario, mode (count, nth, eintr), N. Prints "calls=K" and one
// "site FN OFFSET ERRNO" line per failure point; exits 0 when all held.
MPROC_TEST_HELPER(fault_run) {
  if (argc < 3)
    return 100;
  const Scenario *s = find_scenario(argv[0]);
  if (!s)
    return 101;
  std::string mode = argv[1];
  uint64_t n = strtoull(argv[2], nullptr, 10);
  // Once unarmed first: what mproc makes once per process (the reaper,
  // the fork server) is then there before and after the measured run. So
  // is the thread-local of mproc_os_error(), which a failure sets: MinGW
  // makes its storage (and two handles) on the first use in a thread.
  (void)mproc_os_error();
  if (int rc = s->fn(disarm_table)) {
    fprintf(stderr, "unarmed run: %d\n", rc);
    return 102;
  }
  // The baseline once it holds still: the warm-up's children are reaped,
  // and their descriptors closed, a moment after it returned (by the
  // reaper thread, which may be slow to run on a busy machine).
  Leftovers before = leftovers();
  int64_t deadline = mproc_test::now_ms() + mproc_test::scaled_ms(3000);
  for (int same = 0;
       same < kSettleReadings && mproc_test::now_ms() < deadline;) {
    mproc_test::sleep_ms(2);
    Leftovers now = leftovers();
    same = now == before ? same + 1 : 0;
    before = now;
  }
  mproc_fault_arm(mode == "count"   ? MPROC_FAULT_COUNT
                  : mode == "eintr" ? MPROC_FAULT_EINTR
                                    : MPROC_FAULT_NTH,
                  n, 0);
  int rc = s->fn(disarm_table);
  uint64_t calls = mproc_fault_calls();
  mproc_fault_site_t sites[64];
  size_t nsites = mproc_fault_sites(sites, 64);
  disarm_table();
  printf("calls=%llu result=%s\n", (unsigned long long)calls,
         rc > 0 ? "wrong" : mproc_error_name(rc));
  for (size_t i = 0; i < nsites && i < 64; i++)
    printf("site %s %lld %d\n", sites[i].fn, sites[i].offset, sites[i].error);
  fflush(stdout);
  if (rc > 0) {
    fprintf(stderr, "wrong result or failed clean-up: %d\n", rc);
    return 1;
  }
  if (rc < 0 && mode != "nth") {
    fprintf(stderr, "%s run failed: %s\n", mode.c_str(), mproc_error_name(rc));
    return 1;
  }
  if (rc < 0 && strcmp(mproc_error_name(rc), "MPROC_EUNKNOWN") == 0) {
    fprintf(stderr, "not one of mproc's codes: %d\n", rc);
    return 1;
  }
  Leftovers after;
  if (!settles_to(before, &after)) {
    fprintf(stderr,
            "left behind: fds %zu -> %zu, threads %zu -> %zu, children %zu "
            "-> %zu, segments %zu -> %zu\n",
            before.fds, after.fds, before.threads, after.threads,
            before.children, after.children, before.segments.size(),
            after.segments.size());
    if (!before.fd_kinds.empty())
      fprintf(stderr, "handles by type:%s ->%s\n", before.fd_kinds.c_str(),
              after.fd_kinds.c_str());
    return 2;
  }
  return 0;
}

// ---- the sweep
// -----------------------------------------------------------------

// Distinct failure points (call site and error) seen by this process.
std::set<std::string> &all_sites() {
  static std::set<std::string> s;
  return s;
}

uint64_t parse_calls(const std::string &out) {
  size_t at = out.find("calls=");
  return at == std::string::npos ? 0 : strtoull(out.c_str() + at + 6, 0, 10);
}

size_t collect_sites(const std::string &out) {
  size_t n = 0, at = 0;
  while ((at = out.find("site ", at)) != std::string::npos) {
    size_t end = out.find('\n', at);
    all_sites().insert(out.substr(at, end - at));
    at = end;
    n++;
  }
  return n;
}

constexpr uint64_t kSweepMax = 120;

class FaultSweep : public ::testing::TestWithParam<const char *> {};

TEST_P(FaultSweep, EveryCallFailsInTurn) {
  auto counted = run_helper("fault_run", {GetParam(), "count", "0"},
                            mproc_test::scaled_ms(60000));
  ASSERT_EQ(counted.exit_code(), 0) << counted.err;
  uint64_t calls = parse_calls(counted.out);
  ASSERT_GT(calls, 0u) << counted.out;
  // A scenario of many calls repeats the same few sites (ProcInfo reads
  // every process of the machine): it is sampled evenly, kSweepMax runs.
  const uint64_t step = (calls + kSweepMax - 1) / kSweepMax;
  size_t runs = 0;
  for (uint64_t n = 1; n <= calls; n += step, runs++) {
    auto r = run_helper("fault_run", {GetParam(), "nth", std::to_string(n)},
                        mproc_test::scaled_ms(60000));
    collect_sites(r.out);
    ASSERT_EQ(r.exit_code(), 0) << "call " << n << " of " << calls
                                << " failing: status " << r.status << "\n"
                                << r.out << r.err;
    // A failure may cost retries, never a loop that spins on a call.
    EXPECT_LE(parse_calls(r.out), 8 * calls + 200)
        << "call " << n << " failing made a busy loop:\n"
        << r.out;
  }
  printf("%s: %llu calls, %zu of them failed in turn; %zu distinct failure "
         "points in this process's sweeps so far\n",
         GetParam(), (unsigned long long)calls, runs, all_sites().size());
}

#ifndef _WIN32 // no call is interrupted on Windows
TEST_P(FaultSweep, EveryCallInterruptedOnce) {
  auto r = run_helper("fault_run", {GetParam(), "eintr", "0"},
                      mproc_test::scaled_ms(60000));
  collect_sites(r.out);
  EXPECT_EQ(r.exit_code(), 0) << r.out << r.err;
  printf("%s: %llu calls interrupted once each\n", GetParam(),
         (unsigned long long)parse_calls(r.out));
}
#endif

// At the end of a run of the whole suite in one process: how many
// distinct failure points (site and error) its sweeps exercised.
class SiteCount : public ::testing::Environment {
public:
  void TearDown() override {
    printf("fault: %zu distinct failure points exercised\n",
           all_sites().size());
  }
};
::testing::Environment *const site_count =
    ::testing::AddGlobalTestEnvironment(new SiteCount);

std::vector<const char *> scenario_names() {
  std::vector<const char *> names;
  for (const Scenario &s : kScenarios)
    names.push_back(s.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, FaultSweep,
                         ::testing::ValuesIn(scenario_names()),
                         [](const ::testing::TestParamInfo<const char *> &i) {
                           return std::string(i.param);
                         });

} // namespace
