// SPDX-License-Identifier: MIT
// Process lifecycle under every start method the platform has.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <atomic>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::proc_state;
using mproc_test::run_helper;
using mproc_test::scaled_ms;
using mproc_test::wait_dead;
using mproc_test::write_to_fifo;

namespace {

int return_code(const void *arg, size_t size) {
  int code = 0;
  if (size == sizeof code)
    memcpy(&code, arg, sizeof code);
  return code;
}
MPROC_TARGET(return_code);

#ifndef _WIN32 // POSIX signals: Windows has none to raise
int raise_signal(const void *arg, size_t) {
  int sig;
  memcpy(&sig, arg, sizeof sig);
  signal(sig, SIG_DFL);
  raise(sig);
  return 99;
}
MPROC_TARGET(raise_signal);
#endif

// Runs until the test kills it, 30 s at most.
int sleep_long(const void *, size_t) {
  for (int i = 0; i < 300; i++)
    mproc_test::sleep_ms(100); // not synchronisation: the kill ends it
  return 0;
}
MPROC_TARGET(sleep_long);

// Runs until the test opens a Gate (its argument), then exits with 0.
using shared_testing::wait_for_gate;
MPROC_TARGET(wait_for_gate);

using mproc_test::Fifo;

// The start method of the running parametrised test, for Child.
mproc_start_method_t current_method = MPROC_START_DEFAULT;

struct Child {
  mproc_process_t *p = nullptr;
  Child(mproc_target_fn fn, const void *arg = nullptr, size_t size = 0,
        const mproc_process_options_t *o = nullptr) {
    mproc_process_options_t with_method = {};
    if (o)
      with_method = *o;
    if (with_method.start_method == MPROC_START_DEFAULT)
      with_method.start_method = current_method;
    EXPECT_EQ(mproc_process_create(&p, fn, arg, size, &with_method), 0);
  }
  ~Child() {
    if (!p)
      return;
    int alive = 0;
    if (mproc_process_is_alive(p, &alive) == 0 && alive) {
      mproc_process_kill(p);
      mproc_process_join(p, MPROC_INFINITE);
    }
    EXPECT_EQ(mproc_process_free(p), 0);
  }
};

class ProcessMethod : public ::testing::TestWithParam<mproc_start_method_t> {
protected:
  void SetUp() override { current_method = GetParam(); }
  void TearDown() override { current_method = MPROC_START_DEFAULT; }
};

int run_and_exitcode(mproc_target_fn fn, const void *arg, size_t size) {
  Child c(fn, arg, size);
  EXPECT_EQ(mproc_process_start(c.p), 0);
  EXPECT_EQ(mproc_process_join(c.p, MPROC_INFINITE), 0);
  int code = 12345;
  EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
  return code;
}

TEST_P(ProcessMethod, ExitCodesFromReturn) {
  for (int want : {0, 3, 255}) {
    EXPECT_EQ(run_and_exitcode(return_code, &want, sizeof want), want);
  }
  int big = 256 + 7; // the OS keeps the low 8 bits
  EXPECT_EQ(run_and_exitcode(return_code, &big, sizeof big), 7);
}

#ifndef _WIN32 // POSIX signals: Windows has none to raise
TEST_P(ProcessMethod, ExitCodesFromSignals) {
  for (int sig : {SIGSEGV, SIGKILL, SIGTERM, SIGABRT}) {
    EXPECT_EQ(run_and_exitcode(raise_signal, &sig, sizeof sig), -sig) << sig;
  }
}
#endif

TEST_P(ProcessMethod, JoinTimeoutWhileRunningThenZeroAfter) {
  shared_testing::Gate gate;
  Child c(wait_for_gate, &gate.event(), sizeof(mproc_event_t));
  ASSERT_EQ(mproc_process_start(c.p), 0);
  EXPECT_EQ(mproc_process_join(c.p, 0), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_process_join(c.p, 20), MPROC_ETIMEDOUT);
  gate.open();
  EXPECT_EQ(mproc_process_join(c.p, scaled_ms(20000)), 0);
  EXPECT_EQ(mproc_process_join(c.p, 0), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
  EXPECT_EQ(code, 0);
}

TEST_P(ProcessMethod, IsAliveAcrossLifecycle) {
  shared_testing::Gate gate;
  Child c(wait_for_gate, &gate.event(), sizeof(mproc_event_t));
  int alive = -1;
  ASSERT_EQ(mproc_process_is_alive(c.p, &alive), 0);
  EXPECT_EQ(alive, 0);
  int code;
  EXPECT_EQ(mproc_process_exitcode(c.p, &code), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_pid(c.p), 0);
  ASSERT_EQ(mproc_process_start(c.p), 0);
  EXPECT_GT(mproc_process_pid(c.p), 0);
  ASSERT_EQ(mproc_process_is_alive(c.p, &alive), 0);
  EXPECT_EQ(alive, 1);
  EXPECT_EQ(mproc_process_exitcode(c.p, &code), MPROC_ESTATE);
  gate.open();
  ASSERT_EQ(mproc_process_join(c.p, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_process_is_alive(c.p, &alive), 0);
  EXPECT_EQ(alive, 0);
}

TEST_P(ProcessMethod, TerminateAndKillSleepingChild) {
  struct {
    int (*fn)(mproc_process_t *);
    int sig;
  } cases[] = {{mproc_process_terminate, SIGTERM},
               {mproc_process_kill, SIGKILL}};
  for (auto &k : cases) {
    Child c(sleep_long);
    ASSERT_EQ(mproc_process_start(c.p), 0);
    EXPECT_EQ(k.fn(c.p), 0);
    EXPECT_EQ(mproc_process_join(c.p, scaled_ms(10000)), 0);
    int code = 0;
    EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
    EXPECT_EQ(code, -k.sig);
    // Signalling a child that has ended is harmless.
    EXPECT_EQ(k.fn(c.p), 0);
  }
}

// The child checks every byte of its argument and says so in its exit code.
int check_pattern(const void *arg, size_t size) {
  const unsigned char *b = static_cast<const unsigned char *>(arg);
  if (size == 0)
    return arg == nullptr ? 10 : 11;
  for (size_t i = 0; i < size; i++)
    if (b[i] != (unsigned char)(i * 7 + 3))
      return 12;
  return (int)(size % 200) + 20;
}
MPROC_TARGET(check_pattern);

TEST_P(ProcessMethod, ArgumentBlobArrivesIntact) {
  for (size_t size : {(size_t)0, (size_t)1, (size_t)1 << 20}) {
    std::vector<unsigned char> blob(size);
    for (size_t i = 0; i < size; i++)
      blob[i] = (unsigned char)(i * 7 + 3);
    int want = size == 0 ? 10 : (int)(size % 200) + 20;
    EXPECT_EQ(
        run_and_exitcode(check_pattern, size ? blob.data() : nullptr, size),
        want)
        << size;
  }
}

TEST_P(ProcessMethod, ArgumentIsCopiedAtCreate) {
  unsigned char blob[16];
  for (size_t i = 0; i < sizeof blob; i++)
    blob[i] = (unsigned char)(i * 7 + 3);
  Child c(check_pattern, blob, sizeof blob);
  memset(blob, 0,
         sizeof blob); // changed after create: the child must not see it
  ASSERT_EQ(mproc_process_start(c.p), 0);
  ASSERT_EQ(mproc_process_join(c.p, MPROC_INFINITE), 0);
  int code = 0;
  EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
  EXPECT_EQ(code, 16 + 20);
}

int global_value = 1;

int change_global(const void *, size_t) {
  global_value = 10000;
  return global_value == 10000 ? 0 : 1;
}
MPROC_TARGET(change_global);

TEST_P(ProcessMethod, ChildCannotChangeParentGlobal) {
  global_value = 1;
  EXPECT_EQ(run_and_exitcode(change_global, nullptr, 0), 0);
  EXPECT_EQ(global_value, 1);
}

TEST(Process, NamesFollowPython) {
  mproc_process_t *a = nullptr, *b = nullptr;
  ASSERT_EQ(mproc_process_create(&a, return_code, nullptr, 0, nullptr), 0);
  mproc_process_options_t o = {};
  o.name = "worker";
  ASSERT_EQ(mproc_process_create(&b, return_code, nullptr, 0, &o), 0);
  EXPECT_EQ(strncmp(mproc_process_name(a), "Process-", 8), 0);
  EXPECT_STREQ(mproc_process_name(b), "worker");
  EXPECT_STREQ(mproc_current_process_name(), "MainProcess");
  EXPECT_EQ(mproc_process_free(a), 0);
  EXPECT_EQ(mproc_process_free(b), 0);
}

// The child reports its name, pid and parent pid through a pipe.
struct Report {
  char name[64];
  mproc_pid_t pid, ppid;
};
int report_identity(const void *arg, size_t size) {
  Report r = {};
  snprintf(r.name, sizeof r.name, "%s", mproc_current_process_name());
  r.pid = mproc_getpid();
  r.ppid = mproc_getppid();
  return write_to_fifo(arg, size, &r, sizeof r) ? 0 : 1;
}
MPROC_TARGET(report_identity);

TEST_P(ProcessMethod, ChildKnowsItsNameAndPids) {
  Fifo fifo;
  mproc_process_options_t o = {};
  o.name = "reporter";
  Child c(report_identity, fifo.path().data(), fifo.path().size(), &o);
  ASSERT_EQ(mproc_process_start(c.p), 0);
  Report r = {};
  ASSERT_TRUE(fifo.read(&r, sizeof r, 10000));
  EXPECT_STREQ(r.name, "reporter");
  EXPECT_EQ(r.pid, mproc_process_pid(c.p));
  if (GetParam() == MPROC_START_FORKSERVER) {
    // Its parent is the fork server, a child of ours.
    EXPECT_EQ(mproc_test::proc_ppid(r.ppid), mproc_getpid());
  } else {
    EXPECT_EQ(r.ppid, mproc_getpid());
  }
  EXPECT_EQ(mproc_process_join(c.p, MPROC_INFINITE), 0);
}

#ifndef _WIN32 // getppid() is POSIX; win32_process_test checks the pair
TEST(Process, CpuCountAndPids) {
  EXPECT_GE(mproc_cpu_count(), 1);
  EXPECT_EQ(mproc_getpid(), (mproc_pid_t)getpid());
  EXPECT_EQ(mproc_getppid(), (mproc_pid_t)getppid());
}
#endif

TEST(Process, ActiveChildren) {
  size_t count = 99;
  mproc_process_t *list[4];
  ASSERT_EQ(mproc_active_children(list, 4, &count), 0);
  EXPECT_EQ(count, 0u);
  Child a(sleep_long), b(sleep_long);
  ASSERT_EQ(mproc_process_start(a.p), 0);
  ASSERT_EQ(mproc_process_start(b.p), 0);
  ASSERT_EQ(mproc_active_children(list, 4, &count), 0);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(mproc_active_children(list, 1, &count), MPROC_ERANGE);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(mproc_active_children(nullptr, 0, &count), MPROC_ERANGE);
  mproc_process_kill(a.p);
  ASSERT_EQ(mproc_process_join(a.p, scaled_ms(10000)), 0);
  ASSERT_EQ(mproc_active_children(list, 4, &count), 0);
  EXPECT_EQ(count, 1u);
  EXPECT_EQ(list[0], b.p);
}

TEST(Process, BadInput) {
  mproc_process_t *p = nullptr;
  int x = 0;
  EXPECT_EQ(mproc_process_create(nullptr, return_code, nullptr, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_process_create(&p, nullptr, nullptr, 0, nullptr),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_process_create(&p, return_code, nullptr, 4, nullptr),
            MPROC_EINVAL);
  mproc_process_options_t o = {};
  o.start_method = (mproc_start_method_t)42;
  EXPECT_EQ(mproc_process_create(&p, return_code, nullptr, 0, &o),
            MPROC_EINVAL);
  std::string longname(300, 'n');
  o = {};
  o.name = longname.c_str();
  EXPECT_EQ(mproc_process_create(&p, return_code, nullptr, 0, &o),
            MPROC_EINVAL);

  EXPECT_EQ(mproc_process_start(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_join(nullptr, 0), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_is_alive(nullptr, &x), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_terminate(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_kill(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_pid(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_name(nullptr), nullptr);
  EXPECT_EQ(mproc_process_free(nullptr), 0);
  EXPECT_EQ(mproc_active_children(nullptr, 0, nullptr), MPROC_EINVAL);
  size_t n = 0;
  EXPECT_EQ(mproc_active_children(nullptr, 3, &n), MPROC_EINVAL);

  // A pointer that is not a live handle.
  mproc_process_t *bogus = reinterpret_cast<mproc_process_t *>(&x);
  EXPECT_EQ(mproc_process_start(bogus), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_join(bogus, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_free(bogus), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_pid(bogus), MPROC_EBADHANDLE);
}

TEST(Process, LifecycleOrder) {
  shared_testing::Gate gate;
  Child c(wait_for_gate, &gate.event(), sizeof(mproc_event_t));
  EXPECT_EQ(mproc_process_join(c.p, 0), MPROC_ESTATE);   // before start
  EXPECT_EQ(mproc_process_terminate(c.p), MPROC_ESTATE); // before start
  EXPECT_EQ(mproc_process_join(c.p, -5), MPROC_EINVAL);  // bad timeout
  EXPECT_EQ(mproc_process_set_daemon(c.p, 1), 0);        // before start: fine
  {
    int yes = -1;
    EXPECT_EQ(mproc_process_daemon(c.p, &yes), 0);
    EXPECT_EQ(yes, 1);
  }
  EXPECT_EQ(mproc_process_set_daemon(c.p, 0), 0);
  ASSERT_EQ(mproc_process_start(c.p), 0);
  EXPECT_EQ(mproc_process_start(c.p), MPROC_ESTATE);         // twice
  EXPECT_EQ(mproc_process_set_daemon(c.p, 1), MPROC_ESTATE); // after start
  {
    int yes = -1;
    EXPECT_EQ(mproc_process_daemon(c.p, &yes), 0);
    EXPECT_EQ(yes, 0);
  }
  EXPECT_EQ(mproc_process_daemon(c.p, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_free(c.p), MPROC_ESTATE); // still running
  gate.open();
  ASSERT_EQ(mproc_process_join(c.p, MPROC_INFINITE), 0);
}

TEST(Process, UseAfterFreeIsReported) {
  mproc_process_t *p = nullptr;
  ASSERT_EQ(mproc_process_create(&p, return_code, nullptr, 0, nullptr), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  ASSERT_EQ(mproc_process_join(p, MPROC_INFINITE), 0);
  ASSERT_EQ(mproc_process_free(p), 0);
  // The handle is no longer registered; mproc never touches its memory.
  EXPECT_EQ(mproc_process_join(p, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_free(p), MPROC_EBADHANDLE);
}

int not_registered(const void *, size_t) { return 0; }

TEST(Process, UnregisteredTargetStartsNothing) {
  for (auto m : shared_testing::methods()) {
    if (m == MPROC_START_FORK)
      continue; // targets need no registration there
    mproc_process_options_t o = {};
    o.start_method = m;
    Child c(not_registered, nullptr, 0, &o);
    EXPECT_EQ(mproc_process_start(c.p), MPROC_ENOTREG);
    EXPECT_EQ(mproc_process_pid(c.p), 0);
    size_t n = 99;
    EXPECT_EQ(mproc_active_children(nullptr, 0, &n), 0);
    EXPECT_EQ(n, 0u);
  }
}

#ifndef _WIN32 // fork, the POSIX default (win32_process_test: spawn only)
TEST(Process, DefaultStartMethod) {
  EXPECT_EQ(mproc_get_start_method(), MPROC_START_FORK);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_SPAWN), 0);
  EXPECT_EQ(mproc_get_start_method(), MPROC_START_SPAWN);
  {
    Child c(not_registered); // the program default now applies
    EXPECT_EQ(mproc_process_start(c.p), MPROC_ENOTREG);
  }
  EXPECT_EQ(mproc_set_start_method(MPROC_START_FORKSERVER), 0);
  EXPECT_EQ(mproc_get_start_method(), MPROC_START_FORKSERVER);
  EXPECT_EQ(mproc_set_start_method((mproc_start_method_t)9), MPROC_EINVAL);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_DEFAULT), 0);
  EXPECT_EQ(mproc_get_start_method(), MPROC_START_FORK);
}
#endif

#ifndef _WIN32 // zombies and SIGCHLD: Windows has neither
TEST_P(ProcessMethod, NoZombiesFromUnjoinedChildren) {
  const int n = 200;
  std::vector<mproc_process_t *> procs(n);
  std::vector<mproc_pid_t> pids(n);
  for (int i = 0; i < n; i++) {
    mproc_process_options_t o = {};
    o.start_method = GetParam();
    ASSERT_EQ(mproc_process_create(&procs[i], return_code, nullptr, 0, &o), 0);
    ASSERT_EQ(mproc_process_start(procs[i]), 0);
    pids[i] = mproc_process_pid(procs[i]);
  }
  // Nobody joins them; the library reaps each as it ends. A pid still
  // present is either a zombie or (briefly) still exiting.
  EXPECT_TRUE(shared_testing::all_gone(pids))
      << "children still present as zombies or alive";
  for (auto *p : procs) {
    int alive = 1;
    EXPECT_EQ(mproc_process_is_alive(p, &alive), 0);
    EXPECT_EQ(alive, 0);
    EXPECT_EQ(mproc_process_free(p), 0);
  }
}

// 0 when no signal is blocked and SIGUSR2 has no handler; 1 or 2 if not.
int signals_as_new(const void *, size_t) {
  sigset_t blocked;
  struct sigaction usr2;
  pthread_sigmask(SIG_SETMASK, nullptr, &blocked);
  for (int sig = 1; sig < SIGRTMIN; sig++)
    if (sigismember(&blocked, sig) == 1)
      return 1;
  sigaction(SIGUSR2, nullptr, &usr2);
  return usr2.sa_handler == SIG_DFL ? 0 : 2;
}
MPROC_TARGET(signals_as_new);

void on_usr2(int) {}

// A spawned program (a spawn child, the fork server and so its children)
// starts with no signal blocked and no handler of its parent's, whatever
// the starting thread blocks: mproc's own spawn keeps every signal
// blocked up to the exec and lets them through as the program starts.
// (A fork child keeps its parent's mask and handlers.)
TEST(Process, SpawnedChildStartsWithNoSignalBlockedNorHandled) {
  struct sigaction handler = {}, old_usr2 = {};
  handler.sa_handler = on_usr2;
  ASSERT_EQ(sigaction(SIGUSR2, &handler, &old_usr2), 0);
  sigset_t some, old_mask;
  sigemptyset(&some);
  sigaddset(&some, SIGUSR1);
  sigaddset(&some, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &some, &old_mask), 0);
  for (mproc_start_method_t m : {MPROC_START_SPAWN, MPROC_START_FORKSERVER}) {
    current_method = m;
    EXPECT_EQ(run_and_exitcode(signals_as_new, nullptr, 0), 0) << m;
  }
  current_method = MPROC_START_DEFAULT;
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
}

TEST_P(ProcessMethod, SigchldIgnoredDoesNotHangJoin) {
  struct sigaction ign = {}, old = {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGCHLD, &ign, &old), 0);
  int want = 7;
  {
    Child c(return_code, &want, sizeof want);
    ASSERT_EQ(mproc_process_start(c.p), 0);
    EXPECT_EQ(mproc_process_join(c.p, scaled_ms(10000)), 0);
    int code = -1;
    EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
    EXPECT_EQ(code, 7); // the child's own report survives the lost status
  }
  {
    Child c(sleep_long);
    ASSERT_EQ(mproc_process_start(c.p), 0);
    EXPECT_EQ(mproc_process_kill(c.p), 0);
    EXPECT_EQ(mproc_process_join(c.p, scaled_ms(10000)), 0);
    int code = 0;
    EXPECT_EQ(mproc_process_exitcode(c.p, &code), 0);
    EXPECT_EQ(code, -SIGKILL);
  }
  sigaction(SIGCHLD, &old, nullptr);
}
#endif

TEST_P(ProcessMethod, ConcurrentJoinersFromThreads) {
  shared_testing::Gate gate;
  Child c(wait_for_gate, &gate.event(), sizeof(mproc_event_t));
  ASSERT_EQ(mproc_process_start(c.p), 0);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; i++)
    threads.emplace_back(
        [&] { ok += mproc_process_join(c.p, MPROC_INFINITE) == 0; });
  gate.open(); // the child ends while (most of) the threads join it
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 4);
}

// Threads starting children at once, with arguments below and above the
// size the fork server reads in one call: every child gets its own
// argument whole, and its own exit code comes back.
TEST_P(ProcessMethod, ConcurrentStartsFromThreadsWithArguments) {
  const size_t sizes[] = {0, 1, 100, 4000, 4096, 5000, 70000};
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::mutex failures_lock;
  std::string failures;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 7; i++) {
        size_t size = sizes[(size_t)(t + i) % 7];
        std::vector<unsigned char> blob(size);
        for (size_t k = 0; k < size; k++)
          blob[k] = (unsigned char)(k * 7 + 3);
        int want = size == 0 ? 10 : (int)(size % 200) + 20, code = -1, rc;
        mproc_process_t *p = nullptr;
        mproc_process_options_t o = {};
        o.start_method = GetParam();
        rc = mproc_process_create(&p, check_pattern,
                                  size ? blob.data() : nullptr, size, &o);
        if (rc == 0 && (rc = mproc_process_start(p)) == 0 &&
            (rc = mproc_process_join(p, MPROC_INFINITE)) == 0 &&
            (rc = mproc_process_exitcode(p, &code)) == 0 && code == want) {
          ok++;
        } else {
          std::lock_guard<std::mutex> g(failures_lock);
          failures += " [size " + std::to_string(size) + ": rc " +
                      std::to_string(rc) + ", exit code " +
                      std::to_string(code) + "]";
        }
        mproc_process_free(p);
      }
    });
  for (auto &t : threads)
    t.join();
  EXPECT_EQ(ok.load(), 28) << failures;
}

INSTANTIATE_TEST_SUITE_P(Methods, ProcessMethod,
                         ::testing::ValuesIn(shared_testing::methods()),
                         shared_testing::method_name);

// ---- parent exit semantics, with a helper process as the parent --------

// What the helper's daemon child is given: where to report its pid, and
// the Event it sets once it has.
struct DaemonArg {
  mproc_event_t reported;
  char fifo[256];
};

int write_pid_then_sleep(const void *arg, size_t size) {
  DaemonArg a;
  if (size != sizeof a)
    return 2;
  memcpy(&a, arg, sizeof a);
  mproc_pid_t me = mproc_getpid();
  write_to_fifo(a.fifo, strlen(a.fifo), &me, sizeof me);
  mproc_event_set(&a.reported);
  return sleep_long(nullptr, 0);
}
MPROC_TARGET(write_pid_then_sleep);

int write_marker_after(const void *arg, size_t size) {
  // Not synchronisation: the child is meant to be still running when its
  // parent returns; were it done sooner, the test would pass as well.
  mproc_test::sleep_ms(300);
  return write_to_fifo(arg, size, "done", 4) ? 0 : 1;
}
MPROC_TARGET(write_marker_after);

// argv: mode fifo method. Starts one child and reports its pid on the
// FIFO, then either returns (normal exit) or sleeps waiting to be killed.
MPROC_TEST_HELPER(parent_with_child) {
  if (argc < 3)
    return 2;
  std::string mode = argv[0];
  std::string fifo = argv[1];
  mproc_process_t *p = nullptr;
  mproc_process_options_t o = {};
  o.daemon = mode != "nondaemon";
  o.start_method = (mproc_start_method_t)atoi(argv[2]);
  if (mode == "nondaemon") {
    if (mproc_process_create(&p, write_marker_after, fifo.data(), fifo.size(),
                             &o) != 0)
      return 3;
    if (mproc_process_start(p) != 0)
      return 4;
    mproc_pid_t pid = mproc_process_pid(p);
    write_to_fifo(fifo.data(), fifo.size(), &pid, sizeof pid);
    return 0; // exit at once: mproc must join the child first
  }
  DaemonArg a = {};
  if (fifo.size() >= sizeof a.fifo || mproc_event_create(&a.reported) != 0)
    return 5;
  memcpy(a.fifo, fifo.data(), fifo.size());
  if (mproc_process_create(&p, write_pid_then_sleep, &a, sizeof a, &o) != 0)
    return 3;
  if (mproc_process_start(p) != 0)
    return 4;
  // The daemon runs (it has reported its pid) before its parent ends. It
  // is done with the Event then: destroyed here, nothing is left behind
  // when this process is killed.
  int reported = mproc_event_wait(&a.reported, mproc_test::scaled_ms(30000));
  mproc_event_destroy(&a.reported);
  if (reported != 0)
    return 6;
  if (mode == "daemon_exit")
    return 0;                    // normal exit: daemon terminated
  return sleep_long(nullptr, 0); // waits to be SIGKILLed
}

// Starts the helper as a child of the test (so the test is the helper's
// parent and can kill it) with a FIFO on which the grandchild reports its
// pid.
struct Middle {
  Fifo fifo;
  mproc_test::StartedHelper helper;
  Middle(const char *mode, mproc_start_method_t method)
      : helper("parent_with_child",
               {mode, fifo.path(), std::to_string((int)method)}) {}
  mproc_pid_t grandchild() {
    mproc_pid_t g = -1;
    EXPECT_TRUE(fifo.read(&g, sizeof g, 10000));
    return g;
  }
  // Its exit code once it ended by itself, or -1 (killed).
  int exit_code() {
    int code = helper.wait(30000);
    EXPECT_NE(code, -2) << "the helper did not end";
    return code;
  }
};

class ProcessExit : public ProcessMethod {};

TEST_P(ProcessExit, DaemonDiesWhenParentExitsNormally) {
  Middle m("daemon_exit", GetParam());
  mproc_pid_t d = m.grandchild();
  ASSERT_GT(d, 0);
  EXPECT_EQ(m.exit_code(), 0);
  // The parent terminated and reaped it before exiting.
  EXPECT_TRUE(wait_dead(d, 100));
}

TEST_P(ProcessExit, DaemonDiesWhenParentIsKilled) {
  Middle m("daemon_kill", GetParam());
  mproc_pid_t d = m.grandchild();
  ASSERT_GT(d, 0);
  EXPECT_NE(proc_state(d), 0);
  m.helper.kill();
  m.exit_code();
  EXPECT_TRUE(wait_dead(d, 10000)) << "daemon outlived its SIGKILLed parent";
  if (proc_state(d) != 0)
    mproc_test::kill_pid(d); // never leave it behind
}

TEST_P(ProcessExit, NonDaemonIsJoinedAtExit) {
  Middle m("nondaemon", GetParam());
  mproc_pid_t g = m.grandchild();
  ASSERT_GT(g, 0);
  EXPECT_EQ(m.exit_code(), 0);
  // The child wrote its marker before the parent could finish exiting.
  char marker[4];
  EXPECT_TRUE(m.fifo.read(marker, 4, 100));
  EXPECT_EQ(memcmp(marker, "done", 4), 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, ProcessExit,
                         ::testing::ValuesIn(shared_testing::methods()),
                         shared_testing::method_name);

// ---- fork hygiene -------------------------------------------------------

int print_child_line(const void *, size_t) {
  printf("child line\n"); // flushed by mproc's exit path
  return 0;
}
MPROC_TARGET(print_child_line);

void print_at_exit() { printf("atexit ran in %d\n", (int)mproc_getpid()); }

MPROC_TEST_HELPER(stdio_once) {
  (void)argc;
  (void)argv;
  atexit(print_at_exit);
  printf("parent line\n"); // buffered: stdout is a pipe
  mproc_process_t *p = nullptr;
  if (mproc_process_create(&p, print_child_line, nullptr, 0, nullptr) != 0)
    return 3;
  if (mproc_process_start(p) != 0)
    return 4;
  if (mproc_process_join(p, MPROC_INFINITE) != 0)
    return 5;
  mproc_process_free(p);
  return 0;
}

int exit_five(const void *, size_t) {
  exit(5); // the C library's exit path, and a leak check there if any
}
MPROC_TARGET(exit_five);

// A child whose target ends it with exit(): the code arrives, and (under
// the sanitizers, which check for leaks at exit and then change the code)
// nothing its parent allocated is reported as leaked in it.
MPROC_TEST_HELPER(exit_from_target) {
  (void)argc;
  (void)argv;
  mproc_process_t *p = nullptr;
  int code = -1;
  if (mproc_process_create(&p, exit_five, nullptr, 0, nullptr) != 0)
    return 3;
  if (mproc_process_start(p) != 0)
    return 4;
  if (mproc_process_join(p, MPROC_INFINITE) != 0 ||
      mproc_process_exitcode(p, &code) != 0)
    return 5;
  mproc_process_free(p);
  if (code != 5) {
    fprintf(stderr, "child exit code %d\n", code);
    return 6;
  }
  return 0;
}

size_t count(const std::string &s, const std::string &what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos;
       at = s.find(what, at + 1))
    n++;
  return n;
}

#ifndef _WIN32 // the fork server is POSIX's
// 0 when the child's LD_BIND_NOW is the argument ("-": unset), 1 if not.
int bind_now_is(const void *arg, size_t size) {
  std::string want(static_cast<const char *>(arg), size);
  const char *have = getenv("LD_BIND_NOW");
  return want == "-" ? have != nullptr : !have || want != have;
}
MPROC_TARGET(bind_now_is);

// Sets LD_BIND_NOW as its argument says ("-": unset), then starts its fork
// server with a child that checks it sees the same.
MPROC_TEST_HELPER(forkserver_env) {
  if (argc < 1)
    return 2;
  std::string value = argv[0];
  if (value == "-")
    unsetenv("LD_BIND_NOW");
  else
    setenv("LD_BIND_NOW", value.c_str(), 1);
  mproc_process_t *p = nullptr;
  mproc_process_options_t o = {};
  o.start_method = MPROC_START_FORKSERVER;
  int code = -1;
  if (mproc_process_create(&p, bind_now_is, value.data(), value.size(), &o) !=
          0 ||
      mproc_process_start(p) != 0 ||
      mproc_process_join(p, MPROC_INFINITE) != 0 ||
      mproc_process_exitcode(p, &code) != 0)
    return 3;
  mproc_process_free(p);
  return code;
}

// The highest descriptor this process holds (it may have inherited one far
// above the others).
int highest_fd() {
  int top = 2;
  DIR *d = opendir("/dev/fd");
  if (!d)
    return 255;
  while (struct dirent *e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && atoi(e->d_name) > top)
      top = atoi(e->d_name);
  closedir(d);
  return top;
}

// Lowers this process's descriptor limit to its argument above the highest
// descriptor it holds (a spawn cannot name a descriptor beyond the limit to
// close it), then starts fork server children that wait on an Event until
// starts are refused: the server, which inherits the limit, runs out of
// descriptors. Every child that did start is reported when it ends (killed, but
// for the last one), and once they have ended a start succeeds again.
MPROC_TEST_HELPER(forkserver_fd_limit) {
  if (argc < 1)
    return 2;
  struct Ev {
    mproc_event_t ev;
    int rc = mproc_event_create(&ev);
    ~Ev() {
      if (rc == 0)
        mproc_event_destroy(&ev);
    }
  } owned;
  mproc_event_t &ev = owned.ev;
  if (owned.rc != 0)
    return 3;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 4;
  rl.rlim_cur = static_cast<rlim_t>(highest_fd() + 1 + atoi(argv[0]));
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 4;
  mproc_process_options_t o = {};
  o.start_method = MPROC_START_FORKSERVER;
  std::vector<mproc_process_t *> live;
  int refused = 0;
  for (int i = 0; i < 300 && refused < 3; i++) {
    mproc_process_t *p = nullptr;
    if (mproc_process_create(&p, wait_for_gate, &ev, sizeof ev, &o) != 0)
      return 5;
    if (mproc_process_start(p) != 0) {
      mproc_process_free(p);
      refused++;
      continue;
    }
    live.push_back(p);
  }
  if (refused == 0 || live.empty()) {
    fprintf(stderr, "%zu started, %d refused\n", live.size(), refused);
    return 6;
  }
  // The last child to start may be one whose pidfd the server could not
  // open: it ends alone, after the others were killed and joined.
  for (size_t i = 0; i < live.size(); i++) {
    int code = 0, want = i + 1 < live.size() ? -SIGKILL : 0;
    if (i + 1 < live.size() && mproc_process_kill(live[i]) != 0)
      return 7;
    if (i + 1 == live.size())
      mproc_event_set(&ev);
    if (mproc_process_join(live[i], 60000) != 0 ||
        mproc_process_exitcode(live[i], &code) != 0 || code != want) {
      fprintf(stderr, "child %zu of %zu ended with %d\n", i, live.size(), code);
      return 7;
    }
    mproc_process_free(live[i]);
  }
  int want = 0, code = -1;
  mproc_process_t *p = nullptr;
  if (mproc_process_create(&p, return_code, &want, sizeof want, &o) != 0 ||
      mproc_process_start(p) != 0 || mproc_process_join(p, 60000) != 0 ||
      mproc_process_exitcode(p, &code) != 0 || code != 0) {
    fprintf(stderr, "the start after the others ended: code %d\n", code);
    return 8;
  }
  mproc_process_free(p);
  return 0;
}

// A fork server out of descriptors refuses a start and goes on; a child
// whose pidfd it could not open is still reported (src/posix/forkserver.c).
// Three limits in a row: whether the last descriptor the server gets is a
// request's socket or a pidfd depends on their parity.
TEST(ProcessHygiene, ForkserverOutOfDescriptorsRefusesStartsAndGoesOn) {
  for (const char *limit : {"30", "31", "32"}) {
    auto r = run_helper("forkserver_fd_limit", {limit});
    EXPECT_EQ(r.exit_code(), 0) << "limit " << limit << ": " << r.err;
  }
}

// The fork server binds its symbols at start through the environment
// (src/posix/forkserver.c); its children see the program's environment
// as it was, with or without the variable.
TEST(ProcessHygiene, ForkserverChildrenSeeTheProgramsEnvironment) {
  for (const char *value : {"-", "1", ""}) {
    auto r = run_helper("forkserver_env", {value});
    EXPECT_EQ(r.exit_code(), 0) << "LD_BIND_NOW " << value << ": " << r.err;
  }
}
#endif

TEST(ProcessHygiene, ExitFromTheTargetEndsTheChildWithItsCode) {
  auto r = run_helper("exit_from_target");
  EXPECT_EQ(r.exit_code(), 0) << r.err;
}

TEST(ProcessHygiene, NoDuplicatedOutputAndNoAtexitInChild) {
  auto r = run_helper("stdio_once");
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  EXPECT_EQ(count(r.out, "parent line\n"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "child line\n"), 1u) << r.out;
  EXPECT_EQ(count(r.out, "atexit ran"), 1u) << r.out;
}

} // namespace
