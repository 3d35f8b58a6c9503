/* SPDX-License-Identifier: MIT */
/* Pid inspection on Linux: /proc/PID/stat and /proc/PID/cmdline.
 *
 * Every file of one process is opened relative to a descriptor of its
 * /proc/PID directory. That descriptor stays bound to the process it was
 * opened for: once that process is reaped, reads through it fail (ENOENT or
 * ESRCH) even if the pid has been given to a new process, so a record never
 * mixes two processes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"
#include "user_name.h"

/* The kernel's PF_KTHREAD task flag (include/linux/sched.h), field 9 of
 * /proc/PID/stat; it is part of the kernel's user-visible ABI through that
 * file and has not changed since it was introduced. */
#define KTHREAD_FLAG 0x00200000u

/* /proc/PID/stat is one line of at most ~50 numbers and a 64-byte name. */
#define STAT_BUFFER_SIZE 4096
/* /proc/PID/status is some fifty short lines. */
#define STATUS_BUFFER_SIZE 16384

/* Maps the errno of a failed /proc access. A file or directory that vanished
 * means the process ended; EACCES comes from hidepid or ptrace checks. */
static int proc_error(int err) {
  switch (err) {
  case ENOENT:
  case ESRCH:
    return MPROC_ESRCH;
  case EACCES:
  case EPERM:
    return MPROC_EPERM;
  default:
    return mproc__os_translate(err);
  }
}

static int open_at(int dirfd, const char *name, int *fd) {
  do {
    *fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  } while (*fd < 0 && errno == EINTR);
  return *fd < 0 ? proc_error(errno) : 0;
}

/* Reads a whole /proc file into a fixed buffer, NUL-terminated. Returns
 * MPROC_EOS (EOVERFLOW) if it does not fit, which for the files read this
 * way would mean a kernel format this code does not know. */
static int read_small(int dirfd, const char *name, char *buf, size_t size,
                      size_t *len) {
  size_t used = 0;
  int fd, rc;

  rc = open_at(dirfd, name, &fd);
  if (rc != 0)
    return rc;
  for (;;) {
    ssize_t got = read(fd, buf + used, size - 1 - used);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      rc = proc_error(errno);
      break;
    }
    if (got == 0)
      break;
    used += (size_t)got;
    if (used == size - 1) {
      rc = mproc__os_fail(EOVERFLOW);
      break;
    }
  }
  close(fd);
  buf[used] = '\0';
  *len = used;
  return rc;
}

/* Reads a /proc file of any length into a malloc'd buffer. */
static int read_all(int dirfd, const char *name, char **out, size_t *len) {
  size_t cap = 4096, used = 0;
  char *buf = NULL;
  int fd, rc;

  *out = NULL;
  *len = 0;
  rc = open_at(dirfd, name, &fd);
  if (rc != 0)
    return rc;
  buf = (char *)malloc(cap);
  if (buf == NULL) {
    rc = MPROC_ENOMEM;
    goto finish;
  }
  for (;;) {
    ssize_t got;
    if (used == cap) {
      char *bigger;
      if (cap > (size_t)-1 / 2) {
        rc = MPROC_ENOMEM;
        goto finish;
      }
      bigger = (char *)realloc(buf, cap * 2);
      if (bigger == NULL) {
        rc = MPROC_ENOMEM;
        goto finish;
      }
      buf = bigger;
      cap *= 2;
    }
    got = read(fd, buf + used, cap - used);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      rc = proc_error(errno);
      goto finish;
    }
    if (got == 0)
      break;
    used += (size_t)got;
  }

finish:
  close(fd);
  if (rc != 0) {
    free(buf);
    return rc;
  }
  *out = buf;
  *len = used;
  return 0;
}

/* Splits /proc/PID/cmdline (each argument followed by a NUL) into one block
 * holding the pointer array and then the strings. A process that rewrote
 * its argument area may leave the last string without its NUL; it still
 * counts as an argument. */
static int split_cmdline(const char *raw, size_t len, size_t *argc_out,
                         char ***argv_out) {
  size_t argc = 0, i, head;
  char **argv, *strings;

  *argc_out = 0;
  *argv_out = NULL;
  if (len == 0)
    return 0;
  for (i = 0; i < len; i++)
    if (raw[i] == '\0')
      argc++;
  if (raw[len - 1] != '\0')
    argc++;
  head = (argc + 1) * sizeof *argv;
  argv = (char **)malloc(head + len + 1);
  if (argv == NULL)
    return MPROC_ENOMEM;
  strings = (char *)argv + head;
  memcpy(strings, raw, len);
  strings[len] = '\0';
  argc = 0;
  for (i = 0; i < len; i++) {
    if (i == 0 || strings[i - 1] == '\0')
      argv[argc++] = strings + i;
  }
  argv[argc] = NULL;
  *argc_out = argc;
  *argv_out = argv;
  return 0;
}

