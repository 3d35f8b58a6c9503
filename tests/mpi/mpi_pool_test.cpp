// SPDX-License-Identifier: MIT
// The Pool over the MPI transport: the behaviours of pool_test.cpp that make
// sense across ranks, run by CTest under mpiexec (tests/CMakeLists.txt) with
// static and dynamic workers, 2 and 4 of them, one machine or two simulated
// ones, in both layouts. Every rank runs this program: the worker ranks
// serve in mproc_mpi_init() and never reach the tests.
//
//   --workers=static|dynamic   where the pool's ranks come from
//   --processes=N              worker ranks (dynamic; static takes them all)
//   --layout=supervisor        ranks run tasks in local worker processes
//   --local=N                  local workers per supervisor rank
//   --hosts=LIST               dynamic: the hosts to spawn the ranks on
//   --lose-rank                no tests: kill a worker rank under a task
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mproc_mpi.h"
#include "test_tasks.h"

namespace {

mproc_mpi_options_t g_mpi;
int g_processes = 0; // worker ranks asked for (0: the default)
int g_ranks = 0;     // worker ranks the first pool got

// ---- tasks (registered: ranks and their workers find them by name) -------

using test_tasks::echo;      // test_tasks.cpp
using test_tasks::fail_with; // test_tasks.cpp
using test_tasks::square;    // test_tasks.cpp

// Each item is an int; the result is its square, and items divisible by 7
// fail with the item as status.
int square_or_fail(const void *arg, size_t, mproc_buf_t *out) {
  int v, sq;
  memcpy(&v, arg, sizeof v);
  sq = v * v;
  mproc_buf_set(out, &sq, sizeof sq);
  return v % 7 == 0 && v != 0 ? v : 0;
}
MPROC_TASK(square_or_fail);

// The argument (a 64-bit size) bytes of a pattern.
int make_bytes(const void *arg, size_t, mproc_buf_t *out) {
  uint64_t n;
  memcpy(&n, arg, sizeof n);
  unsigned char *p = static_cast<unsigned char *>(mproc_buf_extend(out, n));
  if (!p)
    return 99;
  for (uint64_t i = 0; i < n; i++)
    p[i] = static_cast<unsigned char>(i * 131 + 7);
  return 0;
}
MPROC_TASK(make_bytes);

// Sleeps the argument's milliseconds, then answers this process's pid.
int nap_then_pid(const void *arg, size_t size, mproc_buf_t *out) {
  int ms = 0;
  if (size == sizeof ms)
    memcpy(&ms, arg, sizeof ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  mproc_pid_t pid = mproc_getpid();
  return mproc_buf_set(out, &pid, sizeof pid);
}
MPROC_TASK(nap_then_pid);

void crash() {
  signal(SIGSEGV, SIG_DFL); // MPI's own handler would print a backtrace
  raise(SIGSEGV);
}

int square_or_crash(const void *arg, size_t size, mproc_buf_t *out) {
  int v;
  memcpy(&v, arg, sizeof v);
  if (v == 13)
    crash();
  return square(arg, size, out);
}
MPROC_TASK(square_or_crash);

int segfault(const void *, size_t, mproc_buf_t *) {
  crash();
  return 0;
}
MPROC_TASK(segfault);

int aborts(const void *, size_t, mproc_buf_t *) {
  signal(SIGABRT, SIG_DFL);
  abort();
}
MPROC_TASK(aborts);

// Writes its pid to the file the argument names, then waits to be killed.
int pid_to_file_then_wait(const void *arg, size_t size, mproc_buf_t *) {
  std::string path(static_cast<const char *>(arg), size);
  std::string tmp = path + ".tmp";
  FILE *f = fopen(tmp.c_str(), "w");
  if (!f)
    return 98;
  fprintf(f, "%ld\n", static_cast<long>(mproc_getpid()));
  fclose(f);
  rename(tmp.c_str(), path.c_str()); // whole, or not there
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 0;
}
MPROC_TASK(pid_to_file_then_wait);

// How many times the initializer ran in this process.
int g_inits = 0;
int count_init(const void *, size_t) {
  g_inits++;
  return 0;
}
MPROC_TARGET(count_init);

int inits(const void *, size_t, mproc_buf_t *out) {
  return mproc_buf_set(out, &g_inits, sizeof g_inits);
}
MPROC_TASK(inits);

// ---- helpers ------------------------------------------------------------

bool supervisor() { return g_mpi.layout == MPROC_MPI_SUPERVISOR; }

mproc_pool_t *make_pool(mproc_pool_options_t o = mproc_pool_options_t{}) {
  mproc_pool_t *pool = nullptr;
  if (o.processes == 0)
    o.processes = g_processes;
  int r = mproc_mpi_pool_create(&pool, &o, &g_mpi);
  EXPECT_EQ(r, 0) << mproc_strerror(r);
  return pool;
}

void finish(mproc_pool_t *pool) {
  ASSERT_EQ(mproc_pool_close(pool), 0);
  ASSERT_EQ(mproc_pool_join(pool, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_pool_free(pool), 0);
}

int apply_int(mproc_pool_t *pool, mproc_task_fn fn, int arg, int *status) {
  void *data = nullptr;
  size_t size = 0;
  int r = mproc_pool_apply(pool, fn, &arg, sizeof arg, status, &data, &size);
  int v = -1;
  if (r == 0 && size == sizeof v)
    memcpy(&v, data, sizeof v);
  mproc_free(data);
  return v;
}

// ---- both layouts ---------------------------------------------------------

TEST(MpiPool, WorkersAreRanksWithHosts) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  std::vector<mproc_mpi_worker_info_t> info(64);
  size_t n = 0;
  ASSERT_EQ(mproc_mpi_pool_workers(pool, info.data(), info.size(), &n), 0);
  ASSERT_GT(n, 0u);
  std::set<int> ranks;
  for (size_t i = 0; i < n; i++) {
    EXPECT_GT(info[i].pid, 0);
    EXPECT_NE(info[i].host[0], 0);
    ranks.insert(info[i].rank);
  }
  if (g_processes > 0) {
    EXPECT_EQ(static_cast<int>(ranks.size()), g_processes);
  }
  g_ranks = static_cast<int>(ranks.size());
  // mproc_pool_worker_pids() answers for them too.
  std::vector<mproc_pid_t> pids(64);
  size_t count = 0;
  EXPECT_EQ(mproc_pool_worker_pids(pool, pids.data(), pids.size(), &count), 0);
  EXPECT_EQ(count, n);
  size_t small = 0;
  EXPECT_EQ(mproc_mpi_pool_workers(pool, info.data(), 1, &small),
            n > 1 ? MPROC_ERANGE : 0);
  finish(pool);
}

TEST(MpiPool, BadOptions) {
  mproc_pool_t *pool = nullptr;
  mproc_pool_options_t o = {};
  EXPECT_EQ(mproc_mpi_pool_create(nullptr, &o, &g_mpi), MPROC_EINVAL);
  o.processes = -1;
  EXPECT_EQ(mproc_mpi_pool_create(&pool, &o, &g_mpi), MPROC_EINVAL);
  mproc_mpi_options_t m = g_mpi;
  m.layout = static_cast<mproc_mpi_layout_t>(7);
  o.processes = 0;
  EXPECT_EQ(mproc_mpi_pool_create(&pool, &o, &m), MPROC_EINVAL);
  // A rank cannot be held to a time limit: only its local workers can.
  m = g_mpi;
  m.layout = MPROC_MPI_RANK_PER_CORE;
  o.task_timeout_ms = 1000;
  EXPECT_EQ(mproc_mpi_pool_create(&pool, &o, &m), MPROC_EINVAL);
  EXPECT_EQ(pool, nullptr);
  // Room for later fields must be zero, in each word.
  o.task_timeout_ms = 0;
  for (int word = 0; word < MPROC_RESERVED_WORDS; word++) {
    m = g_mpi;
    m.reserved[word] = 1;
    EXPECT_EQ(mproc_mpi_pool_create(&pool, &o, &m), MPROC_EINVAL) << word;
    EXPECT_EQ(pool, nullptr);
  }
  size_t n;
  EXPECT_EQ(mproc_mpi_pool_workers(nullptr, nullptr, 0, &n), MPROC_EINVAL);
}

TEST(MpiPool, ApplyReturnsBytesAndStatus) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  void *data = nullptr;
  size_t size = 0;
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool, echo, "hello", 5, &status, &data, &size), 0);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(size, 5u);
  EXPECT_EQ(memcmp(data, "hello", 5), 0);
  mproc_free(data);
  int code = 42;
  ASSERT_EQ(mproc_pool_apply(pool, fail_with, &code, sizeof code, &status,
                             &data, &size),
            0);
  EXPECT_EQ(status, 42);
  ASSERT_EQ(size, 7u);
  EXPECT_EQ(memcmp(data, "partial", 7), 0);
  mproc_free(data);
  // Empty argument, empty result.
  ASSERT_EQ(mproc_pool_apply(pool, echo, nullptr, 0, &status, &data, &size), 0);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(size, 0u);
  mproc_free(data);
  finish(pool);
}

