/* SPDX-License-Identifier: MIT */
/*
 * Atomic operations on words in shared memory, in one place, so that each
 * compiler's own means stay here and out of the code that uses them.
 *
 * Shared structures declare their atomic fields with the mproc__atomic_*
 * types and touch them only through these functions. The memory order is in
 * each function's name: `acq` (acquire), `rel` (release), `rlx` (relaxed);
 * the unsuffixed forms are sequentially consistent, which the waiter-count
 * handshakes (a store on one side, a load on the other) need. C11 atomics
 * everywhere but MSVC's C, which gets its interlocked intrinsics.
 */
#ifndef MPROC_ATOMICS_H
#define MPROC_ATOMICS_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)
/*
 * MSVC's C has no <stdatomic.h> without an experimental switch: its
 * interlocked intrinsics instead (x64 and ARM64). Every read-modify-write
 * is a full barrier, so the sequentially consistent and the acquire or
 * release forms share one body; relaxed loads and stores are plain volatile
 * accesses, which MSVC never splits or merges.
 */
#include <intrin.h>

typedef volatile uint32_t mproc__atomic_u32;
typedef volatile uint64_t mproc__atomic_u64;

#define MPROC__A32(p) ((volatile long *)(p))
#define MPROC__A64(p) ((volatile __int64 *)(p))

static inline uint32_t mproc__load32(mproc__atomic_u32 *p) {
  return (uint32_t)_InterlockedOr(MPROC__A32(p), 0);
}
static inline uint32_t mproc__load32_acq(mproc__atomic_u32 *p) {
  return mproc__load32(p);
}
static inline uint32_t mproc__load32_rlx(mproc__atomic_u32 *p) { return *p; }
static inline void mproc__store32(mproc__atomic_u32 *p, uint32_t v) {
  (void)_InterlockedExchange(MPROC__A32(p), (long)v);
}
static inline void mproc__store32_rel(mproc__atomic_u32 *p, uint32_t v) {
  mproc__store32(p, v);
}
static inline void mproc__store32_rlx(mproc__atomic_u32 *p, uint32_t v) {
  *p = v;
}
static inline uint32_t mproc__add32(mproc__atomic_u32 *p, uint32_t v) {
  return (uint32_t)_InterlockedExchangeAdd(MPROC__A32(p), (long)v);
}
static inline uint32_t mproc__xchg32(mproc__atomic_u32 *p, uint32_t v) {
  return (uint32_t)_InterlockedExchange(MPROC__A32(p), (long)v);
}
static inline uint32_t mproc__sub32(mproc__atomic_u32 *p, uint32_t v) {
  return (uint32_t)_InterlockedExchangeAdd(MPROC__A32(p), -(long)v);
}
/* Compare-and-swap; on failure *expected receives the current value. */
static inline int mproc__cas32(mproc__atomic_u32 *p, uint32_t *expected,
                               uint32_t desired) {
  uint32_t seen = (uint32_t)_InterlockedCompareExchange(
      MPROC__A32(p), (long)desired, (long)*expected);
  if (seen == *expected)
    return 1;
  *expected = seen;
  return 0;
}
static inline int mproc__cas32_acq(mproc__atomic_u32 *p, uint32_t *expected,
                                   uint32_t desired) {
  return mproc__cas32(p, expected, desired);
}

static inline uint64_t mproc__load64(mproc__atomic_u64 *p) {
  return (uint64_t)_InterlockedOr64(MPROC__A64(p), 0);
}
static inline uint64_t mproc__load64_acq(mproc__atomic_u64 *p) {
  return mproc__load64(p);
}
static inline uint64_t mproc__load64_rlx(mproc__atomic_u64 *p) { return *p; }
static inline void mproc__store64(mproc__atomic_u64 *p, uint64_t v) {
  (void)_InterlockedExchange64(MPROC__A64(p), (__int64)v);
}
static inline void mproc__store64_rel(mproc__atomic_u64 *p, uint64_t v) {
  mproc__store64(p, v);
}
static inline void mproc__store64_rlx(mproc__atomic_u64 *p, uint64_t v) {
  *p = v;
}
static inline uint64_t mproc__add64(mproc__atomic_u64 *p, uint64_t v) {
  return (uint64_t)_InterlockedExchangeAdd64(MPROC__A64(p), (__int64)v);
}
static inline int mproc__cas64(mproc__atomic_u64 *p, uint64_t *expected,
                               uint64_t desired) {
  uint64_t seen = (uint64_t)_InterlockedCompareExchange64(
      MPROC__A64(p), (__int64)desired, (__int64)*expected);
  if (seen == *expected)
    return 1;
  *expected = seen;
  return 0;
}