static mproc_proc_state_t state_from_code(char code) {
  switch (code) {
  case 'R':
    return MPROC_PROC_RUNNING;
  case 'S':
  case 'I':
    return MPROC_PROC_SLEEPING;
  case 'D':
    return MPROC_PROC_DISK_WAIT;
  case 'T':
  case 't':
    return MPROC_PROC_STOPPED;
  case 'Z':
    return MPROC_PROC_ZOMBIE;
  default:
    return MPROC_PROC_DEAD;
  }
}

/* Wall-clock time of boot in nanoseconds since the epoch. /proc counts a
 * start time from boot on CLOCK_BOOTTIME (suspend included); the difference
 * of the two clocks, taken now, places it on the wall clock with better than
 * the one-second precision of "btime" in /proc/stat. */
static int boot_time_ns(int64_t *out) {
  struct timespec real, boot;
  if (clock_gettime(CLOCK_REALTIME, &real) != 0 ||
      clock_gettime(CLOCK_BOOTTIME, &boot) != 0)
    return mproc__os_fail(errno);
  *out = ((int64_t)real.tv_sec - (int64_t)boot.tv_sec) * 1000000000 +
         ((int64_t)real.tv_nsec - (int64_t)boot.tv_nsec);
  return 0;
}

static int ticks_per_second(int64_t *out) {
  long hz = sysconf(_SC_CLK_TCK);
  if (hz <= 0)
    return mproc__os_fail(EINVAL);
  *out = hz;
  return 0;
}

static uint64_t ticks_to_us(unsigned long long ticks, int64_t hz) {
  return (uint64_t)(ticks / (unsigned long long)hz) * 1000000u +
         (uint64_t)(ticks % (unsigned long long)hz) * 1000000u / (uint64_t)hz;
}

/* Parses /proc/PID/stat: "pid (comm) state ppid ...". The name may hold any
 * byte but NUL, spaces and parentheses included, so it ends at the last ')'.
 * Numbers are read in order from field 3 (state) to field 24 (rss). */
static int parse_stat(char *text, size_t len, mproc_proc_info_t *info,
                      unsigned int *flags) {
  enum { FIRST = 4, LAST = 24 };
  long long field[LAST + 1];
  char *open_paren = strchr(text, '(');
  char *close_paren = NULL, *p, *end;
  int64_t hz = 1, boot_ns = 0;
  size_t name_len;
  int i, rc;

  for (p = text + len; p > text; p--) {
    if (p[-1] == ')') {
      close_paren = p - 1;
      break;
    }
  }
  if (open_paren == NULL || close_paren == NULL || close_paren < open_paren ||
      close_paren[1] != ' ' || close_paren[2] == '\0')
    return mproc__os_fail(EPROTO);

  name_len = (size_t)(close_paren - open_paren - 1);
  if (name_len >= sizeof info->name)
    name_len = sizeof info->name - 1;
  memcpy(info->name, open_paren + 1, name_len);
  info->name[name_len] = '\0';
  info->state_code = close_paren[2];
  info->state = state_from_code(info->state_code);

  p = close_paren + 3;
  for (i = FIRST; i <= LAST; i++) {
    errno = 0;
    field[i] = strtoll(p, &end, 10);
    if (end == p || errno != 0)
      return mproc__os_fail(EPROTO);
    p = end;
  }

  /* The kernel fills ppid, thread count and a few others only while the
   * process still has its signal state; a process being released by its
   * reaper right now shows zeros there (ppid 0, no threads). It is gone in
   * all but name, and a record made of those zeros would be false. */
  if (field[20] == 0)
    return MPROC_ESRCH;

  rc = ticks_per_second(&hz);
  if (rc == 0)
    rc = boot_time_ns(&boot_ns);
  if (rc != 0)
    return rc;

  info->ppid = (mproc_pid_t)field[4];
  *flags = (unsigned int)field[9];
  info->user_time_us = ticks_to_us((unsigned long long)field[14], hz);
  info->system_time_us = ticks_to_us((unsigned long long)field[15], hz);
  info->num_threads = (uint32_t)field[20];
  info->start_time_ms =
      (boot_ns +
       (int64_t)ticks_to_us((unsigned long long)field[22], hz) * 1000) /
      1000000;
  info->rss_bytes = (uint64_t)(field[24] < 0 ? 0 : field[24]) *
                    (uint64_t)sysconf(_SC_PAGESIZE);
  info->valid |= MPROC_PROC_HAS_PPID | MPROC_PROC_HAS_NAME |
                 MPROC_PROC_HAS_STATE | MPROC_PROC_HAS_START_TIME |
                 MPROC_PROC_HAS_RSS | MPROC_PROC_HAS_CPU_TIMES |
                 MPROC_PROC_HAS_THREADS;
  return 0;
}

/* The effective user from the "Uid:" line of /proc/PID/status (real,
 * effective, saved, filesystem ids), as ps's USER column shows it. The
 * owner of /proc/PID is not used: it is root for a process that is not
 * dumpable. */
