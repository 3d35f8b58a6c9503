// Process on Windows: spawn through CreateProcess, exit codes, terminate
// and kill, crashes, the daemon Job and the inherited-handle list. Every
// child is a fresh run of this test binary, and every wait is bounded.
#include <gtest/gtest.h>

#include <stdint.h>
#include <string.h>

#include <string>
#include <vector>

#include "mproc.h"
#include "win32_helpers.h"

using mproc_test::scaled_ms;

namespace {

// ---- targets ---------------------------------------------------------------

int exit_with(const void *arg, size_t size) {
  int code = 0;
  if (size == sizeof code)
    memcpy(&code, arg, sizeof code);
  return code;
}
MPROC_TARGET(exit_with);

int sleep_ms(const void *arg, size_t size) {
  int ms = 0;
  if (size == sizeof ms)
    memcpy(&ms, arg, sizeof ms);
  Sleep((DWORD)ms);
  return 0;
}
MPROC_TARGET(sleep_ms);

unsigned char pattern(size_t i) { return (unsigned char)(i * 31 + 7); }

// 10, 11 or 12 for 0 B, 1 B or 1 MiB received intact; 1 when a byte
// differs; 99 for any other size.
int check_blob(const void *arg, size_t size) {
  const unsigned char *p = static_cast<const unsigned char *>(arg);
  for (size_t i = 0; i < size; i++)
    if (p[i] != pattern(i))
      return 1;
  if (size == 0)
    return arg == NULL ? 10 : 2;
  if (size == 1)
    return 11;
  if (size == 1 << 20)
    return 12;
  return 99;
}
MPROC_TARGET(check_blob);

// 0 when the child's name is the argument (no NUL).
int check_name(const void *arg, size_t size) {
  std::string want(static_cast<const char *>(arg), size);
  return want == mproc_current_process_name() ? 0 : 1;
}
MPROC_TARGET(check_name);

// 0 when the child's parent is the pid given, and its own pid differs.
int check_parent(const void *arg, size_t size) {
  mproc_pid_t parent = 0;
  if (size != sizeof parent)
    return 2;
  memcpy(&parent, arg, sizeof parent);
  if (mproc_getppid() != parent)
    return 1;
  return mproc_getpid() != parent ? 0 : 3;
}
MPROC_TARGET(check_parent);

int crash(const void *, size_t) {
  volatile int *nowhere = NULL;
  *nowhere = 1;
  return 0;
}
MPROC_TARGET(crash);

// Tries to use a handle value the parent holds as an inheritable event.
// Returns 0 when it is not this process's event (SetEvent failed or
// reached another object); the parent checks its event stayed unset.
int use_parent_handle(const void *arg, size_t size) {
  uint64_t value = 0;
  if (size != sizeof value)
    return 2;
  memcpy(&value, arg, sizeof value);
  return SetEvent((HANDLE)(uintptr_t)value) ? 1 : 0;
}
MPROC_TARGET(use_parent_handle);

int not_registered(const void *, size_t) { return 0; }

// ---- helpers ---------------------------------------------------------------

// Starts a child of target with the argument and returns the handle.
mproc_process_t *start(mproc_target_fn target, const void *arg, size_t size,
                       const mproc_process_options_t *options = NULL) {
  mproc_process_t *p = NULL;
  EXPECT_EQ(mproc_process_create(&p, target, arg, size, options), 0);
  if (!p)
    return NULL;
  EXPECT_EQ(mproc_process_start(p), 0);
  return p;
}

// Joins (bounded) and returns the exit code, then frees the handle.
int finish(mproc_process_t *p) {
  int code = MPROC_EXITCODE_UNKNOWN;
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  return code;
}

// ---- tests -----------------------------------------------------------------

TEST(Win32Process, SpawnIsTheOnlyStartMethod) {
  EXPECT_EQ(mproc_get_start_method(), MPROC_START_SPAWN);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_FORK), MPROC_ENOTSUP);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_FORKSERVER), MPROC_ENOTSUP);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_SPAWN), 0);
  EXPECT_EQ(mproc_set_start_method(MPROC_START_DEFAULT), 0);

  mproc_process_options_t o = {};
  o.start_method = MPROC_START_FORK;
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, exit_with, NULL, 0, &o), 0);
  EXPECT_EQ(mproc_process_start(p), MPROC_ENOTSUP);
  EXPECT_EQ(mproc_process_free(p), 0);
}

