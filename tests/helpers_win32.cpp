// SPDX-License-Identifier: MIT
// Test support on Windows: programs through CreateProcessW, inheriting
// exactly their standard handles; processes through process handles;
// channels through files, as Windows has no FIFOs.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <winternl.h>

#include "helpers.h"

#include <stdio.h>
#include <string.h>

#include <atomic>
#include <string>
#include <vector>

namespace mproc_test {
namespace {

std::wstring widen(const std::string &s) {
  int n = MultiByteToWideChar(CP_ACP, 0, s.c_str(), -1, NULL, 0);
  std::wstring w(n > 0 ? (size_t)n : 1, L'\0');
  if (n > 0)
    MultiByteToWideChar(CP_ACP, 0, s.c_str(), -1, &w[0], n);
  w.resize(wcslen(w.c_str()));
  return w;
}

// Appends one argument quoted so that the C runtime's parser gives it back
// unchanged: backslashes are literal except before a quote.
void append_arg(std::wstring *cmd, const std::wstring &arg) {
  if (!cmd->empty())
    *cmd += L' ';
  *cmd += L'"';
  size_t slashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      slashes++;
      continue;
    }
    cmd->append(c == L'"' ? 2 * slashes + 1 : slashes, L'\\');
    slashes = 0;
    *cmd += c;
  }
  cmd->append(2 * slashes, L'\\');
  *cmd += L'"';
}

// Starts argv[0] with exactly `inherit` inherited (NULL entries skipped)
// and the three standard handles given (NULL: none). Returns the process
// handle and sets *pid, or returns NULL.
HANDLE start(const std::vector<std::string> &argv, HANDLE in, HANDLE out,
             HANDLE err, DWORD *pid) {
  std::wstring exe = widen(argv[0]), cmd;
  for (const auto &a : argv)
    append_arg(&cmd, widen(a));
  HANDLE handles[3];
  DWORD n = 0;
  for (HANDLE h : {in, out, err})
    if (h)
      handles[n++] = h;
  SIZE_T size = 0;
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  std::vector<char> list(size);
  auto *attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list.data());
  bool ok = InitializeProcThreadAttributeList(attrs, 1, 0, &size) != 0;
  if (ok && n > 0)
    ok =
        UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                  handles, n * sizeof(HANDLE), NULL, NULL) != 0;
  STARTUPINFOEXW si;
  ZeroMemory(&si, sizeof si);
  si.StartupInfo.cb = sizeof si;
  if (n > 0) {
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = in;
    si.StartupInfo.hStdOutput = out;
    si.StartupInfo.hStdError = err;
  }
  si.lpAttributeList = attrs;
  PROCESS_INFORMATION pi;
  if (ok)
    ok = CreateProcessW(exe.c_str(), &cmd[0], NULL, NULL, n > 0 ? TRUE : FALSE,
                        EXTENDED_STARTUPINFO_PRESENT, NULL, NULL,
                        &si.StartupInfo, &pi) != 0;
  DeleteProcThreadAttributeList(attrs);
  if (!ok)
    return NULL;
  CloseHandle(pi.hThread);
  *pid = pi.dwProcessId;
  return pi.hProcess;
}

// An anonymous pipe whose end `child_end` (0 read, 1 write) is inheritable.
bool child_pipe(HANDLE ends[2], int child_end, DWORD size = 0) {
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
  if (!CreatePipe(&ends[0], &ends[1], &sa, size))
    return false;
  SetHandleInformation(ends[1 - child_end], HANDLE_FLAG_INHERIT, 0);
  return true;
}

// The C runtime writes a text stream's "\n" as "\r\n": turned back, the
// output reads as on POSIX.
void text_line_ends(std::string *s) {
  size_t to = 0;
  for (size_t from = 0; from < s->size(); from++)
    if (!((*s)[from] == '\r' && from + 1 < s->size() && (*s)[from + 1] == '\n'))
      (*s)[to++] = (*s)[from];
  s->resize(to);
}

} // namespace

int HelperResult::exit_code() const { return status; }

int64_t now_ms() { return (int64_t)GetTickCount64(); }

void sleep_us(int64_t us) { Sleep((DWORD)((us + 999) / 1000)); }

std::string self_path() {
  char buf[32768];
  DWORD n = GetModuleFileNameA(NULL, buf, sizeof buf);
  return std::string(buf, n);
}

