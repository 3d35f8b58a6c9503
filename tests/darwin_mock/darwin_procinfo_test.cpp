// SPDX-License-Identifier: MIT
// The macOS pid reader (src/posix/procinfo_darwin.c), built on Linux
// against the mock Darwin headers of include/ and the fake kernel of
// darwin_mock.c, and called through the public API (src/procinfo.c).
//
// What this shows: the reader compiles, parses KERN_PROCARGS2 blocks
// without reading past them, combines libproc and sysctl answers into one
// record, falls back to kinfo_proc for zombies and refused processes, and
// drops a record whose process vanished or was replaced mid-read. What it
// cannot show: how a real macOS kernel answers. The canned answers follow
// Apple's headers and documented behaviour; a macOS machine is the only
// real check.
#include <gtest/gtest.h>

#include <errno.h>
#include <string.h>

#include <string>
#include <vector>

#include "darwin_mock.h"
#include "mproc.h"

namespace {

constexpr int kSrun = 2, kSsleep = 3, kSstop = 4, kSzomb = 5, kSidl = 1;
constexpr uint64_t kHz = 24000000; // Apple silicon's timebase

std::string block(int argc, const std::string &rest) {
  std::string b(sizeof argc, '\0');
  memcpy(&b[0], &argc, sizeof argc);
  return b + rest;
}

// A literal with its embedded NULs (and without the one C adds).
template <size_t N> std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

class DarwinProcInfo : public ::testing::Test {
public:
  void SetUp() override { darwin_mock_reset(); }
  void TearDown() override { darwin_mock_reset(); }

  // A live process of the caller's user with a command line.
  darwin_mock_proc_t normal(int pid) {
    darwin_mock_proc_t p;
    memset(&p, 0, sizeof p);
    p.pid = pid;
    p.ppid = 1;
    p.status = kSrun;
    p.comm = "worker";
    p.name = "worker";
    p.start_sec = 1700000000;
    p.start_usec = 250999;
    p.rss = 5 << 20;
    p.user_ticks = kHz * 3 + kHz / 2; // 3.5 s
    p.system_ticks = kHz / 4;         // 0.25 s
    p.threads = 4;
    p.running = 1;
    // One block for every process (each keeps a pointer to it).
    static const std::string args =
        block(2, lit("/usr/bin/worker\0\0\0\0worker\0--flag\0HOME=/\0"));
    p.args = args.data();
    p.args_len = args.size();
    return p;
  }

  std::vector<std::string> argv_of(const mproc_proc_info_t &info) {
    std::vector<std::string> v;
    for (size_t i = 0; i < info.argc; i++)
      v.emplace_back(info.argv[i]);
    EXPECT_TRUE(info.argc == 0 ? info.argv == nullptr
                               : info.argv[info.argc] == nullptr);
    return v;
  }

  // The argv the reader makes of one KERN_PROCARGS2 block.
  int parse(const std::string &b, std::vector<std::string> *out) {
    darwin_mock_reset();
    darwin_mock_proc_t p = normal(300);
    args_ = b;
    p.args = args_.data();
    p.args_len = args_.size();
    darwin_mock_add(&p);
    mproc_proc_info_t info;
    int rc = mproc_proc_info(300, &info);
    EXPECT_TRUE(info.valid & MPROC_PROC_HAS_ARGV);
    *out = argv_of(info);
    mproc_proc_info_free(&info);
    return rc;
  }

  // How many kernel calls one full read of a live process makes: the
  // scripted changes below happen before each of them in turn.
  int calls_per_read() {
    darwin_mock_proc_t p = normal(400);
    darwin_mock_add(&p);
    mproc_proc_info_t info;
    EXPECT_EQ(mproc_proc_info(400, &info), 0);
    mproc_proc_info_free(&info);
    int n = darwin_mock_calls(400);
    darwin_mock_reset();
    EXPECT_GE(n, 3); // the task, the arguments, the identity again
    return n;
  }

