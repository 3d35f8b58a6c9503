/* SPDX-License-Identifier: MIT */
/*
 * The fault table of the fault-injection build of mproc (tests only): the
 * counting and the deciding, the same on every platform. The wrappers
 * that consult it are fault_posix.c's and fault_win32.c's.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_core.h"
#include "fault_table.h"
#include "mproc.h"

#define MAX_SITES 512

static _Atomic int mode;
static _Atomic uint64_t nth;
static _Atomic uint64_t calls;
static _Atomic int fired;
static int forced_error;
/* A spin lock: the table is the same on every platform, with no thread
 * library of its own. */
static atomic_flag sites_busy = ATOMIC_FLAG_INIT;
static mproc_fault_site_t sites[MAX_SITES];
static size_t nsites, sites_seen;
/* EINTR mode: the call sites this thread interrupted and has not called
 * again yet, so that the retry from each passes, even when other calls
 * come between the interrupted call and its retry. */
#define PENDING 16
static _Thread_local void *interrupted_at[PENDING];

static void lock_sites(void) {
  while (atomic_flag_test_and_set(&sites_busy)) {
  }
}

static void unlock_sites(void) { atomic_flag_clear(&sites_busy); }

/* Whether the site's last call was interrupted (and forget it), or else
 * remember that this one is. */
static int retried(void *site) {
  int i, free_slot = -1;
  for (i = 0; i < PENDING; i++) {
    if (interrupted_at[i] == site) {
      interrupted_at[i] = NULL;
      return 1;
    }
    if (!interrupted_at[i] && free_slot < 0)
      free_slot = i;
  }
  interrupted_at[free_slot >= 0 ? free_slot : 0] = site;
  return 0;
}

void mproc_fault_arm(mproc_fault_mode_t m, uint64_t n, int error) {
  lock_sites();
  nsites = sites_seen = 0;
  unlock_sites();
  forced_error = error;
  atomic_store(&calls, 0);
  atomic_store(&fired, 0);
  atomic_store(&nth, n);
  atomic_store(&mode, (int)m);
}

void mproc_fault_disarm(void) { atomic_store(&mode, MPROC_FAULT_OFF); }

uint64_t mproc_fault_calls(void) { return atomic_load(&calls); }
int mproc_fault_fired(void) { return atomic_load(&fired); }

size_t mproc_fault_sites(mproc_fault_site_t *out, size_t cap) {
  size_t i, n;
  lock_sites();
  n = sites_seen;
  for (i = 0; i < nsites && i < cap; i++)
    out[i] = sites[i];
  unlock_sites();
  return n;
}

static void record(const char *fn, void *site, int error) {
  long long off = (long long)((intptr_t)site - (intptr_t)&mproc_init);
  size_t i;
  lock_sites();
  for (i = 0; i < nsites; i++)
    if (sites[i].offset == off && sites[i].error == error)
      break;
  if (i == nsites) {
    sites_seen++;
    if (nsites < MAX_SITES) {
      sites[nsites].fn = fn;
      sites[nsites].offset = off;
      sites[nsites].error = error;
      nsites++;
    }
  }
  unlock_sites();
}

/* MPROC_FAULT_TRACE=all: every call after the failure is printed. */
static int trace_all(void) {
  const char *t = getenv("MPROC_FAULT_TRACE");
  return t && strcmp(t, "all") == 0;
}

int mproc__fi_decide(const char *fn, void *site, int plausible,
                     int interruptible) {
  int m = atomic_load_explicit(&mode, memory_order_relaxed);
  if (m == MPROC_FAULT_OFF)
    return 0;
  if (m == MPROC_FAULT_EINTR) {
    if (!interruptible)
      return 0;
    if (retried(site))
      return 0;
    atomic_fetch_add(&calls, 1);
    record(fn, site, EINTR);
    return EINTR;
  }
  if (atomic_fetch_add(&calls, 1) + 1 != atomic_load(&nth) ||
      m != MPROC_FAULT_NTH) {
    if (atomic_load(&fired) && trace_all())
      fprintf(stderr, "call: %s at +%lld\n", fn,
              (long long)((intptr_t)site - (intptr_t)&mproc_init));
    return 0;
  }
  {
    int error = forced_error ? forced_error : plausible;
    /* A call that cannot be interrupted is not made to say it was. */
    if (error == EINTR && !interruptible)
      error = plausible;
    atomic_store(&fired, 1);
    record(fn, site, error);
    if (getenv("MPROC_FAULT_TRACE"))
      fprintf(stderr, "fault: %s at %p (+%lld) fails with %d\n", fn, site,
              (long long)((intptr_t)site - (intptr_t)&mproc_init), error);
    return error;
  }
}

void mproc__fi_leave_nth(void) {
  if (atomic_load(&mode) == MPROC_FAULT_NTH)
    atomic_store(&mode, MPROC_FAULT_OFF);
}

/* ---- memory: the library's own allocations, on every platform ---------- */

void *mproc__fi_malloc(size_t n) {
  if (mproc__fi_decide("malloc", __builtin_return_address(0), ENOMEM, 0)) {
    errno = ENOMEM;
    return NULL;
  }
  return malloc(n);
}

void *mproc__fi_calloc(size_t n, size_t size) {
  if (mproc__fi_decide("calloc", __builtin_return_address(0), ENOMEM, 0)) {
    errno = ENOMEM;
    return NULL;
  }
  return calloc(n, size);
}

void *mproc__fi_realloc(void *p, size_t n) {
  if (mproc__fi_decide("realloc", __builtin_return_address(0), ENOMEM, 0)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, n);
}
