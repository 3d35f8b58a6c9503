// SPDX-License-Identifier: MIT
// Process inspection: mproc_proc_info(), mproc_proc_list() and the mproc-ps
// tool, checked against processes this test starts, against what the
// system says of this process itself (/proc on Linux, the process's own
// command line on Windows), and, on POSIX, against ps(1).
//
// Children are started through mproc (Process, and spawn for the tree) or
// through the test helpers; only the zombie is a raw fork(). Each is ended
// by its handle or its pid and waited for before the test ends; every wait
// is bounded.
//
// What Windows does not have is compiled out there, test by test, with the
// reason beside it: zombies, stopped processes, ps(1). Windows reports
// every process it can open as running (it has no sleeping state), names a
// process by its executable's file name, and holds a command line in
// UTF-16, which mproc reports in UTF-8.
#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <shellapi.h>
#else
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "helpers.h"
#include "mproc.h"

using mproc_test::now_ms;
using mproc_test::scaled_ms;
using mproc_test::sleep_ms;

namespace {

// A record that frees itself.
struct Info {
  mproc_proc_info_t info;
  int rc;
  explicit Info(mproc_pid_t pid) { rc = mproc_proc_info(pid, &info); }
  ~Info() { mproc_proc_info_free(&info); }
  Info(const Info &) = delete;
  Info &operator=(const Info &) = delete;
};

TEST(Procinfo, CpuTimeGrowsWithWork) {
  Info before(mproc_getpid());
  ASSERT_EQ(before.rc, 0);
  uint64_t t0 = before.info.user_time_us + before.info.system_time_us, t1 = t0;
  // Burn CPU until the reported time grows. On a busy machine 100 ms of wall
  // time may bring less CPU time than the system's accounting tick, so the
  // bound is a generous wall-clock deadline, checked every 20 ms of work.
  volatile uint64_t x = 0;
  int64_t give_up = now_ms() + 10000;
  while (t1 <= t0 && now_ms() < give_up) {
    int64_t end = now_ms() + 20;
    while (now_ms() < end)
      x = x + 1;
    Info after(mproc_getpid());
    ASSERT_EQ(after.rc, 0);
    t1 = after.info.user_time_us + after.info.system_time_us;
  }
  EXPECT_GT(t1, t0);
}

// ---- small utilities -----------------------------------------------------

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

#ifndef _WIN32
std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
#endif

#ifdef _WIN32
std::string utf8_of(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  std::string s(n > 0 ? (size_t)n : 1, '\0');
  if (n > 0)
    WideCharToMultiByte(CP_UTF8, 0, w, -1, &s[0], n, NULL, NULL);
  s.resize(strlen(s.c_str()));
  return s;
}

// Wine, which the Windows build is tested under, exports this from ntdll.
bool under_wine() {
  return GetProcAddress(GetModuleHandleW(L"ntdll.dll"), "wine_get_version") !=
         NULL;
}
#endif

// An argument given to a child as mproc_proc_info() reports it back. The
// test helpers pass each argument through the ANSI code page, as the C
// runtime reads it back; Windows keeps the command line in UTF-16, and mproc
// reports it in UTF-8. POSIX keeps the bytes.
std::string as_reported(const std::string &arg) {
#ifdef _WIN32
  int n = MultiByteToWideChar(CP_ACP, 0, arg.c_str(), -1, NULL, 0);
  std::wstring w(n > 0 ? (size_t)n : 1, L'\0');
  if (n > 0)
    MultiByteToWideChar(CP_ACP, 0, arg.c_str(), -1, &w[0], n);
  return utf8_of(w.c_str());
#else
  return arg;
#endif
}

// The system's short name of this process: the kernel's comm on Linux, the
// executable's file name on Windows.
std::string self_comm() {
#ifdef _WIN32
  std::string self = mproc_test::self_path();
  return self.substr(self.find_last_of("\\/") + 1);
#else
  std::string c = read_file("/proc/self/comm");
  if (!c.empty() && c.back() == '\n')
    c.pop_back();
  return c;
#endif
}

// This process's command line as the system holds it: /proc/self/cmdline
// split at its NULs, or Windows's own line split as the C runtime does.
std::vector<std::string> self_command_line() {
  std::vector<std::string> args;
#ifdef _WIN32
  int argc = 0;
  wchar_t **wide = CommandLineToArgvW(GetCommandLineW(), &argc);
  for (int k = 0; wide && k < argc; k++)
    args.push_back(utf8_of(wide[k]));
  LocalFree(wide);
#else
  std::string raw = read_file("/proc/self/cmdline");
  size_t start = 0;
  for (size_t k = 0; k < raw.size(); k++)
    if (raw[k] == '\0') {
      args.push_back(raw.substr(start, k - start));
      start = k + 1;
    }
#endif
  return args;
}

// A pid that no process has: one past Linux's pid_max, the largest pid the
// kernel hands out; on Windows, where pids are multiples of 4, an odd one.
mproc_pid_t missing_pid() {
#ifdef _WIN32
  return 0x7ffffffd;
#else
  return atol(read_file("/proc/sys/kernel/pid_max").c_str()) + 1;
#endif
}

// A process of the system that every listing of all processes must show:
// init (pid 1) on POSIX, the service control manager on Windows.
bool is_system_process(mproc_pid_t pid, const std::string &name) {
#ifdef _WIN32
  (void)pid;
  return _stricmp(name.c_str(), "services.exe") == 0;
#else
  (void)name;
  return pid == 1;
#endif
}

std::vector<std::string> argv_of(const mproc_proc_info_t &info) {
  std::vector<std::string> v;
  for (size_t i = 0; i < info.argc; i++)
    v.push_back(info.argv[i]);
  return v;
}

struct List {
  mproc_proc_info_t *items = nullptr;
  size_t count = 0;
  int rc;
  List(mproc_proc_scope_t scope, mproc_pid_t pid) {
    rc = mproc_proc_list(scope, pid, &items, &count);
  }
  ~List() { mproc_proc_list_free(items, count); }
  List(const List &) = delete;
  List &operator=(const List &) = delete;
  std::vector<mproc_pid_t> pids() const {
    std::vector<mproc_pid_t> v;
    for (size_t i = 0; i < count; i++)
      v.push_back(items[i].pid);
    return v;
  }
};

// Polls until the process shows `state` (bounded); returns the last state.
mproc_proc_state_t wait_state(mproc_pid_t pid, mproc_proc_state_t state) {
  mproc_proc_state_t last = MPROC_PROC_UNKNOWN;
  mproc_test::wait_until([&] {
    Info i(pid);
    if (i.rc == 0)
      last = i.info.state;
    return last == state;
  });
  return last;
}

// ---- children --------------------------------------------------------------

int sleep_until_killed(const void *, size_t) {
  sleep_ms(scaled_ms(60000)); // not synchronisation: the test kills it
  return 0;
}
MPROC_TARGET(sleep_until_killed);

mproc_process_t *start_child(mproc_target_fn fn, const void *arg, size_t size,
                             mproc_start_method_t method) {
  mproc_process_options_t options = {};
  options.start_method = method;
  mproc_process_t *p = nullptr;
  if (mproc_process_create(&p, fn, arg, size, &options) != 0)
    return nullptr;
  if (mproc_process_start(p) != 0) {
    mproc_process_free(p);
    return nullptr;
  }
  return p;
}

// Waits for a child's end (bounded), kills it if it is stuck, frees it.
// Returns false when it had to be killed.
bool finish_child(mproc_process_t *p, int timeout_ms) {
  bool ended = mproc_process_join(p, scaled_ms(timeout_ms)) == 0;
  if (!ended) {
    mproc_process_kill(p);
    mproc_process_join(p, scaled_ms(10000));
  }
  mproc_process_free(p);
  return ended;
}

// A child of this process, started through mproc by the program's default
// method (fork on POSIX, spawn on Windows), asleep until the test kills it.
struct BlockedChild {
  mproc_process_t *p = nullptr;
  mproc_pid_t pid = -1;
  BlockedChild() {
    p = start_child(sleep_until_killed, nullptr, 0, MPROC_START_DEFAULT);
    if (p)
      pid = mproc_process_pid(p);
  }
  ~BlockedChild() {
    if (!p)
      return;
    mproc_process_kill(p);
    finish_child(p, 10000);
  }
};

// A run of this test binary's helper `block_until_killed` with extra
// arguments. argv is its command line as mproc_proc_info() reports it.
struct SpawnedHelper {
  mproc_test::Fifo ready;
  std::unique_ptr<mproc_test::StartedHelper> helper;
  mproc_pid_t pid = -1;
  std::vector<std::string> argv;
  explicit SpawnedHelper(const std::vector<std::string> &extra) {
    // The channel's path goes last, so the extra arguments start at
    // argv[3] as they would without it.
    std::vector<std::string> args = extra;
    args.push_back(ready.path());
    helper.reset(new mproc_test::StartedHelper("block_until_killed", args));
    // A new program's arguments may not be in place yet when the call that
    // started it returns; the helper says when it runs.
    char b;
    if (helper->pid() > 0 && ready.read(&b, 1, 10000))
      pid = helper->pid();
    argv = {mproc_test::self_path(), "--mproc-helper", "block_until_killed"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto &a : argv)
      a = as_reported(a);
  }
};

MPROC_TEST_HELPER(block_until_killed) {
  if (argc < 1)
    return 2;
  const char *path = argv[argc - 1];
  char b = 'r';
  if (!mproc_test::write_to_fifo(path, strlen(path), &b, 1))
    return 1;
  sleep_ms(scaled_ms(60000)); // not synchronisation: the test kills it
  return 0;
}

MPROC_TEST_HELPER(exit_at_once) {
  (void)argc;
  (void)argv;
  return 0;
}

// ---- running programs ----------------------------------------------------

using Ran = mproc_test::HelperResult;

// Runs a program with stdout and stderr captured (neither is a terminal).
// COLUMNS is removed from the environment, then `env` added.
Ran run_program(const std::vector<std::string> &args,
                const std::vector<std::string> &env = {}) {
#ifdef _WIN32
  // A Windows program inherits this process's environment: it is changed
  // for the run and put back after (the tests of a binary run one by one).
  const char *was = getenv("COLUMNS");
  std::string saved = was ? was : "";
  _putenv("COLUMNS=");
  for (auto &e : env)
    _putenv(e.c_str());
  Ran r = mproc_test::run_program(args, 20000);
  for (auto &e : env)
    _putenv((e.substr(0, e.find('=') + 1)).c_str());
  if (was)
    _putenv(("COLUMNS=" + saved).c_str());
  return r;
#else
  std::vector<std::string> envs;
  for (char **e = environ; *e; e++)
    if (strncmp(*e, "COLUMNS=", 8) != 0)
      envs.push_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  return mproc_test::run_program_env(args, envs, 20000);
#endif
}

#ifdef MPROC_PS_PATH
// Under Wine the test is a Windows process, and it starts mproc-ps.exe as
// one: no emulator in between.
Ran mproc_ps(std::vector<std::string> args,
             const std::vector<std::string> &env = {}) {
  args.insert(args.begin(), MPROC_PS_PATH);
  return run_program(args, env);
}
#define REQUIRE_MPROC_PS()
#else
Ran mproc_ps(std::vector<std::string>, const std::vector<std::string> & = {}) {
  return Ran();
}
#define REQUIRE_MPROC_PS() GTEST_SKIP() << "mproc-ps is not built"
#endif

std::vector<std::string> lines_of(const std::string &s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line))
    v.push_back(line);
  return v;
}

