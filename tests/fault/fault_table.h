/* SPDX-License-Identifier: MIT */
/*
 * The fault table of the fault-injection build of mproc (tests only).
 *
 * In that build every system call and allocation the library makes goes
 * through a wrapper (fault_posix.c, fault_win32.c), which counts it and,
 * when the table is armed, makes it fail. The shipped library is not that
 * build: the test build renames the library's references to these calls (see
 * tests/fault/CMakeLists.txt), and only the fault test binary links it.
 */
#ifndef MPROC_FAULT_TABLE_H
#define MPROC_FAULT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mproc_fault_mode {
  MPROC_FAULT_OFF = 0,   /* calls pass, uncounted */
  MPROC_FAULT_COUNT = 1, /* calls pass, counted */
  MPROC_FAULT_NTH = 2,   /* the nth counted call fails, once */
  MPROC_FAULT_EINTR = 3  /* every call that may be interrupted is, once */
} mproc_fault_mode_t;

/* Arm the table (and reset its counters). In MPROC_FAULT_NTH mode the nth
 * call fails with `error`, or, when error is 0, with the error that call
 * most plausibly meets (EAGAIN for fork and thread creation, EMFILE for
 * descriptors, ENOMEM for memory, ENOSPC for sizing a segment, EIO for
 * reads and writes, EINTR for waits). A fork child leaves NTH mode: the
 * fault is the parent's. */
void mproc_fault_arm(mproc_fault_mode_t mode, uint64_t nth, int error);

/* Let every call pass again; what was counted and recorded stays. */
void mproc_fault_disarm(void);

/* Calls counted since the table was armed. */
uint64_t mproc_fault_calls(void);

/* Whether the nth call was reached and failed. */
int mproc_fault_fired(void);

/* One failure point: the wrapped function's name and the call site's
 * distance from a fixed function of the library (stable across runs of the
 * same binary, whatever the load address). */
typedef struct mproc_fault_site {
  const char *fn;
  long long offset;
  int error;
} mproc_fault_site_t;

/* The distinct sites that were made to fail since arming; returns how many
 * there were (up to cap are copied). */
size_t mproc_fault_sites(mproc_fault_site_t *out, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