HelperResult run_program_with_stdin_channel(
    const std::function<std::vector<std::string>(int64_t)> &make_argv,
    int timeout_ms, const std::string &input) {
  HelperResult r;
  HANDLE in[2], out[2], err[2];
  // The input is written before the program starts: it must fit the pipe.
  if (!child_pipe(in, 0, (DWORD)input.size() + 4096))
    return r;
  DWORD put = 0;
  bool ok = input.empty() ||
            (WriteFile(in[1], input.data(), (DWORD)input.size(), &put, NULL) &&
             put == input.size());
  CloseHandle(in[1]);
  if (!ok || !child_pipe(out, 1)) {
    CloseHandle(in[0]);
    return r;
  }
  if (!child_pipe(err, 1)) {
    CloseHandle(in[0]);
    CloseHandle(out[0]);
    CloseHandle(out[1]);
    return r;
  }
  // An inherited handle has the same value in the child.
  DWORD pid = 0;
  HANDLE process =
      start(make_argv((int64_t)(intptr_t)in[0]), in[0], out[1], err[1], &pid);
  CloseHandle(in[0]);
  CloseHandle(out[1]);
  CloseHandle(err[1]);
  if (!process) {
    CloseHandle(out[0]);
    CloseHandle(err[0]);
    return r;
  }

  // An anonymous pipe cannot be waited on with a timeout: peek, then nap.
  // Test code only; the library itself never polls.
  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  bool open_out = true, open_err = true, killed = false;
  while (open_out || open_err) {
    if (now_ms() >= deadline) {
      TerminateProcess(process, 1);
      killed = true;
      break;
    }
    bool any = false;
    for (int i = 0; i < 2; i++) {
      bool &open = i == 0 ? open_out : open_err;
      HANDLE h = i == 0 ? out[0] : err[0];
      DWORD avail = 0, got = 0;
      char buf[4096];
      if (!open)
        continue;
      if (!PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL)) {
        open = false; // broken: every writer is gone
        continue;
      }
      if (avail == 0)
        continue;
      if (!ReadFile(h, buf, avail < sizeof buf ? avail : sizeof buf, &got,
                    NULL) ||
          got == 0) {
        open = false;
        continue;
      }
      (i == 0 ? r.out : r.err).append(buf, got);
      any = true;
    }
    if (!any)
      Sleep(2);
  }
  CloseHandle(out[0]);
  CloseHandle(err[0]);
  text_line_ends(&r.out);
  text_line_ends(&r.err);
  WaitForSingleObject(process, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(process, &code);
  CloseHandle(process);
  r.status = killed ? -1 : (int)code;
  return r;
}

StartedHelper::StartedHelper(const std::string &name,
                             const std::vector<std::string> &args) {
  std::vector<std::string> all = {self_path(), "--mproc-helper", name};
  all.insert(all.end(), args.begin(), args.end());
  DWORD pid = 0;
  process_ = start(all, NULL, NULL, NULL, &pid);
  if (process_)
    pid_ = pid;
}

StartedHelper::~StartedHelper() {
  if (!process_)
    return;
  kill();
  WaitForSingleObject(process_, INFINITE);
  CloseHandle(process_);
}

void StartedHelper::kill() {
  if (process_ && WaitForSingleObject(process_, 0) == WAIT_TIMEOUT)
    TerminateProcess(process_, 1);
}

int StartedHelper::wait(int timeout_ms) {
  if (!process_ || WaitForSingleObject(
                       process_, (DWORD)scaled_ms(timeout_ms)) != WAIT_OBJECT_0)
    return -2;
  DWORD code = 0;
  GetExitCodeProcess(process_, &code);
  return (int)code;
}

char proc_state(mproc_pid_t pid) {
  HANDLE h = OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                         (DWORD)pid);
  if (!h)
    return 0;
  char s = WaitForSingleObject(h, 0) == WAIT_OBJECT_0 ? 'Z' : 'R';
  CloseHandle(h);
  return s;
}

mproc_pid_t proc_ppid(mproc_pid_t pid) {
  // Windows keeps the pid of the process that created this one; a process
  // whose other fields are denied (MPROC_EPERM) may still tell it.
  mproc_proc_info_t info;
  int r = mproc_proc_info(pid, &info);
  if (r != 0 && r != MPROC_EPERM)
    return -1;
  mproc_pid_t ppid = (info.valid & MPROC_PROC_HAS_PPID) ? info.ppid : -1;
  mproc_proc_info_free(&info);
  return ppid;
}

void kill_pid(mproc_pid_t pid) {
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
  if (h) {
    TerminateProcess(h, 1);
    CloseHandle(h);
  }
}