size_t count_code_points(const std::string &s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80)
      n++;
  return n;
}

// ---- a small JSON reader, enough to check mproc-ps --json ---------------

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  const Json &operator[](const std::string &k) const {
    static const Json null;
    auto it = fields.find(k);
    return it == fields.end() ? null : it->second;
  }
  long long integer() const { return (long long)num; }
};

class JsonParser {
public:
  explicit JsonParser(const std::string &s) : s_(s) {}
  bool parse(Json *out) {
    if (!value(out))
      return false;
    ws();
    return i_ == s_.size();
  }

private:
  const std::string &s_;
  size_t i_ = 0;

  void ws() {
    while (i_ < s_.size() && strchr(" \t\r\n", s_[i_]) && s_[i_])
      i_++;
  }
  bool lit(const char *w) {
    size_t n = strlen(w);
    if (s_.compare(i_, n, w) != 0)
      return false;
    i_ += n;
    return true;
  }
  bool hex4(unsigned *v) {
    if (i_ + 4 > s_.size())
      return false;
    *v = 0;
    for (int k = 0; k < 4; k++) {
      char c = s_[i_++];
      *v <<= 4;
      if (c >= '0' && c <= '9')
        *v |= (unsigned)(c - '0');
      else if (c >= 'a' && c <= 'f')
        *v |= (unsigned)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        *v |= (unsigned)(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  static void utf8(std::string *o, unsigned cp) {
    if (cp < 0x80) {
      *o += (char)cp;
    } else if (cp < 0x800) {
      *o += (char)(0xc0 | (cp >> 6));
      *o += (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *o += (char)(0xe0 | (cp >> 12));
      *o += (char)(0x80 | ((cp >> 6) & 0x3f));
      *o += (char)(0x80 | (cp & 0x3f));
    } else {
      *o += (char)(0xf0 | (cp >> 18));
      *o += (char)(0x80 | ((cp >> 12) & 0x3f));
      *o += (char)(0x80 | ((cp >> 6) & 0x3f));
      *o += (char)(0x80 | (cp & 0x3f));
    }
  }
  bool string(std::string *o) {
    if (i_ >= s_.size() || s_[i_] != '"')
      return false;
    i_++;
    while (i_ < s_.size()) {
      unsigned char c = (unsigned char)s_[i_++];
      if (c == '"')
        return true;
      if (c < 0x20)
        return false; // raw control bytes are not JSON
      if (c != '\\') {
        *o += (char)c;
        continue;
      }
      if (i_ >= s_.size())
        return false;
      char e = s_[i_++];
      switch (e) {
      case '"':
        *o += '"';
        break;
      case '\\':
        *o += '\\';
        break;
      case '/':
        *o += '/';
        break;
      case 'b':
        *o += '\b';
        break;
      case 'f':
        *o += '\f';
        break;
      case 'n':
        *o += '\n';
        break;
      case 'r':
        *o += '\r';
        break;
      case 't':
        *o += '\t';
        break;
      case 'u': {
        unsigned cp;
        if (!hex4(&cp))
          return false;
        if (cp >= 0xd800 && cp < 0xdc00) {
          unsigned lo;
          if (!lit("\\u") || !hex4(&lo) || lo < 0xdc00 || lo > 0xdfff)
            return false;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp < 0xe000) {
          return false;
        }
        utf8(o, cp);
        break;
      }
      default:
        return false;
      }
    }
    return false;
  }
  bool value(Json *v) {
    ws();
    if (i_ >= s_.size())
      return false;
    char c = s_[i_];
    if (c == 'n')
      return lit("null");
    if (c == 't' || c == 'f') {
      v->kind = Json::Bool;
      v->b = c == 't';
      return lit(c == 't' ? "true" : "false");
    }
    if (c == '"') {
      v->kind = Json::String;
      return string(&v->str);
    }
    if (c == '[') {
      v->kind = Json::Array;
      i_++;
      ws();
      if (i_ < s_.size() && s_[i_] == ']')
        return ++i_, true;
      for (;;) {
        v->items.emplace_back();
        if (!value(&v->items.back()))
          return false;
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          i_++;
          continue;
        }
        return i_ < s_.size() && s_[i_++] == ']';
      }
    }
    if (c == '{') {
      v->kind = Json::Object;
      i_++;
      ws();
      if (i_ < s_.size() && s_[i_] == '}')
        return ++i_, true;
      for (;;) {
        std::string key;
        ws();
        if (!string(&key))
          return false;
        ws();
        if (i_ >= s_.size() || s_[i_++] != ':')
          return false;
        if (!value(&v->fields[key]))
          return false;
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          i_++;
          continue;
        }
        return i_ < s_.size() && s_[i_++] == '}';
      }
    }
    size_t start = i_;
    while (i_ < s_.size() && strchr("+-0123456789.eE", s_[i_]) && s_[i_])
      i_++;
    if (start == i_)
      return false;
    v->kind = Json::Number;
    v->num = strtod(s_.substr(start, i_ - start).c_str(), nullptr);
    return true;
  }
};

bool parse_json(const std::string &s, Json *out) {
  return JsonParser(s).parse(out);
}

const Json *find_pid(const Json &array, long long pid) {
  for (auto &p : array.items)
    if (p["pid"].integer() == pid)
      return &p;
  return nullptr;
}

// The user this process runs as, as mproc names it: the user database's
// name of the effective uid on POSIX; DOMAIN\\user of the token on Windows.
std::string self_user() {
#ifdef _WIN32
  HANDLE token;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
    return "?";
  union {
    TOKEN_USER user;
    unsigned char bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  } tu;
  DWORD len = 0;
  BOOL ok = GetTokenInformation(token, TokenUser, &tu, sizeof tu, &len);
  CloseHandle(token);
  char name[256], domain[256];
  DWORD name_len = sizeof name, domain_len = sizeof domain;
  SID_NAME_USE use;
  if (!ok || !LookupAccountSidA(nullptr, tu.user.User.Sid, name, &name_len,
                                domain, &domain_len, &use))
    return "?";
  return domain[0] ? std::string(domain) + "\\" + name : std::string(name);
#else
  struct passwd *pw = getpwuid(geteuid());
  return pw ? pw->pw_name : std::to_string(geteuid());
#endif
}

// ---- mproc_proc_info ------------------------------------------------------

TEST(Procinfo, SelfIsDescribedWhole) {
  Info i(mproc_getpid());
  ASSERT_EQ(i.rc, 0) << mproc_strerror(i.rc);
  const mproc_proc_info_t &p = i.info;
  EXPECT_EQ(p.valid, (unsigned)MPROC_PROC_HAS_ALL);
  EXPECT_EQ(p.pid, mproc_getpid());
  // 0 under Wine, whose first process has no Windows parent.
  EXPECT_EQ(p.ppid, mproc_getppid());
  EXPECT_EQ(std::string(p.name), self_comm());
  // Reading its own record, the process is running.
  EXPECT_EQ(p.state, MPROC_PROC_RUNNING);
  EXPECT_EQ(p.state_code, 'R');
  EXPECT_GT(p.rss_bytes, 0u);
  EXPECT_GE(p.num_threads, 1u);
  int64_t now = wall_ms();
  EXPECT_LE(p.start_time_ms, now + 1000);
  EXPECT_GT(p.start_time_ms, now - 24LL * 3600 * 1000);

  // The command line is exactly the one the system holds for it.
  EXPECT_EQ(argv_of(p), self_command_line());
  ASSERT_NE(p.argv, nullptr);
  EXPECT_EQ(p.argv[p.argc], nullptr);

  EXPECT_EQ(std::string(p.user), self_user());
  // The reserved words are written as zeros.
  for (uint64_t word : p.reserved)
    EXPECT_EQ(word, 0u);
}

TEST(Procinfo, SleepingChild) {
#ifdef _WIN32
  // Windows has no sleeping state: a process that can be opened is running.
  const mproc_proc_state_t blocked = MPROC_PROC_RUNNING;
  const char blocked_code = 'R';
#else
  const mproc_proc_state_t blocked = MPROC_PROC_SLEEPING;
  const char blocked_code = 'S';
#endif
  BlockedChild c;
  ASSERT_GT(c.pid, 0);
  EXPECT_EQ(wait_state(c.pid, blocked), blocked);
  Info i(c.pid);
  ASSERT_EQ(i.rc, 0);
  EXPECT_EQ(i.info.ppid, mproc_getpid());
  EXPECT_EQ(i.info.state_code, blocked_code);
  EXPECT_EQ(std::string(i.info.name), self_comm());
  Info self(mproc_getpid());
  std::vector<std::string> expected = argv_of(self.info);
#ifdef _WIN32
  // A spawned child is this program again, with mproc's flag first.
  ASSERT_GE(i.info.argc, 2u);
  EXPECT_EQ(strncmp(i.info.argv[1], "--mproc-child=", 14), 0) << i.info.argv[1];
  expected.insert(expected.begin() + 1, i.info.argv[1]);
  EXPECT_EQ(argv_of(i.info), expected);
  // The loader's thread pool may add threads to any Windows process.
  EXPECT_GE(i.info.num_threads, 1u);
#else
  // A forked child keeps its parent's name; its command line is its title,
  // "<program>: <process name>" (docs/process.md).
  std::vector<std::string> got = argv_of(i.info);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rfind(self_comm() + ": Process-", 0), 0u) << got[0];
  EXPECT_EQ(i.info.num_threads, 1u);
#endif
}

#ifndef _WIN32 // Windows has no stopped processes (SIGSTOP)
TEST(Procinfo, StoppedChild) {
  BlockedChild c;
  ASSERT_GT(c.pid, 0);
  ASSERT_EQ(kill(c.pid, SIGSTOP), 0);
  EXPECT_EQ(wait_state(c.pid, MPROC_PROC_STOPPED), MPROC_PROC_STOPPED);
  Info i(c.pid);
  ASSERT_EQ(i.rc, 0);
  EXPECT_EQ(i.info.state, MPROC_PROC_STOPPED);
  EXPECT_EQ(i.info.state_code, 'T');
  EXPECT_STREQ(mproc_proc_state_name(i.info.state), "stopped");
}
#endif

#ifndef _WIN32 // Windows has no zombies: a process that ended is gone
void reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// A child that has exited and is left unreaped until the destructor. A raw
// fork: mproc reaps its own children.
struct ZombieChild {
  pid_t pid = -1;
  ZombieChild() {
    pid = fork();
    if (pid == 0)
      _exit(3);
  }
  ~ZombieChild() {
    if (pid > 0)
      reap(pid);
  }
};

TEST(Procinfo, ZombieChildThenGone) {
  pid_t pid;
  {
    ZombieChild z;
    ASSERT_GT(z.pid, 0);
    pid = z.pid;
    EXPECT_EQ(wait_state(z.pid, MPROC_PROC_ZOMBIE), MPROC_PROC_ZOMBIE);
    Info i(z.pid);
    ASSERT_EQ(i.rc, 0);
    EXPECT_EQ(i.info.state_code, 'Z');
    EXPECT_EQ(i.info.ppid, getpid());
    // A zombie keeps no memory: no command line, no resident pages.
    EXPECT_EQ(i.info.argc, 0u);
    EXPECT_EQ(i.info.argv, nullptr);
    EXPECT_TRUE(i.info.valid & MPROC_PROC_HAS_ARGV);
    EXPECT_EQ(i.info.rss_bytes, 0u);
  }
  // Reaped now: gone. (A pid is not reused this fast: Linux hands them out
  // in increasing order up to pid_max before wrapping.)
  Info gone(pid);
  EXPECT_EQ(gone.rc, MPROC_ESRCH);
}
#endif

TEST(Procinfo, CommandLineWithSpacesAndNonAscii) {
  std::vector<std::string> extra = {"two words",
                                    "  lead and trail  ",
                                    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
                                    "raw \xff\xfe bytes",
                                    "",
                                    "tab\there",
                                    "emoji \xf0\x9f\x98\x80"};
  SpawnedHelper h(extra);
  ASSERT_GT(h.pid, 0);
  Info i(h.pid);
  ASSERT_EQ(i.rc, 0);
  EXPECT_EQ(argv_of(i.info), h.argv);
  EXPECT_EQ(i.info.ppid, mproc_getpid());
  std::string base = h.argv[0].substr(h.argv[0].find_last_of("\\/") + 1);
#ifdef _WIN32
  // Toolhelp's name is the executable's whole file name.
  EXPECT_EQ(std::string(i.info.name), base);
#else
  // comm is the executable's file name, cut by the kernel to 15 bytes.
  EXPECT_EQ(std::string(i.info.name), base.substr(0, 15));
#endif
}

TEST(Procinfo, NoSuchProcess) {
  mproc_pid_t missing = missing_pid();
  ASSERT_GT(missing, 1);
  Info i(missing);
  EXPECT_EQ(i.rc, MPROC_ESRCH);
  EXPECT_EQ(i.info.argv, nullptr);
  EXPECT_EQ(i.info.valid, 0u);
  Info huge(((mproc_pid_t)1) << 40);
  EXPECT_EQ(huge.rc, MPROC_ESRCH);
  Info zero(0);
#ifdef _WIN32
  // Windows lists its idle process as pid 0, and nobody may open it; Wine
  // has no such process.
  if (!under_wine() || zero.rc != MPROC_ESRCH) {
    EXPECT_EQ(zero.rc, MPROC_EPERM) << mproc_strerror(zero.rc);
  }
#else
  EXPECT_EQ(zero.rc, MPROC_ESRCH);
#endif

  mproc_proc_info_t info;
  EXPECT_EQ(mproc_proc_info(-5, &info), MPROC_EINVAL);
  EXPECT_EQ(mproc_proc_info(mproc_getpid(), nullptr), MPROC_EINVAL);
  mproc_proc_info_free(nullptr);

  mproc_proc_info_t *list = reinterpret_cast<mproc_proc_info_t *>(1);
  size_t count = 7;
  EXPECT_EQ(mproc_proc_list(MPROC_PROC_CHILDREN, missing, &list, &count),
            MPROC_ESRCH);
  EXPECT_EQ(list, nullptr);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(mproc_proc_list(MPROC_PROC_ALL, 0, nullptr, &count), MPROC_EINVAL);
  EXPECT_EQ(mproc_proc_list((mproc_proc_scope_t)9, 0, &list, &count),
            MPROC_EINVAL);
  EXPECT_EQ(mproc_proc_list(MPROC_PROC_SUBTREE, -1, &list, &count),
            MPROC_EINVAL);
  mproc_proc_list_free(nullptr, 0);
}

// A child read while it exits and is reaped by another thread: every answer
// is either "no such process" or a whole record of that child.
TEST(Procinfo, ProcessExitingDuringReadIsCleanEsrch) {
  const std::string comm = self_comm();
  const mproc_pid_t self = mproc_getpid();
  int records = 0, gone = 0, zombies = 0;
#ifdef _WIN32
  // Starting a Windows process costs far more (under Wine most of all).
  const int children = 100;
#else
  const int children = 1000;
#endif

  for (int n = 0; n < children; n++) {
    mproc_test::StartedHelper child("exit_at_once", {});
    const mproc_pid_t pid = child.pid();
    ASSERT_GT(pid, 0);
    // The reaper waits for the child's end and reaps it (on Windows, the
    // helper's handle keeps the pid from being given to another process).
    std::atomic<bool> reaped(false);
    std::thread reaper([&] {
      child.wait(10000);
      reaped = true;
    });
    struct Join {
      std::thread &t;
      ~Join() { t.join(); }
    } join{reaper};
    int rc = 0;
    // Reads until the child is gone; the yield lets the child and the reaper
    // run on a busy machine, and the count bounds the loop.
    for (int k = 0; k < 2000 && rc != MPROC_ESRCH; k++) {
      if (k > 0)
        std::this_thread::yield();
      bool was_reaped = reaped.load();
      Info i(pid);
      rc = i.rc;
      if (rc == MPROC_ESRCH) {
        gone++;
        EXPECT_EQ(i.info.valid, 0u);
        EXPECT_EQ(i.info.argv, nullptr);
        break;
      }
      ASSERT_EQ(rc, 0) << mproc_strerror(rc);
      if (was_reaped)
        break; // the pid could belong to someone else now
      records++;
      ASSERT_EQ(i.info.pid, pid);
      ASSERT_EQ(i.info.ppid, self);
      ASSERT_EQ(i.info.valid, (unsigned)MPROC_PROC_HAS_ALL);
      ASSERT_EQ(std::string(i.info.name), comm);
      ASSERT_NE(i.info.state, MPROC_PROC_UNKNOWN);
      if (i.info.state == MPROC_PROC_ZOMBIE) {
        zombies++;
        ASSERT_EQ(i.info.argc, 0u);
      }
      for (size_t a = 0; a < i.info.argc; a++)
        ASSERT_NE(i.info.argv[a], nullptr);
    }
  }
  EXPECT_GT(gone, 0);
  EXPECT_GT(records, 0);
  RecordProperty("records", records);
  RecordProperty("zombies", zombies);
  RecordProperty("gone", gone);
}

// ---- listing --------------------------------------------------------------

// What a process of the tree is given: the event that lets it end and the
// channel on which it says who it and its parent are.
struct TreeArg {
  mproc_event_t release;
  char channel[1024];
};

int tree_leaf(const void *arg, size_t size) {
  TreeArg a;
  if (size != sizeof a)
    return 2;
  memcpy(&a, arg, sizeof a);
  int64_t me[2] = {mproc_getpid(), mproc_getppid()};
  if (!mproc_test::write_to_fifo(a.channel, strlen(a.channel), me, sizeof me))
    return 1;
  return mproc_event_wait(&a.release, scaled_ms(60000)) == 0 ? 0 : 1;
}
MPROC_TARGET(tree_leaf);

// A middle process: starts four leaves, is a leaf itself, then joins them.
int tree_middle(const void *arg, size_t size) {
  mproc_process_t *kids[4];
  for (auto &k : kids)
    k = start_child(tree_leaf, arg, size, MPROC_START_SPAWN);
  int code = tree_leaf(arg, size);
  for (auto k : kids) {
    if (!k)
      code = 1;
    else if (!finish_child(k, 10000))
      code = 1;
  }
  return code;
}
MPROC_TARGET(tree_middle);

// Four children of this process, each with four children of its own: a tree
// of twenty processes, all started through mproc by spawn, that wait for
// the test to set an event, then leave (each middle process joins its own
// children first).
struct Tree {
  std::vector<mproc_pid_t> children;
  std::map<mproc_pid_t, std::vector<mproc_pid_t>> grandchildren;
  std::vector<mproc_pid_t> all;
  std::vector<mproc_process_t *> handles;
  mproc_test::Fifo channel;
  TreeArg arg;
  bool have_event = false;

