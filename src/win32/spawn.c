/* SPDX-License-Identifier: MIT */
/*
 * The spawn start method on Windows, the only one: CreateProcessW of this
 * executable with the bootstrap flag, then the bootstrap message on a
 * duplex pipe the child inherits. The protocol is common code
 * (src/bootstrap.c); this file moves bytes and handles.
 *
 * The child is created suspended, put into the daemon job when it is a
 * daemon, and only then resumed, so it never runs outside the job. It
 * inherits exactly the handles named in PROC_THREAD_ATTRIBUTE_HANDLE_LIST:
 * its end of the bootstrap pipe, copies of this process's three standard
 * handles (so that its output goes where this process's goes, as on POSIX)
 * and copies of the pipe ends handed to it (a Pool worker's); no other
 * inheritable handle of this process reaches it.
 */
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "bootstrap.h"
#include "child.h"

/* A growing wide-character string for the command line. */
typedef struct wbuf {
  wchar_t *data;
  size_t len, cap;
  int failed;
} wbuf_t;

static void wbuf_put(wbuf_t *b, const wchar_t *s, size_t n) {
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    wchar_t *bigger;
    while (cap < b->len + n + 1)
      cap *= 2;
    bigger = realloc(b->data, cap * sizeof *bigger);
    if (!bigger) {
      b->failed = 1;
      return;
    }
    b->data = bigger;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n * sizeof *s);
  b->len += n;
  b->data[b->len] = 0;
}

static void wbuf_repeat(wbuf_t *b, wchar_t c, size_t n) {
  while (n-- > 0)
    wbuf_put(b, &c, 1);
}

/* Append one argument quoted so that the C runtime's parser (and
 * CommandLineToArgvW) gives it back unchanged: backslashes are literal
 * except before a quote, where they must be doubled. */
static void append_arg(wbuf_t *b, const wchar_t *arg) {
  const wchar_t *p;
  if (b->len > 0)
    wbuf_put(b, L" ", 1);
  if (arg[0] != 0 && wcspbrk(arg, L" \t\n\v\"") == NULL) {
    wbuf_put(b, arg, wcslen(arg));
    return;
  }
  wbuf_put(b, L"\"", 1);
  for (p = arg;; p++) {
    size_t slashes = 0;
    while (*p == L'\\') {
      p++;
      slashes++;
    }
    if (*p == 0) {
      wbuf_repeat(b, L'\\', slashes * 2);
      break;
    }
    if (*p == L'"') {
      wbuf_repeat(b, L'\\', slashes * 2 + 1);
      wbuf_put(b, p, 1);
    } else {
      wbuf_repeat(b, L'\\', slashes);
      wbuf_put(b, p, 1);
    }
  }
  wbuf_put(b, L"\"", 1);
}

/* main()'s argv is in the ANSI code page; so is what it gives back. */
static int append_narrow_arg(wbuf_t *b, const char *arg) {
  int n = MultiByteToWideChar(CP_ACP, 0, arg, -1, NULL, 0);
  wchar_t *wide;
  if (n <= 0)
    return mproc__os_translate((int)GetLastError());
  wide = malloc((size_t)n * sizeof *wide);
  if (!wide)
    return MPROC_ENOMEM;
  MultiByteToWideChar(CP_ACP, 0, arg, -1, wide, n);
  append_arg(b, wide);
  free(wide);
  return b->failed ? MPROC_ENOMEM : 0;
}

/* The full path of this executable; *path is malloc'd. */
static int exe_path(wchar_t **path) {
  DWORD cap = MAX_PATH;
  for (;;) {
    wchar_t *buf = malloc(cap * sizeof *buf);
    DWORD n;
    if (!buf)
      return MPROC_ENOMEM;
    n = GetModuleFileNameW(NULL, buf, cap);
    if (n == 0) {
      free(buf);
      return mproc__os_translate((int)GetLastError());
    }
    if (n < cap) {
      *path = buf;
      return 0;
    }
    free(buf);
    if (cap >= 32768)
      return mproc__os_fail(ERROR_INSUFFICIENT_BUFFER);
    cap *= 2;
  }
}

/*
 * A duplex pipe: this process keeps the server end (not inheritable), the
 * child gets the client end (inheritable, named in the handle list). An
 * anonymous pipe goes one way only; the bootstrap needs an answer back.
 * The name is unique and single-instance, so nothing else can hold it.
 */
