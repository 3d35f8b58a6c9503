// SPDX-License-Identifier: MIT
// Process on Windows, what the common suites (process_test and the others)
// cannot check: spawn as the only start method, the pid pair, a crash's
// exception code, the inherited-handle list, the daemon Job when the parent
// is killed, and Toolhelp's records. Every child is a fresh run of this
// test binary, and every wait is bounded.
#include <gtest/gtest.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "helpers.h"
#include "mproc.h"

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

// Sleeps the milliseconds given: a child the test kills long before.
int sleep_ms(const void *arg, size_t size) {
  int ms = 0;
  if (size == sizeof ms)
    memcpy(&ms, arg, sizeof ms);
  Sleep((DWORD)ms); // not synchronisation: the test kills it
  return 0;
}
MPROC_TARGET(sleep_ms);

// Exits with 0 once the Event it is given is set, with 1 after a minute.
int wait_for_event(const void *arg, size_t size) {
  mproc_event_t ev;
  if (size != sizeof ev)
    return 2;
  memcpy(&ev, arg, sizeof ev);
  return mproc_event_wait(&ev, scaled_ms(60000)) == 0 ? 0 : 1;
}
MPROC_TARGET(wait_for_event);

// An Event's bytes as hex, for a helper's command line, and back.
std::string to_hex(const mproc_event_t &ev) {
  const unsigned char *b = reinterpret_cast<const unsigned char *>(&ev);
  std::string out;
  char two[3];
  for (size_t i = 0; i < sizeof ev; i++) {
    snprintf(two, sizeof two, "%02x", b[i]);
    out += two;
  }
  return out;
}

bool from_hex(const char *hex, mproc_event_t *ev) {
  unsigned char *b = reinterpret_cast<unsigned char *>(ev);
  if (strlen(hex) != 2 * sizeof *ev)
    return false;
  for (size_t i = 0; i < sizeof *ev; i++) {
    unsigned v = 0;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1)
      return false;
    b[i] = (unsigned char)v;
  }
  return true;
}

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

TEST(Win32Process, PidAndParent) {
  mproc_pid_t self = mproc_getpid();
  EXPECT_EQ(self, (mproc_pid_t)GetCurrentProcessId());
  // A process started from outside Windows (Wine's first process) has no
  // Windows parent and reads 0; the child's check below is the real one.
  EXPECT_GE(mproc_getppid(), 0);
  EXPECT_EQ(finish(start(check_parent, &self, sizeof self)), 0);
  EXPECT_GE(mproc_cpu_count(), 1);
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
// minute, writes its pid to the Fifo argv[0], then waits to be killed.
MPROC_TEST_HELPER(daemon_middle) {
  if (argc < 1)
    return 1;
  int ms = 60000;
  mproc_process_options_t o = {};
  o.daemon = 1;
  mproc_process_t *p = NULL;
  if (mproc_process_create(&p, sleep_ms, &ms, sizeof ms, &o) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  mproc_pid_t pid = mproc_process_pid(p);
  mproc_test::write_to_fifo(argv[0], strlen(argv[0]), &pid, sizeof pid);
  Sleep(60000); // not synchronisation: the test kills it
  return 4;
}

// Starts a non-daemon child that waits for the test's Event (argv[1], in
// hex), writes its pid to the Fifo argv[0], and ends at once (without
// mproc's exit processing, which would join it).
MPROC_TEST_HELPER(plain_middle) {
  mproc_event_t go;
  if (argc < 2 || !from_hex(argv[1], &go))
    return 1;
  mproc_process_t *p = NULL;
  if (mproc_process_create(&p, wait_for_event, &go, sizeof go, NULL) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  mproc_pid_t pid = mproc_process_pid(p);
  mproc_test::write_to_fifo(argv[0], strlen(argv[0]), &pid, sizeof pid);
  TerminateProcess(GetCurrentProcess(), 5);
  return 5;
}

TEST(Win32Process, DaemonDiesWhenItsParentIsKilled) {
  mproc_test::Fifo fifo;
  mproc_test::StartedHelper middle("daemon_middle", {fifo.path()});
  mproc_pid_t daemon_pid = 0;
  ASSERT_TRUE(fifo.read(&daemon_pid, sizeof daemon_pid, 30000));
  HANDLE daemon = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                              FALSE, (DWORD)daemon_pid);
  ASSERT_NE(daemon, (HANDLE)NULL);
  EXPECT_EQ(WaitForSingleObject(daemon, 200), (DWORD)WAIT_TIMEOUT);

  // Killed outright: no exit processing runs in the middle process; only
  // the kernel closing its job handle can end the daemon.
  middle.kill();
  EXPECT_EQ(WaitForSingleObject(daemon, scaled_ms(20000)),
            (DWORD)WAIT_OBJECT_0);
  // Windows and Wine both end it; the exit code such a job kill leaves
  // differs (Wine reports 0), so it is not asserted.
  CloseHandle(daemon);
}

TEST(Win32Process, NonDaemonOutlivesItsParent) {
  mproc_event_t go;
  ASSERT_EQ(mproc_event_create(&go), 0);
  mproc_test::Fifo fifo;
  mproc_test::StartedHelper middle("plain_middle", {fifo.path(), to_hex(go)});
  mproc_pid_t child_pid = 0;
  ASSERT_TRUE(fifo.read(&child_pid, sizeof child_pid, 30000));
  HANDLE child = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                             FALSE, (DWORD)child_pid);
  ASSERT_NE(child, (HANDLE)NULL);
  EXPECT_EQ(middle.wait(30000), 5);
  // Its parent is gone; it goes on (it waits for the test's Event) and,
  // once let go, ends on its own with 0.
  EXPECT_EQ(WaitForSingleObject(child, 500), (DWORD)WAIT_TIMEOUT);
  EXPECT_EQ(mproc_event_set(&go), 0);
  EXPECT_EQ(WaitForSingleObject(child, scaled_ms(20000)), (DWORD)WAIT_OBJECT_0);
  DWORD child_code = 99;
  EXPECT_TRUE(GetExitCodeProcess(child, &child_code));
  EXPECT_EQ(child_code, 0u);
  CloseHandle(child);
  EXPECT_EQ(mproc_event_destroy(&go), 0);
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
