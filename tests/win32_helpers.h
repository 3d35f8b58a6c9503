// Test support on Windows: run this test binary again as a helper process
// (`<test binary> --mproc-helper NAME args...`), with its stdout on a pipe
// the test reads. Every wait here is bounded. The POSIX tests' helpers.h
// plays the same part there.
#pragma once

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <string>
#include <vector>

namespace mproc_test {

using HelperFn = int (*)(int argc, char **argv);

struct HelperRegistrar {
  HelperRegistrar(const char *name, HelperFn fn);
};

// Defines a helper: `MPROC_TEST_HELPER(name) { ...; return code; }`.
#define MPROC_TEST_HELPER(name)                                                \
  static int mproc_helper_##name(int argc, char **argv);                       \
  static ::mproc_test::HelperRegistrar mproc_helper_reg_##name(                \
      #name, mproc_helper_##name);                                             \
  static int mproc_helper_##name(int argc, char **argv)

// Called by main(): runs the helper named in argv and returns true, or
// returns false when this is not a helper invocation.
bool run_helper_if_asked(int argc, char **argv, int *exit_code);

// main()'s argv array, which mproc_init() edits in place.
extern char **g_argv;
// The arguments after argv[0] as mproc_init() left them.
extern std::vector<std::string> g_args;

// Scales a timeout for slow runs: MPROC_TEST_TIMEOUT_MULTIPLIER.
int scaled_ms(int ms);

// A helper process started by start_helper(). The destructor ends it if it
// still runs and closes every handle.
class HelperProcess {
public:
  HelperProcess() = default;
  HelperProcess(const HelperProcess &) = delete;
  HelperProcess &operator=(const HelperProcess &) = delete;
  ~HelperProcess();

  bool start(const std::string &name, const std::vector<std::string> &args);
  // One line of the helper's stdout, without the line end; false at end of
  // file or after timeout_ms.
  bool read_line(std::string *line, int timeout_ms);
  // Waits for the helper to end; false after timeout_ms.
  bool wait(int timeout_ms, DWORD *exit_code);

  HANDLE process() const { return process_; }
  DWORD pid() const { return pid_; }

private:
  HANDLE process_ = NULL;
  HANDLE out_ = NULL; // read end of the helper's stdout
  DWORD pid_ = 0;
  std::string buffered_;
};

// Runs a helper to completion and returns its exit code, or -1 when it
// had to be killed after timeout_ms.
long run_helper(const std::string &name, const std::vector<std::string> &args,
                int timeout_ms = 30000);

} // namespace mproc_test