static int boot_pipe(HANDLE *server, HANDLE *client) {
  SECURITY_ATTRIBUTES inherit;
  wchar_t name[MPROC__WIN32_PIPE_NAME_MAX];
  int r = mproc__win32_pipe_name(L"boot", name);
  if (r != 0)
    return r;
  *server =
      CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                           PIPE_REJECT_REMOTE_CLIENTS,
                       1, 65536, 65536, 0, NULL);
  if (*server == INVALID_HANDLE_VALUE) {
    *server = NULL;
    return mproc__os_translate((int)GetLastError());
  }
  inherit.nLength = sizeof inherit;
  inherit.lpSecurityDescriptor = NULL;
  inherit.bInheritHandle = TRUE;
  *client = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, &inherit,
                        OPEN_EXISTING, 0, NULL);
  if (*client == INVALID_HANDLE_VALUE) {
    r = mproc__os_translate((int)GetLastError());
    *client = NULL;
    CloseHandle(*server);
    *server = NULL;
  }
  return r;
}

/* An inheritable copy of h, or NULL. The original stays not inheritable:
 * a copy lives only until the child is created. */
static HANDLE inheritable_copy(HANDLE h) {
  HANDLE copy = NULL;
  if (h == NULL || h == INVALID_HANDLE_VALUE)
    return NULL;
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &copy, 0,
                       TRUE, DUPLICATE_SAME_ACCESS))
    return NULL;
  return copy;
}

/* An inheritable copy of a standard handle, or NULL when there is none
 * (a GUI program, or a closed stream): the child then has none either. */
static HANDLE inheritable_std(DWORD which) {
  return inheritable_copy(GetStdHandle(which));
}

/* Inheritable copies of the pipe ends handed to the child. An inherited
 * handle has the same value in the child: the bootstrap message carries
 * these values, which the child reads with mproc__child_handle(). */
static int copy_handed(const mproc__child_spec_t *spec, HANDLE *copies) {
  size_t i;
  for (i = 0; i < spec->nhandles; i++) {
    SetLastError(ERROR_INVALID_HANDLE); /* for an end with no handle */
    copies[i] = inheritable_copy((HANDLE)spec->handles[i]);
    if (!copies[i])
      return mproc__os_translate((int)GetLastError());
  }
  return 0;
}

static int write_handle(void *ctx, const void *buf, size_t n) {
  return mproc__os_channel_write((int64_t)(intptr_t) * (HANDLE *)ctx, buf, n);
}

static int build_command_line(const mproc__child_spec_t *spec,
                              const wchar_t *exe, const char *flag,
                              wchar_t **out) {
  wbuf_t b = {NULL, 0, 0, 0};
  int i, r = 0;
  append_arg(&b, exe);
  r = append_narrow_arg(&b, flag);
  for (i = 0; r == 0 && i < spec->argc; i++)
    r = append_narrow_arg(&b, spec->argv[i]);
  /* CreateProcessW's limit, the terminating NUL included. */
  if (r == 0 && b.len >= 32767)
    r = MPROC_ERANGE;
  if (r != 0) {
    free(b.data);
    return r;
  }
  *out = b.data;
  return 0;
}

/* How often a start that failed with ERROR_INTERNAL_ERROR is tried. */
#define CREATE_TRIES 3

