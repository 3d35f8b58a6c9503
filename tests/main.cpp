// SPDX-License-Identifier: MIT
// The one main() of every test binary: a helper invocation, or GoogleTest.
#include <gtest/gtest.h>

#include <stdio.h>

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
#ifdef _WIN32
  // No process a test starts outlives the test program, also when CTest
  // kills the program (and only it) at its timeout.
  if (unsigned long err = mproc_test::end_descendants_with_this_process())
    fprintf(stderr,
            "note: no kill-on-close Job around the test's processes "
            "(error %lu)\n",
            err);
#endif
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