TEST(Win32Process, ExitCodes) {
  for (int want : {0, 3, 255}) {
    mproc_process_t *p = start(exit_with, &want, sizeof want);
    ASSERT_NE(p, nullptr);
    EXPECT_GT(mproc_process_pid(p), 0);
    EXPECT_EQ(finish(p), want) << "target returned " << want;
  }
}

TEST(Win32Process, ExitCodeKeepsTheLowByte) {
  // As on POSIX, where the kernel keeps 8 bits of an exit status.
  int code = 256 + 7;
  EXPECT_EQ(finish(start(exit_with, &code, sizeof code)), 7);
}

TEST(Win32Process, JoinTimesOutThenSucceeds) {
  int ms = 1500;
  mproc_process_t *p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  int alive = -1;
  EXPECT_EQ(mproc_process_join(p, 50), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_process_join(p, 0), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_process_is_alive(p, &alive), 0);
  EXPECT_EQ(alive, 1);
  int code = 0;
  EXPECT_EQ(mproc_process_exitcode(p, &code), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_join(p, MPROC_INFINITE), 0);
  EXPECT_EQ(mproc_process_is_alive(p, &alive), 0);
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(finish(p), 0);
}

TEST(Win32Process, IsAliveBeforeStart) {
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, exit_with, NULL, 0, NULL), 0);
  int alive = -1;
  EXPECT_EQ(mproc_process_is_alive(p, &alive), 0);
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(mproc_process_pid(p), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
}

TEST(Win32Process, TerminateReadsAsSigterm) {
  int ms = 60000;
  mproc_process_t *p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mproc_process_terminate(p), 0);
  EXPECT_EQ(finish(p), -15);
}

TEST(Win32Process, KillReadsAsSigkill) {
  int ms = 60000;
  mproc_process_t *p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mproc_process_kill(p), 0);
  // A second request finds the child ended and changes nothing.
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_terminate(p), 0);
  EXPECT_EQ(finish(p), -9);
}

TEST(Win32Process, ActiveChildren) {
  int ms = 60000;
  mproc_process_t *p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  mproc_process_t *list[4];
  size_t n = 0;
  EXPECT_EQ(mproc_active_children(list, 4, &n), 0);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(list[0], p);
  EXPECT_EQ(mproc_process_kill(p), 0);
  EXPECT_EQ(finish(p), -9);
  EXPECT_EQ(mproc_active_children(list, 4, &n), 0);
  EXPECT_EQ(n, 0u);
}

TEST(Win32Process, ArgumentBlobsArriveIntact) {
  std::vector<unsigned char> blob(1 << 20);
  for (size_t i = 0; i < blob.size(); i++)
    blob[i] = pattern(i);
  EXPECT_EQ(finish(start(check_blob, NULL, 0)), 10);
  EXPECT_EQ(finish(start(check_blob, blob.data(), 1)), 11);
  EXPECT_EQ(finish(start(check_blob, blob.data(), blob.size())), 12);
}

TEST(Win32Process, Names) {
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, check_name, NULL, 0, NULL), 0);
  std::string name = mproc_process_name(p);
  EXPECT_EQ(name.rfind("Process-", 0), 0u) << name;
  EXPECT_EQ(mproc_process_free(p), 0);

  // The child sees its default name, and a chosen one.
  ASSERT_EQ(mproc_process_create(&p, check_name, NULL, 0, NULL), 0);
  name = mproc_process_name(p);
  ASSERT_EQ(mproc_process_free(p), 0);
  std::string next =
      "Process-" + std::to_string(std::stoul(name.substr(8)) + 1);
  EXPECT_EQ(finish(start(check_name, next.data(), next.size())), 0);

  mproc_process_options_t o = {};
  o.name = "worker with spaces \"and quotes\"";
  EXPECT_EQ(finish(start(check_name, o.name, strlen(o.name), &o)), 0);
  EXPECT_STREQ(mproc_current_process_name(), "MainProcess");
}

TEST(Win32Process, PidAndParent) {
  mproc_pid_t self = mproc_getpid();
  EXPECT_EQ(self, (mproc_pid_t)GetCurrentProcessId());
  // A process started from outside Windows (Wine's first process) has no
  // Windows parent and reads 0; the child's check below is the real one.
  EXPECT_GE(mproc_getppid(), 0);
  EXPECT_EQ(finish(start(check_parent, &self, sizeof self)), 0);
  EXPECT_GE(mproc_cpu_count(), 1);
}

