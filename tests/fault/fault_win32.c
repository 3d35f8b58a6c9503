/* SPDX-License-Identifier: MIT */
/*
 * The wrappers the fault-injection build of mproc calls instead of the
 * system's functions (Windows). The library calls a Windows function
 * through its import pointer, __imp_NAME; that build renames those
 * references to __imp_mproc__fi_NAME, which this file defines as pointers
 * to its wrappers (and malloc, calloc and realloc, called directly, to
 * mproc__fi_NAME, as on POSIX). Each wrapper counts the call and, when the
 * table says so, fails it the way Windows can: FALSE, NULL or
 * INVALID_HANDLE_VALUE with the last error set (0 with errno for
 * _beginthreadex). The waits (WaitForSingleObject and the like) are not
 * wrapped: on a working system they fail only for a bad handle, and no
 * call is interrupted on Windows, so the table's EINTR mode wraps nothing
 * here.
 */
#include <errno.h>
#include <process.h>
#include <stdint.h>
#include <stdlib.h>
#include <windows.h>

#include "fault_core.h"
#include "fault_table.h"

#define SITE __builtin_return_address(0)

/* Fail with the last error set and `failed` returned, when the table says
 * so. */
#define FAIL_WIN(fn, error, failed)                                            \
  do {                                                                         \
    int e_ = mproc__fi_decide(fn, SITE, error, 0);                             \
    if (e_) {                                                                  \
      SetLastError((DWORD)e_);                                                 \
      return failed;                                                           \
    }                                                                          \
  } while (0)

/* The import pointer the renamed library calls through. */
#define IMPORT(name) void *__imp_mproc__fi_##name = (void *)fi_##name

/* ---- processes and threads -------------------------------------------- */

static BOOL WINAPI fi_CreateProcessW(LPCWSTR app, LPWSTR cmd,
                                     LPSECURITY_ATTRIBUTES pa,
                                     LPSECURITY_ATTRIBUTES ta, BOOL inherit,
                                     DWORD flags, LPVOID env, LPCWSTR dir,
                                     LPSTARTUPINFOW si,
                                     LPPROCESS_INFORMATION pi) {
  FAIL_WIN("CreateProcessW", ERROR_NOT_ENOUGH_MEMORY, FALSE);
  return CreateProcessW(app, cmd, pa, ta, inherit, flags, env, dir, si, pi);
}
IMPORT(CreateProcessW);

static uintptr_t __cdecl fi__beginthreadex(void *security, unsigned stack,
                                           unsigned(__stdcall *fn)(void *),
                                           void *arg, unsigned flags,
                                           unsigned *id) {
  if (mproc__fi_decide("_beginthreadex", SITE, EAGAIN, 0)) {
    errno = EAGAIN;
    return 0;
  }
  return _beginthreadex(security, stack, fn, arg, flags, id);
}
IMPORT(_beginthreadex);

static HANDLE WINAPI fi_CreateJobObjectW(LPSECURITY_ATTRIBUTES sa,
                                         LPCWSTR name) {
  FAIL_WIN("CreateJobObjectW", ERROR_NO_SYSTEM_RESOURCES, NULL);
  return CreateJobObjectW(sa, name);
}
IMPORT(CreateJobObjectW);

/* Before Windows 8 a process already in a job could not join another. */
static BOOL WINAPI fi_AssignProcessToJobObject(HANDLE job, HANDLE process) {
  FAIL_WIN("AssignProcessToJobObject", ERROR_ACCESS_DENIED, FALSE);
  return AssignProcessToJobObject(job, process);
}
IMPORT(AssignProcessToJobObject);

static HANDLE WINAPI fi_OpenProcess(DWORD access, BOOL inherit, DWORD pid) {
  FAIL_WIN("OpenProcess", ERROR_ACCESS_DENIED, NULL);
  return OpenProcess(access, inherit, pid);
}
IMPORT(OpenProcess);

/* ---- handles, pipes and events ----------------------------------------- */

