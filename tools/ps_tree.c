/* SPDX-License-Identifier: MIT */
/* mproc-ps --tree: the listing ordered as a forest of parents and
 * children. */
#include <stdlib.h>

#include "ps.h"

/* qsort's comparison for indices into this list, ordered by pid. */
static const mproc_proc_info_t *pid_order_list;

static int compare_index_by_pid(const void *a, const void *b) {
  mproc_pid_t x = pid_order_list[*(const size_t *)a].pid;
  mproc_pid_t y = pid_order_list[*(const size_t *)b].pid;
  return (x > y) - (x < y);
}

/* The index of `pid` in the list, through `by_pid` (indices sorted by pid);
 * n when it is not listed. */
static size_t find_pid(const mproc_proc_info_t *list, const size_t *by_pid,
                       size_t n, mproc_pid_t pid) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (list[by_pid[mid]].pid < pid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && list[by_pid[lo]].pid == pid ? by_pid[lo] : n;
}

/* Orders rows as a forest: each process below its parent, siblings in the
 * list's (sorted) order; a process whose parent is not listed is a root.
 * Pids read one at a time can, rarely, show a cycle of parents that no root
 * reaches; a second pass prints those too, each process once. */
row_t *tree_rows(const mproc_proc_info_t *list, size_t n) {
  size_t *by_pid = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *parent = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *first_child = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *last_child = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *next_sibling = (size_t *)alloc_array(n, sizeof(size_t));
  unsigned char *seen = (unsigned char *)alloc_array(n, 1);
  row_t *rows = (row_t *)alloc_array(n, sizeof(row_t));
  /* A process is pushed once as a child and at most once as a start. */
  row_t *stack = (row_t *)alloc_array(2 * n, sizeof(row_t));
  size_t i, nrows = 0;
  int pass;

  for (i = 0; i < n; i++)
    by_pid[i] = i;
  pid_order_list = list;
  qsort(by_pid, n, sizeof *by_pid, compare_index_by_pid);
  for (i = 0; i < n; i++) {
    first_child[i] = last_child[i] = next_sibling[i] = parent[i] = n;
    if ((list[i].valid & MPROC_PROC_HAS_PPID) && list[i].ppid != list[i].pid)
      parent[i] = find_pid(list, by_pid, n, list[i].ppid);
  }
  /* Appending in list order keeps siblings in the sorted order. */
  for (i = 0; i < n; i++) {
    size_t p = parent[i];
    if (p == n)
      continue;
    if (first_child[p] == n)
      first_child[p] = i;
    else
      next_sibling[last_child[p]] = i;
    last_child[p] = i;
  }

  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < n; i++) {
      size_t top = 0;
      if (seen[i] || (pass == 0 && parent[i] != n))
        continue;
      stack[top].index = i;
      stack[top].depth = 0;
      top++;
      while (top > 0) {
        row_t r = stack[--top];
        size_t c, lo = top, hi;
        if (seen[r.index])
          continue;
        seen[r.index] = 1;
        rows[nrows++] = r;
        for (c = first_child[r.index]; c != n; c = next_sibling[c]) {
          if (seen[c])
            continue;
          stack[top].index = c;
          stack[top].depth = r.depth + 1;
          top++;
        }
        /* Reversed, so that the first sibling comes off the stack first. */
        for (hi = top; hi > lo + 1; lo++, hi--) {
          row_t t = stack[lo];
          stack[lo] = stack[hi - 1];
          stack[hi - 1] = t;
        }
      }
    }
  }

  free(by_pid);
  free(parent);
  free(first_child);
  free(last_child);
  free(next_sibling);
  free(seen);
  free(stack);
  return rows;
}
