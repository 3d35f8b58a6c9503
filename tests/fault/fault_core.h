/* SPDX-License-Identifier: MIT */
/*
 * What the platform's wrappers (fault_posix.c, fault_win32.c) ask the fault
 * table (fault_table.c). Tests only.
 */
#ifndef MPROC_FAULT_CORE_H
#define MPROC_FAULT_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this call fails, and with which error: 0 to make it for real.
 * `plausible` is the call's usual error in NTH mode (an errno value on
 * POSIX, a Windows error code on Windows); `interruptible` says whether
 * EINTR mode interrupts it. `site` is the call's return address. */
int mproc__fi_decide(const char *fn, void *site, int plausible,
                     int interruptible);

/* In a fork child: NTH mode ends there (the fault is the parent's). */
void mproc__fi_leave_nth(void);

#ifdef __cplusplus
}
#endif

#endif
