/* SPDX-License-Identifier: MIT */
/*
 * The one seam between mproc's common code and a platform backend.
 *
 * Common code (the .c files of src/) calls only what is declared here; each
 * backend (src/posix/, src/win32/) implements it. Policy (names, lifecycle
 * rules, what happens at exit) stays in common code; a backend holds
 * mechanisms: how to start a child, wait for it, signal it, and the clock.
 */
#ifndef MPROC_PLATFORM_H
#define MPROC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "os_types.h" /* the backend's: mproc__mutex_t */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---------------------------------------------------------- */

/* Map a native error (errno, GetLastError) to an MPROC_E* code. Errors with
 * a meaning of their own in mproc's space (no memory, no such process,
 * permission denied, ...) map to that code; any other becomes MPROC_EOS with
 * the native value kept for mproc_os_error(). */
int mproc__os_translate(int native_error);

/* ---- clock and identity ---------------------------------------------- */

/* Monotonic clock in nanoseconds; never goes back, unrelated to wall time. */
int64_t mproc__clock_ns(void);

/* Deadline arithmetic on that clock (src/deadline.c), without overflow:
 * a negative timeout (MPROC_INFINITE) or a deadline past the clock's range
 * is MPROC_INFINITE. Every deadline is computed through these two. */
int64_t mproc__deadline_from_timeout(int64_t timeout_ms);
/* The deadline timeout_ms after start_ns (a time on that clock, or
 * MPROC_INFINITE, which stays infinite). */
int64_t mproc__deadline_after(int64_t start_ns, int64_t timeout_ms);
/* Milliseconds left before the deadline (rounded up, 0 when past), or
 * MPROC_INFINITE for an infinite deadline. */
int64_t mproc__timeout_left(int64_t deadline_ns);

mproc_pid_t mproc__os_getpid(void);
mproc_pid_t mproc__os_getppid(void);
int mproc__os_cpu_count(void);

/* ---- in-process mutex ------------------------------------------------ */

void mproc__mutex_init(mproc__mutex_t *m);
void mproc__mutex_lock(mproc__mutex_t *m);
void mproc__mutex_unlock(mproc__mutex_t *m);

/* ---- child processes ------------------------------------------------- */

/* One end of an anonymous pipe: an fd on POSIX, a HANDLE on Windows. */
typedef intptr_t mproc__pipe_t;
#define MPROC__PIPE_INVALID ((mproc__pipe_t)-1)

/* Most pipe ends one child may be handed (a Pool worker takes two). */
#define MPROC__CHILD_HANDLES_MAX 2

/* What a child is started with. The backend copies nothing it does not need
 * beyond the call: fork inherits the memory as it is. */
typedef struct mproc__child_spec {
  mproc_target_fn target;
  const void *arg;
  size_t arg_size;
  const char *name;     /* the child's mproc_current_process_name() */
  const char *identity; /* its identity, "1", "1:2", ... (see process.c) */
  int daemon;
  mproc_start_method_t method; /* already resolved: never DEFAULT */
  const char *target_name;     /* spawn: the registered name */
  int argc;                    /* spawn: the program's own arguments */
  char **argv;                 /* (after argv[0]), from mproc_init */
  const char *argv0;           /* spawn: the program's argv[0], or NULL */
  const char *title;           /* the role its title shows (NULL: name) */
  int no_title;                /* titles are off (MPROC_NO_TITLE) */
  /* Pipe ends the child keeps open whatever the start method: fork keeps
   * them (every other pool pipe is closed in it), spawn inherits them,
   * the fork server receives them and hands them on. In the child they
   * hold the values valid there (mproc__child_handle()). */
  mproc__pipe_t handles[MPROC__CHILD_HANDLES_MAX];
  size_t nhandles;
} mproc__child_spec_t;

/* The backend's record of one started child (opaque to common code). */
typedef struct mproc__child mproc__child_t;

/* Signals common code may send, mapped by each backend. */
enum { MPROC__SIG_TERM = 1, MPROC__SIG_KILL = 2 };

/* Whether the backend can start children with this method. */
int mproc__child_method_supported(mproc_start_method_t method);

/* The default start method of this platform. */
mproc_start_method_t mproc__child_default_method(void);

/* Start a child. In the child, the backend calls mproc__child_main(spec)
 * and ends the process with its return value; it never returns there. */
