// SPDX-License-Identifier: MIT
// The spawn start method's bootstrap: forged invocations are refused, argv
// is restored, and threads in the parent do not matter.
#include <gtest/gtest.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <string.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap.h"
#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::HelperResult;
using mproc_test::self_path;

namespace {

int spawned_marker(const void *, size_t) {
  printf("TARGET RAN\n");
  return 0;
}
MPROC_TARGET(spawned_marker);

const unsigned char kCookie[MPROC__BOOT_COOKIE_SIZE] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

std::string flag_for(int64_t channel, const unsigned char *cookie = kCookie) {
  char buf[96];
  mproc__boot_format_flag(channel, cookie, buf, sizeof buf);
  return buf;
}

// A well-formed message for spawned_marker, as the parent would send it.
std::string message(uint64_t arg_size = 0, const std::string &arg = "",
                    const char *target = "spawned_marker",
                    const char *program = "") {
  mproc__boot_t b = {};
  memcpy(b.cookie, kCookie, sizeof kCookie);
  b.parent_pid = mproc_getpid();
  b.status_channel = -1;
  b.death_channel = -1;
  snprintf(b.name, sizeof b.name, "forged");
  snprintf(b.identity, sizeof b.identity, "1");
  snprintf(b.target, sizeof b.target, "%s", target);
  snprintf(b.program, sizeof b.program, "%s", program);
  b.arg_size = arg_size;
  unsigned char buf[MPROC__BOOT_PREFIX_MAX];
  size_t len = 0;
  EXPECT_EQ(mproc__boot_encode(&b, buf, &len), 0);
  return std::string(reinterpret_cast<char *>(buf), len) + arg;
}

// Runs this binary as a would-be child reading its bootstrap from stdin.
HelperResult forged(const std::string &flag, const std::string &input) {
  return mproc_test::run_program({self_path(), flag}, 10000, input);
}

// The same, with the flag made for the channel on which the program finds
// its stdin (0 on POSIX; on Windows, the value of the handle it inherits).
HelperResult forged_on_stdin(const unsigned char *cookie,
                             const std::string &input) {
  return mproc_test::run_program_with_stdin_channel(
      [&](int64_t channel) {
        return std::vector<std::string>{self_path(), flag_for(channel, cookie)};
      },
      10000, input);
}
HelperResult forged_on_stdin(const std::string &input) {
  return forged_on_stdin(kCookie, input);
}

void expect_refused(const HelperResult &r, int code = 121) {
  EXPECT_NE(r.exit_code(), -1) << r.status;
  EXPECT_EQ(r.exit_code(), code) << r.err;
  EXPECT_EQ(r.out.find("TARGET RAN"), std::string::npos);
  EXPECT_NE(r.err.find("mproc: not starting as a child:"), std::string::npos)
      << r.err;
  // One clear line, nothing else (GoogleTest never started either).
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(SpawnBootstrap, WellFormedForgeryRunsOnlyWithMatchingCookie) {
  // The control case: the same bytes a parent sends do run the target.
  auto ok = forged_on_stdin(message());
  EXPECT_EQ(ok.exit_code(), 0) << ok.err;
  EXPECT_NE(ok.out.find("TARGET RAN"), std::string::npos);

  unsigned char other[MPROC__BOOT_COOKIE_SIZE] = {};
  expect_refused(forged_on_stdin(other, message()));
}

#ifndef _WIN32 // a Windows parent keeps the cookie in the flag
               // (docs/windows.md)
// A POSIX parent puts the cookie in the environment, not in the command
// line: the flag then names only the channel.
TEST(SpawnBootstrap, CookieFromTheEnvironment) {
  char var[96];
  mproc__boot_format_cookie_env(kCookie, var, sizeof var);
  std::string value = strchr(var, '=') + 1;
  auto run = [&](const char *cookie_hex) {
    if (cookie_hex)
      setenv(MPROC__BOOT_COOKIE_ENV, cookie_hex, 1);
    auto r = mproc_test::run_program_with_stdin_channel(
        [&](int64_t channel) {
          return std::vector<std::string>{
              self_path(),
              flag_for(channel).substr(0, flag_for(channel).find(':'))};
        },
        10000, message());
    unsetenv(MPROC__BOOT_COOKIE_ENV);
    return r;
  };
  auto ok = run(value.c_str());
  EXPECT_EQ(ok.exit_code(), 0) << ok.err;
  EXPECT_NE(ok.out.find("TARGET RAN"), std::string::npos);
  expect_refused(run(std::string(32, '0').c_str())); // another cookie
  expect_refused(run(nullptr));                      // none
}
#endif

TEST(SpawnBootstrap, FlagWithoutChannelIsRefused) {
  expect_refused(forged(flag_for(57), "")); // fd 57 is not open
  expect_refused(forged_on_stdin(""));      // open, but empty
}

TEST(SpawnBootstrap, MalformedFlagIsRefused) {
  expect_refused(forged("--mproc-child=", ""));
  expect_refused(forged("--mproc-child=0:xyz", ""));
  expect_refused(forged("--mproc-child=0:" + std::string(40, 'a'), ""));
}

TEST(SpawnBootstrap, ChannelAboveIntMaxIsRefused) {
  // 2^31 and 2^32 + 0 would be cut to a small descriptor number.
  const char *hex = "0102030405060708090a0b0c0d0e0f10";
  expect_refused(forged(std::string("--mproc-child=2147483648:") + hex, ""));
  expect_refused(forged(std::string("--mproc-child=4294967296:") + hex, ""));
  int64_t channel = -1;
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
  EXPECT_NE(
      mproc__boot_parse_flag(flag_for(2147483648LL).c_str(), &channel, cookie),
      0);
  EXPECT_EQ(
      mproc__boot_parse_flag(flag_for(2147483647LL).c_str(), &channel, cookie),
      0);
  EXPECT_EQ(channel, 2147483647LL);
}

TEST(SpawnBootstrap, ChannelsInTheMessageAboveIntMaxAreRefused) {
  for (int which = 0; which < 3; which++) {
    mproc__boot_t b = {};
    b.parent_pid = 1;
    b.status_channel = b.death_channel = -1;
    snprintf(b.target, sizeof b.target, "spawned_marker");
    b.nhandles = which == 2 ? 1 : 0;
    int64_t *field = which == 0   ? &b.status_channel
                     : which == 1 ? &b.death_channel
                                  : &b.handles[0];
    unsigned char buf[MPROC__BOOT_PREFIX_MAX];
    size_t len = 0;
    mproc__boot_t out;
    const char *why = nullptr;
    *field = 2147483647LL;
    ASSERT_EQ(mproc__boot_encode(&b, buf, &len), 0);
    EXPECT_EQ(mproc__boot_decode_buffer(buf, len, &out, &why), 0) << why;
    mproc__boot_free(&out);
    *field = 2147483648LL;
    ASSERT_EQ(mproc__boot_encode(&b, buf, &len), 0);
    EXPECT_EQ(mproc__boot_decode_buffer(buf, len, &out, &why), MPROC_EINVAL)
        << which;
  }
}

TEST(SpawnBootstrap, TruncatedOrGarbageMessageIsRefused) {
  std::string m = message();
  expect_refused(forged_on_stdin(m.substr(0, 10)));
  expect_refused(forged_on_stdin(m.substr(0, m.size() - 1)));
  expect_refused(forged_on_stdin(std::string(200, '\x7f')));
  // Declares 100 bytes of argument and sends 3.
  expect_refused(forged_on_stdin(message(100, "abc")));
}

TEST(SpawnBootstrap, HugeLengthIsRefusedWithoutAllocatingIt) {
  expect_refused(forged_on_stdin(message(UINT64_MAX, "abc")));
  expect_refused(forged_on_stdin(message((uint64_t)1 << 40, "abc")));
}

#ifdef __linux__
int print_comm(const void *, size_t) {
  char name[17] = {0};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  printf("COMM %s\n", name);
  return 0;
}
MPROC_TARGET(print_comm);

// A spawned child is named as its parent names the program, from the
// message, without looking for its executable's name again.
TEST(SpawnBootstrap, ChildTakesTheProgramsNameFromItsParent) {
  auto r = forged_on_stdin(message(0, "", "print_comm", "fromparent"));
  EXPECT_EQ(r.exit_code(), 0) << r.err;
  EXPECT_NE(r.out.find("COMM fromparent\n"), std::string::npos) << r.out;
  // With none given, it finds its own.
  r = forged_on_stdin(message(0, "", "print_comm"));
  EXPECT_EQ(r.exit_code(), 0) << r.err;
  EXPECT_EQ(r.out.find("COMM fromparent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("COMM spawn_test"), std::string::npos) << r.out;
}
#endif

TEST(SpawnBootstrap, UnknownTargetIsRefused) {
  expect_refused(forged_on_stdin(message(0, "", "no_such_target")));
}

TEST(SpawnBootstrap, DecoderRoundTrip) {
  std::string m = message(5, "hello", "spawned_marker", "prog");
  mproc__boot_t b;
  const char *why = nullptr;
  ASSERT_EQ(mproc__boot_decode_buffer(m.data(), m.size(), &b, &why), 0) << why;
  EXPECT_STREQ(b.target, "spawned_marker");
  EXPECT_STREQ(b.name, "forged");
  EXPECT_STREQ(b.program, "prog");
  EXPECT_EQ(b.arg_size, 5u);
  EXPECT_EQ(memcmp(b.arg, "hello", 5), 0);
  mproc__boot_free(&b);
  for (size_t cut = 0; cut < m.size(); cut++) {
    EXPECT_NE(mproc__boot_decode_buffer(m.data(), cut, &b, &why), 0) << cut;
  }
}

// The child compares the argv mproc_init() left it with the parent's.
int check_argv(const void *arg, size_t size) {
  std::string want(static_cast<const char *>(arg), size), got;
  for (int i = 1; mproc_test::g_argv[i]; i++) {
    got += mproc_test::g_argv[i];
    got += '\n';
  }
  return got == want ? 0 : 1;
}
MPROC_TARGET(check_argv);

TEST(Spawn, ChildSeesTheParentsArguments) {
  std::string args;
  for (const auto &a : mproc_test::g_args) {
    args += a;
    args += '\n';
  }
  mproc_process_t *p = nullptr;
  mproc_process_options_t o = {};
  o.start_method = MPROC_START_SPAWN;
  ASSERT_EQ(mproc_process_create(&p, check_argv, args.data(), args.size(), &o),
            0);
  ASSERT_EQ(mproc_process_start(p), 0);
  ASSERT_EQ(mproc_process_join(p, MPROC_INFINITE), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
}

int quick(const void *, size_t) { return 5; }
MPROC_TARGET(quick);

class ThreadedParent : public ::testing::TestWithParam<mproc_start_method_t> {};

TEST_P(ThreadedParent, HundredChildrenWhileEightThreadsAreBusy) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int i = 0; i < 8; i++)
    busy.emplace_back([&] {
      volatile unsigned long x = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        x = x + 1;
        void *m = malloc(64); // keep the allocator's locks busy too
        free(m);
      }
    });
  int ok = 0;
  std::string failures; // what went wrong, for the message
  for (int i = 0; i < 100; i++) {
    mproc_process_t *p = nullptr;
    mproc_process_options_t o = {};
    o.start_method = GetParam();
    int rc = mproc_process_create(&p, quick, nullptr, 0, &o), code = -1;
    if (rc == 0 && (rc = mproc_process_start(p)) == 0 &&
        (rc = mproc_process_join(p, MPROC_INFINITE)) == 0 &&
        (rc = mproc_process_exitcode(p, &code)) == 0 && code == 5)
      ok++;
    else
      failures += " [child " + std::to_string(i) + ": rc " +
                  std::to_string(rc) + ", exit code " + std::to_string(code) +
                  "]";
    mproc_process_free(p);
  }
  stop = true;
  for (auto &t : busy)
    t.join();
  EXPECT_EQ(ok, 100) << failures;
}

// The methods that start a fresh program, of those this platform has.
std::vector<mproc_start_method_t> fresh_methods() {
  std::vector<mproc_start_method_t> m = shared_testing::methods();
  m.erase(std::remove(m.begin(), m.end(), MPROC_START_FORK), m.end());
  return m;
}

INSTANTIATE_TEST_SUITE_P(Methods, ThreadedParent,
                         ::testing::ValuesIn(fresh_methods()),
                         shared_testing::method_name);

} // namespace
