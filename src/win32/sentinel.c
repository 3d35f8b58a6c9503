/* SPDX-License-Identifier: MIT */
/*
 * Process sentinels on Windows: a handle of its own to the child process,
 * signalled once it has ended, for WaitForMultipleObjects, a message loop
 * (MsgWaitForMultipleObjects) or RegisterWaitForSingleObject. It is a
 * duplicate with SYNCHRONIZE access only, not inheritable, so the
 * application may wait on it but not terminate the process through it.
 */
#include <windows.h>

#include "child.h"

int mproc__child_sentinel(mproc__child_t *c, mproc__pipe_t *out) {
  HANDLE h = NULL;
  if (!DuplicateHandle(GetCurrentProcess(), c->process, GetCurrentProcess(), &h,
                       SYNCHRONIZE, FALSE, 0))
    return mproc__os_translate((int)GetLastError());
  *out = (mproc__pipe_t)h;
  return 0;
}
