/* SPDX-License-Identifier: MIT */
/* The Job object that ties daemon children to this process's life. */
#include "child.h"

static mproc__mutex_t job_lock = MPROC__MUTEX_INITIALIZER;
static HANDLE daemon_job;

int mproc__win32_in_daemon_job;

int mproc__win32_daemon_job(HANDLE *job) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  HANDLE created;
  int r = 0;

  mproc__mutex_lock(&job_lock);
  if (daemon_job)
    goto finish;
  /* Unnamed and not inheritable: no other process can hold it open, so
   * the kernel closes it exactly when this process ends, in any way. */
  created = CreateJobObjectW(NULL, NULL);
  if (!created) {
    r = mproc__os_translate((int)GetLastError());
    goto finish;
  }
  ZeroMemory(&limits, sizeof limits);
  /* BREAKAWAY_OK lets a daemon start non-daemon children outside it (see
   * mproc__win32_in_daemon_job). */
  limits.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
  if (!SetInformationJobObject(created, JobObjectExtendedLimitInformation,
                               &limits, sizeof limits)) {
    r = mproc__os_translate((int)GetLastError());
    CloseHandle(created);
    goto finish;
  }
  daemon_job = created;

finish:
  *job = daemon_job;
  mproc__mutex_unlock(&job_lock);
  return r;
}
