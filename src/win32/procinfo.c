/* SPDX-License-Identifier: MIT */
/* Pid inspection on Windows: Toolhelp for the list, parent, name and
 * thread count; the process handle for times, memory and command line.
 *
 * The process is opened before the Toolhelp snapshot is taken: while this
 * file holds a handle to a running process its pid cannot be given to
 * another, so the snapshot's entry for that pid describes the same process
 * and a record never mixes two. */
#include <stdlib.h>
#include <string.h>

#include "os.h"

#include <psapi.h>
#include <sddl.h>
#include <shellapi.h>
#include <tlhelp32.h>
#include <winternl.h>

/* NtQueryInformationProcess's class for the command line (Windows 8.1 and
 * later, and Wine): a UNICODE_STRING followed by its characters. */
#define PROCESS_COMMAND_LINE_INFORMATION 60
#define STATUS_INFO_LENGTH_MISMATCH_ ((LONG)0xC0000004)
#define STATUS_INVALID_INFO_CLASS_ ((LONG)0xC0000003)
#define STATUS_ACCESS_DENIED_ ((LONG)0xC0000022)

typedef struct unicode_string {
  USHORT Length;
  USHORT MaximumLength;
  PWSTR Buffer;
} unicode_string_t;

typedef LONG(NTAPI *query_process_fn)(HANDLE, ULONG, PVOID, ULONG, PULONG);

/* FILETIME counts 100 ns since 1601-01-01; Unix time starts 11644473600 s
 * later. */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

static uint64_t filetime_u64(const FILETIME *t) {
  return (uint64_t)t->dwHighDateTime << 32 | t->dwLowDateTime;
}

int mproc__proc_enumerate(mproc_pid_t **pids, size_t *count) {
  PROCESSENTRY32W entry;
  mproc_pid_t *list = NULL;
  size_t n = 0, cap = 0;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  int r = 0;

  *pids = NULL;
  *count = 0;
  if (snap == INVALID_HANDLE_VALUE)
    return mproc__os_translate((int)GetLastError());
  entry.dwSize = sizeof entry;
  if (Process32FirstW(snap, &entry)) {
    do {
      if (n == cap) {
        size_t bigger = cap ? cap * 2 : 256;
        mproc_pid_t *grown = realloc(list, bigger * sizeof *grown);
        if (!grown) {
          r = MPROC_ENOMEM;
          break;
        }
        list = grown;
        cap = bigger;
      }
      list[n++] = (mproc_pid_t)entry.th32ProcessID;
    } while (Process32NextW(snap, &entry));
  }
  CloseHandle(snap);
  if (r != 0 || n == 0) {
    free(list);
    return r;
  }
  *pids = list;
  *count = n;
  return 0;
}

/* Parent, name and thread count from a snapshot. MPROC_ESRCH when the pid
 * is not in it. */
static int read_snapshot(DWORD pid, mproc_proc_info_t *info) {
  PROCESSENTRY32W entry;
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
  int r = MPROC_ESRCH;
  if (snap == INVALID_HANDLE_VALUE)
    return mproc__os_translate((int)GetLastError());
  entry.dwSize = sizeof entry;
  if (Process32FirstW(snap, &entry)) {
    do {
      if (entry.th32ProcessID != pid)
        continue;
      info->ppid = (mproc_pid_t)entry.th32ParentProcessID;
      info->num_threads = entry.cntThreads;
      /* The name is kept in UTF-8, as the rest of mproc speaks bytes. */
      if (WideCharToMultiByte(CP_UTF8, 0, entry.szExeFile, -1, info->name,
                              (int)sizeof info->name, NULL, NULL) == 0)
        info->name[0] = 0;
      info->valid |=
          MPROC_PROC_HAS_PPID | MPROC_PROC_HAS_NAME | MPROC_PROC_HAS_THREADS;
      r = 0;
      break;
    } while (Process32NextW(snap, &entry));
  }
  CloseHandle(snap);
  return r;
}

/* Split a command line as the C runtime does and pack it as one block: the
 * pointer array, then the UTF-8 strings. */
static int pack_argv(const wchar_t *cmdline, mproc_proc_info_t *info) {
  wchar_t **wide;
  int argc = 0, i;
  size_t bytes = 0;
  char **argv, *text;

  if (cmdline[0] == 0) { /* a process that has none */
    info->valid |= MPROC_PROC_HAS_ARGV;
    return 0;
  }
  wide = CommandLineToArgvW(cmdline, &argc);
  if (!wide)
    return mproc__os_translate((int)GetLastError());
  for (i = 0; i < argc; i++)
    bytes += (size_t)WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, NULL, 0, NULL,
                                         NULL);
  argv = malloc(((size_t)argc + 1) * sizeof *argv + bytes);
  if (!argv) {
    LocalFree(wide);
    return MPROC_ENOMEM;
  }
  text = (char *)(argv + argc + 1);
  for (i = 0; i < argc; i++) {
    int n = WideCharToMultiByte(CP_UTF8, 0, wide[i], -1, text, (int)bytes, NULL,
                                NULL);
    argv[i] = text;
    text += n;
    bytes -= (size_t)n;
  }
  argv[argc] = NULL;
  LocalFree(wide);
  info->argv = argv;
  info->argc = (size_t)argc;
  info->valid |= MPROC_PROC_HAS_ARGV;
  return 0;
}

