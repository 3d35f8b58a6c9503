/* SPDX-License-Identifier: MIT */
/* Process inspection: argument checks, the rules of a record's lifetime and
 * the selection of lists (all, children, subtree). The backend only
 * enumerates pids and reads one pid (src/platform.h, "pid inspection"). */
#include <stdlib.h>
#include <string.h>

#include "platform.h"

/* A pid with the parent it had when the list was taken. */
typedef struct proc_link {
  mproc_pid_t pid;
  mproc_pid_t ppid;
} proc_link_t;

const char *mproc_proc_state_name(mproc_proc_state_t state) {
  switch (state) {
  case MPROC_PROC_RUNNING:
    return "running";
  case MPROC_PROC_SLEEPING:
    return "sleeping";
  case MPROC_PROC_DISK_WAIT:
    return "disk-wait";
  case MPROC_PROC_STOPPED:
    return "stopped";
  case MPROC_PROC_ZOMBIE:
    return "zombie";
  case MPROC_PROC_DEAD:
    return "dead";
  case MPROC_PROC_UNKNOWN:
  default:
    return "unknown";
  }
}

void mproc_proc_info_free(mproc_proc_info_t *info) {
  if (info == NULL)
    return;
  free(info->argv);
  info->argv = NULL;
  info->argc = 0;
  info->valid &= ~(unsigned int)MPROC_PROC_HAS_ARGV;
}

/* Read one pid into a zeroed record. Whatever fails, the record is left
 * either complete, partial with MPROC_EPERM, or zeroed: never a record
 * holding memory the caller does not know to free. */
static int read_record(mproc_pid_t pid, unsigned int want,
                       mproc_proc_info_t *info) {
  int rc;

  memset(info, 0, sizeof *info);
  info->pid = pid;
  rc = mproc__proc_read(pid, want, info);
  if (rc != 0 && rc != MPROC_EPERM) {
    free(info->argv);
    memset(info, 0, sizeof *info);
  }
  return rc;
}

int mproc_proc_info(mproc_pid_t pid, mproc_proc_info_t *info) {
  if (info == NULL)
    return MPROC_EINVAL;
  if (pid < 0) {
    memset(info, 0, sizeof *info);
    return MPROC_EINVAL;
  }
  return read_record(pid, MPROC_PROC_HAS_ALL, info);
}

void mproc_proc_list_free(mproc_proc_info_t *list, size_t count) {
  size_t i;

  if (list == NULL)
    return;
  for (i = 0; i < count; i++)
    free(list[i].argv);
  free(list);
}

static int compare_pid(const void *a, const void *b) {
  mproc_pid_t x = *(const mproc_pid_t *)a;
  mproc_pid_t y = *(const mproc_pid_t *)b;
  return (x > y) - (x < y);
}

/* Orders links by parent, then pid, so that the children of one pid form a
 * run found by binary search, already sorted. */
static int compare_link(const void *a, const void *b) {
  const proc_link_t *x = (const proc_link_t *)a;
  const proc_link_t *y = (const proc_link_t *)b;
  if (x->ppid != y->ppid)
    return (x->ppid > y->ppid) - (x->ppid < y->ppid);
  return (x->pid > y->pid) - (x->pid < y->pid);
}

/* The index of the first link whose parent is `ppid`, and how many follow. */
static size_t find_children(const proc_link_t *links, size_t n,
                            mproc_pid_t ppid, size_t *run) {
  size_t lo = 0, hi = n, end;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (links[mid].ppid < ppid)
      lo = mid + 1;
    else
      hi = mid;
  }
  end = lo;
  while (end < n && links[end].ppid == ppid)
    end++;
  *run = end - lo;
  return lo;
}

/* Reads the full record of every pid of `pids`, in that order, into a new
 * array. Processes that ended since they were enumerated are left out; one
 * that can be read only in part is kept with its valid bits. */
static int read_records(const mproc_pid_t *pids, size_t n,
                        mproc_proc_info_t **out, size_t *count) {
  mproc_proc_info_t *list = NULL;
  size_t kept = 0, i;
  int rc = 0;

  if (n > 0) {
    if (n > (size_t)-1 / sizeof *list)
      return MPROC_ENOMEM;
    list = (mproc_proc_info_t *)malloc(n * sizeof *list);
    if (list == NULL)
      return MPROC_ENOMEM;
  }
  for (i = 0; i < n; i++) {
    rc = read_record(pids[i], MPROC_PROC_HAS_ALL, &list[kept]);
    if (rc == 0 || rc == MPROC_EPERM) {
      kept++;
      rc = 0;
    } else if (rc == MPROC_ESRCH) {
      rc = 0;
    } else {
      goto finish;
    }
  }

finish:
  if (rc != 0) {
    mproc_proc_list_free(list, kept);
    return rc;
  }
  if (kept == 0) {
    free(list);
    list = NULL;
  }
  *out = list;
  *count = kept;
  return 0;
}

