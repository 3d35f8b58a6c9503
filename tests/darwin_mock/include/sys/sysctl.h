/* SPDX-License-Identifier: MIT */
/* Test mock of the part of macOS's <sys/sysctl.h> that src/posix/
 * procinfo_darwin.c uses (see sys/proc.h here). struct eproc keeps only
 * its fields up to e_pgid, and of the credentials only the user id. */
#ifndef DARWIN_MOCK_SYS_SYSCTL_H
#define DARWIN_MOCK_SYS_SYSCTL_H

#include <stddef.h>
#include <sys/proc.h>
#include <sys/types.h>

#define CTL_KERN 1
#define KERN_ARGMAX 8
#define KERN_PROC 14
#define KERN_PROC_PID 1
#define KERN_PROCARGS2 49

struct session;

/* The credentials; the real one has the groups after cr_uid. */
struct _ucred {
  int32_t cr_ref;
  uid_t cr_uid;
};

struct eproc {
  struct proc *e_paddr;
  struct session *e_sess;
  struct _ucred e_ucred;
  pid_t e_ppid;
  pid_t e_pgid;
};

struct kinfo_proc {
  struct extern_proc kp_proc;
  struct eproc kp_eproc;
};

#ifdef __cplusplus
extern "C" {
#endif
int sysctl(int *name, unsigned int namelen, void *oldp, size_t *oldlenp,
           void *newp, size_t newlen);
int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen);
#ifdef __cplusplus
}
#endif

#endif
