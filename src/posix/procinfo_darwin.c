/* SPDX-License-Identifier: MIT */
/* Pid inspection on macOS: libproc and sysctl.
 *
 * Three kernel answers make a record:
 *  - proc_pidinfo(PROC_PIDTASKALLINFO): everything but the command line, for
 *    a live process the caller may inspect (its own user's, or any as root);
 *  - sysctl(KERN_PROC_PID), a struct kinfo_proc: parent, state, name and
 *    start time of any process, zombies and other users' included. It is the
 *    fallback when the task cannot be read, and the process's identity;
 *  - sysctl(KERN_PROCARGS2): the command line.
 * These are separate calls, and a pid can be reused between them. Every
 * read ends by asking KERN_PROC_PID again: a process with another start
 * time is another process, so the record is dropped (MPROC_ESRCH) rather
 * than mixing two; one that turned into a zombie meanwhile is read again.
 *
 * The same source builds against a mock of these headers on Linux
 * (tests/darwin_mock), which checks that it compiles and parses; only a
 * macOS machine checks what the real kernel answers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sys/resource.h>

#include <libproc.h>
#include <mach/kern_return.h>
#include <mach/mach_time.h>
#include <sys/proc.h>
#include <sys/proc_info.h>
#include <sys/sysctl.h>

#include "platform.h"
#include "user_name.h"

/* A read that saw the process change state (alive, then a zombie) starts
 * over; exiting takes a moment, so a few attempts settle it. */
#define READ_ATTEMPTS 3

/* Maps an errno of libproc or sysctl. EINVAL is what KERN_PROCARGS2 says
 * both for a pid that does not exist and for one the caller may not read;
 * callers that can tell the two apart do so before calling this. */
static int darwin_error(int err) {
  switch (err) {
  case ESRCH:
    return MPROC_ESRCH;
  case EPERM:
  case EACCES:
    return MPROC_EPERM;
  case ENOMEM:
    return MPROC_ENOMEM;
  default:
    return mproc__os_fail(err != 0 ? err : EPROTO);
  }
}

/* Reads the kinfo_proc of `pid`. *found is 0 when no process has it: the
 * kernel then answers with success and a length of zero. */
static int read_kinfo(mproc_pid_t pid, struct kinfo_proc *kp, int *found) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
  size_t len = sizeof *kp;

  *found = 0;
  memset(kp, 0, sizeof *kp);
  if (sysctl(mib, 4, kp, &len, NULL, 0) != 0)
    return errno == ESRCH ? 0 : darwin_error(errno);
  *found = len == sizeof *kp && (mproc_pid_t)kp->kp_proc.p_pid == pid;
  return 0;
}

static int64_t kinfo_start_ms(const struct kinfo_proc *kp) {
  return (int64_t)kp->kp_proc.p_starttime.tv_sec * 1000 +
         (int64_t)kp->kp_proc.p_starttime.tv_usec / 1000;
}

/* Copies a name field that the kernel fills up to its size, with or
 * without a terminating NUL. Returns its length. */
static size_t copy_name(char *dst, size_t dst_size, const char *src,
                        size_t src_size) {
  size_t len = strnlen(src, src_size < dst_size ? src_size : dst_size - 1);
  memcpy(dst, src, len);
  dst[len] = '\0';
  return len;
}

/* The kernel's p_stat (SIDL, SRUN, SSLEEP, SSTOP, SZOMB) with ps's letters.
 * SRUN is the state of nearly every live process on macOS, whether its
 * threads run or wait; where the task can be read, the caller refines it
 * with the number of running threads, as ps does. SIDL, a process being
 * forked, reads as running, as BSD ps shows it. */
static void set_state(mproc_proc_info_t *info, unsigned int status) {
  static const struct {
    unsigned int status;
    mproc_proc_state_t state;
    char code;
  } states[] = {{SIDL, MPROC_PROC_RUNNING, 'R'},
                {SRUN, MPROC_PROC_RUNNING, 'R'},
                {SSLEEP, MPROC_PROC_SLEEPING, 'S'},
                {SSTOP, MPROC_PROC_STOPPED, 'T'},
                {SZOMB, MPROC_PROC_ZOMBIE, 'Z'}};
  size_t i;

  info->state = MPROC_PROC_DEAD;
  info->state_code = '?';
  for (i = 0; i < sizeof states / sizeof states[0]; i++) {
    if (states[i].status == status) {
      info->state = states[i].state;
      info->state_code = states[i].code;
    }
  }
  info->valid |= MPROC_PROC_HAS_STATE;
}

