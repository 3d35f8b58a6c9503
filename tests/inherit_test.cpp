// SPDX-License-Identifier: MIT
// What a child started as a fresh program holds (POSIX): its standard
// streams and its own channels, none of the parent's other descriptors,
// close-on-exec or not, and none of its siblings' however many there are.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "mproc.h"
#include "shared_testing.h"

namespace {

// The descriptors from 3 up this process holds, read from /dev/fd.
std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR *d = opendir("/dev/fd");
  if (!d)
    return fds;
  while (struct dirent *e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    int fd = atoi(e->d_name);
    if (fd > 2 && fd != dirfd(d))
      fds.push_back(fd);
  }
  closedir(d);
  return fds;
}

// The (device, inode) of a file the parent holds open.
struct FileId {
  dev_t dev;
  ino_t ino;
};

// Exit code: how many descriptors the child holds that name the parent's
// file, times 16, plus how many it holds from 3 up beyond `allowed`.
int count_strays(const void *arg, size_t size) {
  if (size != sizeof(FileId) + sizeof(int))
    return 255;
  FileId id;
  int allowed;
  memcpy(&id, arg, sizeof id);
  memcpy(&allowed, static_cast<const char *>(arg) + sizeof id, sizeof allowed);
  int same = 0, total = 0;
  for (int fd : open_fds()) {
    struct stat st;
    total++;
    if (fstat(fd, &st) == 0 && st.st_dev == id.dev && st.st_ino == id.ino)
      same++;
  }
  int extra = total > allowed ? total - allowed : 0;
  return same * 16 + (extra > 15 ? 15 : extra);
}
MPROC_TARGET(count_strays);

// A file held open under three descriptors, none of them close-on-exec.
class StrayFile {
public:
  StrayFile() {
    char path[] = "/tmp/mproc-inherit-XXXXXX";
    fds_[0] = mkstemp(path);
    unlink(path);
    fds_[1] = dup(fds_[0]);
    fds_[2] = fcntl(fds_[0], F_DUPFD, 200); // far above the others
    struct stat st;
    fstat(fds_[0], &st);
    id_.dev = st.st_dev;
    id_.ino = st.st_ino;
  }
  ~StrayFile() {
    for (int fd : fds_)
      close(fd);
  }
  bool ok() const { return fds_[0] >= 0 && fds_[1] >= 0 && fds_[2] >= 0; }
  std::string arg(int allowed) const {
    std::string a(reinterpret_cast<const char *>(&id_), sizeof id_);
    a.append(reinterpret_cast<const char *>(&allowed), sizeof allowed);
    return a;
  }

private:
  int fds_[3];
  FileId id_;
};

int run_child(mproc_start_method_t method, const std::string &arg,
              int daemon = 0) {
  mproc_process_t *p = nullptr;
  mproc_process_options_t o = {};
  o.start_method = method;
  o.daemon = daemon;
  int code = -1;
  EXPECT_EQ(mproc_process_create(&p, count_strays, arg.data(), arg.size(), &o),
            0);
  EXPECT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_process_join(p, 60000), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  return code;
}

class Inherit : public ::testing::TestWithParam<mproc_start_method_t> {};

// A spawned child holds its status pipe; a fork server's child holds
// nothing (the server reports its exit). A daemon also holds the death
// pipe.
int allowed_for(mproc_start_method_t method, int daemon) {
  return (method == MPROC_START_SPAWN ? 1 : 0) + daemon;
}

TEST_P(Inherit, ChildHoldsNoneOfTheParentsOtherDescriptors) {
  StrayFile stray;
  ASSERT_TRUE(stray.ok());
  for (int daemon = 0; daemon < 2; daemon++)
    EXPECT_EQ(run_child(GetParam(), stray.arg(allowed_for(GetParam(), daemon)),
                        daemon),
              0)
        << "daemon " << daemon << " (exit code: 16 x descriptors of the "
        << "parent's file + descriptors beyond its own)";
}