/* The command line from the process's own memory, where systems without
 * PROCESS_COMMAND_LINE_INFORMATION (Windows 8 and older, Wine) keep it:
 * PEB -> RTL_USER_PROCESS_PARAMETERS -> CommandLine. *cmdline is malloc'd. */
static int read_peb_command_line(query_process_fn query, HANDLE h,
                                 wchar_t **cmdline) {
  PROCESS_BASIC_INFORMATION basic;
  PEB peb;
  RTL_USER_PROCESS_PARAMETERS params;
  wchar_t *text;
  ULONG got = 0;
  LONG status = query(h, ProcessBasicInformation, &basic, sizeof basic, &got);
  if (status < 0)
    return status == STATUS_ACCESS_DENIED_ ? MPROC_EPERM
                                           : mproc__os_fail((int)status);
  if (!basic.PebBaseAddress)
    return MPROC_ESRCH;
  if (!ReadProcessMemory(h, basic.PebBaseAddress, &peb, sizeof peb, NULL) ||
      !ReadProcessMemory(h, peb.ProcessParameters, &params, sizeof params,
                         NULL)) {
    DWORD err = GetLastError();
    return err == ERROR_ACCESS_DENIED ? MPROC_EPERM
                                      : mproc__os_translate((int)err);
  }
  text = malloc((size_t)params.CommandLine.Length + sizeof(wchar_t));
  if (!text)
    return MPROC_ENOMEM;
  if (params.CommandLine.Length > 0 &&
      !ReadProcessMemory(h, params.CommandLine.Buffer, text,
                         params.CommandLine.Length, NULL)) {
    DWORD err = GetLastError();
    free(text);
    return err == ERROR_ACCESS_DENIED ? MPROC_EPERM
                                      : mproc__os_translate((int)err);
  }
  text[params.CommandLine.Length / sizeof(wchar_t)] = 0;
  *cmdline = text;
  return 0;
}

/* The command line through NtQueryInformationProcess, or from the PEB
 * where the system does not have that class. */