static void fill_from_kinfo(const struct kinfo_proc *kp,
                            mproc_proc_info_t *info) {
  info->ppid = (mproc_pid_t)kp->kp_eproc.e_ppid;
  copy_name(info->name, sizeof info->name, kp->kp_proc.p_comm,
            sizeof kp->kp_proc.p_comm);
  set_state(info, (unsigned int)(unsigned char)kp->kp_proc.p_stat);
  info->start_time_ms = kinfo_start_ms(kp);
  mproc__user_name(kp->kp_eproc.e_ucred.cr_uid, info->user, sizeof info->user);
  info->valid |= MPROC_PROC_HAS_PPID | MPROC_PROC_HAS_NAME |
                 MPROC_PROC_HAS_START_TIME | MPROC_PROC_HAS_USER;
}

/* Nanoseconds per tick of the task's CPU times, as numer/denom.
 * hw.tbfrequency is the hardware timebase in ticks per second (1 GHz on
 * Intel, 24 MHz on Apple silicon). mach_timebase_info() is only the
 * fallback: in an x86_64 program under Rosetta 2 it answers 1/1 while the
 * kernel still counts native ticks, which would undercount 41.67 times. */
static int tick_ratio(uint64_t *numer, uint64_t *denom) {
  mach_timebase_info_data_t tb;
  union {
    uint64_t u64;
    uint32_t u32;
  } freq;
  size_t len = sizeof freq.u64;

  freq.u64 = 0;
  if (sysctlbyname("hw.tbfrequency", &freq, &len, NULL, 0) == 0) {
    uint64_t hz = len == sizeof freq.u64   ? freq.u64
                  : len == sizeof freq.u32 ? freq.u32
                                           : 0;
    if (hz > 0) {
      *numer = 1000000000u;
      *denom = hz;
      return 0;
    }
  }
  if (mach_timebase_info(&tb) != KERN_SUCCESS || tb.numer == 0 || tb.denom == 0)
    return mproc__os_fail(EPROTO);
  *numer = tb.numer;
  *denom = tb.denom;
  return 0;
}

/* ticks * numer / denom nanoseconds, in microseconds, without overflow for
 * any CPU time a process can have (denom and numer fit in 32 bits or are
 * 10^9). */
static uint64_t ticks_to_us(uint64_t ticks, uint64_t numer, uint64_t denom) {
  uint64_t ns = ticks / denom * numer + ticks % denom * numer / denom;
  return ns / 1000u;
}

static int set_cpu_times(mproc_proc_info_t *info, uint64_t user_ticks,
                         uint64_t system_ticks) {
  uint64_t numer = 0, denom = 1;
  int rc = tick_ratio(&numer, &denom);
  if (rc != 0)
    return rc;
  info->user_time_us = ticks_to_us(user_ticks, numer, denom);
  info->system_time_us = ticks_to_us(system_ticks, numer, denom);
  info->valid |= MPROC_PROC_HAS_CPU_TIMES;
  return 0;
}

/* Fills every field but the command line from the task's record. The name
 * is the one the process registered (pbi_name, up to 32 bytes), else the
 * executable's (pbi_comm, 16), as proc_name() chooses. */
static int fill_from_task(const struct proc_taskallinfo *t,
                          mproc_proc_info_t *info) {
  const struct proc_bsdinfo *b = &t->pbsd;

  info->ppid = (mproc_pid_t)b->pbi_ppid;
  if (copy_name(info->name, sizeof info->name, b->pbi_name,
                sizeof b->pbi_name) == 0)
    copy_name(info->name, sizeof info->name, b->pbi_comm, sizeof b->pbi_comm);
  set_state(info, b->pbi_status);
  if (b->pbi_status == SRUN && t->ptinfo.pti_numrunning <= 0) {
    info->state = MPROC_PROC_SLEEPING;
    info->state_code = 'S';
  }
  info->start_time_ms = (int64_t)b->pbi_start_tvsec * 1000 +
                        (int64_t)(b->pbi_start_tvusec / 1000);
  info->rss_bytes = t->ptinfo.pti_resident_size;
  info->num_threads =
      t->ptinfo.pti_threadnum > 0 ? (uint32_t)t->ptinfo.pti_threadnum : 0;
  /* pbi_uid is the effective user id, as ps's USER column shows. */
  mproc__user_name(b->pbi_uid, info->user, sizeof info->user);
  info->valid |= MPROC_PROC_HAS_PPID | MPROC_PROC_HAS_NAME |
                 MPROC_PROC_HAS_START_TIME | MPROC_PROC_HAS_RSS |
                 MPROC_PROC_HAS_THREADS | MPROC_PROC_HAS_USER;
  return set_cpu_times(info, t->ptinfo.pti_total_user,
                       t->ptinfo.pti_total_system);
}

