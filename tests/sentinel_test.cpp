// SPDX-License-Identifier: MIT
// Process sentinels: ready when the child ended and not before, usable in
// poll and epoll (POSIX) and WaitForMultipleObjects (Windows), under every
// start method.
#include <gtest/gtest.h>
#include <string.h>

#include <memory>
#include <vector>

#ifdef _WIN32
#include <windows.h>
#else
#include <poll.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#endif

#include "helpers.h"
#include "mproc.h"
#include "shared_testing.h"

using mproc_test::scaled_ms;
using shared_testing::Child;
using shared_testing::MethodTest;

namespace {

class Sentinel : public MethodTest {};

// Whether the sentinel is ready within timeout_ms (0: now).
bool ready_within(mproc_os_handle_t h, int timeout_ms) {
#ifdef _WIN32
  return WaitForSingleObject((HANDLE)h, (DWORD)timeout_ms) == WAIT_OBJECT_0;
#else
  struct pollfd pfd = {(int)h, POLLIN, 0};
  int r = poll(&pfd, 1, timeout_ms);
  return r == 1 && (pfd.revents & (POLLIN | POLLHUP)) != 0;
#endif
}

// Waits for its event, then ends with 7.
int wait_then_exit(const void *arg, size_t) {
  mproc_event_t ev;
  memcpy(&ev, arg, sizeof ev);
  return mproc_event_wait(&ev, MPROC_INFINITE) == 0 ? 7 : 1;
}
MPROC_TARGET(wait_then_exit);

struct Ev {
  mproc_event_t ev;
  Ev() { EXPECT_EQ(mproc_event_create(&ev), 0); }
  ~Ev() { mproc_event_destroy(&ev); }
};

TEST_P(Sentinel, ReadyWhenTheChildEndsNotBefore) {
  Ev ev;
  Child c(wait_then_exit, &ev.ev, sizeof ev.ev);
  mproc_os_handle_t h = 0, again = 0;
  ASSERT_EQ(mproc_process_sentinel(c.process(), &h), 0);
  ASSERT_EQ(mproc_process_sentinel(c.process(), &again), 0);
  EXPECT_EQ(h, again);
  // The child waits for the event: its sentinel cannot be ready.
  EXPECT_FALSE(ready_within(h, 50));
  EXPECT_TRUE(c.alive());
  ASSERT_EQ(mproc_event_set(&ev.ev), 0);
  EXPECT_TRUE(ready_within(h, scaled_ms(30000)));
  EXPECT_EQ(c.finish(), 7);
  // Still ready after the join, until the process object is freed.
  EXPECT_TRUE(ready_within(h, 0));
}

TEST_P(Sentinel, ReadyAfterAKill) {
  Ev ev;
  Child c(wait_then_exit, &ev.ev, sizeof ev.ev);
  mproc_os_handle_t h = 0;
  ASSERT_EQ(mproc_process_sentinel(c.process(), &h), 0);
  EXPECT_FALSE(ready_within(h, 0));
  ASSERT_EQ(mproc_process_kill(c.process()), 0);
  EXPECT_TRUE(ready_within(h, scaled_ms(30000)));
  EXPECT_EQ(c.finish(), -SIGKILL);
}

TEST_P(Sentinel, AskedForOnlyAfterTheReapIsReadyAtOnce) {
  Ev ev;
  Child c(wait_then_exit, &ev.ev, sizeof ev.ev);
  ASSERT_EQ(mproc_event_set(&ev.ev), 0);
  EXPECT_EQ(c.finish(), 7);
  mproc_os_handle_t h = 0;
  ASSERT_EQ(mproc_process_sentinel(c.process(), &h), 0);
  EXPECT_TRUE(ready_within(h, 0));
}

// Three children, released one at a time: each wait over all the sentinels
// reports exactly the one that ended.
TEST_P(Sentinel, OneWaitOverManyTellsWhichEnded) {
  const int n = 3;
  Ev ev[n];
  std::vector<std::unique_ptr<Child>> kids;
  std::vector<mproc_os_handle_t> hs(n);
  for (int i = 0; i < n; i++) {
    kids.emplace_back(new Child(wait_then_exit, &ev[i].ev, sizeof ev[i].ev));
    ASSERT_EQ(mproc_process_sentinel(kids[i]->process(), &hs[i]), 0);
  }
  std::vector<bool> done(n, false);
  for (int order : {1, 2, 0}) {
    ASSERT_EQ(mproc_event_set(&ev[order].ev), 0);
#ifdef _WIN32
    std::vector<HANDLE> live;
    std::vector<int> idx;
    for (int i = 0; i < n; i++)
      if (!done[i]) {
        live.push_back((HANDLE)hs[i]);
        idx.push_back(i);
      }
    DWORD w = WaitForMultipleObjects((DWORD)live.size(), live.data(), FALSE,
                                     (DWORD)scaled_ms(30000));
    ASSERT_LT(w, WAIT_OBJECT_0 + live.size());
    int got = idx[w - WAIT_OBJECT_0];
#else
    std::vector<struct pollfd> pfds;
    std::vector<int> idx;
    for (int i = 0; i < n; i++)
      if (!done[i]) {
        pfds.push_back({(int)hs[i], POLLIN, 0});
        idx.push_back(i);
      }
    ASSERT_EQ(poll(pfds.data(), pfds.size(), scaled_ms(30000)), 1);
    int got = -1;
    for (size_t k = 0; k < pfds.size(); k++)
      if (pfds[k].revents)
        got = idx[k];
#endif
    EXPECT_EQ(got, order);
    done[order] = true;
    EXPECT_EQ(kids[order]->finish(), 7);
  }
}

#ifdef __linux__
TEST_P(Sentinel, WorksInEpoll) {
  Ev ev;
  Child c(wait_then_exit, &ev.ev, sizeof ev.ev);
  mproc_os_handle_t h = 0;
  ASSERT_EQ(mproc_process_sentinel(c.process(), &h), 0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  struct epoll_event e = {};
  e.events = EPOLLIN;
  e.data.u64 = 42;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, (int)h, &e), 0);
  struct epoll_event out = {};
  EXPECT_EQ(epoll_wait(ep, &out, 1, 0), 0);
  ASSERT_EQ(mproc_event_set(&ev.ev), 0);
  ASSERT_EQ(epoll_wait(ep, &out, 1, scaled_ms(30000)), 1);
  EXPECT_EQ(out.data.u64, 42u);
  EXPECT_EQ(c.finish(), 7);
  close(ep);
}
#endif

MPROC_INSTANTIATE_METHODS(Sentinel);

int return_zero(const void *, size_t) { return 0; }
MPROC_TARGET(return_zero);

TEST(SentinelErrors, BadInputIsRefused) {
  mproc_process_t *p = nullptr;
  mproc_os_handle_t h = 0;
  ASSERT_EQ(mproc_process_create(&p, return_zero, nullptr, 0, nullptr), 0);
  EXPECT_EQ(mproc_process_sentinel(p, &h), MPROC_ESTATE);
  EXPECT_EQ(mproc_process_sentinel(p, nullptr), MPROC_EINVAL);
  EXPECT_EQ(mproc_process_free(p), 0);
  int not_a_process = 0;
  EXPECT_EQ(mproc_process_sentinel((mproc_process_t *)&not_a_process, &h),
            MPROC_EBADHANDLE);
  EXPECT_EQ(mproc_process_sentinel(nullptr, &h), MPROC_EINVAL);
}

} // namespace