// This process's handles, from the system's list of every handle
// (SystemHandleInformation): Wine's GetProcessHandleCount() says 0. Each
// entry begins with the owner's pid, of which Windows keeps the low 16
// bits here (and Wine 32); the low 16 bits are compared.
size_t count_handles(std::string *kinds) {
  struct Entry {
    ULONG pid;
    UCHAR type, flags;
    USHORT handle;
    void *object;
    ULONG access;
  };
  struct Table {
    ULONG count;
    Entry entries[1];
  };
  std::vector<unsigned char> buf(1 << 16);
  for (;;) {
    ULONG got = 0;
    NTSTATUS st = NtQuerySystemInformation((SYSTEM_INFORMATION_CLASS)16,
                                           buf.data(), (ULONG)buf.size(), &got);
    if (st == (NTSTATUS)0xC0000004L) { // STATUS_INFO_LENGTH_MISMATCH
      buf.resize(buf.size() * 2);
      continue;
    }
    if (st != 0)
      return 0;
    const Table *t = (const Table *)buf.data();
    size_t n = 0, by_type[256] = {0};
    for (ULONG i = 0; i < t->count; i++)
      if ((t->entries[i].pid & 0xffff) == (GetCurrentProcessId() & 0xffff)) {
        n++;
        by_type[t->entries[i].type]++;
      }
    kinds->clear();
    for (int k = 0; k < 256; k++)
      if (by_type[k])
        *kinds +=
            " type" + std::to_string(k) + ":" + std::to_string(by_type[k]);
    return n;
  }
}

unsigned long end_descendants_with_this_process() {
  // Unnamed and not inheritable: the kernel closes the one handle, and
  // the Job ends its processes, however this process ends. No BREAKAWAY_OK:
  // a daemon's non-daemon child, which would leave mproc's daemon Job,
  // stays in this one (mproc starts it without breaking away when refused).
  HANDLE job = CreateJobObjectW(NULL, NULL);
  if (!job)
    return GetLastError();
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
  ZeroMemory(&limits, sizeof limits);
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits,
                               sizeof limits) ||
      !AssignProcessToJobObject(job, GetCurrentProcess())) {
    DWORD err = GetLastError();
    CloseHandle(job);
    return err;
  }
  return 0; // the handle stays open for the life of the process
}

void set_env(const char *name, const char *value) {
  _putenv_s(name, value ? value : "");
}

namespace {
// An address the compiler cannot see to be null (and so cannot drop the
// write to it).
volatile uintptr_t g_nowhere = 0;
} // namespace

void crash() { *reinterpret_cast<volatile int *>(g_nowhere) = 1; }

Fifo::Fifo() {
  static std::atomic<unsigned> serial{0};
  char dir[MAX_PATH + 1], name[64];
  DWORD n = GetTempPathA(sizeof dir, dir);
  snprintf(name, sizeof name, "mproc-test-fifo-%lu-%u",
           (unsigned long)GetCurrentProcessId(), serial++);
  path_ = std::string(dir, n) + name;
  HANDLE h = CreateFileA(path_.c_str(), GENERIC_READ,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_TEMPORARY, NULL);
  if (h != INVALID_HANDLE_VALUE)
    rd_ = (intptr_t)h;
}

Fifo::~Fifo() {
  if (rd_ != -1)
    CloseHandle((HANDLE)rd_);
  DeleteFileA(path_.c_str());
}

bool Fifo::read(void *buf, size_t n, int timeout_ms) {
  int64_t deadline = now_ms() + scaled_ms(timeout_ms);
  char *p = static_cast<char *>(buf);
  if (rd_ == -1)
    return false;
  // Writers append; this reader takes what is there and waits for the rest.
  while (n > 0) {
    DWORD got = 0;
    if (!ReadFile((HANDLE)rd_, p, (DWORD)n, &got, NULL))
      return false;
    p += got;
    n -= got;
    if (n > 0 && got == 0) {
      if (now_ms() >= deadline)
        return false;
      Sleep(2);
    }
  }
  return true;
}

bool write_to_fifo(const void *path, size_t path_size, const void *buf,
                   size_t n) {
  std::string p(static_cast<const char *>(path), path_size);
  HANDLE h = CreateFileA(p.c_str(), FILE_APPEND_DATA,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                         NULL, OPEN_EXISTING, 0, NULL);
  if (h == INVALID_HANDLE_VALUE)
    return false;
  DWORD put = 0;
  bool ok = WriteFile(h, buf, (DWORD)n, &put, NULL) && put == n;
  CloseHandle(h);
  return ok;
}

} // namespace mproc_test