struct Counts {
  std::atomic<int> ok{0}, failed{0};
};

void on_ok(void *user, int status, const void *, size_t) {
  if (status == 0)
    static_cast<Counts *>(user)->ok++;
}
void on_error(void *user, int status, const void *, size_t) {
  if (status != 0)
    static_cast<Counts *>(user)->failed++;
}

TEST(MpiPool, ApplyAsyncCallbacksRunBeforeReady) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  Counts counts;
  mproc_apply_options_t cb = {};
  cb.callback = on_ok;
  cb.error_callback = on_error;
  cb.user = &counts;
  std::vector<mproc_async_result_t *> rs;
  for (int i = 0; i < 40; i++) {
    mproc_async_result_t *r = nullptr;
    int code = i % 4 == 0 ? 5 : 0;
    ASSERT_EQ(
        mproc_pool_apply_async(pool, fail_with, &code, sizeof code, &cb, &r),
        0);
    rs.push_back(r);
  }
  int expect_ok = 0, expect_failed = 0;
  for (int i = 0; i < 40; i++) {
    int status = -1;
    ASSERT_EQ(mproc_async_result_get(rs[i], MPROC_INFINITE, &status, nullptr,
                                     nullptr),
              0);
    EXPECT_EQ(status, i % 4 == 0 ? 5 : 0);
    (i % 4 == 0 ? expect_failed : expect_ok)++;
    mproc_async_result_free(rs[i]);
  }
  EXPECT_EQ(counts.ok.load(), expect_ok);
  EXPECT_EQ(counts.failed.load(), expect_failed);
  finish(pool);
}

