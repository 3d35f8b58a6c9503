/* SPDX-License-Identifier: MIT */
/* The fake kernel behind tests/darwin_mock/include: see darwin_mock.h. */
#include "darwin_mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libproc.h>
#include <mach/mach_time.h>
#include <sys/proc.h>
#include <sys/proc_info.h>
#include <sys/sysctl.h>

typedef struct mock_entry {
  darwin_mock_proc_t p;
  int calls;
} mock_entry_t;

static mock_entry_t *procs;
static size_t nprocs, cap_procs;
static uint64_t tb_hz;
static uint32_t tb_numer, tb_denom;
static int estimate_bias, list_calls, arg_max;

void darwin_mock_reset(void) {
  free(procs);
  procs = NULL;
  nprocs = cap_procs = 0;
  tb_hz = 24000000u;
  tb_numer = 125;
  tb_denom = 3;
  estimate_bias = 20;
  list_calls = 0;
  arg_max = 256 * 1024;
}

void darwin_mock_add(const darwin_mock_proc_t *proc) {
  if (nprocs == cap_procs) {
    cap_procs = cap_procs ? cap_procs * 2 : 16;
    procs = (mock_entry_t *)realloc(procs, cap_procs * sizeof *procs);
    if (procs == NULL)
      abort();
  }
  procs[nprocs].p = *proc;
  procs[nprocs].calls = 0;
  nprocs++;
}

void darwin_mock_set_tbfrequency(uint64_t hz) { tb_hz = hz; }

void darwin_mock_set_timebase(uint32_t numer, uint32_t denom) {
  tb_numer = numer;
  tb_denom = denom;
}

void darwin_mock_set_estimate_bias(int bias) { estimate_bias = bias; }

int darwin_mock_list_calls(void) { return list_calls; }

static mock_entry_t *find(int pid) {
  size_t i;
  for (i = 0; i < nprocs; i++)
    if (procs[i].p.pid == pid)
      return &procs[i];
  return NULL;
}

int darwin_mock_calls(int pid) {
  mock_entry_t *e = find(pid);
  return e != NULL ? e->calls : 0;
}

static int gone(const mock_entry_t *e) {
  return e->p.vanish_after > 0 && e->calls > e->p.vanish_after;
}

/* Finds the live process with this pid and counts the call; the process
 * then looks as it does at that moment of its scripted life. */
static mock_entry_t *lookup(int pid, darwin_mock_proc_t *now) {
  mock_entry_t *e = find(pid);
  if (e == NULL)
    return NULL;
  e->calls++;
  if (gone(e))
    return NULL;
  *now = e->p;
  if (now->reborn_after > 0 && e->calls > now->reborn_after)
    now->start_sec += 5;
  if (now->zombie_after > 0 && e->calls > now->zombie_after)
    now->status = SZOMB;
  return e;
}

static void put_text(char *dst, size_t size, const char *src) {
  size_t len = src != NULL ? strlen(src) : 0;
  memset(dst, 0, size);
  memcpy(dst, src != NULL ? src : "", len < size ? len : size);
}

int proc_listallpids(void *buffer, int buffersize) {
  size_t i, n = 0, live = 0, room;
  for (i = 0; i < nprocs; i++)
    live += !gone(&procs[i]);
  if (buffer == NULL) {
    long estimate = (long)live + estimate_bias;
    return estimate > 0 ? (int)estimate : 1;
  }
  list_calls++;
  if (buffersize < 0) {
    errno = EINVAL;
    return 0;
  }
  room = (size_t)buffersize / sizeof(int);
  for (i = 0; i < nprocs && n < room; i++)
    if (!gone(&procs[i]))
      ((int *)buffer)[n++] = procs[i].p.pid;
  return (int)n;
}

int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer,
                 int buffersize) {
  struct proc_taskallinfo t;
  darwin_mock_proc_t p;
  (void)arg;
  if (flavor != PROC_PIDTASKALLINFO) {
    errno = EINVAL;
    return 0;
  }
  if (lookup(pid, &p) == NULL || p.status == SZOMB) {
    errno = ESRCH;
    return 0;
  }
  if (p.task_errno != 0) {
    errno = p.task_errno;
    return 0;
  }
  if (buffersize < (int)sizeof t) {
    errno = ENOMEM;
    return 0;
  }
  memset(&t, 0, sizeof t);
  t.pbsd.pbi_status = (uint32_t)p.status;
  t.pbsd.pbi_pid = (uint32_t)p.pid;
  t.pbsd.pbi_ppid = (uint32_t)p.ppid;
  t.pbsd.pbi_uid = (uid_t)p.uid;
  put_text(t.pbsd.pbi_comm, sizeof t.pbsd.pbi_comm, p.comm);
  put_text(t.pbsd.pbi_name, sizeof t.pbsd.pbi_name, p.name);
  t.pbsd.pbi_start_tvsec = (uint64_t)p.start_sec;
  t.pbsd.pbi_start_tvusec = (uint64_t)p.start_usec;
  t.ptinfo.pti_resident_size = p.rss;
  t.ptinfo.pti_virtual_size = p.rss * 4;
  t.ptinfo.pti_total_user = p.user_ticks;
  t.ptinfo.pti_total_system = p.system_ticks;
  t.ptinfo.pti_threadnum = p.threads;
  t.ptinfo.pti_numrunning = p.running;
  memcpy(buffer, &t, sizeof t);
  return (int)sizeof t;
}

