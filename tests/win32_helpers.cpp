#include "win32_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <map>

namespace mproc_test {
namespace {

std::map<std::string, HelperFn> &registry() {
  static std::map<std::string, HelperFn> helpers;
  return helpers;
}

std::wstring widen(const std::string &s) {
  int n = MultiByteToWideChar(CP_ACP, 0, s.c_str(), -1, NULL, 0);
  std::wstring w(n > 0 ? (size_t)n : 1, L'\0');
  if (n > 0)
    MultiByteToWideChar(CP_ACP, 0, s.c_str(), -1, &w[0], n);
  w.resize(wcslen(w.c_str()));
  return w;
}

// Test arguments are plain words: quoting them is enough.
void append_arg(std::wstring *cmd, const std::wstring &arg) {
  if (!cmd->empty())
    *cmd += L' ';
  *cmd += L'"';
  *cmd += arg;
  *cmd += L'"';
}

std::wstring self_path() {
  wchar_t buf[32768];
  DWORD n = GetModuleFileNameW(NULL, buf, 32768);
  return std::wstring(buf, n);
}

} // namespace

HelperRegistrar::HelperRegistrar(const char *name, HelperFn fn) {
  registry()[name] = fn;
}

bool run_helper_if_asked(int argc, char **argv, int *exit_code) {
  if (argc < 3 || strcmp(argv[1], "--mproc-helper") != 0)
    return false;
  auto it = registry().find(argv[2]);
  if (it == registry().end()) {
    fprintf(stderr, "no helper named %s\n", argv[2]);
    *exit_code = 126;
    return true;
  }
  *exit_code = it->second(argc - 3, argv + 3);
  return true;
}

char **g_argv;
std::vector<std::string> g_args;

int scaled_ms(int ms) {
  const char *m = getenv("MPROC_TEST_TIMEOUT_MULTIPLIER");
  int k = m ? atoi(m) : 1;
  return ms * (k > 0 ? k : 1);
}

HelperProcess::~HelperProcess() {
  if (process_) {
    if (WaitForSingleObject(process_, 0) == WAIT_TIMEOUT)
      TerminateProcess(process_, 1);
    WaitForSingleObject(process_, 10000);
    CloseHandle(process_);
  }
  if (out_)
    CloseHandle(out_);
}

bool HelperProcess::start(const std::string &name,
                          const std::vector<std::string> &args) {
  SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
  HANDLE read_end = NULL, write_end = NULL;
  if (!CreatePipe(&read_end, &write_end, &inherit, 0))
    return false;
  SetHandleInformation(read_end, HANDLE_FLAG_INHERIT, 0);

  std::wstring exe = self_path(), cmd;
  append_arg(&cmd, exe);
  append_arg(&cmd, L"--mproc-helper");
  append_arg(&cmd, widen(name));
  for (const auto &a : args)
    append_arg(&cmd, widen(a));

  // The helper inherits its stdout pipe and nothing else this test holds.
  SIZE_T size = 0;
  InitializeProcThreadAttributeList(NULL, 1, 0, &size);
  std::vector<char> list(size);
  auto *attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list.data());
  bool ok =
      InitializeProcThreadAttributeList(attrs, 1, 0, &size) &&
      UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                &write_end, sizeof write_end, NULL, NULL);
  STARTUPINFOEXW si;
  ZeroMemory(&si, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdOutput = write_end;
  si.lpAttributeList = attrs;
  PROCESS_INFORMATION pi;
  if (ok)
    ok = CreateProcessW(exe.c_str(), &cmd[0], NULL, NULL, TRUE,
                        EXTENDED_STARTUPINFO_PRESENT, NULL, NULL,
                        &si.StartupInfo, &pi) != 0;
  DeleteProcThreadAttributeList(attrs);
  CloseHandle(write_end);
  if (!ok) {
    CloseHandle(read_end);
    return false;
  }
  CloseHandle(pi.hThread);
  process_ = pi.hProcess;
  pid_ = pi.dwProcessId;
  out_ = read_end;
  return true;
}

bool HelperProcess::read_line(std::string *line, int timeout_ms) {
  ULONGLONG deadline = GetTickCount64() + (ULONGLONG)timeout_ms;
  for (;;) {
    size_t nl = buffered_.find('\n');
    if (nl != std::string::npos) {
      *line = buffered_.substr(0, nl);
      if (!line->empty() && line->back() == '\r')
        line->pop_back();
      buffered_.erase(0, nl + 1);
      return true;
    }
    // An anonymous pipe cannot be waited on with a timeout: peek, then
    // nap. Test code only; the library itself never polls.
    DWORD avail = 0;
    if (!PeekNamedPipe(out_, NULL, 0, NULL, &avail, NULL))
      return false;
    if (avail > 0) {
      char buf[512];
      DWORD got = 0;
      if (!ReadFile(out_, buf, avail < sizeof buf ? avail : sizeof buf, &got,
                    NULL))
        return false;
      buffered_.append(buf, got);
      continue;
    }
    if (GetTickCount64() >= deadline)
      return false;
    Sleep(5);
  }
}

bool HelperProcess::wait(int timeout_ms, DWORD *exit_code) {
  if (WaitForSingleObject(process_, (DWORD)timeout_ms) != WAIT_OBJECT_0)
    return false;
  return GetExitCodeProcess(process_, exit_code) != 0;
}

long run_helper(const std::string &name, const std::vector<std::string> &args,
                int timeout_ms) {
  HelperProcess h;
  DWORD code = 0;
  if (!h.start(name, args))
    return -2;
  if (!h.wait(timeout_ms, &code))
    return -1;
  return (long)code;
}

} // namespace mproc_test
