// Shared objects on Windows: Lock, Semaphore, Event and Queue used by
// spawned children through handles copied into their argument bytes, and a
// Lock whose holder is killed. Every wait is bounded.
#include <gtest/gtest.h>

#include <stdint.h>
#include <string.h>

#include <vector>

#include "mproc.h"
#include "platform.h"
#include "win32_helpers.h"

using mproc_test::scaled_ms;

namespace {

struct Pair {
  mproc_queue_t in, out;
};

// 1 when the lock stays held for 100 ms, 0 when it was acquired (and
// released), 2 on any other answer.
int try_lock(const void *arg, size_t size) {
  mproc_lock_t lock;
  if (size != sizeof lock)
    return 3;
  memcpy(&lock, arg, sizeof lock);
  int r = mproc_lock_acquire(&lock, 100);
  if (r == MPROC_ETIMEDOUT)
    return 1;
  if (r != 0)
    return 2;
  return mproc_lock_release(&lock) == 0 ? 0 : 2;
}
MPROC_TARGET(try_lock);

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

// Sends every message of `in` back on `out` until an empty one.
int echo(const void *arg, size_t size) {
  Pair q;
  if (size != sizeof q)
    return 3;
  memcpy(&q, arg, sizeof q);
  for (;;) {
    void *data = NULL;
    size_t n = 0;
    if (mproc_queue_get(&q.in, &data, &n, scaled_ms(20000)) != 0)
      return 2;
    int r = mproc_queue_put(&q.out, data, n, scaled_ms(20000));
    mproc_queue_free_message(data);
    if (r != 0)
      return 4;
    if (n == 0)
      return 0;
  }
}
MPROC_TARGET(echo);

int wait_event(const void *arg, size_t size) {
  mproc_event_t ev;
  if (size != sizeof ev)
    return 3;
  memcpy(&ev, arg, sizeof ev);
  return mproc_event_wait(&ev, scaled_ms(20000)) == 0 ? 0 : 1;
}
MPROC_TARGET(wait_event);

int take_three(const void *arg, size_t size) {
  mproc_semaphore_t sem;
  if (size != sizeof sem)
    return 3;
  memcpy(&sem, arg, sizeof sem);
  for (int i = 0; i < 3; i++)
    if (mproc_semaphore_acquire(&sem, scaled_ms(20000)) != 0)
      return 1;
  return 0;
}
MPROC_TARGET(take_three);

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

TEST(Win32Shared, LockAcrossProcesses) {
  mproc_lock_t lock;
  ASSERT_EQ(mproc_lock_create(&lock), 0);
  ASSERT_EQ(mproc_lock_acquire(&lock, 0), 0);
  EXPECT_EQ(run(try_lock, &lock, sizeof lock), 1);
  ASSERT_EQ(mproc_lock_release(&lock), 0);
  EXPECT_EQ(run(try_lock, &lock, sizeof lock), 0);
  EXPECT_EQ(mproc_lock_destroy(&lock), 0);
  EXPECT_EQ(mproc_lock_acquire(&lock, 0), MPROC_EBADHANDLE);
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

TEST(Win32Shared, QueueRoundTripSmallAndLarge) {
  Pair q;
  ASSERT_EQ(mproc_queue_create(&q.in, NULL), 0);
  ASSERT_EQ(mproc_queue_create(&q.out, NULL), 0);
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, echo, &q, sizeof q, NULL), 0);
  ASSERT_EQ(mproc_process_start(p), 0);

  // Sizes: small ones in the ring, and 9 MiB, larger than half the
  // default 4 MiB ring, in a segment of its own.
  std::vector<size_t> sizes = {1, 64, 4096, 1 << 20, 9 << 20, 0};
  for (size_t n : sizes) {
    std::vector<unsigned char> msg(n);
    for (size_t i = 0; i < n; i++)
      msg[i] = (unsigned char)(i * 7 + n);
    ASSERT_EQ(mproc_queue_put(&q.in, msg.data(), n, scaled_ms(20000)), 0);
    void *data = NULL;
    size_t got = 0;
    ASSERT_EQ(mproc_queue_get(&q.out, &data, &got, scaled_ms(20000)), 0)
        << "message of " << n << " bytes";
    EXPECT_EQ(got, n);
    EXPECT_TRUE(n == 0 || memcmp(data, msg.data(), n) == 0) << n;
    mproc_queue_free_message(data);
  }
  int code = -1;
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);

  size_t left = 1;
  EXPECT_EQ(mproc_queue_size(&q.out, &left), 0);
  EXPECT_EQ(left, 0u);
  void *data = NULL;
  size_t got = 0;
  EXPECT_EQ(mproc_queue_get(&q.out, &data, &got, 0), MPROC_EEMPTY);
  EXPECT_EQ(mproc_queue_destroy(&q.in), 0);
  EXPECT_EQ(mproc_queue_destroy(&q.out), 0);
}

TEST(Win32Shared, EventWakesAChild) {
  mproc_event_t ev;
  ASSERT_EQ(mproc_event_create(&ev), 0);
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, wait_event, &ev, sizeof ev, NULL), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_process_join(p, 200), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_event_set(&ev), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  EXPECT_EQ(mproc_event_destroy(&ev), 0);
}

TEST(Win32Shared, SemaphoreCountsAcrossProcesses) {
  mproc_semaphore_t sem;
  ASSERT_EQ(mproc_semaphore_create(&sem, 1, 0), 0);
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, take_three, &sem, sizeof sem, NULL), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  EXPECT_EQ(mproc_process_join(p, 200), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc_semaphore_release(&sem), 0);
  EXPECT_EQ(mproc_semaphore_release(&sem), 0);
  int code = -1;
  EXPECT_EQ(mproc_process_join(p, scaled_ms(30000)), 0);
  EXPECT_EQ(mproc_process_exitcode(p, &code), 0);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(mproc_process_free(p), 0);
  unsigned value = 9;
  EXPECT_EQ(mproc_semaphore_value(&sem, &value), 0);
  EXPECT_EQ(value, 0u);
  EXPECT_EQ(mproc_semaphore_destroy(&sem), 0);
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

TEST(Win32Shared, UnlinkInAnotherProcessReleasesTheCreatorsName) {
  SegmentJob job;
  snprintf(job.name, sizeof job.name, "/mproc-t-%lu-x",
           (unsigned long)GetCurrentProcessId());
  ASSERT_EQ(mproc_event_create(&job.made), 0);
  ASSERT_EQ(mproc_event_create(&job.done), 0);
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, make_segment, &job, sizeof job, NULL), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  ASSERT_EQ(mproc_event_wait(&job.made, scaled_ms(20000)), 0);
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
  snprintf(job.name, sizeof job.name, "/mproc-t-%lu-y",
           (unsigned long)GetCurrentProcessId());
  ASSERT_EQ(mproc_event_create(&job.made), 0);
  ASSERT_EQ(mproc_event_create(&job.done), 0);
  mproc_process_t *p = NULL;
  ASSERT_EQ(mproc_process_create(&p, make_segment, &job, sizeof job, NULL), 0);
  ASSERT_EQ(mproc_process_start(p), 0);
  ASSERT_EQ(mproc_event_wait(&job.made, scaled_ms(20000)), 0);
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
