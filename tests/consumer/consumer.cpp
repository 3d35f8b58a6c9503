// SPDX-License-Identifier: MIT
// The header compiles clean as C++ and links statically.
#include <mproc.h>

#include <cstdio>

static int target(const void *, size_t) { return 7; }

int main(int argc, char **argv) {
  mproc_process_t *p = nullptr;
  int code = -1;
  if (mproc_init(&argc, &argv) != 0)
    return 1;
  mproc_process_options_t options = {};
  options.name = "cxx-child";
  if (mproc_process_create(&p, target, nullptr, 0, &options) != 0)
    return 2;
  if (mproc_process_start(p) != 0)
    return 3;
  if (mproc_process_join(p, MPROC_INFINITE) != 0)
    return 4;
  if (mproc_process_exitcode(p, &code) != 0 || code != 7)
    return 5;
  mproc_process_free(p);
  std::printf("consumer (C++): %s\n", mproc_strerror(MPROC_ETIMEDOUT));
  return 0;
}