/* CreateProcessW, suspended, inheriting exactly handles[0..n). */
static int create_suspended(wchar_t *exe, wchar_t *cmdline, HANDLE *handles,
                            DWORD n, HANDLE std_in, HANDLE std_out,
                            HANDLE std_err, DWORD extra_flags,
                            PROCESS_INFORMATION *pi) {
  STARTUPINFOEXW si;
  SIZE_T size = 0;
  DWORD flags = CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT | extra_flags;
  int r = 0, attempt;

  ZeroMemory(&si, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = std_in;
  si.StartupInfo.hStdOutput = std_out;
  si.StartupInfo.hStdError = std_err;
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  si.lpAttributeList = malloc(size);
  if (!si.lpAttributeList)
    return MPROC_ENOMEM;
  if (!InitializeProcThreadAttributeList(si.lpAttributeList, 1, 0, &size)) {
    r = mproc__os_translate((int)GetLastError());
    free(si.lpAttributeList);
    return r;
  }
  if (!UpdateProcThreadAttribute(si.lpAttributeList, 0,
                                 PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles,
                                 n * sizeof *handles, NULL, NULL)) {
    r = mproc__os_translate((int)GetLastError());
    goto finish;
  }
  /* ERROR_INTERNAL_ERROR: the new process could not be set up (Wine has
   * answered so, rarely, amid many process starts and kills; see
   * docs/windows.md). It was created suspended, so nothing of the program
   * ran in it, and creating it again is safe; a few tries, then the error
   * stands. */
  for (attempt = 0; r == 0; attempt++) {
    DWORD err;
    if (CreateProcessW(exe, cmdline, NULL, NULL, TRUE, flags, NULL, NULL,
                       &si.StartupInfo, pi))
      break;
    err = GetLastError();
    if (err != ERROR_INTERNAL_ERROR || attempt + 1 >= CREATE_TRIES)
      r = mproc__os_translate((int)err);
    else
      Sleep(10 * (attempt + 1));
  }

finish:
  DeleteProcThreadAttributeList(si.lpAttributeList);
  free(si.lpAttributeList);
  return r;
}

/* Start the process, in the daemon job if it is a daemon, and resume it. */
static int start_process(const mproc__child_spec_t *spec, wchar_t *exe,
                         wchar_t *cmdline, HANDLE client, const HANDLE *handed,
                         PROCESS_INFORMATION *pi) {
  HANDLE std[3], handles[4 + MPROC__CHILD_HANDLES_MAX], job = NULL;
  DWORD n = 0, extra = 0;
  size_t k;
  int i, r;

  if (spec->daemon && (r = mproc__win32_daemon_job(&job)) != 0)
    return r;
  std[0] = inheritable_std(STD_INPUT_HANDLE);
  std[1] = inheritable_std(STD_OUTPUT_HANDLE);
  std[2] = inheritable_std(STD_ERROR_HANDLE);
  handles[n++] = client;
  for (i = 0; i < 3; i++)
    if (std[i])
      handles[n++] = std[i];
  for (k = 0; k < spec->nhandles; k++)
    handles[n++] = handed[k];

  if (!spec->daemon && mproc__win32_in_daemon_job)
    extra = CREATE_BREAKAWAY_FROM_JOB;
  r = create_suspended(exe, cmdline, handles, n, std[0], std[1], std[2], extra,
                       pi);
  if (r == MPROC_EPERM && extra != 0) {
    /* An enclosing job that forbids breaking away: stay in it. */
    r = create_suspended(exe, cmdline, handles, n, std[0], std[1], std[2], 0,
                         pi);
  }
  for (i = 0; i < 3; i++)
    if (std[i])
      CloseHandle(std[i]);
  if (r != 0)
    return r;

  if (job && !AssignProcessToJobObject(job, pi->hProcess)) {
    /* A daemon outside the job would outlive us: it must not run. */
    r = mproc__os_translate((int)GetLastError());
    TerminateProcess(pi->hProcess, MPROC__EXIT_BOOTSTRAP_FAILED);
    CloseHandle(pi->hThread);
    CloseHandle(pi->hProcess);
    return r;
  }
  ResumeThread(pi->hThread);
  CloseHandle(pi->hThread);
  return 0;
}

int mproc__win32_spawn(const mproc__child_spec_t *spec, mproc__child_t *c) {
  HANDLE server = NULL, client = NULL;
  HANDLE handed[MPROC__CHILD_HANDLES_MAX] = {NULL};
  PROCESS_INFORMATION pi;
  wchar_t *exe = NULL, *cmdline = NULL;
  char flag[96];
  mproc__boot_t b;
  size_t i;
  int r;

  if ((r = mproc__boot_from_spec(spec, NULL, &b)) != 0)
    return r;
  if ((r = copy_handed(spec, handed)) != 0)
    goto finish;
  /* Windows needs no status or death channel: the process handle tells
   * the exit code, and the job tells a daemon of its parent's death. An
   * inherited handle has the same value in the child. */
  for (i = 0; i < spec->nhandles; i++)
    b.handles[i] = (int64_t)(intptr_t)handed[i];
  if ((r = exe_path(&exe)) != 0)
    goto finish;
  if ((r = boot_pipe(&server, &client)) != 0)
    goto finish;
  /* An inherited handle has the same value in the child. */
  mproc__boot_format_flag((int64_t)(intptr_t)client, b.cookie, flag,
                          sizeof flag);
  if ((r = build_command_line(spec, exe, flag, &cmdline)) != 0)
    goto finish;
  if ((r = start_process(spec, exe, cmdline, client, handed, &pi)) != 0)
    goto finish;
  /* Only the child holds the client end now: its death breaks the pipe. */
  CloseHandle(client);
  client = NULL;
  c->process = pi.hProcess;
  c->pid = pi.dwProcessId;

  r = mproc__boot_send(&b, spec->arg, write_handle, &server);
  /* The child answers once it has checked the message and found the
   * target; end of file means it refused or died first. */
  if (r == 0)
    r = mproc__boot_answer((int64_t)(intptr_t)server);
  if (r != 0) {
    /* The child ends on its own once its pipe breaks; nothing to reap. */
    CloseHandle(c->process);
    c->process = NULL;
  }

finish:
  for (i = 0; i < MPROC__CHILD_HANDLES_MAX; i++)
    if (handed[i])
      CloseHandle(handed[i]);
  if (server)
    CloseHandle(server);
  if (client)
    CloseHandle(client);
  free(cmdline);
  free(exe);
  return r;
}
