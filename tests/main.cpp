// SPDX-License-Identifier: MIT
// The one main() of every test binary: a helper invocation, or GoogleTest.
#include <gtest/gtest.h>

#include "helpers.h"
#include "mproc.h"

int main(int argc, char **argv) {
  int code = 0;
  // Kept for tests that check what mproc_init() leaves of argv.
  mproc_test::g_argv = argv;
  if (mproc_init(&argc, &argv) != 0)
    return 125;
  for (int i = 1; i < argc; i++)
    mproc_test::g_args.push_back(argv[i]);
  if (mproc_test::run_helper_if_asked(argc, argv, &code))
    return code;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