static inline void mproc__cpu_relax(void) {
#if defined(_M_X64) || defined(_M_IX86)
  _mm_pause();
#elif defined(_M_ARM64)
  __yield();
#endif
}

static inline void mproc__fence(void) {
  volatile long barrier = 0;
  (void)_InterlockedOr(&barrier, 0); /* a full barrier */
}
static inline void mproc__fence_acq(void) { mproc__fence(); }

#else /* C11 atomics */
#include <stdatomic.h>

typedef _Atomic uint32_t mproc__atomic_u32;
typedef _Atomic uint64_t mproc__atomic_u64;

static inline uint32_t mproc__load32(mproc__atomic_u32 *p) {
  return atomic_load(p);
}
static inline uint32_t mproc__load32_acq(mproc__atomic_u32 *p) {
  return atomic_load_explicit(p, memory_order_acquire);
}
static inline uint32_t mproc__load32_rlx(mproc__atomic_u32 *p) {
  return atomic_load_explicit(p, memory_order_relaxed);
}
static inline void mproc__store32(mproc__atomic_u32 *p, uint32_t v) {
  atomic_store(p, v);
}
static inline void mproc__store32_rel(mproc__atomic_u32 *p, uint32_t v) {
  atomic_store_explicit(p, v, memory_order_release);
}
static inline void mproc__store32_rlx(mproc__atomic_u32 *p, uint32_t v) {
  atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline uint32_t mproc__add32(mproc__atomic_u32 *p, uint32_t v) {
  return atomic_fetch_add(p, v);
}
static inline uint32_t mproc__xchg32(mproc__atomic_u32 *p, uint32_t v) {
  return atomic_exchange(p, v);
}
static inline uint32_t mproc__sub32(mproc__atomic_u32 *p, uint32_t v) {
  return atomic_fetch_sub(p, v);
}
/* Compare-and-swap; on failure *expected receives the current value. */
static inline int mproc__cas32(mproc__atomic_u32 *p, uint32_t *expected,
                               uint32_t desired) {
  return atomic_compare_exchange_strong(p, expected, desired);
}
static inline int mproc__cas32_acq(mproc__atomic_u32 *p, uint32_t *expected,
                                   uint32_t desired) {
  return atomic_compare_exchange_strong_explicit(
      p, expected, desired, memory_order_acquire, memory_order_relaxed);
}

static inline uint64_t mproc__load64(mproc__atomic_u64 *p) {
  return atomic_load(p);
}
static inline uint64_t mproc__load64_acq(mproc__atomic_u64 *p) {
  return atomic_load_explicit(p, memory_order_acquire);
}
static inline uint64_t mproc__load64_rlx(mproc__atomic_u64 *p) {
  return atomic_load_explicit(p, memory_order_relaxed);
}
static inline void mproc__store64(mproc__atomic_u64 *p, uint64_t v) {
  atomic_store(p, v);
}
static inline void mproc__store64_rel(mproc__atomic_u64 *p, uint64_t v) {
  atomic_store_explicit(p, v, memory_order_release);
}
static inline void mproc__store64_rlx(mproc__atomic_u64 *p, uint64_t v) {
  atomic_store_explicit(p, v, memory_order_relaxed);
}
static inline uint64_t mproc__add64(mproc__atomic_u64 *p, uint64_t v) {
  return atomic_fetch_add(p, v);
}
static inline int mproc__cas64(mproc__atomic_u64 *p, uint64_t *expected,
                               uint64_t desired) {
  return atomic_compare_exchange_strong(p, expected, desired);
}

/* A hint to the processor inside a spin loop (it saves power and lets the
 * other hyper-thread run); nothing where no such hint is known. */
static inline void mproc__cpu_relax(void) {
#if (defined(__GNUC__) || defined(__clang__)) &&                               \
    (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static inline void mproc__fence(void) {
  atomic_thread_fence(memory_order_seq_cst);
}
static inline void mproc__fence_acq(void) {
  atomic_thread_fence(memory_order_acquire);
}
#endif /* C11 atomics */

/* Shared memory is mapped by processes that may be built separately; a
 * lock-free atomic has the plain integer's layout, so both agree. */
_Static_assert(sizeof(mproc__atomic_u32) == 4, "32-bit atomics must be plain");
_Static_assert(sizeof(mproc__atomic_u64) == 8, "64-bit atomics must be plain");

#endif