int mproc__child_start(const mproc__child_spec_t *spec, mproc__child_t **out);

mproc_pid_t mproc__child_pid(const mproc__child_t *c);

/* Wait until the child has ended and been reaped, or the timeout passes.
 * Returns 0 with *exitcode set, or MPROC_ETIMEDOUT. */
int mproc__child_wait(mproc__child_t *c, int64_t timeout_ms, int *exitcode);

/* Send MPROC__SIG_TERM or MPROC__SIG_KILL; a child already reaped is left
 * alone (returns 0). */
int mproc__child_signal(mproc__child_t *c, int sig);

/* A new handle that becomes ready when the child ends: a descriptor that
 * polls readable (pidfd or status pipe) on POSIX, a waitable process HANDLE
 * on Windows. The caller owns it and closes it with mproc__pipe_close().
 * Returns 0, MPROC_ENOMEM, MPROC_EOS. (posix/sentinel.c, win32/sentinel.c) */
int mproc__child_sentinel(mproc__child_t *c, mproc__pipe_t *out);

/* Common code is done with the record. The backend frees it once the child
 * has been reaped; a child still running is reaped later, never left a
 * zombie. */
void mproc__child_release(mproc__child_t *c);

/* ---- pid inspection -------------------------------------------------- */
/* Linux: posix/procinfo_linux.c (/proc); macOS: posix/procinfo_darwin.c
 * (libproc, sysctl); Windows: win32/procinfo.c (Toolhelp32, NtQuery);
 * other POSIX systems: posix/procinfo_unsupported.c. */

/* Every pid visible now, in any order, as an array allocated with malloc
 * (*pids NULL when *count is 0). A backend without the means returns
 * MPROC_ENOTSUP. */
int mproc__proc_enumerate(mproc_pid_t **pids, size_t *count);

/* Read one process into *info, which the caller has zeroed. `want` holds the
 * MPROC_PROC_HAS_* bits the caller needs; the backend may skip the others
 * (reading the command line costs most) and sets info->valid to what it
 * read. The argv block is one malloc'd allocation (the pointer array
 * followed by the strings), freed with free(info->argv).
 * Returns 0; MPROC_ESRCH when the pid does not exist or the process ended
 * during the read (info holds nothing then); MPROC_EPERM when a wanted part
 * was refused (info holds what was read); MPROC_ENOMEM; MPROC_EOS. */
int mproc__proc_read(mproc_pid_t pid, unsigned int want,
                     mproc_proc_info_t *info);

/* ---- shared memory for shared objects -------------------------------- */

/* Longest segment name, the leading '/' included (macOS's limit). */
#define MPROC__SHM_NAME_MAX 31

/* Create the named segment of `size` bytes (zero-filled), failing if the
 * name exists, and map it read-write at *base. Returns 0, MPROC_EOS (EEXIST
 * kept for mproc_os_error()), MPROC_ENOMEM. */
int mproc__shm_create(const char *name, size_t size, void **base);

/* Map an existing segment of exactly `size` bytes. Returns 0;
 * MPROC_EBADHANDLE when no segment has that name or its size differs;
 * MPROC_EOS. */
int mproc__shm_attach(const char *name, size_t size, void **base);

/* Remove the name; mappings stay valid until unmapped. ENOENT is not an
 * error. */
void mproc__shm_unlink(const char *name);

void mproc__shm_unmap(void *base, size_t size);

/* Call fn for each segment whose name (without the '/') starts with
 * prefix. Returns 0, or MPROC_ENOTSUP where the system cannot list its
 * segments (macOS). */
int mproc__shm_list(const char *prefix, void (*fn)(const char *name, void *ctx),
                    void *ctx);

/* As mproc__shm_create, with every byte backed at once: a size the system
 * cannot hold fails here with MPROC_ENOMEM instead of faulting when a page
 * is first touched (Value and Array bodies, which may be large). */
int mproc__shm_create_reserved(const char *name, size_t size, void **base);

/* ---- named blocks (SharedMemory): posix/shm_block.c, win32/shm_block.c */

/* Create the block `name` of `size` zero bytes, backed at once, with
 * permission bits `mode` (POSIX; Windows gives the creator's default
 * access, which is the user's own), failing when the name exists.
 * Returns 0, MPROC_EEXIST, MPROC_ENOMEM, MPROC_EPERM, MPROC_EOS. */