  Tree() {
    memset(&arg, 0, sizeof arg);
    if (channel.path().size() >= sizeof arg.channel ||
        mproc_event_create(&arg.release) != 0)
      return;
    have_event = true;
    memcpy(arg.channel, channel.path().c_str(), channel.path().size());
    for (int c = 0; c < 4; c++) {
      mproc_process_t *p =
          start_child(tree_middle, &arg, sizeof arg, MPROC_START_SPAWN);
      if (!p)
        continue;
      handles.push_back(p);
      children.push_back(mproc_process_pid(p));
    }
    for (int k = 0; k < 20; k++) {
      int64_t rec[2];
      if (!channel.read(rec, sizeof rec, 30000))
        break;
      all.push_back(rec[0]);
      if (rec[1] != mproc_getpid())
        grandchildren[rec[1]].push_back(rec[0]);
    }
    for (auto &g : grandchildren)
      std::sort(g.second.begin(), g.second.end());
    std::sort(children.begin(), children.end());
  }

  ~Tree() {
    if (have_event)
      mproc_event_set(&arg.release);
    for (mproc_process_t *p : handles) {
      if (mproc_process_join(p, scaled_ms(10000)) != 0)
        // Stuck: kill what this test started, by pid, and nothing else.
        for (mproc_pid_t g : grandchildren[mproc_process_pid(p)])
          mproc_test::kill_pid(g);
      finish_child(p, 0);
    }
    if (have_event)
      mproc_event_destroy(&arg.release);
  }
};

TEST(ProcList, FindsEveryProcessOfATreeOfTwenty) {
  Tree t;
  ASSERT_EQ(t.children.size(), 4u);
  ASSERT_EQ(t.all.size(), 20u);
  const mproc_pid_t self = mproc_getpid();

  List kids(MPROC_PROC_CHILDREN, self);
  ASSERT_EQ(kids.rc, 0);
  std::vector<mproc_pid_t> got = kids.pids();
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  for (mproc_pid_t c : t.children)
    EXPECT_NE(std::find(got.begin(), got.end(), c), got.end()) << c;
  for (size_t i = 0; i < kids.count; i++)
    EXPECT_EQ(kids.items[i].ppid, self);

  for (mproc_pid_t c : t.children) {
    List g(MPROC_PROC_CHILDREN, c);
    ASSERT_EQ(g.rc, 0);
    EXPECT_EQ(g.pids(), t.grandchildren[c]);
  }

  // The subtree: all twenty, each parent before its children.
  List sub(MPROC_PROC_SUBTREE, self);
  ASSERT_EQ(sub.rc, 0);
  std::vector<mproc_pid_t> order = sub.pids();
  for (mproc_pid_t p : t.all)
    EXPECT_NE(std::find(order.begin(), order.end(), p), order.end()) << p;
  for (auto &g : t.grandchildren) {
    auto parent = std::find(order.begin(), order.end(), g.first);
    for (mproc_pid_t k : g.second)
      EXPECT_LT(parent, std::find(order.begin(), order.end(), k));
  }

  List all(MPROC_PROC_ALL, 0);
  ASSERT_EQ(all.rc, 0);
  std::vector<mproc_pid_t> every = all.pids();
  EXPECT_TRUE(std::is_sorted(every.begin(), every.end()));
  for (mproc_pid_t p : t.all)
    EXPECT_TRUE(std::binary_search(every.begin(), every.end(), p)) << p;
  EXPECT_TRUE(std::binary_search(every.begin(), every.end(), self));
  bool system = false;
  for (size_t i = 0; i < all.count; i++)
    system = system || is_system_process(all.items[i].pid, all.items[i].name);
  EXPECT_TRUE(system);
}

TEST(ProcList, ChildlessProcessHasEmptyList) {
  BlockedChild c;
  ASSERT_GT(c.pid, 0);
  List l(MPROC_PROC_SUBTREE, c.pid);
  EXPECT_EQ(l.rc, 0);
  EXPECT_EQ(l.count, 0u);
  EXPECT_EQ(l.items, nullptr);
}

// ---- mproc-ps ------------------------------------------------------------

TEST(MprocPs, JsonMatchesTheApi) {
  REQUIRE_MPROC_PS();
  std::vector<std::string> extra = {"a b",           "caf\xc3\xa9",
                                    "q\"uo\\te",     "ctl\x01\x1f\x7f",
                                    "bad \xff byte", "\xf0\x9f\x98\x80"};
  SpawnedHelper h(extra);
  ASSERT_GT(h.pid, 0);
  const mproc_pid_t self = mproc_getpid();
  Ran r = mproc_ps({"--json", std::to_string(self), std::to_string(h.pid)});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  for (unsigned char c : r.out)
    ASSERT_TRUE(c < 0x80) << "the document is plain ASCII";
  Json doc;
  ASSERT_TRUE(parse_json(r.out, &doc)) << r.out;
  ASSERT_EQ(doc.kind, Json::Array);
  ASSERT_EQ(doc.items.size(), 2u);

  for (mproc_pid_t pid : {self, h.pid}) {
    const Json *p = find_pid(doc, pid);
    ASSERT_NE(p, nullptr);
    Info i(pid);
    ASSERT_EQ(i.rc, 0);
    EXPECT_EQ((*p)["ppid"].integer(), i.info.ppid);
    EXPECT_EQ((*p)["name"].str, std::string(i.info.name));
    EXPECT_EQ((*p)["user"].str, std::string(i.info.user));
    EXPECT_EQ((*p)["threads"].integer(), (long long)i.info.num_threads);
    EXPECT_NEAR((double)(*p)["start_time_ms"].integer(),
                (double)i.info.start_time_ms, 50.0);
    EXPECT_EQ((*p)["argv"].items.size(), i.info.argc);
    EXPECT_EQ((*p)["state"].kind, Json::String);
    EXPECT_EQ((*p)["stat"].str.size(), 1u);
    EXPECT_GT((*p)["rss_bytes"].num, 0);
  }
  const Json &argv = (*find_pid(doc, h.pid))["argv"];
  ASSERT_EQ(argv.items.size(), h.argv.size());
  EXPECT_EQ(argv.items[3].str, "a b");
  EXPECT_EQ(argv.items[4].str, as_reported("caf\xc3\xa9"));
  EXPECT_EQ(argv.items[5].str, "q\"uo\\te");
  EXPECT_EQ(argv.items[6].str, "ctl\x01\x1f\x7f");
#ifdef _WIN32
  // Windows holds the command line as UTF-16 text: every byte the helper
  // was given arrives as a character.
  EXPECT_EQ(argv.items[7].str, as_reported("bad \xff byte"));
#else
  // A byte that is not UTF-8 cannot be JSON text: it becomes U+FFFD.
  EXPECT_EQ(argv.items[7].str, "bad \xef\xbf\xbd byte");
#endif
  EXPECT_EQ(argv.items[8].str, as_reported("\xf0\x9f\x98\x80"));
}

TEST(MprocPs, JsonListsEveryProcessAndSorts) {
  REQUIRE_MPROC_PS();
  Ran r = mproc_ps({"--json", "--sort", "-rss"});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  Json doc;
  ASSERT_TRUE(parse_json(r.out, &doc));
  ASSERT_EQ(doc.kind, Json::Array);
  EXPECT_NE(find_pid(doc, mproc_getpid()), nullptr);
  bool system = false;
  for (auto &p : doc.items)
    system = system || is_system_process(p["pid"].integer(), p["name"].str);
  EXPECT_TRUE(system);
  for (size_t k = 1; k < doc.items.size(); k++)
    EXPECT_GE(doc.items[k - 1]["rss_bytes"].num, doc.items[k]["rss_bytes"].num);
}

TEST(MprocPs, TreeOfTwentyAsTextAndJson) {
  REQUIRE_MPROC_PS();
  Tree t;
  ASSERT_EQ(t.all.size(), 20u);
  std::string self = std::to_string(mproc_getpid());

  Ran j = mproc_ps({"--json", "--tree", "--children", self});
  ASSERT_EQ(j.exit_code(), 0) << j.err;
  Json doc;
  ASSERT_TRUE(parse_json(j.out, &doc)) << j.out;
  for (mproc_pid_t c : t.children) {
    const Json *node = find_pid(doc, c);
    ASSERT_NE(node, nullptr) << "child " << c << " is a root";
    std::vector<mproc_pid_t> kids;
    for (auto &k : (*node)["children"].items) {
      kids.push_back(k["pid"].integer());
      EXPECT_EQ(k["ppid"].integer(), c);
    }
    EXPECT_EQ(kids, t.grandchildren[c]);
  }

  // Text: a child at the left margin, its children below it marked "\_ ".
  Ran r = mproc_ps({"--tree", "--children", self});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  size_t name_col = lines[0].find("NAME");
  ASSERT_NE(name_col, std::string::npos);
  std::map<long long, size_t> line_of;
  for (size_t k = 1; k < lines.size(); k++) {
    long long pid = atoll(lines[k].c_str());
    line_of[pid] = k;
    bool nested = lines[k].compare(name_col, 3, "\\_ ") == 0;
    bool is_child = std::find(t.children.begin(), t.children.end(), pid) !=
                    t.children.end();
    if (std::find(t.all.begin(), t.all.end(), pid) != t.all.end()) {
      EXPECT_EQ(nested, !is_child) << lines[k];
    }
  }
  for (auto &g : t.grandchildren)
    for (mproc_pid_t k : g.second) {
      ASSERT_TRUE(line_of.count(k));
      EXPECT_LT(line_of[g.first], line_of[k]);
    }
}

#ifndef _WIN32 // Windows has no ps(1), and no stopped or zombie processes
// mproc-ps's columns against ps(1) in the same moment: the processes this
// test controls agree exactly; for the rest, processes may start, exec or
// end between the two runs, so most (not all) must agree.
TEST(MprocPs, TextColumnsMatchPs) {
  REQUIRE_MPROC_PS();
  BlockedChild sleeping, stopped;
  ZombieChild zombie;
  ASSERT_GT(sleeping.pid, 0);
  ASSERT_GT(stopped.pid, 0);
  ASSERT_GT(zombie.pid, 0);
  ASSERT_EQ(kill(stopped.pid, SIGSTOP), 0);
  ASSERT_EQ(wait_state(stopped.pid, MPROC_PROC_STOPPED), MPROC_PROC_STOPPED);
  ASSERT_EQ(wait_state(zombie.pid, MPROC_PROC_ZOMBIE), MPROC_PROC_ZOMBIE);
  ASSERT_EQ(wait_state(sleeping.pid, MPROC_PROC_SLEEPING), MPROC_PROC_SLEEPING);

  Ran ours = mproc_ps({});
  ASSERT_EQ(ours.exit_code(), 0) << ours.err;
  Ran theirs = run_program({"ps", "-e", "-o", "pid=,ppid=,stat=,comm="});
  if (theirs.status == -1 || theirs.exit_code() == 127 ||
      (theirs.exit_code() != 0 && theirs.out.empty()))
    GTEST_SKIP() << "ps is not available";
  ASSERT_EQ(theirs.exit_code(), 0);

  struct Row {
    long long ppid;
    char state;
    std::string name;
  };
  auto parse = [](const std::vector<std::string> &lines, size_t first,
                  size_t name_col) {
    std::map<long long, Row> rows;
    for (size_t k = first; k < lines.size(); k++) {
      std::istringstream in(lines[k]);
      long long pid, ppid;
      std::string stat;
      if (!(in >> pid >> ppid >> stat))
        continue;
      std::string name;
      if (name_col != std::string::npos) {
        name = lines[k].size() > name_col ? lines[k].substr(name_col) : "";
      } else {
        std::getline(in, name);
        name.erase(0, name.find_first_not_of(' '));
      }
      const std::string defunct = " <defunct>";
      if (name.size() > defunct.size() &&
          name.compare(name.size() - defunct.size(), defunct.size(), defunct) ==
              0)
        name.erase(name.size() - defunct.size());
      rows[pid] = Row{ppid, stat[0], name};
    }
    return rows;
  };
  std::vector<std::string> our_lines = lines_of(ours.out);
  ASSERT_FALSE(our_lines.empty());
  // Header: PID PPID S THR RSS TIME NAME; the name column starts under NAME.
  size_t name_col = our_lines[0].find("NAME");
  ASSERT_NE(name_col, std::string::npos);
  std::map<long long, Row> a = parse(our_lines, 1, name_col);
  std::map<long long, Row> b =
      parse(lines_of(theirs.out), 0, std::string::npos);

  struct Expect {
    mproc_pid_t pid;
    char state;
  } controlled[] = {{sleeping.pid, 'S'}, {stopped.pid, 'T'}, {zombie.pid, 'Z'}};
  for (auto &e : controlled) {
    ASSERT_TRUE(a.count(e.pid)) << e.pid;
    ASSERT_TRUE(b.count(e.pid)) << e.pid;
    EXPECT_EQ(a[e.pid].state, e.state);
    EXPECT_EQ(b[e.pid].state, e.state);
    EXPECT_EQ(a[e.pid].ppid, getpid());
    EXPECT_EQ(b[e.pid].ppid, getpid());
    EXPECT_EQ(a[e.pid].name, b[e.pid].name);
    EXPECT_EQ(a[e.pid].name, self_comm());
  }
  size_t common = 0, agree = 0;
  for (auto &row : a) {
    auto other = b.find(row.first);
    if (other == b.end())
      continue;
    common++;
    if (other->second.ppid == row.second.ppid &&
        other->second.name == row.second.name)
      agree++;
  }
  EXPECT_GT(common, 5u);
  EXPECT_GE(agree * 10, common * 9) << agree << " of " << common;
}

#endif // _WIN32

TEST(MprocPs, FitsTheWidthGivenAndIsUnlimitedOtherwise) {
  REQUIRE_MPROC_PS();
  std::string long_arg(200, 'x');
  long_arg += "\xc3\xa9nd";
  SpawnedHelper h({long_arg});
  ASSERT_GT(h.pid, 0);
  std::string pid = std::to_string(h.pid);
  const std::string shown = as_reported(long_arg);

  // Not a terminal, no COLUMNS: the whole command line.
  Ran wide = mproc_ps({"--full", pid});
  ASSERT_EQ(wide.exit_code(), 0) << wide.err;
  EXPECT_NE(wide.out.find(shown), std::string::npos);

  Ran narrow = mproc_ps({"--full", pid}, {"COLUMNS=40"});
  ASSERT_EQ(narrow.exit_code(), 0) << narrow.err;
  std::vector<std::string> lines = lines_of(narrow.out);
  ASSERT_EQ(lines.size(), 2u);
  for (auto &l : lines)
    EXPECT_LE(count_code_points(l), 40u) << l;
  EXPECT_EQ(count_code_points(lines[1]), 40u);

  // --wide wins over COLUMNS.
  Ran forced = mproc_ps({"--full", "--wide", pid}, {"COLUMNS=40"});
  EXPECT_NE(forced.out.find(shown), std::string::npos);
}

TEST(MprocPs, ExitCodes) {
  REQUIRE_MPROC_PS();
  std::string self = std::to_string(mproc_getpid());
  std::string missing = std::to_string(missing_pid());

  Ran ok = mproc_ps({self});
  EXPECT_EQ(ok.exit_code(), 0);
  EXPECT_EQ(lines_of(ok.out).size(), 2u);

  // A named pid that does not exist: 1, the others are still shown.
  Ran gone = mproc_ps({self, missing});
  EXPECT_EQ(gone.exit_code(), 1);
  EXPECT_EQ(lines_of(gone.out).size(), 2u);
  EXPECT_NE(gone.err.find(missing), std::string::npos);
  EXPECT_EQ(mproc_ps({"--children", missing}).exit_code(), 1);

  // Bad usage: 2, with one line on stderr.
  const std::vector<std::vector<std::string>> bad = {{"--bogus"},
                                                     {"--sort"},
                                                     {"--sort", "colour"},
                                                     {"--children"},
                                                     {"--children", "x"},
                                                     {"12abc"},
                                                     {"-5"},
                                                     {"--children", "1", "1"}};
  for (auto &args : bad) {
    Ran r = mproc_ps(args);
    EXPECT_EQ(r.exit_code(), 2) << args[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  Ran help = mproc_ps({"--help"});
  EXPECT_EQ(help.exit_code(), 0);
  EXPECT_NE(help.out.find("usage"), std::string::npos);
}

TEST(MprocPs, VersionAndHelp) {
  REQUIRE_MPROC_PS();
  Ran v = mproc_ps({"--version"});
  EXPECT_EQ(v.exit_code(), 0) << v.err;
  EXPECT_EQ(v.out, std::string("mproc-ps (mproc) ") + mproc_version() + "\n");
  EXPECT_TRUE(v.err.empty());

  Ran h = mproc_ps({"--help"});
  EXPECT_EQ(h.exit_code(), 0);
  for (const char *word :
       {"usage", "-C NAME", "-o COLUMN", "--tree", "--json", "--sort",
        "--version", "Exit status", "  0  success", "  1  ", "  2  bad usage",
        "pid, ppid, user, s, %cpu, thr, rss, time, start, name, command",
        "RSS(KiB)"})
    EXPECT_NE(h.out.find(word), std::string::npos) << word;
}

// The words of a line, split at runs of spaces.
std::vector<std::string> words_of(const std::string &line) {
  std::vector<std::string> w;
  std::istringstream in(line);
  std::string word;
  while (in >> word)
    w.push_back(word);
  return w;
}

TEST(MprocPs, DefaultColumnsHaveUnits) {
  REQUIRE_MPROC_PS();
  Ran r = mproc_ps({std::to_string(mproc_getpid())});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(words_of(lines[0]),
            (std::vector<std::string>{"PID", "PPID", "S", "USER", "%CPU", "THR",
                                      "RSS(KiB)", "TIME", "NAME"}));
#ifndef _WIN32 // a Windows user name may hold a space ("NT AUTHORITY\...")
  std::vector<std::string> row = words_of(lines[1]);
  ASSERT_EQ(row.size(), 9u) << lines[1];
  EXPECT_EQ(row[3], self_user());
  // %CPU: a percentage with one decimal.
  double pcpu = atof(row[4].c_str());
  EXPECT_GE(pcpu, 0.0);
  EXPECT_EQ(row[4].find('.'), row[4].size() - 2) << row[4];
#endif
}

TEST(MprocPs, ChosenColumnsAsTextAndJson) {
  REQUIRE_MPROC_PS();
  Info self(mproc_getpid());
  ASSERT_EQ(self.rc, 0);
  std::string pid = std::to_string(mproc_getpid());

  // -o in the order given; -o twice adds up; ps's names are accepted.
  Ran r = mproc_ps({"-o", "user,pid", "-orss", "-o", "comm", pid});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(words_of(lines[0]),
            (std::vector<std::string>{"USER", "PID", "RSS(KiB)", "NAME"}));
  std::string user = self.info.user;
  ASSERT_EQ(lines[1].compare(0, user.size(), user), 0) << lines[1];
  std::vector<std::string> rest = words_of(lines[1].substr(user.size()));
  ASSERT_EQ(rest.size(), 3u) << lines[1];
  EXPECT_EQ(rest[0], pid);
  EXPECT_GT(atoll(rest[1].c_str()), 0);
  EXPECT_EQ(rest[2], self_comm());

  // -f shows the command line in place of the name.
  Ran full = mproc_ps({"-o", "pid,name", "-f", pid});
  EXPECT_EQ(words_of(lines_of(full.out)[0]),
            (std::vector<std::string>{"PID", "COMMAND"}));

  // JSON holds the chosen columns' fields and the pid, nothing else.
  Ran j = mproc_ps({"--json", "-o", "user,%cpu,rss,time", pid});
  ASSERT_EQ(j.exit_code(), 0) << j.err;
  Json doc;
  ASSERT_TRUE(parse_json(j.out, &doc)) << j.out;
  ASSERT_EQ(doc.items.size(), 1u);
  std::set<std::string> keys;
  for (auto &f : doc.items[0].fields)
    keys.insert(f.first);
  EXPECT_EQ(keys,
            (std::set<std::string>{"pid", "user", "cpu_percent", "rss_bytes",
                                   "user_time_us", "system_time_us"}));
  EXPECT_EQ(doc.items[0]["user"].str, user);
  EXPECT_EQ(doc.items[0]["cpu_percent"].kind, Json::Number);
  EXPECT_GE(doc.items[0]["cpu_percent"].num, 0.0);

  // Unknown or empty columns are usage errors.
  for (auto args : std::vector<std::vector<std::string>>{
           {"-o", "colour"}, {"-o", "pid,,user"}, {"-o"}, {"--sort", "x"}}) {
    Ran bad = mproc_ps(args);
    EXPECT_EQ(bad.exit_code(), 2) << args[1 % args.size()];
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  }
}

TEST(MprocPs, SortsByAnyColumn) {
  REQUIRE_MPROC_PS();
  Ran r = mproc_ps({"--json", "--sort", "-thr", "-o", "thr"});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  Json doc;
  ASSERT_TRUE(parse_json(r.out, &doc));
  ASSERT_GT(doc.items.size(), 1u);
  for (size_t k = 1; k < doc.items.size(); k++)
    EXPECT_GE(doc.items[k - 1]["threads"].num, doc.items[k]["threads"].num);
}

TEST(MprocPs, FilterByName) {
  REQUIRE_MPROC_PS();
  SpawnedHelper a({"one"}), b({"two"});
  ASSERT_GT(a.pid, 0);
  ASSERT_GT(b.pid, 0);
  const std::string name = self_comm();
  const std::string self = std::to_string(mproc_getpid());

  // Every process of that name, this one and its helpers among them, and
  // no other.
  Ran r = mproc_ps({"--json", "-C", name});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  Json doc;
  ASSERT_TRUE(parse_json(r.out, &doc)) << r.out;
  for (mproc_pid_t pid : {mproc_getpid(), a.pid, b.pid})
    EXPECT_NE(find_pid(doc, pid), nullptr) << pid;
  for (auto &p : doc.items) {
    std::string argv0 = p["argv"].items.empty() ? "" : p["argv"].items[0].str;
    argv0 = argv0.substr(argv0.find_last_of("\\/") + 1);
    EXPECT_TRUE(p["name"].str == name || argv0 == name)
        << p["name"].str << " " << argv0;
  }

  // With --children and --tree, as text: the helpers below this process.
  Ran t = mproc_ps({"--tree", "--children", self, "-C", name + ",nosuch"});
  ASSERT_EQ(t.exit_code(), 0) << t.err;
  std::vector<std::string> lines = lines_of(t.out);
  std::set<long long> shown;
  for (size_t k = 1; k < lines.size(); k++)
    shown.insert(atoll(lines[k].c_str()));
  EXPECT_TRUE(shown.count(a.pid));
  EXPECT_TRUE(shown.count(b.pid));

#ifdef _WIN32
  // Windows compares names without case, and without ".exe".
  std::string bare = name.substr(0, name.size() - 4);
  for (auto &c : bare)
    c = (char)toupper((unsigned char)c);
  Ran w = mproc_ps({"-C", bare, self});
  EXPECT_EQ(w.exit_code(), 0) << w.err;
  EXPECT_EQ(lines_of(w.out).size(), 2u);
#endif

  // A name no process has: the header alone, and exit status 1 (as pgrep).
  Ran none = mproc_ps({"-C", "no-such-process-name"});
  EXPECT_EQ(none.exit_code(), 1);
  EXPECT_EQ(lines_of(none.out).size(), 1u);
  Ran none_json = mproc_ps({"--json", "-C", "no-such-process-name"});
  EXPECT_EQ(none_json.exit_code(), 1);
  EXPECT_EQ(none_json.out, "[\n]\n");
  // Given with pids, -C keeps those of them that have the name.
  Ran some = mproc_ps({"-C", "no-such-process-name", self});
  EXPECT_EQ(some.exit_code(), 1);
  EXPECT_EQ(mproc_ps({"-C"}).exit_code(), 2);
  EXPECT_EQ(mproc_ps({"-C", ""}).exit_code(), 2);
}

// A process may name itself with characters that reorder or break a
// terminal's line: text output shows each as '?', as it does a control
// byte; JSON keeps them, escaped.
TEST(MprocPs, TextEscapesBidiControlsAndSeparators) {
  REQUIRE_MPROC_PS();
  const std::vector<std::string> unsafe = {
      "\xe2\x80\xae",  // U+202E RIGHT-TO-LEFT OVERRIDE
      "\xe2\x80\xaa",  // U+202A LEFT-TO-RIGHT EMBEDDING
      "\xe2\x81\xa6",  // U+2066 LEFT-TO-RIGHT ISOLATE
      "\xe2\x81\xa9",  // U+2069 POP DIRECTIONAL ISOLATE
      "\xe2\x80\x8e",  // U+200E LEFT-TO-RIGHT MARK
      "\xe2\x80\x8f",  // U+200F RIGHT-TO-LEFT MARK
      "\xd8\x9c",      // U+061C ARABIC LETTER MARK
      "\xe2\x80\xa8",  // U+2028 LINE SEPARATOR
      "\xe2\x80\xa9"}; // U+2029 PARAGRAPH SEPARATOR
  std::string arg = "x";
  for (auto &u : unsafe)
    arg += u + "x";
  // Characters that are safe stay as they are.
  arg += "caf\xc3\xa9\xe2\x80\x94";
  SpawnedHelper h({arg});
  ASSERT_GT(h.pid, 0);

  Ran r = mproc_ps({"--full", "--wide", std::to_string(h.pid)});
  ASSERT_EQ(r.exit_code(), 0) << r.err;
  for (auto &u : unsafe)
    EXPECT_EQ(r.out.find(u), std::string::npos);
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
#ifndef _WIN32 // the helper's arguments pass through the ANSI code page there
  EXPECT_NE(lines[1].find("x?x?x?x?x?x?x?x?x?xcaf\xc3\xa9\xe2\x80\x94"),
            std::string::npos)
      << lines[1];
  Ran j = mproc_ps({"--json", std::to_string(h.pid)});
  ASSERT_EQ(j.exit_code(), 0);
  EXPECT_NE(j.out.find("x\\u202ex\\u202ax\\u2066x\\u2069x\\u200ex\\u200fx"
                       "\\u061cx\\u2028x\\u2029x"),
            std::string::npos)
      << j.out;
#endif
}

#ifndef _WIN32 // the example shows zombies, which Windows does not have
// The example shows a zombie before and after waitpid, and an orphan's
// parent before and after its parent exits, within its time budget.
TEST(Example, ZombieOrphan) {
#ifndef MPROC_ZOMBIE_ORPHAN_PATH
  GTEST_SKIP() << "the examples are not built";
#else
  int64_t start = now_ms();
  Ran r = run_program({MPROC_ZOMBIE_ORPHAN_PATH});
  EXPECT_LT(now_ms() - start, scaled_ms(2000));
  ASSERT_EQ(r.exit_code(), 0) << r.out << r.err;
  EXPECT_NE(r.out.find("not yet reaped: zombie"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after waitpid (exit status 7): gone"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(the middle process), after "), std::string::npos)
      << r.out;
#endif
}
#endif // _WIN32

} // namespace