TEST(MpiPool, MapKeepsOrderForEveryChunksize) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  for (size_t count : {0u, 1u, 5u, 97u, 1000u}) {
    for (size_t chunk : {0u, 1u, 3u, 64u, 5000u}) {
      std::vector<int> items(count), out(count, -1), st(count, -1);
      for (size_t i = 0; i < count; i++)
        items[i] = static_cast<int>(i);
      int r = mproc_pool_map(pool, square_or_fail, items.data(), sizeof(int),
                             count, chunk, out.data(), sizeof(int), st.data());
      int first_fail = 0;
      for (size_t i = 0; i < count; i++) {
        int v = static_cast<int>(i);
        int want = v % 7 == 0 && v != 0 ? v : 0;
        if (want && !first_fail)
          first_fail = want;
        EXPECT_EQ(out[i], v * v) << count << "/" << chunk << " item " << i;
        EXPECT_EQ(st[i], want) << count << "/" << chunk << " item " << i;
      }
      EXPECT_EQ(r, first_fail) << count << "/" << chunk;
    }
  }
  finish(pool);
}

TEST(MpiPool, ImapOrderedAndUnordered) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  const size_t count = 300;
  std::vector<int> items(count);
  for (size_t i = 0; i < count; i++)
    items[i] = static_cast<int>(i);
  for (int unordered = 0; unordered < 2; unordered++) {
    for (size_t chunk : {1u, 7u}) {
      mproc_imap_t *it = nullptr;
      int r = unordered
                  ? mproc_pool_imap_unordered(pool, square, items.data(),
                                              sizeof(int), count, chunk, &it)
                  : mproc_pool_imap(pool, square, items.data(), sizeof(int),
                                    count, chunk, &it);
      ASSERT_EQ(r, 0);
      std::set<size_t> seen;
      for (size_t k = 0; k < count; k++) {
        size_t index = 0;
        int status = -1;
        const void *data = nullptr;
        size_t size = 0;
        ASSERT_EQ(
            mproc_imap_next(it, MPROC_INFINITE, &index, &status, &data, &size),
            0);
        if (!unordered) {
          EXPECT_EQ(index, k);
        }
        EXPECT_EQ(status, 0);
        ASSERT_EQ(size, sizeof(int));
        int v;
        memcpy(&v, data, sizeof v);
        EXPECT_EQ(v, static_cast<int>(index * index));
        seen.insert(index);
      }
      EXPECT_EQ(seen.size(), count);
      EXPECT_EQ(mproc_imap_next(it, 0, nullptr, nullptr, nullptr, nullptr),
                MPROC_EEMPTY);
      mproc_imap_free(it);
    }
  }
  finish(pool);
}