  // Adds the process and reads it through the public API.
  static int add_and_read(const darwin_mock_proc_t &p,
                          mproc_proc_info_t *info) {
    darwin_mock_add(&p);
    return mproc_proc_info(p.pid, info);
  }

  static bool zeroed(const mproc_proc_info_t &info) {
    mproc_proc_info_t zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(&info, &zero, sizeof zero) == 0;
  }

  std::string args_;
};

TEST_F(DarwinProcInfo, NormalProcessGivesEveryField) {
  darwin_mock_proc_t p = normal(100);
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_EQ(info.valid, (unsigned)MPROC_PROC_HAS_ALL);
  EXPECT_EQ(info.pid, 100);
  EXPECT_EQ(info.ppid, 1);
  EXPECT_STREQ(info.name, "worker");
  EXPECT_STREQ(info.user, "root"); // uid 0, from the user database
  EXPECT_EQ(info.state, MPROC_PROC_RUNNING);
  EXPECT_EQ(info.state_code, 'R');
  EXPECT_EQ(info.start_time_ms, 1700000000250LL);
  EXPECT_EQ(info.rss_bytes, 5u << 20);
  EXPECT_EQ(info.user_time_us, 3500000u);
  EXPECT_EQ(info.system_time_us, 250000u);
  EXPECT_EQ(info.num_threads, 4u);
  EXPECT_EQ(argv_of(info), (std::vector<std::string>{"worker", "--flag"}));
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, StatesMapAsPsShowsThem) {
  struct {
    int status, running;
    mproc_proc_state_t state;
    char code;
  } cases[] = {{kSrun, 2, MPROC_PROC_RUNNING, 'R'},
               {kSrun, 0, MPROC_PROC_SLEEPING, 'S'}, // no thread runs
               {kSsleep, 0, MPROC_PROC_SLEEPING, 'S'},
               {kSstop, 0, MPROC_PROC_STOPPED, 'T'},
               {kSidl, 0, MPROC_PROC_RUNNING, 'R'},
               {9, 0, MPROC_PROC_DEAD, '?'}};
  for (const auto &c : cases) {
    darwin_mock_reset();
    darwin_mock_proc_t p = normal(101);
    p.status = c.status;
    p.running = c.running;
    darwin_mock_add(&p);
    mproc_proc_info_t info;
    ASSERT_EQ(mproc_proc_info(101, &info), 0) << c.status;
    EXPECT_EQ(info.state, c.state) << c.status;
    EXPECT_EQ(info.state_code, c.code) << c.status;
    mproc_proc_info_free(&info);
  }
}

TEST_F(DarwinProcInfo, NameIsTheRegisteredOneElseTheCommandsUncut) {
  // pbi_name holds 32 bytes and pbi_comm 16, neither always NUL-terminated.
  const char *long_name = "a-name-of-exactly-32-bytes-long!";
  ASSERT_EQ(strlen(long_name), 32u);
  darwin_mock_proc_t p = normal(102);
  p.name = long_name;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_STREQ(info.name, long_name);
  mproc_proc_info_free(&info);
  p = normal(103);
  p.name = nullptr;
  p.comm = "sixteen-byte-cmd";
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_STREQ(info.name, "sixteen-byte-cmd");
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, ZombieHasStateTimesAndNoCommandLine) {
  darwin_mock_proc_t p = normal(104);
  p.status = kSzomb;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_EQ(info.valid, (unsigned)MPROC_PROC_HAS_ALL);
  EXPECT_EQ(info.state, MPROC_PROC_ZOMBIE);
  EXPECT_EQ(info.state_code, 'Z');
  EXPECT_EQ(info.ppid, 1);
  EXPECT_STREQ(info.name, "worker");
  EXPECT_EQ(info.start_time_ms, 1700000000250LL);
  EXPECT_EQ(info.rss_bytes, 0u);
  EXPECT_EQ(info.num_threads, 0u);
  EXPECT_EQ(info.user_time_us, 3500000u); // from its resource usage
  EXPECT_EQ(info.argc, 0u);
  EXPECT_EQ(info.argv, nullptr);
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, ZombieOfAnotherUserIsPartial) {
  darwin_mock_proc_t p = normal(105);
  p.status = kSzomb;
  p.rusage_errno = EPERM;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), MPROC_EPERM);
  EXPECT_EQ(info.state, MPROC_PROC_ZOMBIE);
  EXPECT_FALSE(info.valid & MPROC_PROC_HAS_CPU_TIMES);
  EXPECT_EQ(info.user_time_us, 0u);
  EXPECT_TRUE(info.valid & MPROC_PROC_HAS_PPID);
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, AnotherUsersProcessGivesWhatKinfoTells) {
  darwin_mock_proc_t p = normal(106);
  p.task_errno = EPERM;
  p.args = nullptr; // KERN_PROCARGS2 answers EINVAL
  p.status = kSstop;
  p.comm = "sixteen-byte-cmd";
  // A user id with no name in the user database shows as its number.
  p.uid = 4000000123u;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), MPROC_EPERM);
  EXPECT_EQ(info.valid,
            (unsigned)(MPROC_PROC_HAS_PPID | MPROC_PROC_HAS_NAME |
                       MPROC_PROC_HAS_STATE | MPROC_PROC_HAS_START_TIME |
                       MPROC_PROC_HAS_USER));
  EXPECT_STREQ(info.user, "4000000123");
  EXPECT_EQ(info.ppid, 1);
  EXPECT_STREQ(info.name, "sixteen-byte-cmd");
  EXPECT_EQ(info.state, MPROC_PROC_STOPPED);
  EXPECT_EQ(info.start_time_ms, 1700000000250LL);
  EXPECT_EQ(info.rss_bytes, 0u);
  EXPECT_EQ(info.argv, nullptr);
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, RefusedTaskWithReadableArguments) {
  darwin_mock_proc_t p = normal(107);
  p.task_errno = EPERM;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), MPROC_EPERM);
  EXPECT_TRUE(info.valid & MPROC_PROC_HAS_ARGV);
  EXPECT_FALSE(info.valid & MPROC_PROC_HAS_RSS);
  EXPECT_EQ(argv_of(info), (std::vector<std::string>{"worker", "--flag"}));
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, MissingPidIsNoSuchProcess) {
  darwin_mock_proc_t p = normal(108);
  darwin_mock_add(&p);
  mproc_proc_info_t info;
  memset(&info, 0x5a, sizeof info);
  EXPECT_EQ(mproc_proc_info(109, &info), MPROC_ESRCH);
  EXPECT_TRUE(zeroed(info));
  EXPECT_EQ(mproc_proc_info(0x7fffffffLL + 1, &info), MPROC_ESRCH);
  EXPECT_EQ(mproc_proc_info(-1, &info), MPROC_EINVAL);
}