TEST(Win32Process, BadInputAndLifecycle) {
  mproc_process_t *p = NULL;
  EXPECT_EQ(mproc_process_create(NULL, exit_with, NULL, 0, NULL), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_create(&p, NULL, NULL, 0, NULL), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_create(&p, exit_with, NULL, 4, NULL), MPROC_EINVAL);
  mproc_process_options_t o = {};
  o.start_method = (mproc_start_method_t)42;
  EXPECT_EQ(mproc_process_create(&p, exit_with, NULL, 0, &o), MPROC_EINVAL);

  ASSERT_EQ(mproc_process_create(&p, sleep_ms, NULL, 0, NULL), 0);
  int code = 0;
  EXPECT_EQ(mproc_process_join(p, 0), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_exitcode(p, &code), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_terminate(p), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_join(p, -5), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_is_alive(p, NULL), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_exitcode(p, NULL), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_set_daemon(p, 1), 0);
  EXPECT_EQ(mproc_process_set_daemon(p, 0), 0);

  int ms = 60000;
  mproc_process_free(p);
  p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(mproc_process_start(p), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_set_daemon(p, 1), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_free(p), MPROC_ESTATE); // still running
  EXPECT_EQ(mproc_process_kill(p), 0);
  EXPECT_EQ(finish(p), -9);
  // A freed handle is recognised, never dereferenced.
  EXPECT_EQ(mproc_process_join(p, 0), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_free(NULL), 0);
}

TEST(Win32Process, UnregisteredTarget) {
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, not_registered, NULL, 0, NULL), 0);
  EXPECT_EQ(mproc_process_start(p), MPROC_ENOTREG);
  int alive = -1;
  EXPECT_EQ(mproc_process_is_alive(p, &alive), 0);
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
}

TEST(Win32Process, CrashKeepsTheExceptionCode) {
  // Documented: an NTSTATUS comes back as the int with the same 32 bits.
  int code = finish(start(crash, NULL, 0));
  EXPECT_EQ((uint32_t)code, 0xC0000005u);
}

TEST(Win32Process, UnrelatedInheritableHandleIsNotInherited) {
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE event = CreateEventW(&inherit, TRUE, FALSE, NULL);
  ASSERT_NE(event, (HANDLE)NULL);
  uint64_t value = (uint64_t)(uintptr_t)event;
  EXPECT_EQ(finish(start(use_parent_handle, &value, sizeof value)), 0);
  // The authoritative check: had the child held the event, it would be set.
  EXPECT_EQ(WaitForSingleObject(event, 0), (DWORD)WAIT_TIMEOUT);
  CloseHandle(event);
}