/* Takes the parent of every visible pid. Pids that ended meanwhile, and those
 * whose parent cannot be read, cannot be placed in a tree and are left out. */
static int read_links(const mproc_pid_t *pids, size_t n, proc_link_t **out,
                      size_t *count) {
  proc_link_t *links;
  mproc_proc_info_t info;
  size_t kept = 0, i;

  *out = NULL;
  *count = 0;
  if (n == 0)
    return 0;
  if (n > (size_t)-1 / sizeof *links)
    return MPROC_ENOMEM;
  links = (proc_link_t *)malloc(n * sizeof *links);
  if (links == NULL)
    return MPROC_ENOMEM;
  for (i = 0; i < n; i++) {
    int rc = read_record(pids[i], MPROC_PROC_HAS_PPID, &info);
    free(info.argv);
    if ((rc == 0 || rc == MPROC_EPERM) && (info.valid & MPROC_PROC_HAS_PPID)) {
      links[kept].pid = info.pid;
      links[kept].ppid = info.ppid;
      kept++;
    } else if (rc != 0 && rc != MPROC_EPERM && rc != MPROC_ESRCH) {
      free(links);
      return rc;
    }
  }
  qsort(links, kept, sizeof *links, compare_link);
  *out = links;
  *count = kept;
  return 0;
}

/* The pids below `root`: its children, or its whole subtree in depth-first
 * order. The result has room for every link, since each pid appears once. */
static int select_below(const proc_link_t *links, size_t n, mproc_pid_t root,
                        int subtree, mproc_pid_t **out, size_t *count) {
  mproc_pid_t *picked = NULL, *stack = NULL;
  size_t npicked = 0, depth = 0, first, run, i;
  int rc = 0;

  *out = NULL;
  *count = 0;
  if (n == 0)
    return 0;
  picked = (mproc_pid_t *)malloc(n * sizeof *picked);
  stack = (mproc_pid_t *)malloc(n * sizeof *stack);
  if (picked == NULL || stack == NULL) {
    rc = MPROC_ENOMEM;
    goto finish;
  }

  /* Children are pushed in reverse so that the smallest pid comes off the
   * stack first. A snapshot taken pid by pid can show the root as a child of
   * its own descendant (a pid reused while listing); the root is skipped
   * wherever it appears, which also bounds the walk, since every other pid
   * has one parent and is therefore reached at most once. */
  first = find_children(links, n, root, &run);
  for (i = run; i > 0; i--)
    if (links[first + i - 1].pid != root)
      stack[depth++] = links[first + i - 1].pid;
  while (depth > 0) {
    mproc_pid_t pid = stack[--depth];
    picked[npicked++] = pid;
    if (!subtree)
      continue;
    first = find_children(links, n, pid, &run);
    for (i = run; i > 0; i--)
      if (links[first + i - 1].pid != root && depth < n)
        stack[depth++] = links[first + i - 1].pid;
  }

finish:
  free(stack);
  if (rc != 0) {
    free(picked);
    return rc;
  }
  *out = picked;
  *count = npicked;
  return 0;
}

int mproc_proc_list(mproc_proc_scope_t scope, mproc_pid_t pid,
                    mproc_proc_info_t **out, size_t *count) {
  mproc_pid_t *pids = NULL, *picked = NULL;
  proc_link_t *links = NULL;
  size_t npids = 0, nlinks = 0, npicked = 0;
  mproc_proc_info_t root;
  int rc;

  if (out == NULL || count == NULL)
    return MPROC_EINVAL;
  *out = NULL;
  *count = 0;
  if (scope != MPROC_PROC_ALL && scope != MPROC_PROC_CHILDREN &&
      scope != MPROC_PROC_SUBTREE)
    return MPROC_EINVAL;
  if (scope != MPROC_PROC_ALL && pid < 0)
    return MPROC_EINVAL;

  rc = mproc__proc_enumerate(&pids, &npids);
  if (rc != 0)
    goto finish;

  if (scope == MPROC_PROC_ALL) {
    qsort(pids, npids, sizeof *pids, compare_pid);
    rc = read_records(pids, npids, out, count);
    goto finish;
  }

  /* The parent must exist; a parent that can be seen only in part still has
   * children worth listing. */
  rc = read_record(pid, MPROC_PROC_HAS_PPID, &root);
  free(root.argv);
  if (rc != 0 && rc != MPROC_EPERM)
    goto finish;

  rc = read_links(pids, npids, &links, &nlinks);
  if (rc != 0)
    goto finish;
  rc = select_below(links, nlinks, pid, scope == MPROC_PROC_SUBTREE, &picked,
                    &npicked);
  if (rc != 0)
    goto finish;
  rc = read_records(picked, npicked, out, count);

finish:
  free(pids);
  free(links);
  free(picked);
  return rc;
}
