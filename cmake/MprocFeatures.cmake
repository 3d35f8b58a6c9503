# SPDX-License-Identifier: MIT
# Feature detection: compile checks, never #ifdef on enum values.
include(CheckCSourceCompiles)
include(CheckSymbolExists)
include(CMakePushCheckState)

cmake_push_check_state(RESET)
set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
set(CMAKE_REQUIRED_LIBRARIES ${CMAKE_THREAD_LIBS_INIT})

check_c_source_compiles("
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { return (int)syscall(SYS_pidfd_open, 1, 0); }" MPROC_HAVE_PIDFD_OPEN)

check_c_source_compiles("
#include <sys/prctl.h>
#include <signal.h>
int main(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL); }" MPROC_HAVE_PDEATHSIG)

check_c_source_compiles("
#include <fcntl.h>
#include <unistd.h>
int main(void) { int p[2]; return pipe2(p, O_CLOEXEC); }" MPROC_HAVE_PIPE2)

check_c_source_compiles("
#include <pthread.h>
int main(void) {
  pthread_mutexattr_t a; pthread_mutexattr_init(&a);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t m; pthread_mutex_init(&m, &a);
  return pthread_mutex_consistent(&m);
}" MPROC_HAVE_ROBUST_MUTEX)

check_c_source_compiles("
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) { int w = 0; return (int)syscall(SYS_futex, &w, FUTEX_WAKE, 1, 0, 0, 0); }"
  MPROC_HAVE_FUTEX)

check_c_source_compiles("
#include <pthread.h>
#include <time.h>
int main(void) {
  pthread_condattr_t a; pthread_condattr_init(&a);
  return pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
}" MPROC_HAVE_CONDATTR_SETCLOCK)

check_c_source_compiles("
#include <unistd.h>
#include <sys/syscall.h>
int main(void) { return (int)syscall(SYS_gettid); }" MPROC_HAVE_GETTID)

check_c_source_compiles("
#include <pthread.h>
#include <time.h>
int main(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; struct timespec ts = {0, 0};
  return pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts);
}" MPROC_HAVE_MUTEX_CLOCKLOCK)
check_c_source_compiles("
#include <sys/auxv.h>
int main(void) { return (int)getauxval(AT_SECURE); }" MPROC_HAVE_GETAUXVAL)

check_c_source_compiles("
#include <unistd.h>
int main(void) { return issetugid(); }" MPROC_HAVE_ISSETUGID)
check_c_source_compiles("
#include <sys/epoll.h>
int main(void) { return epoll_create1(EPOLL_CLOEXEC); }" MPROC_HAVE_EPOLL)
check_c_source_compiles("
#include <fcntl.h>
int main(void) { return posix_fallocate(0, 0, 1); }" MPROC_HAVE_POSIX_FALLOCATE)
check_c_source_compiles("
#include <spawn.h>
int main(void) {
  posix_spawn_file_actions_t fa; posix_spawn_file_actions_init(&fa);
  return posix_spawn_file_actions_addclosefrom_np(&fa, 3);
}" MPROC_HAVE_SPAWN_CLOSEFROM)
check_c_source_compiles("
#include <unistd.h>
int main(void) { return close_range(3, ~0U, 0); }" MPROC_HAVE_CLOSE_RANGE)
check_c_source_compiles("
#include <sched.h>
#include <signal.h>
static int f(void *p) { (void)p; return 0; }
static char stack[4096];
int main(void) { return clone(f, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, 0); }"
  MPROC_HAVE_CLONE_VFORK)
check_c_source_compiles("
#include <sys/random.h>
int main(void) { char b[16]; return (int)getrandom(b, sizeof b, 0); }"
  MPROC_HAVE_GETRANDOM)
check_c_source_compiles("
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  int fd = open(\"/\", O_PATH | O_CLOEXEC);
  return (int)syscall(SYS_execveat, fd, \"\", (char **)0, (char **)0, AT_EMPTY_PATH);
}" MPROC_HAVE_EXECVEAT)
cmake_pop_check_state()

# The portable build keeps only what POSIX.1-2008 promises.
if(MPROC_PORTABLE)
  foreach(feature PIDFD_OPEN PDEATHSIG PIPE2 ROBUST_MUTEX FUTEX GETTID
                  MUTEX_CLOCKLOCK GETAUXVAL EPOLL SPAWN_CLOSEFROM CLOSE_RANGE
                  CLONE_VFORK GETRANDOM EXECVEAT)
    set(MPROC_HAVE_${feature} OFF)
  endforeach()
endif()

foreach(feature PIDFD_OPEN PDEATHSIG PIPE2 ROBUST_MUTEX FUTEX
                CONDATTR_SETCLOCK GETTID MUTEX_CLOCKLOCK GETAUXVAL ISSETUGID
                EPOLL POSIX_FALLOCATE SPAWN_CLOSEFROM CLOSE_RANGE CLONE_VFORK
                GETRANDOM EXECVEAT)
  if(MPROC_HAVE_${feature})
    set(MPROC_HAVE_${feature} 1)
  else()
    set(MPROC_HAVE_${feature} 0)
  endif()
endforeach()
