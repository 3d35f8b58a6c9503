/* SPDX-License-Identifier: MIT */
/* A fake Darwin kernel for src/posix/procinfo_darwin.c: canned processes
 * answered through the mock libproc and sysctl of include/. It checks that
 * the reader compiles and how it parses and combines answers shaped like
 * Apple's; it cannot check what a real macOS kernel answers. */
#ifndef DARWIN_MOCK_H
#define DARWIN_MOCK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct darwin_mock_proc {
  int pid;
  int ppid;
  int status;       /* SIDL, SRUN, SSLEEP, SSTOP, SZOMB (1..5) */
  const char *comm; /* pbi_comm / p_comm: 16 bytes kept, cut without NUL */
  const char *name; /* pbi_name: 32 bytes kept; NULL or "" for none */
  int64_t start_sec;
  int32_t start_usec;
  uint64_t rss;
  uint64_t user_ticks; /* Mach absolute time units */
  uint64_t system_ticks;
  int32_t threads;
  int32_t running; /* pti_numrunning */
  unsigned uid;    /* the effective user id: pbi_uid and cr_uid */
  /* Non-zero: PROC_PIDTASKALLINFO fails with it (EPERM: another user's
   * process). A zombie fails with ESRCH whatever this says. */
  int task_errno;
  int rusage_errno; /* non-zero: proc_pid_rusage fails with it */
  /* The KERN_PROCARGS2 block; NULL: the call fails with EINVAL. */
  const char *args;
  size_t args_len;
  /* After this many kernel calls about the pid (0: never): it is gone; it
   * is a new process (the start time moves on 5 s); it is a zombie. */
  int vanish_after;
  int reborn_after;
  int zombie_after;
} darwin_mock_proc_t;

/* Forget every process and restore the defaults: hw.tbfrequency 24 MHz,
 * mach_timebase_info 125/3, an honest pid-count estimate, argmax 256 KiB. */
void darwin_mock_reset(void);
/* Add a process (copied; the strings must outlive the test). */
void darwin_mock_add(const darwin_mock_proc_t *proc);
/* hw.tbfrequency; 0 makes sysctlbyname fail with ENOENT. */
void darwin_mock_set_tbfrequency(uint64_t hz);
void darwin_mock_set_timebase(uint32_t numer, uint32_t denom);
/* What proc_listallpids(NULL, 0) adds to the true count (may be negative,
 * as when processes are born between the two calls). */
void darwin_mock_set_estimate_bias(int bias);
/* Kernel calls answered so far about `pid`. */
int darwin_mock_calls(int pid);
/* proc_listallpids calls made with a buffer since the reset. */
int darwin_mock_list_calls(void);

#ifdef __cplusplus
}
#endif

#endif
