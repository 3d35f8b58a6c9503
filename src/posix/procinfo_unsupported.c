/* SPDX-License-Identifier: MIT */
/* Pid inspection on POSIX systems whose reader is not written yet (the
 * BSDs need sysctl/kvm): every call says so plainly rather than returning
 * an empty list that would look like a real answer. */
#include "platform.h"

int mproc__proc_enumerate(mproc_pid_t **pids, size_t *count) {
  *pids = NULL;
  *count = 0;
  return MPROC_ENOTSUP;
}

int mproc__proc_read(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info) {
  (void)pid;
  (void)want;
  (void)info;
  return MPROC_ENOTSUP;
}