/* A zombie has no task: no memory, no threads, no command line. Its CPU
 * times survive in its resource usage until it is reaped. */
static int fill_zombie(mproc_pid_t pid, mproc_proc_info_t *info) {
  struct rusage_info_v0 ru;

  info->valid |=
      MPROC_PROC_HAS_RSS | MPROC_PROC_HAS_THREADS | MPROC_PROC_HAS_ARGV;
  memset(&ru, 0, sizeof ru);
  if (proc_pid_rusage((int)pid, RUSAGE_INFO_V0, (rusage_info_t *)&ru) != 0)
    return darwin_error(errno);
  return set_cpu_times(info, ru.ri_user_time, ru.ri_system_time);
}

/* Splits a KERN_PROCARGS2 block: an int argc, the executable's path, NUL
 * padding, then argc NUL-terminated arguments (and the environment, which
 * is not read). Nothing here trusts the block: every scan stops at `size`,
 * argc only bounds how many strings are taken, and a last argument cut off
 * without its NUL still counts. The result is one allocation, the pointer
 * array followed by the strings. */
static int parse_procargs(const char *buf, size_t size, size_t *argc_out,
                          char ***argv_out) {
  int declared = 0;
  size_t pos = sizeof declared, first, count = 0, head, i;
  char **argv, *strings;

  *argc_out = 0;
  *argv_out = NULL;
  if (size < sizeof declared)
    return 0;
  memcpy(&declared, buf, sizeof declared);
  while (pos < size && buf[pos] != '\0')
    pos++;
  while (pos < size && buf[pos] == '\0')
    pos++;
  first = pos;
  while (declared > 0 && count < (size_t)declared && pos < size) {
    const char *nul = (const char *)memchr(buf + pos, '\0', size - pos);
    pos = nul != NULL ? (size_t)(nul - buf) + 1 : size;
    count++;
  }
  if (count == 0)
    return 0;

  head = (count + 1) * sizeof *argv;
  argv = (char **)malloc(head + (pos - first) + 1);
  if (argv == NULL)
    return MPROC_ENOMEM;
  strings = (char *)argv + head;
  memcpy(strings, buf + first, pos - first);
  strings[pos - first] = '\0';
  for (i = 0; i < count; i++) {
    argv[i] = strings;
    strings += strlen(strings) + 1;
  }
  argv[count] = NULL;
  *argc_out = count;
  *argv_out = argv;
  return 0;
}

/* Reads the command line. Returns 0, MPROC_EPERM when it is refused (the
 * process exists), MPROC_ESRCH, MPROC_ENOMEM or MPROC_EOS. */
static int read_args(mproc_pid_t pid, mproc_proc_info_t *info) {
  int mib[3] = {CTL_KERN, KERN_ARGMAX, 0};
  int argmax = 0, rc = 0, found, err;
  size_t len = sizeof argmax;
  struct kinfo_proc kp;
  char *buf;

  /* The kernel has no command line. */
  if (pid == 0) {
    info->valid |= MPROC_PROC_HAS_ARGV;
    return 0;
  }
  if (sysctl(mib, 2, &argmax, &len, NULL, 0) != 0)
    return darwin_error(errno);
  if (argmax <= 0)
    return mproc__os_fail(EPROTO);
  buf = (char *)malloc((size_t)argmax);
  if (buf == NULL)
    return MPROC_ENOMEM;

  mib[1] = KERN_PROCARGS2;
  mib[2] = (int)pid;
  len = (size_t)argmax;
  if (sysctl(mib, 3, buf, &len, NULL, 0) != 0) {
    err = errno;
    if (err == EINVAL) {
      rc = read_kinfo(pid, &kp, &found);
      if (rc == 0)
        rc = found ? MPROC_EPERM : MPROC_ESRCH;
    } else {
      rc = darwin_error(err);
    }
    goto finish;
  }
  if (len > (size_t)argmax)
    len = (size_t)argmax;
  rc = parse_procargs(buf, len, &info->argc, &info->argv);
  if (rc == 0)
    info->valid |= MPROC_PROC_HAS_ARGV;

finish:
  free(buf);
  return rc;
}

/* Whether `want` needs the task (memory, CPU, threads) or the command line,
 * rather than what KERN_PROC_PID alone tells. */
static int wants_task(unsigned int want) {
  return (want & (MPROC_PROC_HAS_RSS | MPROC_PROC_HAS_CPU_TIMES |
                  MPROC_PROC_HAS_THREADS | MPROC_PROC_HAS_ARGV)) != 0;
}

/* One attempt at a record. Sets *again when the process changed state
 * while it was read, so that the caller reads it once more. */