int mproc__shm_block_create(const char *name, size_t size, unsigned mode,
                            void **base);

/* Map the existing block `name` whole; *size receives the bytes mapped (a
 * multiple of mproc__shm_block_granule()). Returns 0, MPROC_ENOENT,
 * MPROC_EPERM, MPROC_ENOMEM, MPROC_EOS. */
int mproc__shm_block_attach(const char *name, void **base, size_t *size);

void mproc__shm_block_unmap(void *base, size_t size);

/* Remove the name (POSIX: the memory stays while mapped). Windows keeps a
 * block while some process has it open and cannot remove a name sooner:
 * nothing is done there. */
void mproc__shm_block_unlink(const char *name);

/* The unit block sizes are rounded up to: the page size. */
size_t mproc__shm_block_granule(void);

/* 0 when no process has this pid any more; 1 when it exists (a zombie
 * counts, until it is reaped) or when the system will not say. */
int mproc__pid_alive(mproc_pid_t pid);

/* Register handlers around fork() (pthread_atfork on POSIX; nothing on
 * Windows, which has no fork). */
int mproc__os_atfork(void (*prepare)(void), void (*parent)(void),
                     void (*child)(void));

/* ---- wait and wake on 32-bit words in shared memory ------------------ */
/* Policy in common code (src/wait.c): look at the words, mind the deadline
 * and the slice, sleep again after a return that brought no news. The
 * backend's mechanism is one sleep, mproc__os_sleep(), and the wake. */

/* Sleep while *word holds `expected`, until a wake, the deadline (on the
 * mproc__clock_ns clock; MPROC_INFINITE for none), or a spurious return.
 * Works across processes that map the word at different addresses. Returns
 * 0 (look again) or MPROC_ETIMEDOUT once the deadline has passed. One call
 * returns after at most 100 ms, so that callers look at what the word
 * cannot tell them (a destroyed object, a dead lock owner). Callers loop;
 * they never rely on being woken for a reason. (src/wait.c) */
int mproc__wait32(void *word, uint32_t expected, int64_t deadline_ns);

/* Wake every sleeper on the word, after the word changed. Costs no system
 * call when nobody sleeps. */
void mproc__wake32(void *word);

/* Sleep until one of the nwords words no longer holds its expected value
 * (or is woken), one of the nhandles handles (process sentinels, from
 * mproc__child_sentinel()) is ready, the deadline passes, or a spurious
 * return. handle_ready[i] is set to 1 for each handle seen ready, else 0;
 * a backend may leave them all 0 when it sleeps on the words alone, which
 * then must include one that changes when a child is reaped. Returns 0
 * (look again) or MPROC_ETIMEDOUT once the deadline has passed; MPROC_ENOMEM,
 * MPROC_EOS; at most 100 ms, as mproc__wait32(). (src/wait.c) */
int mproc__wait_many(void *const *words, const uint32_t *expected,
                     size_t nwords, const mproc__pipe_t *handles,
                     size_t nhandles, int64_t deadline_ns,
                     unsigned char *handle_ready);

/* The backend's one sleep under both: return when a word may have changed
 * (woken, or the value differs already), a handle is ready (handle_ready,
 * which the caller has zeroed, marks it), at `until` (never
 * MPROC_INFINITE), or sooner for any reason; the caller looks at the
 * words and sleeps again. `round` counts the sleeps of this wait, for a
 * backend that naps with a growing interval. Returns 0, MPROC_ETIMEDOUT,
 * MPROC_ENOMEM or MPROC_EOS. Linux: a futex (futex_waitv for several
 * words), poll for handles alone (posix/futex.c); portable POSIX: naps,
 * poll for handles alone (posix/wait_portable.c); Windows: see
 * win32/wait.c. */
int mproc__os_sleep(void *const *words, const uint32_t *expected, size_t nwords,
                    const mproc__pipe_t *handles, size_t nhandles,
                    int64_t until, unsigned round, unsigned char *handle_ready);

/* ---- the backend's own crash-aware lock ------------------------------ */

/* Bytes a native lock occupies in shared memory (8-byte aligned). */
#define MPROC__NATIVE_LOCK_BYTES 64

