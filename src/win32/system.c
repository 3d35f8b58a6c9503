/* SPDX-License-Identifier: MIT */
/* Windows mechanisms the seam needs everywhere: errors, clock, identity,
 * in-process mutexes, the bootstrap channel's bytes, randomness. */
#include <stdlib.h>

#include "os.h"

#include <bcrypt.h>
#include <tlhelp32.h>

int mproc__os_translate(int native_error) {
  switch ((DWORD)native_error) {
  case ERROR_SUCCESS:
    return 0;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
    return MPROC_ENOMEM;
  case ERROR_ACCESS_DENIED:
  case ERROR_PRIVILEGE_NOT_HELD:
    return MPROC_EPERM;
  case WAIT_TIMEOUT:
  case ERROR_TIMEOUT:
    return MPROC_ETIMEDOUT;
  default:
    return mproc__os_fail(native_error);
  }
}

/* ---- clock ------------------------------------------------------------ */

int64_t mproc__clock_ns(void) {
  static LARGE_INTEGER frequency; /* fixed at boot: a benign race */
  LARGE_INTEGER now;
  if (frequency.QuadPart == 0)
    QueryPerformanceFrequency(&frequency);
  QueryPerformanceCounter(&now);
  /* Split the division so that counter * 1e9 never overflows. */
  return (now.QuadPart / frequency.QuadPart) * 1000000000 +
         (now.QuadPart % frequency.QuadPart) * 1000000000 / frequency.QuadPart;
}

/* ---- identity ---------------------------------------------------------- */

mproc_pid_t mproc__os_getpid(void) {
  return (mproc_pid_t)GetCurrentProcessId();
}

/* Windows keeps the pid of the process that created this one, even after
 * that process ended (then the pid may belong to another process by now,
 * as after a re-parenting on POSIX it would be init's). */
mproc_pid_t mproc__os_getppid(void) {
  PROCESSENTRY32W entry;
  DWORD self = GetCurrentProcessId();
  mproc_pid_t parent = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  if (snap == INVALID_HANDLE_VALUE)
    return 0;
  entry.dwSize = sizeof entry;
  if (Process32FirstW(snap, &entry)) {
    do {
      if (entry.th32ProcessID == self) {
        parent = (mproc_pid_t)entry.th32ParentProcessID;
        break;
      }
    } while (Process32NextW(snap, &entry));
  }
  CloseHandle(snap);
  return parent;
}

int mproc__os_cpu_count(void) {
  /* Every processor group, not only this thread's (more than 64 CPUs). */
  DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  return n > 0 ? (int)n : 1;
}

/* ---- in-process mutex -------------------------------------------------- */

void mproc__mutex_init(mproc__mutex_t *m) { InitializeSRWLock(MPROC__SRW(m)); }

void mproc__mutex_lock(mproc__mutex_t *m) {
  AcquireSRWLockExclusive(MPROC__SRW(m));
}

void mproc__mutex_unlock(mproc__mutex_t *m) {
  ReleaseSRWLockExclusive(MPROC__SRW(m));
}

/* ---- spawned children -------------------------------------------------- */

/* Windows has no setuid: a process runs with the token it was given. */
int mproc__os_secure_mode(void) { return 0; }

/* The channel is a pipe HANDLE value carried in an int64_t. A pipe whose
 * other end is gone reads as end of file. */
int mproc__os_channel_read(int64_t channel, void *buf, size_t n) {
  HANDLE h = (HANDLE)(intptr_t)channel;
  unsigned char *p = buf;
  while (n > 0) {
    DWORD want = n > 0x40000000 ? 0x40000000 : (DWORD)n, got = 0;
    if (!ReadFile(h, p, want, &got, NULL)) {
      DWORD err = GetLastError();
      if (err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED)
        return MPROC_ECLOSED;
      return mproc__os_translate((int)err);
    }
    if (got == 0)
      return MPROC_ECLOSED;
    p += got;
    n -= got;
  }
  return 0;
}

int mproc__os_channel_write(int64_t channel, const void *buf, size_t n) {
  HANDLE h = (HANDLE)(intptr_t)channel;
  const unsigned char *p = buf;
  while (n > 0) {
    DWORD want = n > 0x40000000 ? 0x40000000 : (DWORD)n, put = 0;
    if (!WriteFile(h, p, want, &put, NULL)) {
      DWORD err = GetLastError();
      if (err == ERROR_BROKEN_PIPE || err == ERROR_NO_DATA ||
          err == ERROR_PIPE_NOT_CONNECTED)
        return MPROC_ECLOSED;
      return mproc__os_translate((int)err);
    }
    if (put == 0)
      return mproc__os_fail(ERROR_WRITE_FAULT);
    p += put;
    n -= put;
  }
  return 0;
}

void mproc__os_channel_close(int64_t channel) {
  CloseHandle((HANDLE)(intptr_t)channel);
}

int mproc__os_random(void *buf, size_t n) {
  NTSTATUS status;
  if (n > 0xffffffffu)
    return MPROC_EINVAL;
  status = BCryptGenRandom(NULL, (PUCHAR)buf, (ULONG)n,
                           BCRYPT_USE_SYSTEM_PREFERRED_RNG);
  /* The NTSTATUS is kept as it is: it names the failure precisely. */
  return status >= 0 ? 0 : mproc__os_fail((int)status);
}

/* Spawn is the only start method on Windows: there is no fork server. */
void mproc__os_forkserver_if_asked(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
}

/* _exit() ends the process without the program's atexit handlers, as on
 * POSIX; the C runtime's streams were flushed by the caller. */
void mproc__os_exit(int code) { _exit(code); }