// 256 MiB each way: more than a piece (CTest sets MPROC_MPI_PIECE_BYTES to
// 64 MiB, so that such a message is split as one over 2 GiB would be).
TEST(MpiPool, Arguments256MiBAndResults256MiB) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  const size_t n = (size_t)256 << 20;
  std::vector<unsigned char> big(n);
  for (size_t i = 0; i < n; i++)
    big[i] = static_cast<unsigned char>(i * 131 + 7);
  void *data = nullptr;
  size_t size = 0;
  int status = -1;
  ASSERT_EQ(mproc_pool_apply(pool, echo, big.data(), n, &status, &data, &size),
            0);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(size, n);
  EXPECT_EQ(memcmp(data, big.data(), n), 0);
  mproc_free(data);
  uint64_t want = n;
  ASSERT_EQ(mproc_pool_apply(pool, make_bytes, &want, sizeof want, &status,
                             &data, &size),
            0);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(size, n);
  EXPECT_EQ(memcmp(data, big.data(), n), 0);
  mproc_free(data);
  finish(pool);
}

TEST(MpiPool, CloseThenJoinFinishesQueuedWork) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  std::vector<mproc_async_result_t *> rs(20);
  for (int i = 0; i < 20; i++) {
    int ms = 20;
    ASSERT_EQ(mproc_pool_apply_async(pool, nap_then_pid, &ms, sizeof ms,
                                     nullptr, &rs[i]),
              0);
  }
  ASSERT_EQ(mproc_pool_close(pool), 0);
  int ms = 1;
  mproc_async_result_t *late = nullptr;
  EXPECT_EQ(mproc_pool_apply_async(pool, nap_then_pid, &ms, sizeof ms, nullptr,
                                   &late),
            MPROC_ESTATE);
  ASSERT_EQ(mproc_pool_join(pool, MPROC_INFINITE), 0);
  for (auto *r : rs) {
    int status = -1;
    {
      int yes = -1;
      EXPECT_EQ(mproc_async_result_ready(r, &yes), 0);
      EXPECT_EQ(yes, 1);
    }
    ASSERT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr), 0);
    EXPECT_EQ(status, 0);
    mproc_async_result_free(r);
  }
  ASSERT_EQ(mproc_pool_free(pool), 0);
}