/* 1 when the backend has a process-shared lock that reports its holder's
 * death (glibc's robust mutexes); 0 when common code must use its own. */
int mproc__native_lock_available(void);
int mproc__native_lock_init(void *mem);
/* 0; MPROC_EOWNERDEAD (the holder died; the caller now holds it);
 * MPROC_ETIMEDOUT at the deadline (MPROC_INFINITE for none). */
int mproc__native_lock_acquire(void *mem, int64_t deadline_ns);
/* 0; MPROC_ENOTOWNER when the calling thread does not hold it. */
int mproc__native_lock_release(void *mem);
/* 1 when the calling thread holds it, 0 when it does not, -1 when the
 * backend cannot tell (Condition checks its caller with it). */
int mproc__native_lock_held(void *mem);

/* ---- pipes (Pool) ----------------------------------------------------- */

/* Create a pipe whose ends are never inherited by a child: close-on-exec,
 * and, on POSIX, closed in every fork child (mproc's or the application's)
 * except the ends named by mproc__pipe_keep_in_child(). Returns 0,
 * MPROC_ENOMEM, MPROC_EOS. */
int mproc__pipe_create(mproc__pipe_t *read_end, mproc__pipe_t *write_end);

/* Close an end (INVALID is accepted) and set it to MPROC__PIPE_INVALID. */
void mproc__pipe_close(mproc__pipe_t *end);

/* The next child this thread forks keeps these two ends (either may be
 * INVALID); INVALID, INVALID clears the choice. */
void mproc__pipe_keep_in_child(mproc__pipe_t a, mproc__pipe_t b);

/* Make reads of this end return at once when nothing is buffered. */
int mproc__pipe_set_nonblocking(mproc__pipe_t end);

/* Write all n bytes, waiting as needed. Returns 0; MPROC_ECLOSED when the
 * reading end is gone (never a signal); MPROC_EOS. */
int mproc__pipe_write_all(mproc__pipe_t end, const void *buf, size_t n);

/* Read exactly n bytes, waiting as needed. Returns 0; MPROC_ECLOSED at
 * end of file before n bytes; MPROC_EOS. */
int mproc__pipe_read_all(mproc__pipe_t end, void *buf, size_t n);

/* Read what is there, at most n bytes. A blocking end waits for at least
 * one byte; a non-blocking one returns MPROC_EEMPTY when nothing is
 * buffered. Returns 0 with *got > 0; MPROC_EEMPTY; MPROC_ECLOSED at end of
 * file; MPROC_EOS. */
int mproc__pipe_read_some(mproc__pipe_t end, void *buf, size_t n, size_t *got);

/* Sleep until at least one of the n ends is readable or at end of file,
 * or the deadline (mproc__clock_ns clock, MPROC_INFINITE for none) passes.
 * ready[i] is set to 1 for each such end, 0 otherwise. Returns 0,
 * MPROC_ETIMEDOUT, MPROC_ENOMEM, MPROC_EOS. */
int mproc__pipe_wait_readable(const mproc__pipe_t *ends, size_t n,
                              int64_t deadline_ns, unsigned char *ready);

/* ---- threads and condition variables (Pool) ---------------------------- */

typedef struct mproc__thread mproc__thread_t;

/* Start a thread running fn(arg) with every signal blocked, so that the
 * application's signals go to its own threads and a write to a closed pipe
 * fails with an error instead of a signal. Returns 0, MPROC_ENOMEM,
 * MPROC_EOS. */
int mproc__thread_start(mproc__thread_t **out, void (*fn)(void *), void *arg);

/* Wait for the thread to return, then free the record. */
void mproc__thread_join(mproc__thread_t *t);

/* Unblock every signal in the calling thread (a child forked from a thread
 * started by mproc__thread_start inherits its mask). */
void mproc__thread_unblock_signals(void);

typedef struct mproc__cond mproc__cond_t;

int mproc__cond_create(mproc__cond_t **out);
void mproc__cond_destroy(mproc__cond_t *c);

/* Release m, sleep until a broadcast or the deadline (mproc__clock_ns
 * clock, MPROC_INFINITE for none), take m again. Returns 0 (look again:
 * wake-ups may be spurious) or MPROC_ETIMEDOUT once the deadline passed. */
int mproc__cond_wait(mproc__cond_t *c, mproc__mutex_t *m, int64_t deadline_ns);
void mproc__cond_broadcast(mproc__cond_t *c);

