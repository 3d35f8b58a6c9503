// SPDX-License-Identifier: MIT
// SharedMemory: named blocks, attached by children of every start method
// and by a process that is no child of the creator; names, unlink, modes,
// and reclamation after the creator is killed.
#include <gtest/gtest.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <string>

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

using mproc_test::scaled_ms;
using shared_testing::Child;
using shared_testing::MethodTest;

namespace {

class SharedMemoryProcs : public MethodTest {};

// A name of this test process's own, so parallel runs never meet.
std::string unique_name(const char *tag) {
  char buf[MPROC_SHM_NAME_MAX + 1];
  snprintf(buf, sizeof buf, "t%s-%llx", tag,
           (unsigned long long)mproc_getpid());
  return buf;
}

TEST(SharedMemory, NamesSizesAndUnlink) {
  mproc_shm_t *s = nullptr, *t = nullptr;
  EXPECT_EQ(mproc_shm_create(nullptr, "x", 1, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_create(&s, "", 10, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_create(&s, "a/b", 10, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_create(&s, "/ab", 10, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_create(&s, "a b", 10, nullptr), MPROC_EINVAL);
  std::string long_name(MPROC_SHM_NAME_MAX + 1, 'n');
  EXPECT_EQ(mproc_shm_create(&s, long_name.c_str(), 10, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_attach(&s, long_name.c_str()), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_attach(&s, nullptr), MPROC_EINVAL);
  std::string name = unique_name("n");
  EXPECT_EQ(mproc_shm_create(&s, name.c_str(), 0, nullptr), MPROC_EINVAL);
  mproc_shm_options_t bad_mode = {};
  bad_mode.mode = 01777;
  EXPECT_EQ(mproc_shm_create(&s, name.c_str(), 10, &bad_mode), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_attach(&s, name.c_str()), MPROC_ENOENT);
  EXPECT_EQ(mproc_shm_create(&s, name.c_str(), (size_t)1 << 50, nullptr),
            MPROC_ENOMEM);
  EXPECT_EQ(mproc_shm_create(&s, name.c_str(), SIZE_MAX, nullptr),
            MPROC_ENOMEM);
  EXPECT_EQ(mproc_shm_close(nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_shm_unlink(nullptr), MPROC_EINVAL);

  ASSERT_EQ(mproc_shm_create(&s, name.c_str(), 10000, nullptr), 0);
  EXPECT_EQ(mproc_shm_create(&t, name.c_str(), 10000, nullptr), MPROC_EEXIST);
  EXPECT_EQ(std::string(mproc_shm_name(s)), name);
  EXPECT_EQ(mproc_shm_size(s), 10000u);
  unsigned char *p = (unsigned char *)mproc_shm_ptr(s);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((uintptr_t)p % 4096, 0u);
  for (size_t i = 0; i < 10000; i++)
    ASSERT_EQ(p[i], 0) << i;
  memcpy(p + 9990, "0123456789", 10);
  // A second attachment in this process: another mapping, the same bytes.
  ASSERT_EQ(mproc_shm_attach(&t, name.c_str()), 0);
  EXPECT_EQ(mproc_shm_size(t), 10000u);
  unsigned char *q = (unsigned char *)mproc_shm_ptr(t);
  EXPECT_EQ(memcmp(q + 9990, "0123456789", 10), 0);
  q[0] = 42;
  EXPECT_EQ(p[0], 42);
  EXPECT_EQ(mproc_shm_unlink(s), 0);
  EXPECT_EQ(mproc_shm_unlink(t), MPROC_ENOENT);
  mproc_shm_t *u = nullptr;
  EXPECT_EQ(mproc_shm_attach(&u, name.c_str()), MPROC_ENOENT);
  // Still usable by those that have it.
  p[1] = 7;
  EXPECT_EQ(q[1], 7);
  EXPECT_EQ(mproc_shm_close(t), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);

  // A generated name.
  ASSERT_EQ(mproc_shm_create(&s, nullptr, 1, nullptr), 0);
  std::string generated = mproc_shm_name(s);
  EXPECT_FALSE(generated.empty());
  ASSERT_EQ(mproc_shm_attach(&t, generated.c_str()), 0);
  EXPECT_EQ(mproc_shm_size(t), 1u);
  EXPECT_EQ(mproc_shm_close(t), 0);
  EXPECT_EQ(mproc_shm_unlink(s), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);
}

#ifndef _WIN32 // permission bits: Windows gives the creator's default DACL
TEST(SharedMemory, OwnerOnlyByDefaultAndTheModeAskedFor) {
  for (unsigned mode : {0u, 0640u}) {
    std::string name = unique_name(mode ? "m" : "d");
    mproc_shm_options_t o = {};
    o.mode = mode;
    mproc_shm_t *s = nullptr;
    ASSERT_EQ(mproc_shm_create(&s, name.c_str(), 100, &o), 0);
    int fd = shm_open(("/mpb-" + name).c_str(), O_RDONLY, 0);
    ASSERT_GE(fd, 0);
    struct stat st;
    ASSERT_EQ(fstat(fd, &st), 0);
    close(fd);
    EXPECT_EQ(st.st_mode & 0777, mode ? mode : 0600u);
    EXPECT_EQ(mproc_shm_unlink(s), 0);
    EXPECT_EQ(mproc_shm_close(s), 0);
  }
}
#endif

// ---- children of every start method ---------------------------------------

struct NameArg {
  char name[MPROC_SHM_NAME_MAX + 1];
};

// Attaches by name, checks the creator's bytes, writes its own.
int attach_and_answer(const void *arg, size_t) {
  NameArg a;
  memcpy(&a, arg, sizeof a);
  mproc_shm_t *s = nullptr;
  if (mproc_shm_attach(&s, a.name) != 0)
    return 1;
  unsigned char *p = (unsigned char *)mproc_shm_ptr(s);
  size_t n = mproc_shm_size(s);
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(i * 7))
      return 2;
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 3);
  return mproc_shm_close(s) == 0 ? 0 : 3;
}
MPROC_TARGET(attach_and_answer);

TEST_P(SharedMemoryProcs, AChildAttachesByName) {
  NameArg a = {};
  std::string name = unique_name("c");
  memcpy(a.name, name.c_str(), name.size() + 1);
  mproc_shm_t *s = nullptr;
  const size_t n = 1 << 20;
  ASSERT_EQ(mproc_shm_create(&s, a.name, n, nullptr), 0);
  unsigned char *p = (unsigned char *)mproc_shm_ptr(s);
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 7);
  Child c(attach_and_answer, &a, sizeof a);
  EXPECT_EQ(c.finish(), 0);
  for (size_t i = 0; i < n; i++)
    ASSERT_EQ(p[i], (unsigned char)(i * 3)) << i;
  EXPECT_EQ(mproc_shm_unlink(s), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);
}

// ---- a process that is not a child of the creator ---------------------------

struct CreatorArgs {
  char name[MPROC_SHM_NAME_MAX + 1];
  char keep[MPROC_SHM_NAME_MAX + 1]; // persistent, or empty
  mproc_event_t ready;
  mproc_event_t done; // never set when the creator is to be killed
};

int create_block(const void *arg, size_t) {
  CreatorArgs a;
  memcpy(&a, arg, sizeof a);
  mproc_shm_t *s = nullptr, *k = nullptr;
  if (mproc_shm_create(&s, a.name, 4096, nullptr) != 0)
    return 1;
  memcpy(mproc_shm_ptr(s), "from the creator", 17);
  if (a.keep[0]) {
    mproc_shm_options_t o = {};
    o.persistent = 1;
    if (mproc_shm_create(&k, a.keep, 100, &o) != 0)
      return 2;
  }
  mproc_event_set(&a.ready);
  if (mproc_event_wait(&a.done, scaled_ms(60000)) != 0)
    return 3;
  // Leaves the name for the test to unlink.
  mproc_shm_close(s);
  return 0;
}
MPROC_TARGET(create_block);

MPROC_TEST_HELPER(shm_from_exec) {
  if (argc != 1)
    return 10;
  mproc_shm_t *s = nullptr;
  int rc = mproc_shm_attach(&s, argv[0]);
  if (rc != 0)
    return 11;
  char *p = (char *)mproc_shm_ptr(s);
  if (mproc_shm_size(s) != 4096 || strcmp(p, "from the creator") != 0)
    return 12;
  strcpy(p, "from a stranger");
  return mproc_shm_close(s) == 0 ? 0 : 13;
}

TEST(SharedMemory, AttachedByAProcessThatIsNoChildOfTheCreator) {
  CreatorArgs a = {};
  std::string name = unique_name("x");
  memcpy(a.name, name.c_str(), name.size() + 1);
  ASSERT_EQ(mproc_event_create(&a.ready), 0);
  ASSERT_EQ(mproc_event_create(&a.done), 0);
  Child creator(create_block, &a, sizeof a);
  ASSERT_EQ(mproc_event_wait(&a.ready, scaled_ms(20000)), 0);
  // A fresh run of this program, started by the test: the creator's
  // sibling, not its child.
  auto r = mproc_test::run_helper("shm_from_exec", {name}, 20000);
  EXPECT_EQ(r.exit_code(), 0) << r.status << " " << r.err;
  mproc_shm_t *s = nullptr;
  ASSERT_EQ(mproc_shm_attach(&s, a.name), 0);
  EXPECT_STREQ((char *)mproc_shm_ptr(s), "from a stranger");
  // Unlinked while its creator lives: once the creator has ended, any
  // program's mproc_init (another test's, running beside this one) may
  // reclaim the name first.
  EXPECT_EQ(mproc_shm_unlink(s), 0);
  ASSERT_EQ(mproc_event_set(&a.done), 0);
  EXPECT_EQ(creator.finish(), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);
  EXPECT_EQ(mproc_event_destroy(&a.ready), 0);
  EXPECT_EQ(mproc_event_destroy(&a.done), 0);
}

TEST(SharedMemory, ACreatorKilledLeavesNothingButWhatPersists) {
  CreatorArgs a = {};
  std::string name = unique_name("k"), keep = unique_name("p");
  memcpy(a.name, name.c_str(), name.size() + 1);
  memcpy(a.keep, keep.c_str(), keep.size() + 1);
  ASSERT_EQ(mproc_event_create(&a.ready), 0);
  ASSERT_EQ(mproc_event_create(&a.done), 0);
  {
    Child creator(create_block, &a, sizeof a);
    ASSERT_EQ(mproc_event_wait(&a.ready, scaled_ms(20000)), 0);
    creator.kill();
  }
  mproc_shm_t *s = nullptr;
#ifdef _WIN32
  // Nobody has it open any more: a Windows block went with its last
  // handle, persistent or not.
  EXPECT_EQ(mproc_shm_attach(&s, a.name), MPROC_ENOENT);
  EXPECT_EQ(mproc_shm_attach(&s, a.keep), MPROC_ENOENT);
#else
  // The names outlive the creator until reclaimed.
  ASSERT_EQ(mproc_shm_attach(&s, a.name), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);
  size_t removed = 0;
  EXPECT_EQ(mproc_shared_reclaim(&removed), 0);
  EXPECT_GE(removed, 1u);
  EXPECT_EQ(mproc_shm_attach(&s, a.name), MPROC_ENOENT);
  // The persistent one stays until unlinked.
  ASSERT_EQ(mproc_shm_attach(&s, a.keep), 0);
  EXPECT_EQ(mproc_shm_unlink(s), 0);
  EXPECT_EQ(mproc_shm_close(s), 0);
  EXPECT_EQ(mproc_shm_attach(&s, a.keep), MPROC_ENOENT);
#endif
  EXPECT_EQ(mproc_event_destroy(&a.ready), 0);
  EXPECT_EQ(mproc_event_destroy(&a.done), 0);
}

MPROC_INSTANTIATE_METHODS(SharedMemoryProcs);

} // namespace