// Reads a process whose life changes (`field` of darwin_mock_proc_t) before
// each kernel call of one read in turn; `check` looks at each result.
template <typename Check>
void each_moment(DarwinProcInfo *t, int darwin_mock_proc_t::*field,
                 Check check) {
  const int calls = t->calls_per_read();
  for (int after = 1; after < calls; after++) {
    darwin_mock_reset();
    darwin_mock_proc_t p = t->normal(110);
    p.*field = after;
    darwin_mock_add(&p);
    mproc_proc_info_t info;
    SCOPED_TRACE(after);
    check(mproc_proc_info(110, &info), info);
    mproc_proc_info_free(&info);
  }
}

// Whichever call first misses the pid, the result is ESRCH and an empty
// record.
TEST_F(DarwinProcInfo, VanishingAtAnyCallGivesACleanError) {
  each_moment(this, &darwin_mock_proc_t::vanish_after,
              [](int rc, const mproc_proc_info_t &info) {
                EXPECT_EQ(rc, MPROC_ESRCH);
                EXPECT_TRUE(zeroed(info));
              });
}

TEST_F(DarwinProcInfo, PidReusedMidReadIsNeverMixed) {
  each_moment(this, &darwin_mock_proc_t::reborn_after,
              [](int rc, const mproc_proc_info_t &info) {
                EXPECT_EQ(rc, MPROC_ESRCH);
                EXPECT_TRUE(zeroed(info));
              });
}

