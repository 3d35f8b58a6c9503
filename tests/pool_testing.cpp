// SPDX-License-Identifier: MIT
// The Pool suites' tasks (registered here, once for the whole binary), the
// memory their workers share with the test, and the one instantiation of
// PoolM under every start method.
#include "pool_testing.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <process.h>
#else
#include <unistd.h>
#endif

namespace pool_testing {

using mproc_test::scaled_ms;

// ---- shared memory ----------------------------------------------------------

namespace {

const char kSharedEnv[] = "MPROC_POOL_TEST_SHARED";

// Mapped once per process; a fork worker inherits the mapping.
Shared *g_shared;

// The test process's own memory, unmapped and its name removed at exit.
shared_testing::SharedRef g_shared_ref;
intptr_t g_shared_keep = -1;

void remove_shared_memory() {
  shared_testing::unmap_shared(g_shared, g_shared_ref, g_shared_keep);
}

struct SharedMemorySetup {
  SharedMemorySetup() {
    // Workers run this too (they are runs of this binary): they inherit
    // the variable and keep it.
    if (getenv(kSharedEnv))
      return;
    void *p = shared_testing::map_new_shared(sizeof(Shared), &g_shared_ref,
                                             &g_shared_keep);
    if (!p)
      return;
    g_shared = static_cast<Shared *>(p);
    mproc_test::set_env(kSharedEnv, g_shared_ref.path);
    atexit(remove_shared_memory);
  }
} g_shared_memory_setup;

} // namespace

Shared *shared() {
  const char *name = getenv(kSharedEnv);
  if (!g_shared && name) {
    shared_testing::SharedRef ref = {};
    snprintf(ref.path, sizeof ref.path, "%s", name);
    ref.bytes = sizeof(Shared);
    g_shared = static_cast<Shared *>(shared_testing::map_shared(ref));
  }
  return g_shared;
}

Shared *reset_shared() {
  Shared *sh = shared();
  EXPECT_NE(sh, nullptr);
  if (sh)
    memset(static_cast<void *>(sh), 0, sizeof(Shared));
  return sh;
}

// ---- tasks ------------------------------------------------------------------

int sleep_then_echo(const void *arg, size_t size, mproc_buf_t *out) {
  int ms;
  memcpy(&ms, arg, sizeof ms);
  mproc_test::sleep_ms(ms); // the work itself: a task that takes time
  return mproc_buf_set(out, arg, size);
}
MPROC_TASK(sleep_then_echo);

int echo_when_open(const void *arg, size_t size, mproc_buf_t *out) {
  GateArg g;
  if (size != sizeof g)
    return 2;
  memcpy(&g, arg, sizeof g);
  if (mproc_event_wait(&g.open, scaled_ms(60000)) != 0)
    return 1;
  return mproc_buf_set(out, &g.value, sizeof g.value);
}
MPROC_TASK(echo_when_open);

int big_result(const void *arg, size_t, mproc_buf_t *out) {
  size_t n;
  memcpy(&n, arg, sizeof n);
  unsigned char *p = static_cast<unsigned char *>(mproc_buf_extend(out, n));
  if (!p)
    return 1;
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 7 + (i >> 20));
  return 0;
}
MPROC_TASK(big_result);

int some_fail(const void *arg, size_t, mproc_buf_t *out) {
  int64_t v;
  memcpy(&v, arg, sizeof v);
  if (v % 10 == 3)
    return 5;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(some_fail);

int my_pid(const void *, size_t, mproc_buf_t *out) {
  int64_t pid = mproc_getpid();
  return mproc_buf_set(out, &pid, sizeof pid);
}
MPROC_TASK(my_pid);

namespace {
// What each worker's initializer saw, and how often it ran in it.
char g_init_arg[32];
int g_init_runs;
} // namespace

int initializer(const void *arg, size_t size) {
  g_init_runs++;
  memcpy(g_init_arg, arg,
         size < sizeof g_init_arg ? size : sizeof g_init_arg - 1);
  return 0;
}
MPROC_TARGET(initializer);

int report_init(const void *, size_t, mproc_buf_t *out) {
  InitReport r;
  memset(&r, 0, sizeof r);
  r.pid = mproc_getpid();
  r.runs = g_init_runs;
  memcpy(r.arg, g_init_arg, sizeof r.arg);
  return mproc_buf_set(out, &r, sizeof r);
}
MPROC_TASK(report_init);

int meet(const void *arg, size_t, mproc_buf_t *) {
  int n;
  memcpy(&n, arg, sizeof n);
  shared()->met.fetch_add(1);
  return mproc_test::wait_until([n] { return shared()->met.load() >= n; }) ? 0
                                                                           : 1;
}
MPROC_TASK(meet);

// Runs until killed from outside, a minute at most: the test kills it
// long before, and only then expects its end.
void wait_for_kill() {
  for (int i = 0; i < 600; i++)
    mproc_test::sleep_ms(100); // not synchronisation: the kill ends it
}

int die(const void *arg, size_t, mproc_buf_t *) {
  int how;
  memcpy(&how, arg, sizeof how);
  switch (how) {
  case DIE_SEGV:
    mproc_test::crash();
    break;
  case DIE_ABORT:
    signal(SIGABRT, SIG_DFL);
#ifdef _MSC_VER
    // The Universal CRT's abort() would end the process with a fast-fail
    // code (0xC0000409) instead of exit code 3.
    _set_abort_behavior(0, _WRITE_ABORT_MSG | _CALL_REPORTFAULT);
#endif
    abort();
  case DIE_EXIT3:
    _exit(3); // exit() would run the test binary's atexit handlers
  case DIE_WAIT_FOR_KILL:
    if (!shared())
      return 1;
    shared()->victim_pid.store(mproc_getpid());
    wait_for_kill();
    break;
  }
  return 0;
}
MPROC_TASK(die);

int count_run(const void *arg, size_t, mproc_buf_t *out) {
  int i;
  memcpy(&i, arg, sizeof i);
  if (!shared())
    return 1;
  shared()->runs[i].fetch_add(1);
  shared()->tasks_run.fetch_add(1);
  int v = i * 3;
  return mproc_buf_set(out, &v, sizeof v);
}
MPROC_TASK(count_run);

int start_then_wait_for_kill(const void *, size_t, mproc_buf_t *) {
  if (!shared())
    return 1;
  shared()->started.fetch_add(1);
  wait_for_kill();
  return 0;
}
MPROC_TASK(start_then_wait_for_kill);

// ---- the test's side --------------------------------------------------------

std::string get_string(mproc_async_result_t *r, int *status) {
  const void *data = nullptr;
  size_t size = 0;
  EXPECT_EQ(mproc_async_result_get(r, scaled_ms(30000), status, &data, &size),
            0);
  return std::string(static_cast<const char *>(data), size);
}

mproc_pid_t victim_pid() {
  mproc_test::wait_until([] { return shared()->victim_pid.load() != 0; });
  return (mproc_pid_t)shared()->victim_pid.load();
}

bool kill_victim() {
  mproc_pid_t pid = victim_pid();
  if (pid <= 0 || !is_our_child(pid))
    return false;
  mproc_test::kill_pid(pid);
  return true;
}

MPROC_INSTANTIATE_METHODS(PoolM);

} // namespace pool_testing