int wait_for_event(const void *arg, size_t size) {
  mproc_event_t ev;
  if (size != sizeof ev)
    return 2;
  memcpy(&ev, arg, sizeof ev);
  return mproc_event_wait(&ev, 120000) == 0 ? 0 : 1;
}
MPROC_TARGET(wait_for_event);

// The fork server holds a socket per live child; with more than 256 of
// them, a new child must still get none.
TEST(InheritForkserver, NewChildGetsNoSiblingSocketsBesideThreeHundred) {
  const int kLive = 300;
  mproc_event_t ev;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  std::vector<mproc_process_t *> live;
  mproc_process_options_t o = {};
  o.start_method = MPROC_START_FORKSERVER;
  for (int i = 0; i < kLive; i++) {
    mproc_process_t *p = nullptr;
    ASSERT_EQ(mproc_process_create(&p, wait_for_event, &ev, sizeof ev, &o), 0);
    int rc = mproc_process_start(p);
    if (rc != 0) {
      mproc_process_free(p);
      ADD_FAILURE() << "start " << i << ": " << mproc_strerror(rc);
      break;
    }
    live.push_back(p);
  }
  StrayFile stray;
  ASSERT_TRUE(stray.ok());
  EXPECT_EQ(run_child(MPROC_START_FORKSERVER, stray.arg(0)), 0)
      << "exit code: 16 x descriptors of the parent's file + descriptors "
         "beyond its own";
  ASSERT_EQ(mproc_event_set(&ev), 0);
  for (mproc_process_t *p : live) {
    int code = -1;
    EXPECT_EQ(mproc_process_join(p, 60000), 0);
    EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
    EXPECT_EQ(code, 0);
    mproc_process_free(p);
  }
  mproc_event_destroy(&ev);
}

#ifdef __linux__
// The descriptors from 3 up this process holds that name its own
// executable.
std::vector<int> fds_naming_this_program() {
  std::vector<int> same;
  struct stat self;
  if (stat("/proc/self/exe", &self) != 0)
    return same;
  for (int fd : open_fds()) {
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_dev == self.st_dev &&
        st.st_ino == self.st_ino)
      same.push_back(fd);
  }
  return same;
}

// mproc may hold this executable open to exec it by its descriptor. A
// program that closes that descriptor and gets its number for another
// program (here /bin/false) must still spawn itself, with nothing more
// inherited.
TEST(InheritSpawn, GoesOnWhenTheProgramTakesMprocsDescriptor) {
  StrayFile stray;
  ASSERT_TRUE(stray.ok());
  ASSERT_EQ(run_child(MPROC_START_SPAWN, stray.arg(1)), 0);
  std::vector<int> taken = fds_naming_this_program();
  int other = open("/bin/false", O_PATH | O_CLOEXEC);
  ASSERT_GE(other, 0);
  for (int fd : taken)
    ASSERT_EQ(dup3(other, fd, O_CLOEXEC), fd);
  EXPECT_EQ(run_child(MPROC_START_SPAWN, stray.arg(1)), 0)
      << "exit code: 16 x descriptors of the parent's file + descriptors "
         "beyond its own";
  // Ours again: mproc opened the executable anew, the program's
  // descriptors are left to it.
  EXPECT_EQ(run_child(MPROC_START_SPAWN, stray.arg(1)), 0);
  for (int fd : taken) {
    struct stat st, theirs;
    ASSERT_EQ(fstat(fd, &st), 0);
    ASSERT_EQ(fstat(other, &theirs), 0);
    EXPECT_EQ(st.st_ino, theirs.st_ino);
    close(fd);
  }
  close(other);
}
#endif

INSTANTIATE_TEST_SUITE_P(Methods, Inherit,
                         ::testing::Values(MPROC_START_SPAWN,
                                           MPROC_START_FORKSERVER),
                         shared_testing::method_name);

} // namespace