static int read_user(int dirfd, mproc_proc_info_t *info) {
  char text[STATUS_BUFFER_SIZE], *line, *end;
  unsigned long long uid;
  size_t len = 0;
  int rc = read_small(dirfd, "status", text, sizeof text, &len);
  if (rc != 0)
    return rc;
  line = strstr(text, "\nUid:");
  if (line == NULL)
    return mproc__os_fail(EPROTO);
  (void)strtoull(line + 5, &end, 10);
  errno = 0;
  uid = strtoull(end, &end, 10);
  if (errno != 0 || uid > (uid_t)-1)
    return mproc__os_fail(EPROTO);
  mproc__user_name((uid_t)uid, info->user, sizeof info->user);
  info->valid |= MPROC_PROC_HAS_USER;
  return 0;
}

int mproc__proc_read(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info) {
  char path[64], stat_text[STAT_BUFFER_SIZE];
  char *raw = NULL;
  size_t raw_len = 0, stat_len = 0;
  unsigned int flags = 0;
  int dirfd, rc, argv_rc = 0;

  /* Pids beyond pid_t do not exist on Linux; 0 is the idle task, which has
   * no /proc entry either. */
  if (pid <= 0 || pid > 0x7fffffff)
    return MPROC_ESRCH;
  snprintf(path, sizeof path, "/proc/%lld", (long long)pid);
  do {
    dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } while (dirfd < 0 && errno == EINTR);
  if (dirfd < 0)
    return proc_error(errno);

  /* The command line is read before the state: a process that exits in
   * between loses its command line first and is then seen as a zombie, so
   * the record stays true to one moment (a zombie with no arguments) rather
   * than a running process with none. */
  if (want & MPROC_PROC_HAS_ARGV) {
    argv_rc = read_all(dirfd, "cmdline", &raw, &raw_len);
    if (argv_rc == 0)
      argv_rc = split_cmdline(raw, raw_len, &info->argc, &info->argv);
    free(raw);
    if (argv_rc == 0)
      info->valid |= MPROC_PROC_HAS_ARGV;
    else if (argv_rc != MPROC_EPERM) {
      rc = argv_rc;
      goto finish;
    }
  }

  rc = read_small(dirfd, "stat", stat_text, sizeof stat_text, &stat_len);
  if (rc == 0)
    rc = parse_stat(stat_text, stat_len, info, &flags);
  if (rc == 0 && (want & MPROC_PROC_HAS_USER))
    rc = read_user(dirfd, info);
  if (rc != 0)
    goto finish;

  /* A user process whose memory is already gone while its state has not yet
   * turned to zombie is exiting: its empty command line is an artefact of
   * that moment, not of the process. The state is read once more: if the
   * exit has completed meanwhile, the record says zombie, or the process is
   * gone and the call says so. */
  if ((info->valid & MPROC_PROC_HAS_ARGV) && info->argc == 0 &&
      !(flags & KTHREAD_FLAG) && info->state != MPROC_PROC_ZOMBIE) {
    mproc_proc_info_t again;
    unsigned int again_flags = 0;
    memset(&again, 0, sizeof again);
    rc = read_small(dirfd, "stat", stat_text, sizeof stat_text, &stat_len);
    if (rc == 0)
      rc = parse_stat(stat_text, stat_len, &again, &again_flags);
    if (rc != 0)
      goto finish;
    info->state = again.state;
    info->state_code = again.state_code;
  }
  /* A zombie has no command line any more; one read just before it died
   * belongs to an earlier moment than the state, so it is dropped and the
   * record describes the process as the state was read. */
  if (info->state == MPROC_PROC_ZOMBIE && info->argv != NULL) {
    free(info->argv);
    info->argv = NULL;
    info->argc = 0;
  }
  rc = argv_rc;

finish:
  close(dirfd);
  if (rc != 0 && rc != MPROC_EPERM) {
    free(info->argv);
    info->argv = NULL;
    info->argc = 0;
    info->valid = 0;
  }
  return rc;
}

int mproc__proc_enumerate(mproc_pid_t **pids, size_t *count) {
  size_t cap = 0, n = 0;
  mproc_pid_t *list = NULL;
  struct dirent *entry;
  DIR *dir;
  int rc = 0;

  *pids = NULL;
  *count = 0;
  dir = opendir("/proc");
  if (dir == NULL)
    return errno == ENOENT ? MPROC_ENOTSUP : mproc__os_translate(errno);
  for (;;) {
    const char *c;
    long long pid = 0;

    errno = 0;
    entry = readdir(dir);
    if (entry == NULL) {
      if (errno != 0)
        rc = mproc__os_translate(errno);
      break;
    }
    for (c = entry->d_name; *c >= '0' && *c <= '9' && pid <= 0x7fffffff; c++)
      pid = pid * 10 + (*c - '0');
    if (*c != '\0' || c == entry->d_name || pid > 0x7fffffff)
      continue;
    if (n == cap) {
      size_t bigger_cap = cap ? cap * 2 : 512;
      mproc_pid_t *bigger =
          (mproc_pid_t *)realloc(list, bigger_cap * sizeof *list);
      if (bigger == NULL) {
        rc = MPROC_ENOMEM;
        break;
      }
      list = bigger;
      cap = bigger_cap;
    }
    list[n++] = (mproc_pid_t)pid;
  }
  closedir(dir);
  if (rc != 0) {
    free(list);
    return rc;
  }
  *pids = list;
  *count = n;
  return 0;
}