TEST_F(DarwinProcInfo, DyingMidReadIsReadAgainAsAZombie) {
  each_moment(this, &darwin_mock_proc_t::zombie_after,
              [](int rc, const mproc_proc_info_t &info) {
                EXPECT_EQ(rc, 0);
                EXPECT_EQ(info.state, MPROC_PROC_ZOMBIE);
                EXPECT_EQ(info.argc, 0u);
                EXPECT_EQ(info.argv, nullptr);
              });
}

TEST_F(DarwinProcInfo, TheKernelHasNoCommandLine) {
  darwin_mock_proc_t p = normal(0);
  p.ppid = 0;
  p.args = nullptr;
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_EQ(info.valid, (unsigned)MPROC_PROC_HAS_ALL);
  EXPECT_EQ(info.argc, 0u);
  mproc_proc_info_free(&info);
}

TEST_F(DarwinProcInfo, ArgumentsKeepSpacesAndBytes) {
  std::vector<std::string> v;
  ASSERT_EQ(
      parse(block(3, lit("/bin/x\0\0a b\0caf\xc3\xa9\0\xff\xfe\x01\0E=1\0")),
            &v),
      0);
  EXPECT_EQ(v,
            (std::vector<std::string>{"a b", "caf\xc3\xa9", "\xff\xfe\x01"}));
}

TEST_F(DarwinProcInfo, ArgumentsCutShortStillCount) {
  std::vector<std::string> v;
  // The last argument has no NUL: the block ends inside it.
  ASSERT_EQ(parse(block(2, lit("/bin/x\0\0\0one\0tw")), &v), 0);
  EXPECT_EQ(v, (std::vector<std::string>{"one", "tw"}));
}

TEST_F(DarwinProcInfo, LyingArgcIsBoundedByTheBlock) {
  std::vector<std::string> v;
  ASSERT_EQ(parse(block(1000000, lit("/bin/x\0one\0two\0")), &v), 0);
  EXPECT_EQ(v, (std::vector<std::string>{"one", "two"}));
  // A smaller argc than strings: the rest is the environment.
  ASSERT_EQ(parse(block(1, lit("/bin/x\0one\0PATH=/bin\0")), &v), 0);
  EXPECT_EQ(v, (std::vector<std::string>{"one"}));
  ASSERT_EQ(parse(block(-5, lit("/bin/x\0one\0")), &v), 0);
  EXPECT_TRUE(v.empty());
  ASSERT_EQ(parse(block(0, lit("/bin/x\0one\0")), &v), 0);
  EXPECT_TRUE(v.empty());
}

TEST_F(DarwinProcInfo, TruncatedBlocksGiveNoArguments) {
  std::vector<std::string> v;
  ASSERT_EQ(parse(lit("\x02\0"), &v), 0); // shorter than argc itself
  EXPECT_TRUE(v.empty());
  ASSERT_EQ(parse(block(2, ""), &v), 0); // argc alone
  EXPECT_TRUE(v.empty());
  ASSERT_EQ(parse(block(2, "/bin/path-without-end"), &v), 0);
  EXPECT_TRUE(v.empty());
  ASSERT_EQ(parse(block(2, lit("/bin/x\0\0\0\0")), &v), 0); // padding only
  EXPECT_TRUE(v.empty());
}

