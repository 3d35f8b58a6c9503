/* SPDX-License-Identifier: MIT */
// Pool tasks that several test programs run: defined and registered once,
// in test_tasks.cpp, which each of those programs compiles in. Workers of
// spawn and forkserver pools, and MPI ranks, find them by their registered
// names.
#pragma once

#include <stddef.h>

#include "mproc.h"

namespace test_tasks {

// Answers its argument.
int echo(const void *arg, size_t size, mproc_buf_t *out);
// Answers "partial" and fails with the int it is given.
int fail_with(const void *arg, size_t size, mproc_buf_t *out);
// Answers twice the int64_t it is given.
int double_it(const void *arg, size_t size, mproc_buf_t *out);
// Answers the square of the int it is given; fails with 1 when the
// argument is not one int.
int square(const void *arg, size_t size, mproc_buf_t *out);

} // namespace test_tasks