int proc_pid_rusage(int pid, int flavor, rusage_info_t *buffer) {
  struct rusage_info_v0 *ru = (struct rusage_info_v0 *)buffer;
  darwin_mock_proc_t p;
  if (flavor != RUSAGE_INFO_V0) {
    errno = EINVAL;
    return -1;
  }
  if (lookup(pid, &p) == NULL) {
    errno = ESRCH;
    return -1;
  }
  if (p.rusage_errno != 0) {
    errno = p.rusage_errno;
    return -1;
  }
  memset(ru, 0, sizeof *ru);
  ru->ri_user_time = p.user_ticks;
  ru->ri_system_time = p.system_ticks;
  return 0;
}

static int kinfo(int pid, void *oldp, size_t *oldlenp) {
  struct kinfo_proc kp;
  darwin_mock_proc_t p;
  if (lookup(pid, &p) == NULL) {
    *oldlenp = 0; /* as the kernel: success, and nothing */
    return 0;
  }
  if (oldp == NULL || *oldlenp < sizeof kp) {
    errno = ENOMEM;
    return -1;
  }
  memset(&kp, 0, sizeof kp);
  kp.kp_proc.p_starttime.tv_sec = (time_t)p.start_sec;
  kp.kp_proc.p_starttime.tv_usec = (suseconds_t)p.start_usec;
  kp.kp_proc.p_stat = (char)p.status;
  kp.kp_proc.p_pid = (pid_t)p.pid;
  put_text(kp.kp_proc.p_comm, sizeof kp.kp_proc.p_comm - 1, p.comm);
  kp.kp_eproc.e_ppid = (pid_t)p.ppid;
  kp.kp_eproc.e_ucred.cr_uid = (uid_t)p.uid;
  memcpy(oldp, &kp, sizeof kp);
  *oldlenp = sizeof kp;
  return 0;
}

static int procargs(int pid, void *oldp, size_t *oldlenp) {
  darwin_mock_proc_t p;
  size_t n;
  /* The kernel says EINVAL for a pid that is gone, a zombie, and a
   * process of another user alike. */
  if (lookup(pid, &p) == NULL || p.status == SZOMB || p.args == NULL) {
    errno = EINVAL;
    return -1;
  }
  n = p.args_len < *oldlenp ? p.args_len : *oldlenp;
  memcpy(oldp, p.args, n);
  *oldlenp = n;
  return 0;
}

int sysctl(int *name, unsigned int namelen, void *oldp, size_t *oldlenp,
           void *newp, size_t newlen) {
  if (newp != NULL || newlen != 0 || namelen < 2 || name[0] != CTL_KERN) {
    errno = EPERM;
    return -1;
  }
  if (namelen == 2 && name[1] == KERN_ARGMAX && *oldlenp >= sizeof(int)) {
    memcpy(oldp, &arg_max, sizeof(int));
    *oldlenp = sizeof(int);
    return 0;
  }
  if (namelen == 4 && name[1] == KERN_PROC && name[2] == KERN_PROC_PID)
    return kinfo(name[3], oldp, oldlenp);
  if (namelen == 3 && name[1] == KERN_PROCARGS2)
    return procargs(name[2], oldp, oldlenp);
  errno = ENOTDIR;
  return -1;
}

int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp,
                 size_t newlen) {
  (void)newp;
  (void)newlen;
  if (strcmp(name, "hw.tbfrequency") != 0 || tb_hz == 0) {
    errno = ENOENT;
    return -1;
  }
  if (*oldlenp < sizeof tb_hz) {
    errno = ENOMEM;
    return -1;
  }
  memcpy(oldp, &tb_hz, sizeof tb_hz);
  *oldlenp = sizeof tb_hz;
  return 0;
}

kern_return_t mach_timebase_info(mach_timebase_info_t info) {
  info->numer = tb_numer;
  info->denom = tb_denom;
  return KERN_SUCCESS;
}