static int read_once(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info, int *again) {
  struct proc_taskallinfo task;
  struct kinfo_proc kp;
  int found = 0, got, err, rc = 0, args_rc;

  *again = 0;
  memset(&task, 0, sizeof task);
  errno = 0;
  got = wants_task(want) ? proc_pidinfo((int)pid, PROC_PIDTASKALLINFO, 0, &task,
                                        (int)sizeof task)
                         : 0;
  err = errno;
  if (got == (int)sizeof task) {
    rc = fill_from_task(&task, info);
    if (rc != 0)
      return rc;
  } else {
    rc = read_kinfo(pid, &kp, &found);
    if (rc != 0)
      return rc;
    if (!found)
      return MPROC_ESRCH;
    fill_from_kinfo(&kp, info);
    if (info->state == MPROC_PROC_ZOMBIE) {
      if (wants_task(want))
        rc = fill_zombie(pid, info);
      if (rc != 0 && rc != MPROC_EPERM)
        return rc;
    } else if (wants_task(want)) {
      /* The task is gone while the process is not yet a zombie: it is
       * exiting right now. Otherwise the task was refused (another user's
       * process); a short answer is taken as a refusal too. */
      if (got <= 0 && err == ESRCH) {
        *again = 1;
        return MPROC_ESRCH;
      }
      if (got <= 0 && err != EPERM && err != EACCES)
        return darwin_error(err);
      rc = MPROC_EPERM;
    }
  }

  /* Tried also where the task was refused: root may be refused a task
   * (a protected process) and still read its arguments. */
  if ((want & MPROC_PROC_HAS_ARGV) && info->state != MPROC_PROC_ZOMBIE) {
    args_rc = read_args(pid, info);
    if (args_rc != 0 && args_rc != MPROC_EPERM)
      return args_rc;
    if (rc == 0)
      rc = args_rc;
  }

  /* The same process still, in the same life? */
  if (wants_task(want)) {
    int64_t start = info->start_time_ms;
    err = read_kinfo(pid, &kp, &found);
    if (err != 0)
      return err;
    if (!found || kinfo_start_ms(&kp) != start)
      return MPROC_ESRCH;
    if ((unsigned char)kp.kp_proc.p_stat == SZOMB &&
        info->state != MPROC_PROC_ZOMBIE) {
      *again = 1;
      return MPROC_ESRCH;
    }
  }
  return rc;
}

int mproc__proc_read(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info) {
  int attempt, again = 0, rc = MPROC_ESRCH;

  /* Pids are ints on macOS; pid 0 is the kernel (kernel_task). */
  if (pid < 0 || pid > 0x7fffffff)
    return MPROC_ESRCH;
  for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    rc = read_once(pid, want, info, &again);
    if (rc != 0 && rc != MPROC_EPERM) {
      free(info->argv);
      memset(info, 0, sizeof *info);
      info->pid = pid;
    }
    if (!again)
      break;
  }
  return rc;
}

int mproc__proc_enumerate(mproc_pid_t **pids, size_t *count) {
  int *raw = NULL;
  mproc_pid_t *list;
  int estimate, got = 0, rc = 0;
  size_t cap, i;

  *pids = NULL;
  *count = 0;
  /* With no buffer the kernel answers how many pids there are now, plus a
   * margin. The table can grow before the second call: a full buffer may
   * have been cut short, so it is doubled until the answer leaves room. */
  errno = 0;
  estimate = proc_listallpids(NULL, 0);
  if (estimate <= 0)
    return darwin_error(errno);
  cap = (size_t)estimate + (size_t)estimate / 4 + 16;
  for (;;) {
    int *bigger;
    if (cap > (size_t)0x7fffffff / sizeof *raw) {
      rc = MPROC_ENOMEM;
      goto finish;
    }
    bigger = (int *)realloc(raw, cap * sizeof *raw);
    if (bigger == NULL) {
      rc = MPROC_ENOMEM;
      goto finish;
    }
    raw = bigger;
    errno = 0;
    got = proc_listallpids(raw, (int)(cap * sizeof *raw));
    if (got <= 0) {
      rc = darwin_error(errno);
      goto finish;
    }
    if ((size_t)got < cap)
      break;
    cap *= 2;
  }

  list = (mproc_pid_t *)malloc((size_t)got * sizeof *list);
  if (list == NULL) {
    rc = MPROC_ENOMEM;
    goto finish;
  }
  for (i = 0; i < (size_t)got; i++)
    list[i] = (mproc_pid_t)raw[i];
  *pids = list;
  *count = (size_t)got;

finish:
  free(raw);
  return rc;
}
