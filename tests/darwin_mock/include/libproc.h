/* SPDX-License-Identifier: MIT */
/* Test mock of the part of macOS's <libproc.h> that src/posix/
 * procinfo_darwin.c uses. On macOS, rusage_info_t and struct
 * rusage_info_v0 come from <sys/resource.h>; the mock cannot replace that
 * header without hiding Linux's own, so it declares them here. Used by
 * tests/darwin_mock only (see sys/proc.h here). */
#ifndef DARWIN_MOCK_LIBPROC_H
#define DARWIN_MOCK_LIBPROC_H

#include <stdint.h>
#include <sys/proc_info.h>

#define RUSAGE_INFO_V0 0

typedef void *rusage_info_t;

struct rusage_info_v0 {
  uint8_t ri_uuid[16];
  uint64_t ri_user_time; /* Mach absolute time units */
  uint64_t ri_system_time;
  uint64_t ri_pkg_idle_wkups;
  uint64_t ri_interrupt_wkups;
  uint64_t ri_pageins;
  uint64_t ri_wired_size;
  uint64_t ri_resident_size;
  uint64_t ri_phys_footprint;
  uint64_t ri_proc_start_abstime;
  uint64_t ri_proc_exit_abstime;
};

#ifdef __cplusplus
extern "C" {
#endif
/* The number of pids written (with a NULL buffer: how many there may be);
 * 0 with errno set on failure. */
int proc_listallpids(void *buffer, int buffersize);
/* Bytes written; 0 with errno set on failure. */
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer,
                 int buffersize);
/* 0; -1 with errno set. */
int proc_pid_rusage(int pid, int flavor, rusage_info_t *buffer);
#ifdef __cplusplus
}
#endif

#endif
