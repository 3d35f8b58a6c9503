// SPDX-License-Identifier: MIT
#include "test_tasks.h"

#include <stdint.h>
#include <string.h>

namespace test_tasks {

int echo(const void *arg, size_t size, mproc_buf_t *out) {
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(echo);

int fail_with(const void *arg, size_t, mproc_buf_t *out) {
  int code;
  memcpy(&code, arg, sizeof code);
  mproc_buf_set(out, "partial", 7);
  return code;
}
MPROC_TASK(fail_with);

int double_it(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  v *= 2;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(double_it);

int square(const void *arg, size_t size, mproc_buf_t *out) {
  int v;
  if (size != sizeof v)
    return 1;
  memcpy(&v, arg, sizeof v);
  v *= v;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(square);

} // namespace test_tasks
