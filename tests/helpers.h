/* SPDX-License-Identifier: MIT */
// Test support on every platform: run this test binary again as a helper
// process, look at and end processes a test started, sleep, and pass bytes
// through a path-named channel. Every wait here is bounded. POSIX and
// Windows implement it in helpers_posix.cpp and helpers_win32.cpp.
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#ifndef _WIN32
#include <sys/types.h>
#endif

#include <functional>
#include <string>
#include <vector>

#include "mproc.h"

namespace mproc_test {

using HelperFn = int (*)(int argc, char **argv);

struct HelperRegistrar {
  HelperRegistrar(const char *name, HelperFn fn);
};

// Defines a helper: `MPROC_TEST_HELPER(name) { ...; return code; }`. The
// helper runs as `<test binary> --mproc-helper name args...`, in a fresh
// process without GoogleTest.
#define MPROC_TEST_HELPER(name)                                                \
  static int mproc_helper_##name(int argc, char **argv);                       \
  static ::mproc_test::HelperRegistrar mproc_helper_reg_##name(                \
      #name, mproc_helper_##name);                                             \
  static int mproc_helper_##name(int argc, char **argv)

// Called by main(): runs the helper named in argv and returns true, or
// returns false when this is not a helper invocation.
bool run_helper_if_asked(int argc, char **argv, int *exit_code);

struct HelperResult {
  // The raw waitpid status on POSIX, the exit code on Windows; -1 when it
  // timed out (and was killed) or could not be started.
  int status = -1;
  // Everything it wrote to stdout and stderr (on Windows, with the C
  // runtime's text-mode "\r\n" read back as "\n").
  std::string out;
  std::string err;
  // The exit code of a program that ended on its own (by return or exit),
  // or -1 (a POSIX signal ended it, or it timed out).
  int exit_code() const;
};

// Runs a program (argv[0] is its path) to completion with stdout and stderr
// captured and `input` on its stdin; kills it (and only it) when it
// outlives timeout_ms.
HelperResult run_program(const std::vector<std::string> &argv,
                         int timeout_ms = 30000, const std::string &input = "");

// As run_program(), with the arguments made once the program's stdin
// exists: make_argv gets the value by which the program can name its stdin
// as a bootstrap channel (the descriptor 0 on POSIX, the inherited handle's
// value on Windows).
HelperResult run_program_with_stdin_channel(
    const std::function<std::vector<std::string>(int64_t)> &make_argv,
    int timeout_ms, const std::string &input);

// The path of the running test binary.
std::string self_path();

// main()'s argv array, which mproc_init() edits in place (NULL-terminated).
extern char **g_argv;
// The arguments after argv[0] as mproc_init() left them, copied before
// GoogleTest removes its own.
extern std::vector<std::string> g_args;

// Runs a helper to completion with stdout and stderr captured; kills it (and
// only it) when it outlives timeout_ms.
HelperResult run_helper(const std::string &name,
                        const std::vector<std::string> &args = {},
                        int timeout_ms = 30000);

// A helper started without waiting for it, so that the test can kill it or
// see what it left behind. The destructor kills it if it still runs and
// reaps it.
class StartedHelper {
public:
  StartedHelper(const std::string &name, const std::vector<std::string> &args);
  StartedHelper(const StartedHelper &) = delete;
  StartedHelper &operator=(const StartedHelper &) = delete;
  ~StartedHelper();
  mproc_pid_t pid() const { return pid_; }
  // Kills it at once (SIGKILL, TerminateProcess); it is still to be waited.
  void kill();
  // Waits for its end and returns what HelperResult::exit_code() would, or
  // -2 when it still runs after timeout_ms.
  int wait(int timeout_ms);

private:
  mproc_pid_t pid_ = -1;
  void *process_ = nullptr; // the process HANDLE on Windows
  bool reaped_ = false;
  int status_ = -1; // as HelperResult::status, once reaped
};

// Scales a timeout for slow (sanitizer) builds: MPROC_TEST_TIMEOUT_MULTIPLIER.
int scaled_ms(int ms);

// The monotonic clock in milliseconds.
int64_t now_ms();

// Sleeps about that long (whole milliseconds on Windows).
void sleep_us(int64_t us);
inline void sleep_ms(int64_t ms) { sleep_us(ms * 1000); }

// Re-checks cond until it holds, for at most timeout_ms (scaled): true when
// it held. A poll of a real condition under a deadline: what a test uses
// instead of a sleep when it cannot be told that the other side is there.
bool wait_until(const std::function<bool()> &cond, int timeout_ms = 30000);

// Sets an environment variable of this process (NULL removes it); children
// started afterwards inherit it.
void set_env(const char *name, const char *value);

// Crashes the calling process: SIGSEGV on POSIX (with the default action,
// not a sanitizer's handler), an access violation on Windows.
void crash();

// How mproc reports the end of a child that crashed (crash()), that called
// abort(), and that kill_pid() ended. POSIX: the negated signal. Windows
// reports the code the process ended with: the exception's NTSTATUS for a
// crash, 3 for abort(), and for a TerminateProcess from outside the code
// it was given (only mproc's own kill reads as -SIGKILL, docs/windows.md).
#ifdef _WIN32
const int kCrashExit = (int)0xC0000005u;
const int kAbortExit = 3;
const int kKillPidExit = 1;
#else
const int kCrashExit = -SIGSEGV;
const int kAbortExit = -SIGABRT;
const int kKillPidExit = -SIGKILL;
#endif

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 when the pid
// does not exist. Windows has only 'R' (running) and 'Z' (ended, but some
// process still holds a handle to it).
char proc_state(mproc_pid_t pid);

// Waits until pid no longer exists or is a zombie (dead, not yet reaped by
// whoever is its parent now). Returns false at the deadline.
bool wait_dead(mproc_pid_t pid, int timeout_ms);

// Ends a process this test started, by pid (SIGKILL, TerminateProcess).
void kill_pid(mproc_pid_t pid);

// A channel that processes of every start method open by its path (a
// forkserver child inherits none of the test's descriptors): a FIFO on
// POSIX, a file on Windows, which has no FIFOs (read by polling there).
// Written by write_to_fifo(); the test reads it.
class Fifo {
public:
  Fifo();
  Fifo(const Fifo &) = delete;
  Fifo &operator=(const Fifo &) = delete;
  ~Fifo();
  const std::string &path() const { return path_; }
  // Reads exactly n bytes, failing at EOF or after timeout_ms.
  bool read(void *buf, size_t n, int timeout_ms);

private:
  std::string path_;
  intptr_t rd_ = -1;   // the read end: descriptor or HANDLE
  intptr_t keep_ = -1; // POSIX: our own writer, so no EOF between writers
};

// Opens the Fifo at path (which need not be NUL-terminated), writes, closes.
bool write_to_fifo(const void *path, size_t path_size, const void *buf,
                   size_t n);

// The parent pid from /proc/PID/stat (on Windows, as mproc_proc_info()
// reads it), or -1.
mproc_pid_t proc_ppid(mproc_pid_t pid);

#ifdef _WIN32
// Puts this process in a Job that ends every process it holds when the
// Job's one handle, this process's, closes: whatever this test program
// starts (and they start) then dies with it, also when CTest kills it at
// its timeout. Called by main() in the test program itself, not in its
// helpers or children (they are in the Job already). Returns 0, or the
// Windows error when Windows refuses (a Job around the run forbids
// nesting), with nothing changed.
unsigned long end_descendants_with_this_process();

// How many handles this process holds (0 when it cannot be told), and in
// *kinds how many of each object type (" typeT:N" for each type T held).
size_t count_handles(std::string *kinds);
#endif

#ifndef _WIN32
// As run_program(), with argv[0] looked up on PATH when it has no '/', the
// environment given instead of this process's, and nothing on stdin.
HelperResult run_program_env(const std::vector<std::string> &argv,
                             const std::vector<std::string> &env,
                             int timeout_ms);

// Reads exactly n bytes from fd, failing at EOF or after timeout_ms.
bool read_full(int fd, void *buf, size_t n, int timeout_ms);
bool write_full(int fd, const void *buf, size_t n);
#endif

} // namespace mproc_test

#ifdef _WIN32
// The signal mproc_process_kill() reads as on Windows too (-SIGKILL), as
// Python does; the C runtime's signal.h has SIGTERM but not this one.
#define SIGKILL 9
#endif