TEST(MpiPool, TerminateFailsWorkNotDone) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  const int n = 60;
  std::vector<mproc_async_result_t *> rs(n);
  for (int i = 0; i < n; i++) {
    int ms = 50;
    ASSERT_EQ(mproc_pool_apply_async(pool, nap_then_pid, &ms, sizeof ms,
                                     nullptr, &rs[i]),
              0);
  }
  // The first one's answer: the workers are busy with the rest.
  ASSERT_EQ(mproc_async_result_wait(rs[0], MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_pool_terminate(pool), 0);
  int closed = 0;
  for (auto *r : rs) {
    int status = -1;
    {
      int yes = -1;
      EXPECT_EQ(mproc_async_result_ready(r, &yes), 0);
      EXPECT_EQ(yes, 1);
    }
    ASSERT_EQ(mproc_async_result_get(r, 0, &status, nullptr, nullptr), 0);
    EXPECT_TRUE(status == 0 || status == MPROC_ECLOSED) << status;
    closed += status == MPROC_ECLOSED;
    mproc_async_result_free(r);
  }
  EXPECT_GT(closed, 0);
  ASSERT_EQ(mproc_pool_join(pool, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_pool_free(pool), 0);
  // The ranks serve the next pool.
  pool = make_pool();
  ASSERT_NE(pool, nullptr);
  int status = -1;
  EXPECT_EQ(apply_int(pool, square, 9, &status), 81);
  EXPECT_EQ(status, 0);
  finish(pool);
}

TEST(MpiPool, ManyThreadsCallApply) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; i++) {
        int status = -1, v = t * 1000 + i;
        if (apply_int(pool, square, v, &status) != v * v || status != 0)
          wrong++;
      }
    });
  // A map beside them.
  std::vector<int> items(2000), out(2000);
  for (int i = 0; i < 2000; i++)
    items[i] = i;
  EXPECT_EQ(mproc_pool_map(pool, square, items.data(), sizeof(int), 2000, 1,
                           out.data(), sizeof(int), nullptr),
            0);
  for (auto &th : threads)
    th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < 2000; i++)
    EXPECT_EQ(out[i], i * i);
  finish(pool);
}

TEST(MpiPool, InitializerRunsOncePerTaskRunningProcess) {
  mproc_pool_options_t o = {};
  o.initializer = count_init;
  mproc_pool_t *pool = make_pool(o);
  ASSERT_NE(pool, nullptr);
  std::vector<int> items(200), out(200, -1);
  ASSERT_EQ(mproc_pool_map(pool, inits, items.data(), sizeof(int), 200, 1,
                           out.data(), sizeof(int), nullptr),
            0);
  for (int v : out)
    EXPECT_EQ(v, 1);
  finish(pool);
}

TEST(MpiPool, MaxTasksPerChildRestartsTheWorker) {
  mproc_pool_options_t o = {};
  o.initializer = count_init;
  o.maxtasksperchild = 2;
  mproc_pool_t *pool = make_pool(o);
  ASSERT_NE(pool, nullptr);
  // Every task sees one run of the initializer in its process: a worker
  // that reached its maximum was replaced by a new one (a new local
  // process, or a new run of the worker loop on the rank).
  std::vector<int> items(40), out(40, -1);
  ASSERT_EQ(mproc_pool_map(pool, inits, items.data(), sizeof(int), 40, 1,
                           out.data(), sizeof(int), nullptr),
            0);
  for (int v : out)
    EXPECT_GE(v, 1);
  if (supervisor()) {
    for (int v : out) {
      EXPECT_EQ(v, 1);
    }
  }
  finish(pool);
}

// Idle ranks must not spin as MPI's own blocking calls do.
TEST(MpiPool, IdleWorkersUseLittleCpu) {
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  std::vector<mproc_mpi_worker_info_t> info(64);
  size_t n = 0;
  ASSERT_EQ(mproc_mpi_pool_workers(pool, info.data(), info.size(), &n), 0);
  auto cpu_ns = [&](mproc_pid_t pid) -> int64_t {
    mproc_proc_info_t pi;
    if (mproc_proc_info(pid, &pi) != 0)
      return -1;
    int64_t t = (pi.valid & MPROC_PROC_HAS_CPU_TIMES)
                    ? static_cast<int64_t>(pi.user_time_us + pi.system_time_us)
                    : -1;
    mproc_proc_info_free(&pi);
    return t;
  };
  std::vector<int64_t> before(n);
  for (size_t i = 0; i < n; i++)
    before[i] = cpu_ns(info[i].pid);
  // The measurement's window, not a synchronisation.
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  for (size_t i = 0; i < n; i++) {
    int64_t after = cpu_ns(info[i].pid);
    if (before[i] < 0 || after < 0)
      continue; // on another host
    double share = static_cast<double>(after - before[i]) / 1e6 / wall;
    printf("idle rank %d: %.2f%% of a core\n", info[i].rank, share * 100);
    // A spinning rank takes a whole core, or what the scheduler gives it.
    EXPECT_LT(share, 0.2) << "rank " << info[i].rank;
  }
  finish(pool);
}

