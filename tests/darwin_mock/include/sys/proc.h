/* SPDX-License-Identifier: MIT */
/* Test mock of the part of macOS's <sys/proc.h> that src/posix/
 * procinfo_darwin.c uses: the p_stat values and the head of struct
 * extern_proc, with Apple's field names and types (the real struct goes
 * on; only the fields read here are kept). Used by tests/darwin_mock only,
 * never by the library; it shows that the reader compiles and parses, not
 * what the real kernel answers. */
#ifndef DARWIN_MOCK_SYS_PROC_H
#define DARWIN_MOCK_SYS_PROC_H

#include <sys/time.h>
#include <sys/types.h>

#ifndef MAXCOMLEN
#define MAXCOMLEN 16
#endif

/* p_stat */
#define SIDL 1   /* being created by fork */
#define SRUN 2   /* runnable */
#define SSLEEP 3 /* sleeping on an address */
#define SSTOP 4  /* stopped, or being traced */
#define SZOMB 5  /* awaiting collection by its parent */

struct proc;

struct extern_proc {
  union {
    struct {
      struct proc *__p_forw;
      struct proc *__p_back;
    } p_st1;
    struct timeval __p_starttime;
  } p_un;
#define p_starttime p_un.__p_starttime
  void *p_vmspace;
  void *p_sigacts;
  int p_flag;
  char p_stat;
  pid_t p_pid;
  pid_t p_oppid;
  int p_dupfd;
  char p_comm[MAXCOMLEN + 1];
};

#endif
