/* SPDX-License-Identifier: MIT */
/* Compiled, never run: src/atomics.h's branch for MSVC's C, which uses the
 * interlocked intrinsics, checked by clang in MSVC mode with __clang__
 * undefined (tests/CMakeLists.txt), since MSVC itself does not run here.
 * Every function of the header is called once. */
#include "atomics.h"

#ifndef MPROC__A32
#error "atomics.h did not take its MSVC branch"
#endif

int mproc_msvc_atomics_check(void);

int mproc_msvc_atomics_check(void) {
  static mproc__atomic_u32 w = 1;
  static mproc__atomic_u64 q;
  uint32_t e = 1;
  uint64_t e64 = 0, sum = 0;
  mproc__store32(&w, 2);
  mproc__store32_rel(&w, 3);
  mproc__store32_rlx(&w, 4);
  sum += (uint64_t)mproc__cas32(&w, &e, 5) + mproc__cas32_acq(&w, &e, 6);
  sum += mproc__add32(&w, 1) + mproc__sub32(&w, 1) + mproc__xchg32(&w, 7);
  mproc__store64(&q, 1);
  mproc__store64_rel(&q, 4);
  mproc__store64_rlx(&q, 5);
  sum += mproc__add64(&q, 2) + (uint64_t)mproc__cas64(&q, &e64, 3);
  mproc__cpu_relax();
  mproc__fence();
  mproc__fence_acq();
  sum += mproc__load32(&w) + mproc__load32_acq(&w) + mproc__load32_rlx(&w);
  sum += mproc__load64(&q) + mproc__load64_acq(&q) + mproc__load64_rlx(&q);
  return (int)sum;
}
