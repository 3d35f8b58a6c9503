// SPDX-License-Identifier: MIT
// The platform-neutral part of the test support: the helper registry and
// what is built on the per-platform pieces.
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <map>

namespace mproc_test {
namespace {

std::map<std::string, HelperFn> &registry() {
  static std::map<std::string, HelperFn> helpers;
  return helpers;
}

} // namespace

char **g_argv;
std::vector<std::string> g_args;

HelperRegistrar::HelperRegistrar(const char *name, HelperFn fn) {
  registry()[name] = fn;
}

bool run_helper_if_asked(int argc, char **argv, int *exit_code) {
  if (argc < 3 || strcmp(argv[1], "--mproc-helper") != 0)
    return false;
  auto it = registry().find(argv[2]);
  if (it == registry().end()) {
    fprintf(stderr, "no helper named %s\n", argv[2]);
    *exit_code = 126;
    return true;
  }
  *exit_code = it->second(argc - 3, argv + 3);
  return true;
}

int scaled_ms(int ms) {
  const char *m = getenv("MPROC_TEST_TIMEOUT_MULTIPLIER");
  int k = m ? atoi(m) : 1;
  return ms * (k > 0 ? k : 1);
}

HelperResult run_program(const std::vector<std::string> &argv, int timeout_ms,
                         const std::string &input) {
  return run_program_with_stdin_channel([&](int64_t) { return argv; },
                                        timeout_ms, input);
}

HelperResult run_helper(const std::string &name,
                        const std::vector<std::string> &args, int timeout_ms) {
  std::vector<std::string> all = {self_path(), "--mproc-helper", name};
  all.insert(all.end(), args.begin(), args.end());
  return run_program(all, timeout_ms);
}

bool wait_until(const std::function<bool()> &cond, int timeout_ms) {
  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  for (;;) {
    if (cond())
      return true;
    if (now_ms() > deadline)
      return false;
    sleep_us(2000); // the poll's period: the deadline decides, not this
  }
}

bool wait_dead(mproc_pid_t pid, int timeout_ms) {
  return wait_until(
      [pid] {
        char s = proc_state(pid);
        return s == 0 || s == 'Z' || s == 'X';
      },
      timeout_ms);
}

} // namespace mproc_test