// The middle of three generations: starts a daemon that would sleep a
// minute, prints its pid, then waits to be killed.
MPROC_TEST_HELPER(daemon_middle) {
  (void)argc;
  (void)argv;
  int ms = 60000;
  mproc_process_options_t o = {};
  o.daemon = 1;
  mproc_process_t *p = NULL;
  if (mproc_process_create(&p, sleep_ms, &ms, sizeof ms, &o) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  printf("%lld\n", (long long)mproc_process_pid(p));
  fflush(stdout);
  Sleep(60000);
  return 4;
}

// Starts a non-daemon child that sleeps, prints its pid, and returns at
// once (without mproc's exit processing, which would join it).
MPROC_TEST_HELPER(plain_middle) {
  (void)argc;
  (void)argv;
  int ms = 3000;
  mproc_process_t *p = NULL;
  if (mproc_process_create(&p, sleep_ms, &ms, sizeof ms, NULL) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  printf("%lld\n", (long long)mproc_process_pid(p));
  fflush(stdout);
  TerminateProcess(GetCurrentProcess(), 5);
  return 5;
}

TEST(Win32Process, DaemonDiesWhenItsParentIsKilled) {
  mproc_test::HelperProcess middle;
  ASSERT_TRUE(middle.start("daemon_middle", {}));
  std::string line;
  ASSERT_TRUE(middle.read_line(&line, scaled_ms(30000)));
  DWORD daemon_pid = (DWORD)std::stoul(line);
  HANDLE daemon = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                              FALSE, daemon_pid);
  ASSERT_NE(daemon, (HANDLE)NULL);
  EXPECT_EQ(WaitForSingleObject(daemon, 200), (DWORD)WAIT_TIMEOUT);

  // Killed outright: no exit processing runs in the middle process; only
  // the kernel closing its job handle can end the daemon.
  ASSERT_TRUE(TerminateProcess(middle.process(), 9));
  EXPECT_EQ(WaitForSingleObject(daemon, scaled_ms(20000)),
            (DWORD)WAIT_OBJECT_0);
  // Windows and Wine both end it; the exit code such a job kill leaves
  // differs (Wine reports 0), so it is not asserted.
  CloseHandle(daemon);
}

TEST(Win32Process, NonDaemonOutlivesItsParent) {
  mproc_test::HelperProcess middle;
  ASSERT_TRUE(middle.start("plain_middle", {}));
  std::string line;
  ASSERT_TRUE(middle.read_line(&line, scaled_ms(30000)));
  HANDLE child = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                             FALSE, (DWORD)std::stoul(line));
  ASSERT_NE(child, (HANDLE)NULL);
  DWORD code = 0;
  ASSERT_TRUE(middle.wait(scaled_ms(30000), &code));
  EXPECT_EQ(code, 5u);
  // Its parent is gone; it goes on and ends on its own with 0.
  EXPECT_EQ(WaitForSingleObject(child, 500), (DWORD)WAIT_TIMEOUT);
  EXPECT_EQ(WaitForSingleObject(child, scaled_ms(20000)), (DWORD)WAIT_OBJECT_0);
  DWORD child_code = 99;
  EXPECT_TRUE(GetExitCodeProcess(child, &child_code));
  EXPECT_EQ(child_code, 0u);
  CloseHandle(child);
}

// ---- pid inspection --------------------------------------------------------

TEST(Win32ProcInfo, Self) {
  mproc_proc_info_t info;
  ASSERT_EQ(mproc_proc_info(mproc_getpid(), &info), 0);
  EXPECT_EQ(info.pid, mproc_getpid());
  EXPECT_EQ(info.ppid, mproc_getppid());
  EXPECT_NE(strstr(info.name, "win32_process_test"), nullptr) << info.name;
  EXPECT_EQ(info.state, MPROC_PROC_RUNNING);
  EXPECT_GE(info.num_threads, 1u);
  EXPECT_GT(info.rss_bytes, 0u);
  EXPECT_GT(info.start_time_ms, 1500000000000LL);
  if (info.valid & MPROC_PROC_HAS_ARGV) {
    ASSERT_GE(info.argc, 1u);
    EXPECT_NE(strstr(info.argv[0], "win32_process_test"), nullptr)
        << info.argv[0];
    EXPECT_EQ(info.argv[info.argc], nullptr);
  }
  EXPECT_EQ(info.valid, (unsigned)MPROC_PROC_HAS_ALL);
  mproc_proc_info_free(&info);
}

TEST(Win32ProcInfo, ChildrenAndMissingPid) {
  int ms = 60000;
  mproc_process_t *p = start(sleep_ms, &ms, sizeof ms);
  ASSERT_NE(p, nullptr);
  mproc_proc_info_t *list = NULL;
  size_t n = 0;
  ASSERT_EQ(mproc_proc_list(MPROC_PROC_CHILDREN, mproc_getpid(), &list, &n), 0);
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    if (list[i].pid != mproc_process_pid(p))
      continue;
    found = true;
    EXPECT_EQ(list[i].ppid, mproc_getpid());
    // The child's command line carries the bootstrap flag.
    if (list[i].valid & MPROC_PROC_HAS_ARGV) {
      ASSERT_GE(list[i].argc, 2u);
      EXPECT_EQ(strncmp(list[i].argv[1], "--mproc-child=", 14), 0)
          << list[i].argv[1];
    }
  }
  EXPECT_TRUE(found);
  mproc_proc_list_free(list, n);
  EXPECT_EQ(mproc_process_kill(p), 0);
  EXPECT_EQ(finish(p), -9);

  mproc_proc_info_t info;
  // Windows pids are multiples of 4: this one is never given out.
  EXPECT_EQ(mproc_proc_info(0x7ffffffd, &info), MPROC_ESRCH);
  EXPECT_EQ(mproc_proc_info(-1, &info), MPROC_EINVAL);
}

} // namespace
