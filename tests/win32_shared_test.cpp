// SPDX-License-Identifier: MIT
// Shared objects on Windows, what the common suites (sync_test, queue_test)
// cannot check: the abandoned mutex of a holder that ended itself, and
// segments as named kernel objects with POSIX lifetimes. Every wait is
// bounded.
#include <gtest/gtest.h>

#include <stdint.h>
#include <string.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "mproc.h"
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "helpers.h"
#include "platform.h"
#include "win32/os.h"

using mproc_test::scaled_ms;

namespace {

// Takes the lock and ends at once, holding it.
int lock_and_die(const void *arg, size_t size) {
  mproc_lock_t lock;
  if (size != sizeof lock)
    return 3;
  memcpy(&lock, arg, sizeof lock);
  if (mproc_lock_acquire(&lock, scaled_ms(10000)) != 0)
    return 2;
  TerminateProcess(GetCurrentProcess(), 7);
  return 4;
}
MPROC_TARGET(lock_and_die);

struct SegmentJob {
  char name[32];
  mproc_event_t made, done;
};

// Creates a segment, unmaps it (only the name keeper holds it then), and
// waits to be told to end.
int make_segment(const void *arg, size_t size) {
  SegmentJob job;
  void *base = NULL;
  if (size != sizeof job)
    return 3;
  memcpy(&job, arg, sizeof job);
  if (mproc__shm_create(job.name, 100, &base) != 0)
    return 1;
  memset(base, 0x5a, 100);
  mproc__shm_unmap(base, 100);
  if (mproc_event_set(&job.made) != 0)
    return 2;
  return mproc_event_wait(&job.done, scaled_ms(20000)) == 0 ? 0 : 4;
}
MPROC_TARGET(make_segment);

int run(mproc_target_fn target, const void *arg, size_t size) {
  mproc_process_t *p = NULL;
  int code = MPROC_EXITCODE_UNKNOWN;
  EXPECT_EQ(mproc_process_create(&p, target, arg, size, NULL), 0);
  EXPECT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  return code;
}

TEST(Win32Shared, LockOfAKilledHolderIsHandedOnWithOwnerDead) {
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  EXPECT_EQ(run(lock_and_die, &lock, sizeof lock), 7);
  EXPECT_EQ(mproc_lock_acquire(&lock, scaled_ms(10000)), MPROC_EOWNERDEAD);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(mproc_lock_acquire(&lock, 0), 0);
  EXPECT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
}

// POSIX semantics on Windows: a segment's name outlives its views until it
// is unlinked, by any process, and no longer.
TEST(Win32Shared, SegmentNameLastsUntilUnlinked) {
  char name[32];
  snprintf(name, sizeof name, "/mproc-t-%lu",
           (unsigned long)GetCurrentProcessId());
  void *base = NULL;
  ASSERT_EQ(mproc__shm_create(name, 100, &base), 0);
  memset(base, 7, 100);
  mproc__shm_unmap(base, 100);
  EXPECT_EQ(mproc__shm_create(name, 100, &base), MPROC_EOS); // exclusive
  ASSERT_EQ(mproc__shm_attach(name, 100, &base), 0);
  EXPECT_EQ(((unsigned char *)base)[99], 7);
  void *other = NULL;
  EXPECT_EQ(mproc__shm_attach(name, 5000, &other), MPROC_EBADHANDLE); // size
  mproc__shm_unlink(name);
  mproc__shm_unmap(base, 100);
  EXPECT_EQ(mproc__shm_attach(name, 100, &base), MPROC_EBADHANDLE);
  mproc__shm_unlink(name); // twice: nothing happens
}

// Starts a child that makes the segment /mproc-t-<our pid>-<tag> and keeps
// it until job->done is set; returns once the segment exists.
void start_segment_maker(SegmentJob *job, char tag, mproc_process_t **p) {
  snprintf(job->name, sizeof job->name, "/mproc-t-%lu-%c",
           (unsigned long)GetCurrentProcessId(), tag);
  ASSERT_EQ(mproc_event_create(&job->made), 0);
  ASSERT_EQ(mproc_event_create(&job->done), 0);
  ASSERT_EQ(mproc_process_create(p, make_segment, job, sizeof *job, NULL), 0);
  ASSERT_EQ(mproc_process_start(*p), 0);
  ASSERT_EQ(mproc_event_wait(&job->made, scaled_ms(20000)), 0);
}

TEST(Win32Shared, UnlinkInAnotherProcessReleasesTheCreatorsName) {
  SegmentJob job;
  mproc_process_t *p = NULL;
  ASSERT_NO_FATAL_FAILURE(start_segment_maker(&job, 'x', &p));
  void *base = NULL;
  ASSERT_EQ(mproc__shm_attach(job.name, 100, &base), 0);
  EXPECT_EQ(((unsigned char *)base)[0], 0x5a);
  mproc__shm_unlink(job.name);
  mproc__shm_unmap(base, 100);
  // The creator still runs, but its name keeper was closed.
  EXPECT_EQ(mproc__shm_attach(job.name, 100, &base), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_event_set(&job.done), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  EXPECT_EQ(mproc_event_destroy(&job.made), 0);
  EXPECT_EQ(mproc_event_destroy(&job.done), 0);
}

TEST(Win32Shared, ACreatorsDeathFreesItsSegments) {
  SegmentJob job;
  mproc_process_t *p = NULL;
  ASSERT_NO_FATAL_FAILURE(start_segment_maker(&job, 'y', &p));
  void *base = NULL;
  ASSERT_EQ(mproc__shm_attach(job.name, 100, &base), 0);
  mproc__shm_unmap(base, 100);
  EXPECT_EQ(mproc_process_kill(p), 0);
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  EXPECT_EQ(mproc__shm_attach(job.name, 100, &base), MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_event_destroy(&job.made), 0);
  EXPECT_EQ(mproc_event_destroy(&job.done), 0);
}

TEST(Win32Shared, NothingToReclaimOnWindows) {
  // Segments are kernel objects freed with their last process: nothing is
  // ever left to list.
  size_t removed = 7;
  EXPECT_EQ(mproc_shared_reclaim(&removed), MPROC_ENOTSUP);
  EXPECT_EQ(removed, 0u);
}

} // namespace

// A thread that slept on a shared word (here an Event's) holds a bell of
// the session's doorbell: an event handle and a slot of the table. When the
// thread ends, both go: threads that come and go leave no bell behind.
// (Counted by the backend: the process's handle count also moves with the
// C runtime's own lazily made lock events.)
TEST(Win32Shared, ThreadsThatSleptOnAWordLeaveNoBellBehind) {
  mproc_event_t ev;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  ASSERT_EQ(mproc_event_wait(&ev, 1), MPROC_ETIMEDOUT);
  const size_t before = mproc__win32_bells();
  EXPECT_EQ(before, 1u); // this thread's
  for (int round = 0; round < 3; round++) {
    std::vector<std::thread> threads;
    std::atomic<int> timed_out{0};
    for (int i = 0; i < 8; i++)
      threads.emplace_back([&] {
        if (mproc_event_wait(&ev, 20) == MPROC_ETIMEDOUT)
          timed_out++;
      });
    for (auto &t : threads)
      t.join();
    EXPECT_EQ(timed_out.load(), 8);
    // join() returns once a thread ended, after its fiber-local
    // destructors ran.
    EXPECT_EQ(mproc__win32_bells(), before) << "round " << round;
  }
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
}
