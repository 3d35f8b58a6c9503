/*
 * Atomic operations on words in shared memory, in one place so that another
 * compiler (MSVC's interlocked intrinsics) can be added here without touching
 * the code that uses them.
 *
 * Shared structures declare their atomic fields with the mproc__atomic_*
 * types and touch them only through these functions. The memory order is in
 * each function's name: `acq` (acquire), `rel` (release), `rlx` (relaxed);
 * the unsuffixed forms are sequentially consistent, which the waiter-count
 * handshakes (a store on one side, a load on the other) need.
 */
#ifndef MPROC_ATOMICS_H
#define MPROC_ATOMICS_H

#include <stdint.h>

#include <stdatomic.h>

typedef _Atomic uint32_t mproc__atomic_u32;
typedef _Atomic uint64_t mproc__atomic_u64;

/* Shared memory is mapped by processes that may be built separately; a
 * lock-free atomic has the plain integer's layout, so both agree. */
_Static_assert(sizeof(mproc__atomic_u32) == 4, "32-bit atomics must be plain");
_Static_assert(sizeof(mproc__atomic_u64) == 8, "64-bit atomics must be plain");

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

#endif
