/* SPDX-License-Identifier: MIT */
/* Threads and condition variables on Windows, for the Pool's own thread and
 * the callers that wait for it.
 *
 * Windows has no signal masks to set: a write to a closed pipe fails with
 * an error there (no SIGPIPE), and the C runtime's signals are delivered to
 * no particular thread. */
#include <process.h>
#include <stdlib.h>

#include "os.h"

struct mproc__thread {
  HANDLE thread;
  void (*fn)(void *);
  void *arg;
};

struct mproc__cond {
  CONDITION_VARIABLE cond;
};

/* _beginthreadex rather than CreateThread: the thread may use the C
 * runtime (malloc, stdio), which sets itself up per thread there. */
static unsigned __stdcall thread_main(void *arg) {
  mproc__thread_t *t = arg;
  t->fn(t->arg);
  return 0;
}

int mproc__thread_start(mproc__thread_t **out, void (*fn)(void *), void *arg) {
  mproc__thread_t *t = malloc(sizeof *t);
  uintptr_t h;
  if (!t)
    return MPROC_ENOMEM;
  t->fn = fn;
  t->arg = arg;
  h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
  if (h == 0) {
    DWORD err = GetLastError();
    free(t);
    return err == ERROR_NOT_ENOUGH_MEMORY || err == ERROR_SUCCESS
               ? MPROC_ENOMEM
               : mproc__os_translate((int)err);
  }
  t->thread = (HANDLE)h;
  *out = t;
  return 0;
}

void mproc__thread_join(mproc__thread_t *t) {
  if (!t)
    return;
  WaitForSingleObject(t->thread, INFINITE);
  CloseHandle(t->thread);
  free(t);
}

/* Nothing is blocked on Windows (see the top of this file). */
void mproc__thread_unblock_signals(void) {}

int mproc__cond_create(mproc__cond_t **out) {
  mproc__cond_t *c = malloc(sizeof *c);
  if (!c)
    return MPROC_ENOMEM;
  InitializeConditionVariable(&c->cond);
  *out = c;
  return 0;
}

/* A CONDITION_VARIABLE holds no resource to release. */
void mproc__cond_destroy(mproc__cond_t *c) { free(c); }

int mproc__cond_wait(mproc__cond_t *c, mproc__mutex_t *m, int64_t deadline_ns) {
  int64_t left = mproc__timeout_left(deadline_ns);
  DWORD ms;
  if (left == 0)
    return MPROC_ETIMEDOUT;
  /* INFINITE is all ones: a longer finite wait is cut short, and the
   * caller, which loops, waits again. */
  ms = left == MPROC_INFINITE ? INFINITE
       : left >= 0x7fffffff   ? 0x7fffffff
                              : (DWORD)left;
  /* A timeout is not reported here: the caller looks at its state and its
   * deadline again, as after any wake-up. */
  SleepConditionVariableSRW(&c->cond, MPROC__SRW(m), ms, 0);
  return 0;
}

void mproc__cond_broadcast(mproc__cond_t *c) {
  WakeAllConditionVariable(&c->cond);
}