static int read_command_line(HANDLE h, mproc_proc_info_t *info) {
  query_process_fn query = (query_process_fn)(void (*)(void))GetProcAddress(
      GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationProcess");
  ULONG size = 1024, needed = 0;
  unicode_string_t *s;
  wchar_t *copy = NULL;
  LONG status;
  int r;

  if (!query)
    return 0;
  for (;;) {
    s = malloc(size);
    if (!s)
      return MPROC_ENOMEM;
    status = query(h, PROCESS_COMMAND_LINE_INFORMATION, s, size, &needed);
    if (status != STATUS_INFO_LENGTH_MISMATCH_ || needed <= size)
      break;
    free(s);
    size = needed;
  }
  if (status < 0) {
    free(s);
    if (status == STATUS_ACCESS_DENIED_)
      return MPROC_EPERM;
    if (status != STATUS_INVALID_INFO_CLASS_)
      return mproc__os_fail((int)status);
    r = read_peb_command_line(query, h, &copy);
    if (r == 0)
      r = pack_argv(copy, info);
    free(copy);
    return r;
  }
  /* The characters are not NUL-terminated. */
  copy = malloc((size_t)s->Length + sizeof(wchar_t));
  if (!copy) {
    free(s);
    return MPROC_ENOMEM;
  }
  memcpy(copy, s->Buffer, s->Length);
  copy[s->Length / sizeof(wchar_t)] = 0;
  free(s);
  r = pack_argv(copy, info);
  free(copy);
  return r;
}

/* "DOMAIN\user" (or the bare name when the account has no domain) as
 * UTF-8; 0 when it does not fit. */
static int format_account(const wchar_t *domain, const wchar_t *name, char *out,
                          size_t size) {
  wchar_t both[2 * 256 + 2];
  size_t d = wcslen(domain), n = wcslen(name), at = 0;
  if (d >= 256 || n >= 256)
    return 0;
  if (d > 0) {
    memcpy(both, domain, d * sizeof(wchar_t));
    both[d] = L'\\';
    at = d + 1;
  }
  memcpy(both + at, name, (n + 1) * sizeof(wchar_t));
  return WideCharToMultiByte(CP_UTF8, 0, both, -1, out, (int)size, NULL, NULL) >
         0;
}

/* The account of the process's token; an account that has no name (a
 * deleted user) shows its SID, as a number stands for a POSIX user with
 * no name. */
static int read_user(HANDLE h, mproc_proc_info_t *info) {
  union {
    TOKEN_USER user;
    unsigned char bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  } tu;
  wchar_t name[256], domain[256];
  DWORD name_len = 256, domain_len = 256, len = 0;
  SID_NAME_USE use;
  HANDLE token;
  char *sid_text = NULL;
  BOOL ok;

  if (!OpenProcessToken(h, TOKEN_QUERY, &token))
    return MPROC_EPERM;
  ok = GetTokenInformation(token, TokenUser, &tu, sizeof tu, &len);
  CloseHandle(token);
  if (!ok)
    return MPROC_EPERM;
  if (LookupAccountSidW(NULL, tu.user.User.Sid, name, &name_len, domain,
                        &domain_len, &use)) {
    ok = format_account(domain, name, info->user, sizeof info->user);
  } else if (ConvertSidToStringSidA(tu.user.User.Sid, &sid_text)) {
    ok = strlen(sid_text) < sizeof info->user;
    if (ok)
      memcpy(info->user, sid_text, strlen(sid_text) + 1);
    LocalFree(sid_text);
  } else {
    ok = FALSE;
  }
  if (!ok) {
    memset(info->user, 0, sizeof info->user);
    return MPROC_EPERM;
  }
  info->valid |= MPROC_PROC_HAS_USER;
  return 0;
}

/* Times, memory, command line and state from an open handle. */
static int read_handle(HANDLE h, unsigned int want, mproc_proc_info_t *info) {
  FILETIME created, exited, kernel, user;
  PROCESS_MEMORY_COUNTERS mem;
  DWORD code;
  int r = 0;

  if (!GetExitCodeProcess(h, &code))
    return mproc__os_translate((int)GetLastError());
  /* Ended, and kept only by someone's handle: it is gone for a lister. */
  if (code != STILL_ACTIVE)
    return MPROC_ESRCH;
  /* Windows has no portable notion of a sleeping process. */
  info->state = MPROC_PROC_RUNNING;
  info->state_code = 'R';
  info->valid |= MPROC_PROC_HAS_STATE;
  if (GetProcessTimes(h, &created, &exited, &kernel, &user)) {
    info->start_time_ms =
        (int64_t)((filetime_u64(&created) - FILETIME_UNIX_EPOCH) / 10000);
    info->user_time_us = filetime_u64(&user) / 10;
    info->system_time_us = filetime_u64(&kernel) / 10;
    info->valid |= MPROC_PROC_HAS_START_TIME | MPROC_PROC_HAS_CPU_TIMES;
  } else {
    r = MPROC_EPERM;
  }
  if (GetProcessMemoryInfo(h, &mem, sizeof mem)) {
    info->rss_bytes = mem.WorkingSetSize;
    info->valid |= MPROC_PROC_HAS_RSS;
  } else {
    r = MPROC_EPERM;
  }
  if ((want & MPROC_PROC_HAS_USER) && read_user(h, info) != 0)
    r = MPROC_EPERM;
  if (want & MPROC_PROC_HAS_ARGV) {
    int a = read_command_line(h, info);
    if (a != 0 && a != MPROC_EPERM)
      return a;
    if (a == MPROC_EPERM)
      r = MPROC_EPERM;
  }
  return r;
}

int mproc__proc_read(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info) {
  HANDLE h;
  int r, part = 0;

  if (pid > 0xffffffffLL)
    return MPROC_ESRCH;
  if (pid == 0) {
    /* The idle process: listed by Toolhelp, opened by nobody. */
    h = NULL;
    SetLastError(ERROR_ACCESS_DENIED);
  } else {
    h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | PROCESS_VM_READ, FALSE,
                    (DWORD)pid);
    if (!h)
      h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  }
  if (h && want != MPROC_PROC_HAS_PPID) {
    part = read_handle(h, want, info);
    if (part != 0 && part != MPROC_EPERM) {
      CloseHandle(h);
      return part;
    }
  } else if (!h) {
    DWORD err = GetLastError();
    /* No such pid reads as an invalid parameter. */
    if (err == ERROR_INVALID_PARAMETER)
      return MPROC_ESRCH;
    if (err != ERROR_ACCESS_DENIED)
      return mproc__os_translate((int)err);
    /* Protected and system processes: the snapshot still names them. */
    info->state = MPROC_PROC_UNKNOWN;
    info->state_code = '?';
    info->valid |= MPROC_PROC_HAS_STATE;
    part = MPROC_EPERM;
  }
  r = read_snapshot((DWORD)pid, info);
  if (h)
    CloseHandle(h);
  return r != 0 ? r : part;
}