TEST_F(DarwinProcInfo, CpuTimesFallBackToMachTimebase) {
  darwin_mock_set_tbfrequency(0);   // hw.tbfrequency unavailable
  darwin_mock_set_timebase(125, 3); // 24 MHz ticks
  darwin_mock_proc_t p = normal(113);
  mproc_proc_info_t info;
  ASSERT_EQ(add_and_read(p, &info), 0);
  EXPECT_EQ(info.user_time_us, 3500000u);
  mproc_proc_info_free(&info);

  // Intel: 1 GHz, one tick a nanosecond; a large count does not overflow.
  darwin_mock_reset();
  darwin_mock_set_tbfrequency(1000000000u);
  p = normal(114);
  p.user_ticks = 1000000000ULL * 86400 * 365; // a CPU-year
  darwin_mock_add(&p);
  ASSERT_EQ(mproc_proc_info(114, &info), 0);
  EXPECT_EQ(info.user_time_us, 1000000ULL * 86400 * 365);
  mproc_proc_info_free(&info);
}

// proc_listallpids(NULL, 0) under-reports (processes born between the two
// calls): the list still has every pid, found by growing the buffer.
TEST_F(DarwinProcInfo, ListingGrowsUntilNothingIsCut) {
  const int n = 3000;
  for (int i = 1; i <= n; i++) {
    darwin_mock_proc_t p = normal(i);
    p.ppid = i == 1 ? 0 : (i <= 10 ? 1 : 2);
    darwin_mock_add(&p);
  }
  darwin_mock_set_estimate_bias(-(n - 10));
  mproc_proc_info_t *list = nullptr;
  size_t count = 0;
  ASSERT_EQ(mproc_proc_list(MPROC_PROC_ALL, 0, &list, &count), 0);
  EXPECT_EQ(count, (size_t)n);
  EXPECT_GT(darwin_mock_list_calls(), 1);
  for (size_t i = 0; i < count; i++)
    EXPECT_EQ(list[i].pid, (mproc_pid_t)(i + 1));
  mproc_proc_list_free(list, count);

  ASSERT_EQ(mproc_proc_list(MPROC_PROC_CHILDREN, 1, &list, &count), 0);
  EXPECT_EQ(count, 9u); // pids 2..10
  mproc_proc_list_free(list, count);
  ASSERT_EQ(mproc_proc_list(MPROC_PROC_SUBTREE, 1, &list, &count), 0);
  EXPECT_EQ(count, (size_t)n - 1);
  mproc_proc_list_free(list, count);
}

// An estimate exactly right leaves no room to tell "all" from "cut": the
// buffer is made larger than the estimate, so one call suffices.
TEST_F(DarwinProcInfo, ListingWithAnExactEstimate) {
  for (int i = 1; i <= 64; i++) {
    darwin_mock_proc_t p = normal(i);
    darwin_mock_add(&p);
  }
  darwin_mock_set_estimate_bias(0);
  mproc_proc_info_t *list = nullptr;
  size_t count = 0;
  ASSERT_EQ(mproc_proc_list(MPROC_PROC_ALL, 0, &list, &count), 0);
  EXPECT_EQ(count, 64u);
  EXPECT_EQ(darwin_mock_list_calls(), 1);
  mproc_proc_list_free(list, count);
}

TEST_F(DarwinProcInfo, ListingLeavesOutWhatEndsAndKeepsWhatIsRefused) {
  darwin_mock_proc_t p = normal(1);
  p.ppid = 0;
  darwin_mock_add(&p);
  p = normal(2);
  p.task_errno = EPERM;
  p.args = nullptr;
  darwin_mock_add(&p);
  p = normal(3);
  p.vanish_after = 2; // listed, then gone while read
  darwin_mock_add(&p);
  mproc_proc_info_t *list = nullptr;
  size_t count = 0;
  ASSERT_EQ(mproc_proc_list(MPROC_PROC_ALL, 0, &list, &count), 0);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(list[0].pid, 1);
  EXPECT_EQ(list[1].pid, 2);
  EXPECT_FALSE(list[1].valid & MPROC_PROC_HAS_RSS);
  mproc_proc_list_free(list, count);
}

} // namespace

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
