/* SPDX-License-Identifier: MIT */
/*
 * Checked arithmetic on sizes and counts a caller gave.
 *
 * Every sum or product of a caller-given size goes through these, so that no
 * check is ever written as `a + b <= limit` (which passes when `a + b`
 * wraps). Each returns 1 and leaves *out alone when the result does not
 * fit, 0 with *out set otherwise. Plain C: MSVC has no overflow builtins.
 */
#ifndef MPROC_CHECKED_H
#define MPROC_CHECKED_H

#include <stddef.h>
#include <stdint.h>

/* The largest size of one object or message mproc accepts: no object may be
 * larger than PTRDIFF_MAX bytes in C, nor a file or mapping than the
 * largest off_t. Sizes above it are refused before any memory is touched. */
#define MPROC__SIZE_LIMIT ((size_t)PTRDIFF_MAX)

static inline int mproc__add_size(size_t a, size_t b, size_t *out) {
  if (a > SIZE_MAX - b)
    return 1;
  *out = a + b;
  return 0;
}

static inline int mproc__mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a)
    return 1;
  *out = a * b;
  return 0;
}

static inline int mproc__add_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (a > UINT64_MAX - b)
    return 1;
  *out = a + b;
  return 0;
}

static inline int mproc__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a)
    return 1;
  *out = a * b;
  return 0;
}

/* Whether `size` bytes fit in what is left of `cap` after `used`, written
 * without a sum: `used + size <= cap`. */
static inline int mproc__fits(size_t used, size_t size, size_t cap) {
  return used <= cap && size <= cap - used;
}

/* a + b for non-negative a and b, saturated at INT64_MAX (deadlines in
 * nanoseconds: "later than anything" is what an overflow means there). */
static inline int64_t mproc__add_i64_sat(int64_t a, int64_t b) {
  return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* a * b for non-negative a and b, saturated at INT64_MAX. */
static inline int64_t mproc__mul_i64_sat(int64_t a, int64_t b) {
  return a != 0 && b > INT64_MAX / a ? INT64_MAX : a * b;
}

#endif