static HANDLE WINAPI fi_CreateNamedPipeW(LPCWSTR name, DWORD open, DWORD mode,
                                         DWORD max, DWORD out, DWORD in,
                                         DWORD timeout,
                                         LPSECURITY_ATTRIBUTES sa) {
  FAIL_WIN("CreateNamedPipeW", ERROR_NO_SYSTEM_RESOURCES, INVALID_HANDLE_VALUE);
  return CreateNamedPipeW(name, open, mode, max, out, in, timeout, sa);
}
IMPORT(CreateNamedPipeW);

static HANDLE WINAPI fi_CreateFileW(LPCWSTR name, DWORD access, DWORD share,
                                    LPSECURITY_ATTRIBUTES sa, DWORD how,
                                    DWORD attributes, HANDLE templ) {
  FAIL_WIN("CreateFileW", ERROR_NO_SYSTEM_RESOURCES, INVALID_HANDLE_VALUE);
  return CreateFileW(name, access, share, sa, how, attributes, templ);
}
IMPORT(CreateFileW);

static HANDLE WINAPI fi_CreateEventW(LPSECURITY_ATTRIBUTES sa, BOOL manual,
                                     BOOL initial, LPCWSTR name) {
  FAIL_WIN("CreateEventW", ERROR_NO_SYSTEM_RESOURCES, NULL);
  return CreateEventW(sa, manual, initial, name);
}
IMPORT(CreateEventW);

static BOOL WINAPI fi_DuplicateHandle(HANDLE from_process, HANDLE h,
                                      HANDLE to_process, LPHANDLE out,
                                      DWORD access, BOOL inherit,
                                      DWORD options) {
  FAIL_WIN("DuplicateHandle", ERROR_NO_SYSTEM_RESOURCES, FALSE);
  return DuplicateHandle(from_process, h, to_process, out, access, inherit,
                         options);
}
IMPORT(DuplicateHandle);

static BOOL WINAPI fi_ReadFile(HANDLE h, LPVOID buf, DWORD n, LPDWORD got,
                               LPOVERLAPPED ov) {
  FAIL_WIN("ReadFile", ERROR_NO_SYSTEM_RESOURCES, FALSE);
  return ReadFile(h, buf, n, got, ov);
}
IMPORT(ReadFile);

static BOOL WINAPI fi_WriteFile(HANDLE h, LPCVOID buf, DWORD n, LPDWORD put,
                                LPOVERLAPPED ov) {
  FAIL_WIN("WriteFile", ERROR_NO_SYSTEM_RESOURCES, FALSE);
  return WriteFile(h, buf, n, put, ov);
}
IMPORT(WriteFile);

static BOOL WINAPI fi_RegisterWaitForSingleObject(PHANDLE wait, HANDLE h,
                                                  WAITORTIMERCALLBACK fn,
                                                  PVOID ctx, ULONG ms,
                                                  ULONG flags) {
  FAIL_WIN("RegisterWaitForSingleObject", ERROR_NO_SYSTEM_RESOURCES, FALSE);
  return RegisterWaitForSingleObject(wait, h, fn, ctx, ms, flags);
}
IMPORT(RegisterWaitForSingleObject);

/* ---- shared memory ------------------------------------------------------ */

static HANDLE WINAPI fi_CreateFileMappingW(HANDLE file,
                                           LPSECURITY_ATTRIBUTES sa,
                                           DWORD protect, DWORD high, DWORD low,
                                           LPCWSTR name) {
  FAIL_WIN("CreateFileMappingW", ERROR_COMMITMENT_LIMIT, NULL);
  return CreateFileMappingW(file, sa, protect, high, low, name);
}
IMPORT(CreateFileMappingW);

static HANDLE WINAPI fi_OpenFileMappingW(DWORD access, BOOL inherit,
                                         LPCWSTR name) {
  FAIL_WIN("OpenFileMappingW", ERROR_NO_SYSTEM_RESOURCES, NULL);
  return OpenFileMappingW(access, inherit, name);
}
IMPORT(OpenFileMappingW);

static LPVOID WINAPI fi_MapViewOfFile(HANDLE mapping, DWORD access, DWORD high,
                                      DWORD low, SIZE_T n) {
  FAIL_WIN("MapViewOfFile", ERROR_NOT_ENOUGH_MEMORY, NULL);
  return MapViewOfFile(mapping, access, high, low, n);
}
IMPORT(MapViewOfFile);
