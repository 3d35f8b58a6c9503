// Test support: run this test binary again as a helper process, and look at
// processes through /proc. Every wait here is bounded.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

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
  int status = -1; // raw waitpid status, or -1 when it timed out (killed)
  std::string out; // everything it wrote to stdout
  std::string err; // everything it wrote to stderr
};

// Runs a program (argv[0] is its path) to completion with stdout and stderr
// captured; kills it (and only it) when it outlives timeout_ms.
HelperResult run_program(const std::vector<std::string> &argv,
                         int timeout_ms = 30000, const std::string &input = "");

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

// Scales a timeout for slow (sanitizer) builds: MPROC_TEST_TIMEOUT_MULTIPLIER.
int scaled_ms(int ms);

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 when the pid
// does not exist.
char proc_state(pid_t pid);

// The parent pid from /proc/PID/stat, or -1.
pid_t proc_ppid(pid_t pid);

// Waits until pid no longer exists or is a zombie (dead, not yet reaped by
// whoever is its parent now). Returns false at the deadline.
bool wait_dead(pid_t pid, int timeout_ms);

// Reads exactly n bytes from fd, failing at EOF or after timeout_ms.
bool read_full(int fd, void *buf, size_t n, int timeout_ms);
bool write_full(int fd, const void *buf, size_t n);

} // namespace mproc_test