/* ---- spawned children: the mechanisms under src/bootstrap.c --------- */

struct mproc__boot;

/* Whether this process runs with privileges it was not started with
 * (setuid, setgid, AT_SECURE): then it must not act as a child. */
int mproc__os_secure_mode(void);

/* Read exactly n bytes from an inherited bootstrap channel, or fail (EOF,
 * error) with a negative code. */
int mproc__os_channel_read(int64_t channel, void *buf, size_t n);
int mproc__os_channel_write(int64_t channel, const void *buf, size_t n);
void mproc__os_channel_close(int64_t channel);

/* Fill buf with n unpredictable bytes (the bootstrap cookie). */
int mproc__os_random(void *buf, size_t n);

/* In mproc_init: when argv says this process is the platform's fork
 * server, serve and never return; otherwise return at once. */
void mproc__os_forkserver_if_asked(int *argc, char ***argv);

/* End this process at once with the code; no atexit handlers. */
void mproc__os_exit(int code);

/* In a spawned child whose bootstrap checked out: take the status and
 * death channels the message names, as a forked child does, run
 * mproc__child_main(spec) and end the process. Never returns. */
void mproc__os_child_run_spawned(const struct mproc__boot *boot,
                                 const mproc__child_spec_t *spec);

/* ---- process titles --------------------------------------------------- */
/* Linux: posix/title_linux.c; elsewhere src/title_none.c (nothing). */

/* In mproc_init, before anything else reads argv: remember where the
 * program's arguments live, so that mproc__os_set_title() may rewrite
 * that memory. The strings move to the heap and argv[i] points at the
 * copies: the program sees the same arguments. */
void mproc__os_title_init(int argc, char **argv);

/* The program's name as titles show it (its executable's file name): with
 * NULL, found now unless known already (mproc_init, once it knows this is
 * no spawned child, so that fork children inherit it); otherwise the name
 * given (a spawned child's, from its parent). */
void mproc__os_title_name(const char *name);

/* That name, "" when unknown or where there are no titles. */
const char *mproc__os_program_name(void);

/* Name this process after its executable where the system keeps such a
 * name (Linux's comm, which top shows and pkill matches), and, when role
 * is not NULL, show "<program>: <role>" as its command line (ps, top). */
void mproc__os_set_title(const char *role);

/* In a fork of a single-threaded process that has set a title (the fork
 * server): its thread is named after the program already, so the next
 * mproc__os_set_title() need not name it again. */
void mproc__os_title_named(void);

/* ---- provided by common code, called by the backend ------------------ */

/* Run a child's life after the backend has set the process up: take the
 * name and identity, run the target, then mproc's own exit processing
 * (daemons terminated, other children joined) and flush stdio. Returns the
 * exit code for the backend to end the process with. */
int mproc__child_main(const mproc__child_spec_t *spec);

/* Before mproc_process_start(): hand the child these pipe ends (at most
 * MPROC__CHILD_HANDLES_MAX); see mproc__child_spec_t.handles. Returns 0,
 * MPROC_EINVAL, MPROC_EBADHANDLE, MPROC_ESTATE once started. */
int mproc__process_set_handles(mproc_process_t *p, const mproc__pipe_t *handles,
                               size_t n);

/* Before mproc_process_start(): the role the child's process title shows
 * ("pool worker 2"; the process name when none is set). Returns 0,
 * MPROC_EINVAL (too long), MPROC_EBADHANDLE, MPROC_ESTATE once started. */
int mproc__process_set_title(mproc_process_t *p, const char *role);

/* In a child before its work: show "<program>: <role>" as this process's
 * title, unless the environment turns titles off (MPROC_NO_TITLE); name it
 * after the program either way. */
void mproc__process_title(const char *role);

/* In a child: the i-th pipe end it was handed, valid in this process, or
 * MPROC__PIPE_INVALID. */
mproc__pipe_t mproc__child_handle(size_t i);

/* In a child right after fork (ours or the application's): forget the
 * parent's children, which are not this process's. Runs single-threaded. */
void mproc__process_after_fork_child(void);

/* The exit processing of Python's multiprocessing: terminate daemon
 * children, then join every child still running. */
void mproc__process_exit_children(void);

#ifdef __cplusplus
}
#endif

#endif