// CTest runs MpiStatic.* in the static configurations only.
TEST(MpiStatic, OneStaticPoolAtATime) {
  mproc_pool_t *pool = make_pool(), *second = nullptr;
  ASSERT_NE(pool, nullptr);
  mproc_pool_options_t o = {};
  EXPECT_EQ(mproc_mpi_pool_create(&second, &o, &g_mpi), MPROC_ESTATE);
  o.processes = 1000;
  finish(pool);
  EXPECT_EQ(mproc_mpi_pool_create(&second, &o, &g_mpi), MPROC_EINVAL);
}

// ---- supervisor layout: crash containment ---------------------------------
// CTest runs MpiSupervisor.* in the supervisor configurations only.

int expect_lost(mproc_async_result_t *r, int want_status) {
  int status = -1, exitcode = 0;
  EXPECT_EQ(
      mproc_async_result_get(r, MPROC_INFINITE, &status, nullptr, nullptr), 0);
  EXPECT_EQ(status, want_status);
  if (want_status == MPROC_EWORKERLOST) {
    EXPECT_EQ(mproc_async_result_exitcode(r, &exitcode), 0);
  }
  mproc_async_result_free(r);
  return exitcode;
}

TEST(MpiSupervisor, EachKindOfDeathFailsOnlyItsTask) {
  ASSERT_TRUE(supervisor());
  mproc_pool_options_t o = {};
  o.task_timeout_ms = 3000;
  mproc_pool_t *pool = make_pool(o);
  ASSERT_NE(pool, nullptr);
  // Good tasks all along, beside the deaths.
  std::vector<mproc_async_result_t *> good;
  auto more_good = [&] {
    for (int i = 0; i < 20; i++) {
      mproc_async_result_t *r = nullptr;
      int v = i;
      ASSERT_EQ(mproc_pool_apply_async(pool, square, &v, sizeof v, nullptr, &r),
                0);
      good.push_back(r);
    }
  };
  more_good();
  mproc_async_result_t *seg = nullptr, *abrt = nullptr, *killed = nullptr,
                       *slow = nullptr;
  ASSERT_EQ(mproc_pool_apply_async(pool, segfault, nullptr, 0, nullptr, &seg),
            0);
  ASSERT_EQ(mproc_pool_apply_async(pool, aborts, nullptr, 0, nullptr, &abrt),
            0);
  char path[] = "/tmp/mproc-mpi-pid-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  unlink(path);
  ASSERT_EQ(mproc_pool_apply_async(pool, pid_to_file_then_wait, path,
                                   strlen(path), nullptr, &killed),
            0);
  int forever = 600000;
  ASSERT_EQ(mproc_pool_apply_async(pool, nap_then_pid, &forever, sizeof forever,
                                   nullptr, &slow),
            0);
  more_good();
  // The task writes its pid, then waits: kill its process from outside
  // (both simulated hosts are this machine).
  long pid = 0;
  for (int tries = 0; tries < 20000 && pid <= 0; tries++) {
    std::ifstream in(path);
    if (!(in >> pid))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(pid, 0);
  unlink(path);
  ASSERT_EQ(kill(static_cast<pid_t>(pid), SIGKILL), 0);
  EXPECT_EQ(expect_lost(seg, MPROC_EWORKERLOST), -SIGSEGV);
  EXPECT_EQ(expect_lost(abrt, MPROC_EWORKERLOST), -SIGABRT);
  EXPECT_EQ(expect_lost(killed, MPROC_EWORKERLOST), -SIGKILL);
  expect_lost(slow, MPROC_ETIMEDOUT);
  more_good();
  for (size_t i = 0; i < good.size(); i++) {
    int status = -1;
    const void *data = nullptr;
    size_t size = 0;
    ASSERT_EQ(
        mproc_async_result_get(good[i], MPROC_INFINITE, &status, &data, &size),
        0);
    EXPECT_EQ(status, 0);
    int v = static_cast<int>(i % 20), got = -1;
    ASSERT_EQ(size, sizeof got);
    memcpy(&got, data, sizeof got);
    EXPECT_EQ(got, v * v);
    mproc_async_result_free(good[i]);
  }
  // And the pool goes on.
  int status = -1;
  EXPECT_EQ(apply_int(pool, square, 12, &status), 144);
  EXPECT_EQ(status, 0);
  finish(pool);
}

TEST(MpiSupervisor, AnItemWhoseWorkerDiesFailsAlone) {
  ASSERT_TRUE(supervisor());
  mproc_pool_t *pool = make_pool();
  ASSERT_NE(pool, nullptr);
  // Item 13 of 40 crashes its worker: with chunksize 1 it alone fails.
  std::vector<int> items(40), out(40, -1), st(40, -1);
  for (int i = 0; i < 40; i++)
    items[i] = i;
  EXPECT_EQ(mproc_pool_map(pool, square_or_crash, items.data(), sizeof(int), 40,
                           1, out.data(), sizeof(int), st.data()),
            MPROC_EWORKERLOST);
  for (int i = 0; i < 40; i++) {
    EXPECT_EQ(st[i], i == 13 ? MPROC_EWORKERLOST : 0) << i;
    if (i != 13) {
      EXPECT_EQ(out[i], i * i);
    }
  }
  // The pool goes on.
  EXPECT_EQ(mproc_pool_map(pool, square, items.data(), sizeof(int), 40, 1,
                           out.data(), sizeof(int), nullptr),
            0);
  finish(pool);
}

// --lose-rank: a worker rank is killed under a task; this must not hang
// (tests/mpi/lost_rank.sh checks how the job ends).
int lose_a_rank() {
  mproc_pool_t *pool = make_pool();
  if (!pool)
    return 1;
  std::vector<mproc_mpi_worker_info_t> info(64);
  size_t n = 0;
  if (mproc_mpi_pool_workers(pool, info.data(), info.size(), &n) != 0 || !n)
    return 1;
  std::vector<mproc_async_result_t *> rs(n);
  for (size_t i = 0; i < n; i++) {
    int ms = 60000;
    if (mproc_pool_apply_async(pool, nap_then_pid, &ms, sizeof ms, nullptr,
                               &rs[i]) != 0)
      return 1;
  }
  fprintf(stderr, "killing pid %ld\n", static_cast<long>(info[0].pid));
  kill(static_cast<pid_t>(info[0].pid), SIGKILL);
  for (auto *r : rs)
    mproc_async_result_wait(r, MPROC_INFINITE);
  fprintf(stderr, "every task ended\n");
  finish(pool);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // Worker ranks serve here and never return.
  int r = mproc_mpi_init(&argc, &argv);
  if (r != 0) {
    fprintf(stderr, "mproc_mpi_init: %s\n", mproc_strerror(r));
    return 1;
  }
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--workers=static")
      g_mpi.workers = MPROC_MPI_WORKERS_STATIC;
    else if (a == "--workers=dynamic")
      g_mpi.workers = MPROC_MPI_WORKERS_DYNAMIC;
    else if (a == "--layout=supervisor")
      g_mpi.layout = MPROC_MPI_SUPERVISOR;
    else if (a.rfind("--processes=", 0) == 0)
      g_processes = atoi(a.c_str() + 12);
    else if (a.rfind("--local=", 0) == 0)
      g_mpi.local_processes = atoi(a.c_str() + 8);
    else if (a.rfind("--hosts=", 0) == 0)
      g_mpi.hosts = argv[i] + 8;
  }
  for (int i = 1; i < argc; i++)
    if (std::string(argv[i]) == "--lose-rank")
      return lose_a_rank();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
