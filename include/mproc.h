/* SPDX-License-Identifier: MIT */
/**
 * @file mproc.h
 * @brief mproc: Python's multiprocessing model for C.
 *
 * Process, Pool, Queue, Lock and pid inspection behind one header, with a
 * POSIX backend and a Windows backend.
 *
 * Conventions used by every function in this header:
 *
 * - Every fallible call returns `int`: `0` on success, a negative `MPROC_E*`
 *   code on failure. mproc_strerror() names a code. When a call fails with
 *   MPROC_EOS, mproc_os_error() returns the native errno / GetLastError()
 *   value of that failure in the calling thread.
 * - Timeouts are `int64_t` milliseconds: #MPROC_INFINITE waits forever, `0`
 *   polls. A timed wait sleeps in the kernel; it never busy-polls.
 * - Options come in structs whose zero value means "the default".
 * - Bad input (NULL pointers, absurd sizes, handles used after free, calls out
 *   of lifecycle order) returns an error code; the library never aborts.
 * - Every call is safe from any thread.
 */
#ifndef MPROC_H
#define MPROC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @def MPROC_API
 * @brief Marks the functions the shared library exports (and, on Windows,
 * imports); everything else in the library stays hidden. On Windows a
 * program using the DLL defines MPROC_SHARED (the CMake target mproc does
 * it); the static library is compiled without it. */
#if defined(_WIN32) && defined(MPROC_SHARED)
#if defined(MPROC_BUILDING)
#define MPROC_API __declspec(dllexport)
#else
#define MPROC_API __declspec(dllimport)
#endif
#elif defined(_WIN32)
#define MPROC_API
#elif defined(MPROC_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define MPROC_API __attribute__((visibility("default")))
#else
#define MPROC_API
#endif

/** @def MPROC_DEPRECATED
 * @brief Marks a function kept for source compatibility only: the
 * compiler warns where it is called, naming its replacement. */
#if defined(__GNUC__) || defined(__clang__)
#define MPROC_DEPRECATED(msg) __attribute__((deprecated(msg)))
#elif defined(_MSC_VER)
#define MPROC_DEPRECATED(msg) __declspec(deprecated(msg))
#else
#define MPROC_DEPRECATED(msg)
#endif

/** @name Version */
/** @{ */
/** @brief Major version: changes break the API or ABI. */
#define MPROC_VERSION_MAJOR 0
/** @brief Minor version: new API, compatible. */
#define MPROC_VERSION_MINOR 1
/** @brief Patch version: fixes only. */
#define MPROC_VERSION_PATCH 0
/** @brief The version as one number, 0xMMmmpp (major, minor, patch), for
 * comparisons in the preprocessor: `#if MPROC_VERSION_HEX >= 0x000200`. */
#define MPROC_VERSION_HEX                                                      \
  ((MPROC_VERSION_MAJOR << 16) | (MPROC_VERSION_MINOR << 8) |                  \
   MPROC_VERSION_PATCH)
/** @brief The library's version as "MAJOR.MINOR.PATCH". Any process, any
 * thread. */
MPROC_API const char *mproc_version(void);
/** @brief The version of the library running, as #MPROC_VERSION_HEX (which
 * gives the version of the header the caller was compiled with). Any
 * process, any thread. */
MPROC_API unsigned int mproc_version_hex(void);
/** @} */

/** @name ABI
 *
 * Every options struct ends with `reserved`, room for fields of later
 * versions: a caller compiled against this header keeps working with a
 * library that has given some of that room a meaning, because the struct's
 * size and the offsets of its fields never change within a major version.
 * The reserved words must be zero (a `= {0}` initialiser or memset does
 * it); a call given non-zero ones fails with MPROC_EINVAL, so that a caller
 * cannot come to depend on a field that does not exist yet. */
/** @{ */
/** @brief How many 64-bit words of room an options struct keeps for later
 * fields. */
#define MPROC_RESERVED_WORDS 8
/** @} */

/** @name Memory the library returns
 *
 * A plain buffer the library allocates for the caller (a message from
 * mproc_queue_get() or mproc_connection_recv(), result bytes from
 * mproc_pool_apply()) is released with mproc_free(), whatever returned it.
 * Objects are released by their own call (mproc_process_free(),
 * mproc_pool_free(), mproc_queue_destroy(), ...), and so are records that
 * own allocations inside them (mproc_proc_info_free(),
 * mproc_proc_list_free()). See docs/api-conventions.md. */
/** @{ */
/**
 * @brief Free a buffer the library returned; NULL is accepted.
 *
 * Use it, never the C library's `free()`: on Windows the library and the
 * program may each have a C runtime of their own, and only the library's
 * may free what the library allocated.
 * @param p  NULL, or a buffer returned by mproc.
 * Any thread of the process that received the buffer.
 */
MPROC_API void mproc_free(void *p);
/** @} */

/** @name Errors */
/** @{ */

/**
 * @brief The error table: name, value, message.
 *
 * Values are the same on every platform, so they work as `case` labels.
 */
#define MPROC_ERRNO_MAP(X)                                                     \
  X(EINVAL, -1, "invalid argument")                                            \
  X(ENOMEM, -2, "out of memory")                                               \
  X(ETIMEDOUT, -3, "timed out")                                                \
  X(EFULL, -4, "queue full")                                                   \
  X(EEMPTY, -5, "queue empty")                                                 \
  X(ECLOSED, -6, "closed")                                                     \
  X(EMSGSIZE, -7, "message larger than the buffer")                            \
  X(EOWNERDEAD, -8, "previous owner died; lock acquired")                      \
  X(ESTATE, -9, "wrong lifecycle state")                                       \
  X(ENOTREG, -10, "target not registered")                                     \
  X(EWORKERLOST, -11, "worker lost")                                           \
  X(ESRCH, -12, "no such process")                                             \
  X(EPERM, -13, "permission denied")                                           \
  X(EOS, -14, "operating system error")                                        \
  X(ENOTSUP, -15, "not supported on this platform or build")                   \
  X(EBADHANDLE, -16, "invalid or freed handle")                                \
  X(ERANGE, -17, "result does not fit the buffer")                             \
  X(ENOTOWNER, -18, "not held by the caller")                                  \
  X(EOVERFLOW, -19, "count would exceed its bound")                            \
  X(EBROKEN, -20, "broken: aborted, timed out or a participant died")          \
  X(ENOENT, -21, "no such object")                                             \
  X(EEXIST, -22, "already exists")

/** @brief Error codes; all negative. */
enum mproc_error {
#define MPROC__ERR_ENUM(name, value, msg) MPROC_##name = (value),
  MPROC_ERRNO_MAP(MPROC__ERR_ENUM)
#undef MPROC__ERR_ENUM
      MPROC__ERR_LAST = -23
};

/**
 * @brief A short English message for an error code.
 * @return A static string; "unknown error" for a value outside the table.
 * Any process, any thread.
 */
MPROC_API const char *mproc_strerror(int code);

/**
 * @brief The code's symbolic name, e.g. "MPROC_EINVAL".
 * @return A static string; "MPROC_E?" for a value outside the table.
 */
MPROC_API const char *mproc_error_name(int code);

/**
 * @brief The native error (errno on POSIX, GetLastError() on Windows) of the
 * last call that failed with MPROC_EOS in the calling thread; 0 if none.
 */
MPROC_API int mproc_os_error(void);
/** @} */

/**
 * @defgroup log Logging
 * @brief What mproc reports of itself: workers started, lost and replaced,
 * start failures with their OS error, shared segments reclaimed.
 *
 * Silent by default. mproc_set_log_handler() installs a handler; the
 * environment variable `MPROC_LOG` (`debug`, `info`, `warning` or `error`),
 * read by mproc_init() or at the first message, logs to stderr one line per
 * message, as Python's `multiprocessing.log_to_stderr()` does. A handler set
 * by a call wins over the variable.
 * @{
 */

/** @brief A failure mproc could not hide (a start failed). */
#define MPROC_LOG_ERROR 1
/** @brief A loss mproc recovered from (a pool worker died). */
#define MPROC_LOG_WARNING 2
/** @brief Lifecycle events (a worker replaced, segments reclaimed). */
#define MPROC_LOG_INFO 3
/** @brief Everything, including each worker started. */
#define MPROC_LOG_DEBUG 4

/**
 * @brief A log handler.
 * @param level   the message's level, MPROC_LOG_ERROR .. MPROC_LOG_DEBUG.
 * @param message one line without a newline, NUL-terminated, valid only
 *                during the call; a message longer than 511 bytes is cut and
 *                ends with "...".
 * @param ctx     the pointer given to mproc_set_log_handler().
 *
 * It may be called from any thread of mproc's (the pool's own thread, for
 * one) and from several at once; it is called with no lock of mproc's held,
 * so it may call mproc, including mproc_set_log_handler().
 */
typedef void (*mproc_log_fn)(int level, const char *message, void *ctx);

/**
 * @brief Send mproc's messages of `level` and more severe to `fn`.
 * @param fn    the handler; NULL makes mproc silent again.
 * @param ctx   passed to each call of fn.
 * @param level the least severe level passed on (MPROC_LOG_ERROR ..
 *              MPROC_LOG_DEBUG); ignored when fn is NULL.
 * @return 0, or MPROC_EINVAL for a level out of range with a handler.
 *
 * Thread-safe. A message being delivered while the handler changes may
 * still reach the previous handler.
 */
MPROC_API int mproc_set_log_handler(mproc_log_fn fn, void *ctx, int level);
/** @} */

/** @brief Wait forever. */
#define MPROC_INFINITE ((int64_t)-1)

/** @brief A process id: a pid_t on POSIX, a DWORD on Windows. */
typedef int64_t mproc_pid_t;

/** @name Library start-up */
/** @{ */

/**
 * @brief Initialise mproc in this program; call it first thing in `main`.
 *
 * Python's `if __name__ == '__main__':` guard. With the fork start method it
 * is optional (the first mproc call initialises what it needs); a program that
 * uses the spawn start method must call it, because a spawned child is the
 * same executable and learns here that it is a child: in a spawned child
 * mproc_init() runs the target and ends the process with its exit code; it
 * never returns there.
 *
 * A child is recognised only by its first argument, `--mproc-child=CHANNEL`
 * (with the random cookie in the environment variable MPROC_BOOT_COOKIE on
 * POSIX, after a colon in the flag on Windows), **and** a bootstrap message
 * read from the inherited CHANNEL that carries the same cookie, the registered
 * target name, the process name and the argument bytes. A forged or damaged
 * invocation prints one line to stderr and exits with code 121 without
 * running anything; a setuid/setgid (AT_SECURE) process refuses to be a child
 * and exits with code 122. The flag is removed from argv first, so the child
 * sees the parent's arguments.
 *
 * It registers the exit handler that, at normal exit, terminates daemon
 * children and joins the others. Calling it again does nothing.
 *
 * @param argc  &argc of main, or NULL.
 * @param argv  &argv of main, or NULL. mproc's own arguments are removed; the
 *              others are kept and given to spawned children.
 * @return 0, or MPROC_EOS, MPROC_ENOMEM.
 * Any process; call it from the main thread before starting other threads.
 */
MPROC_API int mproc_init(int *argc, char ***argv);
/** @} */

/** @name Process */
/** @{ */

/**
 * @brief A process's work: a C function.
 *
 * @param arg       The argument bytes given at create time (a private copy in
 *                  the child; NULL when arg_size is 0).
 * @param arg_size  Their size.
 * @return The child's exit code. The operating system keeps its low 8 bits
 *         (0..255), as it does for `exit()`.
 */
typedef int (*mproc_target_fn)(const void *arg, size_t arg_size);

/** @brief How a child is started. */
typedef enum mproc_start_method {
  /** The program's default: fork on POSIX, spawn on Windows. */
  MPROC_START_DEFAULT = 0,
  /** fork(): the child is a copy of the parent (POSIX only). */
  MPROC_START_FORK = 1,
  /** A fresh run of the same executable (posix_spawn of itself); the
   *  target must be registered with MPROC_TARGET(). */
  MPROC_START_SPAWN = 2,
  /** Forked by a single-threaded server (POSIX): a fresh run of this
   *  executable started on first use, safe whatever threads the parent runs.
   *  Targets must be registered, as for spawn; a child's parent pid is the
   *  server's, and it inherits none of the parent's descriptors. */
  MPROC_START_FORKSERVER = 3
} mproc_start_method_t;

/**
 * @brief Set the program's default start method (Python's
 * `set_start_method`); per-process options may still choose another.
 * @param method  #MPROC_START_FORK, #MPROC_START_SPAWN or
 *                #MPROC_START_FORKSERVER; #MPROC_START_DEFAULT restores the
 *                platform default.
 * @return 0; MPROC_EINVAL for a value out of range; MPROC_ENOTSUP for a
 *         method this build does not have.
 * Any process, any thread.
 */
MPROC_API int mproc_set_start_method(mproc_start_method_t method);

/** @brief The program's default start method (never #MPROC_START_DEFAULT). */
MPROC_API mproc_start_method_t mproc_get_start_method(void);

/**
 * @brief One registered target: filled by MPROC_TARGET(), never by hand.
 */
typedef struct mproc_target_entry {
  const char *name;                /**< The name children know it by. */
  mproc_target_fn fn;              /**< The function. */
  struct mproc_target_entry *next; /**< The registry's list; mproc's own. */
} mproc_target_entry_t;

/**
 * @brief Add a target to the registry; MPROC_TARGET() calls it before main.
 *
 * Two entries with the same name and different functions make that name
 * ambiguous: starting either with spawn then fails with MPROC_ENOTREG.
 * @param entry  Static storage that lives as long as the program.
 * Any process, any thread.
 */
MPROC_API void mproc_register_target(mproc_target_entry_t *entry);

#if defined(_MSC_VER)
#pragma section(".CRT$XCU", read)
#define MPROC__INITIALIZER(f)                                                  \
  static void f(void);                                                         \
  __declspec(allocate(".CRT$XCU")) void (*f##_init)(void) = f;                 \
  static void f(void)
#else
#define MPROC__INITIALIZER(f) __attribute__((constructor)) static void f(void)
#endif

/**
 * @brief Register a target under an explicit name, at file scope.
 *
 * Spawned children find their target by this name, never by an address.
 * The registration runs before `main` (a constructor), so it needs no call
 * and survives `-Wl,--gc-sections` and static libraries: the target's object
 * file is linked because the parent names the function.
 */
#define MPROC_TARGET_NAMED(fn, name_string)                                    \
  static mproc_target_entry_t mproc__target_##fn = {name_string, fn, 0};       \
  MPROC__INITIALIZER(mproc__register_##fn) {                                   \
    mproc_register_target(&mproc__target_##fn);                                \
  }                                                                            \
  typedef int mproc__target_registered_##fn

/**
 * @brief Register `fn` under its own name, at file scope:
 * `MPROC_TARGET(worker);` after the function's definition.
 */
#define MPROC_TARGET(fn) MPROC_TARGET_NAMED(fn, #fn)

/** @brief Options for mproc_process_create(); zero means the default. */
typedef struct mproc_process_options {
  /** The process name; NULL gives "Process-N" (N counts from 1 in the creating
   *  process, and a child's children are "Process-N:M"), as in Python. */
  const char *name;
  /** Non-zero: a daemon child, terminated when its parent exits (normally or
   *  killed outright, see mproc_process_set_daemon()). */
  int daemon;
  /** The start method; #MPROC_START_DEFAULT is the program's default. */
  mproc_start_method_t start_method;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_process_options_t;

/** @brief A child process (opaque; lives in the process that created it). */
typedef struct mproc_process mproc_process_t;

/**
 * @brief Exit code reported when the operating system did not keep the
 * status: only when the application set SIGCHLD to SIG_IGN and the child was
 * ended by a signal that mproc did not send.
 */
#define MPROC_EXITCODE_UNKNOWN (-1000)

/**
 * @brief Create a process object (not started yet).
 *
 * @param out       Receives the handle.
 * @param target    The function the child runs.
 * @param arg       Argument bytes, copied now (NULL allowed when arg_size is
 * 0).
 * @param arg_size  Their size.
 * @param options   NULL or options.
 * @return 0, MPROC_EINVAL (NULL out or target, NULL arg with a non-zero
 *         size, a start method out of range, a name over 255 bytes),
 *         MPROC_ENOMEM.
 * Any process, any thread.
 */
MPROC_API int mproc_process_create(mproc_process_t **out,
                                   mproc_target_fn target, const void *arg,
                                   size_t arg_size,
                                   const mproc_process_options_t *options);

/**
 * @brief Start the child (Python's `start()`).
 *
 * Standard streams are flushed first, so no buffered output is printed twice.
 * The child runs the target, then leaves through mproc's exit path: it joins
 * its own children, flushes stdio and calls `_exit()` with the target's
 * return value, so the parent's atexit handlers never run in it.
 *
 * With spawn, the child is a fresh run of this executable that finds the
 * target by its registered name; start returns once the child has read its
 * bootstrap message and found the target.
 *
 * @param p  The process.
 * @return 0; MPROC_ESTATE if already started; MPROC_ENOTREG when the start
 *         method is spawn and the target was not registered with
 *         MPROC_TARGET() (no child is started; forkserver alike);
 *         MPROC_ECLOSED when the new program ended before taking its
 *         bootstrap; MPROC_ENOTSUP for a start
 *         method this build does not have; MPROC_EBADHANDLE; MPROC_EOS.
 * The creating process, any thread.
 */
MPROC_API int mproc_process_start(mproc_process_t *p);

/**
 * @brief Wait for the child to end (Python's `join(timeout)`).
 *
 * @param p  The process.
 * @param timeout_ms  #MPROC_INFINITE, 0 to poll, or milliseconds.
 * @return 0 once the child has ended (its exit code is then available);
 *         MPROC_ETIMEDOUT if it still runs at the deadline; MPROC_ESTATE
 *         if not started; MPROC_EBADHANDLE; MPROC_EINVAL for a negative
 *         timeout other than #MPROC_INFINITE.
 * The creating process, any thread; several threads may join at once.
 */
MPROC_API int mproc_process_join(mproc_process_t *p, int64_t timeout_ms);

/**
 * @brief Whether the child runs: started and not ended.
 * @param p  The process.
 * @param alive  Receives 1 or 0.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_process_is_alive(mproc_process_t *p, int *alive);

/**
 * @brief The child's exit code (Python's `exitcode`).
 *
 * @param p  The process.
 * @param exitcode  Receives the target's return value (0..255), `-N` when
 *                  signal N ended the child, or #MPROC_EXITCODE_UNKNOWN.
 *                  Windows: mproc_process_terminate() and
 *                  mproc_process_kill() read as -15 and -9, as in Python;
 *                  any other exit code is reported as Windows keeps it, so
 *                  a crash gives its exception code (NTSTATUS) as the int
 *                  with the same 32 bits: `(uint32_t)code == 0xC0000005`
 *                  for an access violation.
 * @return 0; MPROC_ESTATE while the child has not ended or was never
 *         started; MPROC_EBADHANDLE; MPROC_EINVAL.
 */
MPROC_API int mproc_process_exitcode(mproc_process_t *p, int *exitcode);

/**
 * @brief Ask the child to stop: SIGTERM on POSIX, TerminateProcess on Windows.
 *
 * A child that has already ended is left alone and 0 is returned. The pid is
 * never signalled after the child was reaped, so a reused pid is never hit.
 * @return 0, MPROC_ESTATE if not started, MPROC_EBADHANDLE, MPROC_EOS.
 */
MPROC_API int mproc_process_terminate(mproc_process_t *p);

/** @brief As mproc_process_terminate(), with SIGKILL. */
MPROC_API int mproc_process_kill(mproc_process_t *p);

/**
 * @brief The child's pid.
 * @return The pid once started; 0 before; MPROC_EBADHANDLE (negative) for a
 *         bad handle.
 */
MPROC_API mproc_pid_t mproc_process_pid(mproc_process_t *p);

/**
 * @brief The process's name.
 * @return A string owned by the handle, valid until mproc_process_free(); NULL
 *         for a bad handle.
 */
MPROC_API const char *mproc_process_name(mproc_process_t *p);

/**
 * @brief Set the daemon flag; only before start (Python asserts the same).
 *
 * A daemon child is terminated (SIGTERM, then joined) when its parent exits
 * normally, as in Python. Unlike Python, it is also killed (SIGKILL) when the
 * parent dies outright (SIGKILL, crash): on Linux through PR_SET_PDEATHSIG
 * when the starting thread is the main thread, otherwise (and on the portable
 * POSIX build) through a watcher thread in the child that sees EOF on a pipe
 * whose write end only the parent holds.
 *
 * @return 0; MPROC_ESTATE after start; MPROC_EBADHANDLE.
 */
MPROC_API int mproc_process_set_daemon(mproc_process_t *p, int daemon);

/**
 * @brief Whether the daemon flag is set.
 * @param p       The process.
 * @param daemon  Receives 1 or 0.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL (NULL daemon).
 */
MPROC_API int mproc_process_daemon(mproc_process_t *p, int *daemon);

/**
 * @brief Free the handle (Python's `close()`).
 *
 * @return 0; MPROC_ESTATE while the child runs or another thread joins it
 *         (nothing is freed then); MPROC_EBADHANDLE. NULL is accepted and
 *         returns 0.
 */
MPROC_API int mproc_process_free(mproc_process_t *p);

/**
 * @brief The children of this process that are alive (Python's
 * `active_children()`); children that ended are reaped on the way.
 *
 * @param out    An array of at least `cap` handles, or NULL when cap is 0.
 * @param cap    Its length.
 * @param count  Receives the number of live children.
 * @return 0; MPROC_ERANGE when more than `cap` are alive (the first `cap`
 *         are written, and *count says how many there are); MPROC_EINVAL.
 */
MPROC_API int mproc_active_children(mproc_process_t **out, size_t cap,
                                    size_t *count);

/** @brief This process's pid. */
MPROC_API mproc_pid_t mproc_getpid(void);

/** @brief This process's parent's pid. */
MPROC_API mproc_pid_t mproc_getppid(void);

/**
 * @brief This process's name: "MainProcess", or the name the parent gave it.
 * @return A static string, valid for the life of the process.
 */
MPROC_API const char *mproc_current_process_name(void);

/** @brief The number of CPUs online; at least 1. */
MPROC_API int mproc_cpu_count(void);
/** @} */

/** @name Process inspection
 *
 * Python's `os.getpid()` seen from outside, in the spirit of `ps`: what the
 * operating system says about any process, and lists of processes.
 *
 * Linux reads `/proc` (also in the portable build, since `/proc` is how
 * Linux tells it), macOS `libproc` and `sysctl`, Windows Toolhelp32 and the
 * process's handle. Other systems (the BSDs) return MPROC_ENOTSUP from
 * every call of this section in this version.
 *
 * macOS: the name is the one the process registered (up to 32 bytes), else
 * its executable's (16); states are running, sleeping (no thread running),
 * stopped and zombie, never disk-wait; another user's process gives its
 * parent, name, state and start time with MPROC_EPERM (root reads most).
 */
/** @{ */

/** @brief What a process is doing, reduced to the states every system has. */
typedef enum mproc_proc_state {
  /** Not known (the state could not be read). */
  MPROC_PROC_UNKNOWN = 0,
  /** Running or ready to run (Linux `R`). */
  MPROC_PROC_RUNNING = 1,
  /** Sleeping, interruptibly (Linux `S`, and `I`, an idle kernel thread). */
  MPROC_PROC_SLEEPING = 2,
  /** Sleeping uninterruptibly, usually on I/O (Linux `D`). */
  MPROC_PROC_DISK_WAIT = 3,
  /** Stopped by a signal or a tracer (Linux `T`, `t`). */
  MPROC_PROC_STOPPED = 4,
  /** Ended, not yet reaped by its parent (Linux `Z`). */
  MPROC_PROC_ZOMBIE = 5,
  /** Dead, or a state none of the above describes (Linux `X`, `x`, `K`,
   *  `W`, `P`); mproc_proc_info_t::state_code has the system's letter. */
  MPROC_PROC_DEAD = 6
} mproc_proc_state_t;

/** @brief Bits of mproc_proc_info_t::valid: which fields were read. */
enum mproc_proc_field {
  MPROC_PROC_HAS_PPID = 1u << 0,       /**< ppid */
  MPROC_PROC_HAS_NAME = 1u << 1,       /**< name */
  MPROC_PROC_HAS_STATE = 1u << 2,      /**< state and state_code */
  MPROC_PROC_HAS_START_TIME = 1u << 3, /**< start_time_ms */
  MPROC_PROC_HAS_RSS = 1u << 4,        /**< rss_bytes */
  MPROC_PROC_HAS_CPU_TIMES = 1u << 5,  /**< user_time_us, system_time_us */
  MPROC_PROC_HAS_THREADS = 1u << 6,    /**< num_threads */
  MPROC_PROC_HAS_ARGV = 1u << 7,       /**< argc and argv */
  MPROC_PROC_HAS_USER = 1u << 8,       /**< user */
  MPROC_PROC_HAS_ALL = (1u << 9) - 1u  /**< every field above */
};

/** @brief Longest process name kept, in bytes, with its NUL. Larger than any
 *  system's own limit (Linux keeps 15 bytes), so a name is never cut here. */
#define MPROC_PROC_NAME_SIZE 256

/** @brief Longest user name kept, in bytes, with its NUL. */
#define MPROC_PROC_USER_SIZE 128

/**
 * @brief One process as the system describes it: a snapshot.
 *
 * The fixed fields live in the struct; only the command line is allocated,
 * and mproc_proc_info_free() releases it. A field whose bit is not set in
 * `valid` holds zero. (The struct's tag differs from mproc_proc_info() so
 * that C++ sees no clash between the two.)
 */
typedef struct mproc_proc_info_s {
  /** #MPROC_PROC_HAS_PPID | ... : which fields below were read. */
  unsigned int valid;
  /** The process id (always set). */
  mproc_pid_t pid;
  /** The parent's pid; 0 for a process without one (Linux pid 1 and 2). */
  mproc_pid_t ppid;
  /** The system's short name of the process, NUL-terminated, in the bytes
   *  the system keeps (Linux: `comm`, at most 15 bytes, usually the
   *  executable's file name). */
  char name[MPROC_PROC_NAME_SIZE];
  /** The portable state. */
  mproc_proc_state_t state;
  /** The system's own one-letter state, as `ps` prints it ('R', 'S', ...). */
  char state_code;
  /** When the process started: milliseconds since 1970-01-01 UTC. */
  int64_t start_time_ms;
  /** Resident memory, in bytes. */
  uint64_t rss_bytes;
  /** CPU time spent in user mode, in microseconds (Linux counts in clock
   *  ticks, usually 10 ms). */
  uint64_t user_time_us;
  /** CPU time spent in the kernel on its behalf, in microseconds. */
  uint64_t system_time_us;
  /** Its number of threads. */
  uint32_t num_threads;
  /** The number of command-line arguments; 0 for a kernel thread, a zombie,
   *  or a process that cleared its own. */
  size_t argc;
  /** Its command-line arguments, each a NUL-terminated byte string exactly as
   *  the process holds it (any encoding, spaces kept), then a NULL. Allocated;
   *  NULL when argc is 0. */
  char **argv;
  /** The user the process runs as, NUL-terminated UTF-8: on POSIX the name
   *  of its effective user id, or the id in decimal when the user database
   *  has no name for it (as `ps` shows it); on Windows `DOMAIN\\user` of
   *  its token. */
  char user[MPROC_PROC_USER_SIZE];
  /** Written as zero by mproc: room for later fields (see
   *  #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_proc_info_t;

/**
 * @brief Describe one process.
 *
 * The record is a consistent snapshot of one process: if the process ends
 * while it is being read, the call fails with MPROC_ESRCH and never returns
 * fields of a mix of two processes (a pid reused meanwhile) or half-read
 * values.
 *
 * @param pid   The process to describe.
 * @param info  Receives the record. Always written: on any failure other than
 *              MPROC_EPERM it is zeroed (argv NULL), so mproc_proc_info_free()
 *              may be called whatever the result.
 * @return 0 with every field of #MPROC_PROC_HAS_ALL read;
 *         MPROC_EPERM when part could not be read for lack of permission
 *         (`info->valid` says which fields were; call mproc_proc_info_free());
 *         MPROC_ESRCH when no such process exists (or it ended meanwhile);
 *         MPROC_EINVAL for a NULL info or a negative pid;
 *         MPROC_ENOMEM; MPROC_ENOTSUP on the BSDs;
 *         MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_proc_info(mproc_pid_t pid, mproc_proc_info_t *info);

/**
 * @brief Free the command line of a record and clear argc, argv and their bit.
 *
 * @param info  A record filled by mproc_proc_info(), or NULL (nothing done).
 * Any process, any thread (not on the same record at once).
 */
MPROC_API void mproc_proc_info_free(mproc_proc_info_t *info);

/** @brief Which processes mproc_proc_list() returns. */
typedef enum mproc_proc_scope {
  /** Every process the caller can see. */
  MPROC_PROC_ALL = 0,
  /** The children of one pid. */
  MPROC_PROC_CHILDREN = 1,
  /** All descendants of one pid: children, their children, and so on. */
  MPROC_PROC_SUBTREE = 2
} mproc_proc_scope_t;

/**
 * @brief List processes, each with its record, as one allocated array.
 *
 * The list has no fixed bound. Processes that end while the list is taken
 * are left out; processes that can be read only in part (MPROC_EPERM from
 * mproc_proc_info()) are included, their `valid` bits saying what is known.
 * #MPROC_PROC_ALL and #MPROC_PROC_CHILDREN are sorted by pid;
 * #MPROC_PROC_SUBTREE is in depth-first order (a parent before its children,
 * siblings by pid) and does not include `pid` itself.
 *
 * @param scope  What to list.
 * @param pid    The parent of #MPROC_PROC_CHILDREN or root of
 *               #MPROC_PROC_SUBTREE; ignored for #MPROC_PROC_ALL.
 * @param out    Receives the array (NULL when *count is 0); free it with
 *               mproc_proc_list_free().
 * @param count  Receives its length.
 * @return 0; MPROC_ESRCH when `pid` does not exist (children and subtree);
 *         MPROC_EINVAL (NULL out or count, a scope out of range, a negative
 *         pid); MPROC_ENOMEM; MPROC_ENOTSUP on the BSDs;
 *         MPROC_EOS. On failure *out is NULL and *count 0.
 * Any process, any thread.
 */
MPROC_API int mproc_proc_list(mproc_proc_scope_t scope, mproc_pid_t pid,
                              mproc_proc_info_t **out, size_t *count);

/**
 * @brief Free an array from mproc_proc_list() and every record in it.
 * @param list   The array, or NULL.
 * @param count  Its length, as mproc_proc_list() returned it.
 */
MPROC_API void mproc_proc_list_free(mproc_proc_info_t *list, size_t count);

/**
 * @brief A state's lower-case English name: "running", "sleeping",
 * "disk-wait", "stopped", "zombie", "dead", "unknown".
 * @return A static string ("unknown" for a value outside the enum).
 * Any process, any thread.
 */
MPROC_API const char *mproc_proc_state_name(mproc_proc_state_t state);
/** @} */

/**
 * @name Shared objects
 *
 * Lock, RLock, Semaphore, Event, Queue and JoinableQueue, usable by many
 * threads of many processes at once.
 *
 * **Handles are values.** Each handle is a fixed-size plain struct of 64
 * bytes with no pointers and no platform types in it. Copy it anywhere: into
 * a Process's or a Pool task's argument bytes, a pipe, a file, another
 * object's shared memory. A copy works in any process of the same program
 * and user: fork children, children started later with any start method, and
 * Pool workers started before the object existed. A process attaches the
 * object's shared memory on its first call with the handle and keeps the
 * mapping (a fork child reuses the one it inherited). A handle that is all
 * zeros, of another kind, or destroyed gives MPROC_EBADHANDLE; a NULL
 * handle pointer gives MPROC_EINVAL.
 *
 * **State lives in shared memory.** Everything correctness needs is in the
 * object's segment, never in one process's memory.
 *
 * **Crash safety.** A process killed at any instant inside any call leaves
 * the object usable by the others. A Lock or RLock whose holder died is
 * handed to the next acquirer together with MPROC_EOWNERDEAD: the caller
 * holds the lock and is told that what it protects may be half-updated. On
 * Linux this is the kernel's robust-mutex protocol (a holder *thread* that
 * ends while holding counts as dead too); on the portable POSIX build
 * (macOS, the BSDs) the lock word holds the owner's pid and a waiter takes
 * the lock over once that pid no longer exists, checking every few
 * milliseconds: there only the death of the holder's process counts, a
 * dead owner that is still an unreaped zombie is taken over once it is
 * reaped (mproc reaps its own children by itself), and a holder's pid
 * reused by a new process before anyone noticed keeps the lock held until
 * that process ends too. A queue message is delivered whole or not at all.
 *
 * **Lifetime.** The creating process destroys an object (any process may
 * call destroy; the first call wins). After destroy, calls in every process
 * fail with MPROC_EBADHANDLE; sleepers in Semaphore, Event and Queue calls
 * are woken and fail with it. Do not destroy while other threads of the
 * same process are inside a call on the object (as with free()). Other
 * processes keep their mapping until they exit, and the memory returns to
 * the system when the last mapping goes. A segment's name carries its
 * creator's pid: when the creator died without destroying, the next
 * mproc_init() in any program of the same user (or mproc_shared_reclaim())
 * removes the name, and the memory is freed when the last process using it
 * exits. Processes already attached to such an orphan keep working with it.
 * Linux lists segments in /dev/shm; where the system cannot list them
 * (macOS, the BSDs) each segment has an empty marker file of the same name
 * in `$TMPDIR/mproc-shm-<uid>` (mode 0700), made before the segment and
 * removed after it, and reclamation reads those.
 *
 * **Waiting.** On Linux sleepers sleep on futexes; on the portable build
 * they nap in the kernel at growing intervals of at most 1 ms, so a wake is
 * seen within about a millisecond. Uncontended calls never enter the kernel.
 */
/** @{ */

/** @brief A non-recursive lock (Python's `multiprocessing.Lock`). */
typedef struct mproc_lock {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_lock_t;

/** @brief A recursive lock owned by one thread of one process (Python's
 *  `multiprocessing.RLock`). */
typedef struct mproc_rlock {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_rlock_t;

/** @brief A counting semaphore, bounded or not. */
typedef struct mproc_semaphore {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_semaphore_t;

/** @brief An event flag (Python's `multiprocessing.Event`). */
typedef struct mproc_event {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_event_t;

/** @brief A FIFO queue of byte messages; JoinableQueue when created with
 *  mproc_queue_options_t::joinable. */
typedef struct mproc_queue {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_queue_t;

/**
 * @brief Create a Lock, unlocked.
 * @param out  Receives the handle.
 * @return 0, MPROC_EINVAL (NULL out), MPROC_ENOMEM, MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_lock_create(mproc_lock_t *out);

/**
 * @brief Acquire the lock.
 *
 * The owner is the calling thread. Acquiring a lock the calling thread
 * already holds never deadlocks: it fails at once with MPROC_ETIMEDOUT for
 * a finite timeout and with MPROC_ESTATE for #MPROC_INFINITE.
 *
 * @param lock        The lock.
 * @param timeout_ms  #MPROC_INFINITE, 0 to try once, or milliseconds.
 * @return 0; MPROC_EOWNERDEAD (acquired; the previous holder died holding
 *         it); MPROC_ETIMEDOUT; MPROC_ESTATE; MPROC_EINVAL (negative
 *         timeout other than #MPROC_INFINITE); MPROC_EBADHANDLE.
 * Any process, any thread.
 */
MPROC_API int mproc_lock_acquire(mproc_lock_t *lock, int64_t timeout_ms);

/**
 * @brief Release the lock.
 *
 * Only the thread that holds it may release it: any other thread, in this
 * process or another, gets MPROC_ENOTOWNER and the lock stays held (Python
 * lets another process release a Lock; mproc does not).
 * @return 0, MPROC_ENOTOWNER, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_lock_release(mproc_lock_t *lock);

/**
 * @brief Destroy the lock (see "Lifetime" above); the handle is zeroed.
 * @return 0, MPROC_EBADHANDLE (already destroyed), MPROC_EINVAL.
 * Any process that holds a handle, normally the creator; any thread.
 */
MPROC_API int mproc_lock_destroy(mproc_lock_t *lock);

/** @brief Create an RLock, unlocked. Returns as mproc_lock_create(). */
MPROC_API int mproc_rlock_create(mproc_rlock_t *out);

/**
 * @brief Acquire the RLock; the owning thread may acquire it again, and must
 * release it as many times.
 * @return As mproc_lock_acquire(), plus MPROC_EOVERFLOW after 2^32-1
 *         nested acquisitions. After MPROC_EOWNERDEAD the caller holds it
 *         once, whatever the dead owner's depth was.
 */
MPROC_API int mproc_rlock_acquire(mproc_rlock_t *lock, int64_t timeout_ms);

/**
 * @brief Release one level of the RLock.
 * @return 0; MPROC_ENOTOWNER when the calling thread does not hold it
 *         (another thread, another process, or not held at all);
 *         MPROC_EBADHANDLE; MPROC_EINVAL.
 */
MPROC_API int mproc_rlock_release(mproc_rlock_t *lock);

/** @brief Destroy the RLock; as mproc_lock_destroy(). */
MPROC_API int mproc_rlock_destroy(mproc_rlock_t *lock);

/**
 * @brief Create a Semaphore.
 * @param out      Receives the handle.
 * @param initial  Its initial value.
 * @param maximum  0 for an unbounded semaphore (Python's `Semaphore`);
 *                 otherwise the bound that release may not pass (Python's
 *                 `BoundedSemaphore(value)` is initial = maximum = value).
 * @return 0; MPROC_EINVAL (NULL out, a value over INT32_MAX, initial over
 *         a non-zero maximum); MPROC_ENOMEM; MPROC_EOS.
 */
MPROC_API int mproc_semaphore_create(mproc_semaphore_t *out, unsigned initial,
                                     unsigned maximum);

/**
 * @brief Take one unit, waiting while the value is 0.
 * @return 0, MPROC_ETIMEDOUT, MPROC_EINVAL, MPROC_EBADHANDLE.
 * Any process, any thread.
 */
MPROC_API int mproc_semaphore_acquire(mproc_semaphore_t *sem,
                                      int64_t timeout_ms);

/**
 * @brief Give one unit back; any thread of any process may.
 * @return 0; MPROC_EOVERFLOW when a bounded semaphore is at its maximum
 *         (or any semaphore at INT32_MAX), the value is unchanged then;
 *         MPROC_EBADHANDLE; MPROC_EINVAL.
 */
MPROC_API int mproc_semaphore_release(mproc_semaphore_t *sem);

/** @brief The current value (a snapshot). @return 0, MPROC_EINVAL,
 *  MPROC_EBADHANDLE. */
MPROC_API int mproc_semaphore_value(mproc_semaphore_t *sem, unsigned *value);

/** @brief Destroy the semaphore; as mproc_lock_destroy(). */
MPROC_API int mproc_semaphore_destroy(mproc_semaphore_t *sem);

/** @brief Create an Event, not set. Returns as mproc_lock_create(). */
MPROC_API int mproc_event_create(mproc_event_t *out);
/** @brief Set the flag and wake every waiter. @return 0, MPROC_EINVAL,
 *  MPROC_EBADHANDLE. */
MPROC_API int mproc_event_set(mproc_event_t *ev);
/** @brief Clear the flag. @return 0, MPROC_EINVAL, MPROC_EBADHANDLE. */
MPROC_API int mproc_event_clear(mproc_event_t *ev);
/** @brief Read the flag into *is_set (1 or 0). @return 0, MPROC_EINVAL,
 *  MPROC_EBADHANDLE. */
MPROC_API int mproc_event_is_set(mproc_event_t *ev, int *is_set);
/**
 * @brief Wait until the flag is set.
 * @return 0 when set (at once if it already is); MPROC_ETIMEDOUT;
 *         MPROC_EINVAL; MPROC_EBADHANDLE (also when destroyed meanwhile).
 */
MPROC_API int mproc_event_wait(mproc_event_t *ev, int64_t timeout_ms);
/** @brief Destroy the event; as mproc_lock_destroy(). */
MPROC_API int mproc_event_destroy(mproc_event_t *ev);

/** @brief Default ring capacity of a queue, in bytes. */
#define MPROC_QUEUE_DEFAULT_CAPACITY ((size_t)4 << 20)

/** @brief Options for mproc_queue_create(); zero means the default. */
typedef struct mproc_queue_options {
  /** Most messages the queue holds (Python's `maxsize`); 0: no bound but
   *  the ring's bytes. */
  size_t maxsize;
  /** Bytes of the ring that holds messages; 0:
   *  #MPROC_QUEUE_DEFAULT_CAPACITY. Rounded up to a power of two, at least
   *  4 KiB, at most 1 GiB. A message larger than half the ring travels in
   *  a segment of its own (the ring then holds a small reference to it), so
   *  no message is ever refused or truncated for its size. */
  size_t capacity;
  /** Non-zero: a JoinableQueue (mproc_queue_task_done(), mproc_queue_join()).
   */
  int joinable;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_queue_options_t;

/**
 * @brief Create a queue.
 * @param out      Receives the handle.
 * @param options  NULL or options.
 * @return 0, MPROC_EINVAL (NULL out, capacity over 1 GiB), MPROC_ENOMEM,
 *         MPROC_EOS. Any process, any thread.
 */
MPROC_API int mproc_queue_create(mproc_queue_t *out,
                                 const mproc_queue_options_t *options);

/**
 * @brief Append a copy of a message.
 *
 * Waits while the queue holds maxsize messages or its ring lacks room.
 * @param q           The queue.
 * @param data        The bytes (NULL allowed when size is 0).
 * @param size        Their number; any size, 0 included.
 * @param timeout_ms  #MPROC_INFINITE, 0 to fail at once when full, or ms.
 * @return 0; MPROC_EFULL at the deadline; MPROC_ECLOSED once the queue
 *         is closed (at once, also for a putter that was waiting);
 *         MPROC_EINVAL; MPROC_EBADHANDLE; MPROC_ENOMEM / MPROC_EOS when
 *         a large message's own segment cannot be made.
 * Any process, any thread.
 */
MPROC_API int mproc_queue_put(mproc_queue_t *q, const void *data, size_t size,
                              int64_t timeout_ms);

/**
 * @brief Take the oldest message into memory allocated for it.
 *
 * @param q           The queue.
 * @param data        Receives the message, to be freed with mproc_free()
 *                    (a valid pointer also for an empty message).
 * @param size        Receives its size.
 * @param timeout_ms  MPROC_INFINITE, 0 to fail at once when empty, or ms.
 * @return 0; MPROC_EEMPTY at the deadline; MPROC_ECLOSED when the queue
 *         is closed and empty; MPROC_ENOMEM (the message stays queued);
 *         MPROC_EBROKEN when the shared ring holds at its head what no put
 *         writes (a process with the segment overwrote it);
 *         MPROC_EINVAL; MPROC_EBADHANDLE. Any process, any thread.
 */
MPROC_API int mproc_queue_get(mproc_queue_t *q, void **data, size_t *size,
                              int64_t timeout_ms);

/**
 * @brief Take the oldest message into the caller's buffer (no allocation
 * for messages that travel in the ring).
 *
 * @param q           The queue.
 * @param buf         The buffer (NULL allowed when cap is 0).
 * @param cap         Its size.
 * @param size        Receives the message's size, also on MPROC_EMSGSIZE.
 * @param timeout_ms  MPROC_INFINITE, 0 to fail at once when empty, or ms.
 * @return As mproc_queue_get(), and MPROC_EMSGSIZE when the message is
 *         larger than cap: *size tells how large, and the message stays at
 *         the head of the queue.
 */
MPROC_API int mproc_queue_get_into(mproc_queue_t *q, void *buf, size_t cap,
                                   size_t *size, int64_t timeout_ms);

/** @brief The same as mproc_free(), kept for source compatibility.
 *  @param data  NULL, or a message from mproc_queue_get().
 *  @deprecated Use mproc_free(); this name goes at 1.0. */
MPROC_API MPROC_DEPRECATED("use mproc_free()") void mproc_queue_free_message(
    void *data);

/** @brief The number of messages queued (a snapshot, as Python's
 *  `qsize()`). @return 0, MPROC_EINVAL, MPROC_EBADHANDLE. */
MPROC_API int mproc_queue_size(mproc_queue_t *q, size_t *count);
/** @brief Whether no message is queued (a snapshot): *empty is 1 or 0. */
MPROC_API int mproc_queue_empty(mproc_queue_t *q, int *empty);
/** @brief Whether maxsize messages are queued (a snapshot; always 0 for a
 *  queue without maxsize): *full is 1 or 0. */
MPROC_API int mproc_queue_full(mproc_queue_t *q, int *full);

/**
 * @brief Close the queue, for every process: putters fail with
 * MPROC_ECLOSED at once (waiting ones too); getters take what is left,
 * then fail with MPROC_ECLOSED. Closing twice is harmless.
 * @return 0, MPROC_EINVAL, MPROC_EBADHANDLE. Any process, any thread.
 */
MPROC_API int mproc_queue_close(mproc_queue_t *q);

/**
 * @brief JoinableQueue: mark one message taken by a get as processed.
 * @return 0; MPROC_ESTATE when called more times than messages were put,
 *         or on a queue that is not joinable; MPROC_EINVAL;
 *         MPROC_EBADHANDLE.
 */
MPROC_API int mproc_queue_task_done(mproc_queue_t *q);

/**
 * @brief JoinableQueue: wait until every message put has been marked done.
 * @return 0; MPROC_ETIMEDOUT; MPROC_ESTATE on a queue that is not
 *         joinable; MPROC_EINVAL; MPROC_EBADHANDLE.
 */
MPROC_API int mproc_queue_join(mproc_queue_t *q, int64_t timeout_ms);

/**
 * @brief Destroy the queue (see "Lifetime" above). Messages still queued
 * are dropped, with the segments of large ones.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_queue_destroy(mproc_queue_t *q);

/**
 * @brief Remove the shared-memory names left by processes that died
 * without destroying their objects (mproc_init() does it too).
 *
 * A name is removed only when the process that created it no longer
 * exists; processes still attached keep their mappings.
 * @param removed  NULL, or receives how many names were removed.
 * @return 0; MPROC_ENOTSUP when neither /dev/shm nor the marker
 *         directory can be read, and always on Windows, where a segment
 *         cannot outlive its last process. Any process, any thread.
 */
MPROC_API int mproc_shared_reclaim(size_t *removed);
/** @} */

/**
 * @name Shared state: Value and Array
 *
 * Python's `multiprocessing.sharedctypes`: `Value`, `Array`, `RawValue`,
 * `RawArray`. An array is one segment holding `count` elements of
 * `elem_size` bytes, zero-filled when created, and (unless raw) an RLock
 * of its own that guards it. Its handle is a 64-byte value like every
 * shared object's: copy it into a child's arguments or a Pool task's, in
 * any start method, also to workers started before the array.
 * mproc_array_ptr() gives the elements' address in the calling process
 * (each process has its own address for them). The segment is backed when
 * created: a size the system cannot hold fails there with MPROC_ENOMEM,
 * never later with a fault. Lifetime, reclamation and handles as for the
 * other shared objects (see "Shared objects").
 */
/** @{ */

/** @brief A shared array (Python's `Array`, `RawArray`). */
typedef struct mproc_array {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_array_t;

/** @brief A Value is an array of one element (Python's `Value`,
 *  `RawValue`); every mproc_array_* call takes it. */
typedef mproc_array_t mproc_value_t;

/** @brief Options for mproc_array_create(); zero means the default: an
 *  RLock of the array's own. */
typedef struct mproc_array_options {
  /** Non-zero: no lock (Python's `RawArray`, `RawValue`). */
  int raw;
  /** Guard with this RLock instead (Python's `lock=` argument); it is not
   *  destroyed with the array. NULL: a lock of the array's own. */
  const mproc_rlock_t *lock;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_array_options_t;

/**
 * @brief Create an array of `count` zeroed elements of `elem_size` bytes.
 * @param out        Receives the handle.
 * @param elem_size  Bytes per element, at least 1.
 * @param count      Number of elements; 0 is allowed.
 * @param options    NULL for the defaults.
 * @return 0; MPROC_EINVAL (NULL out, elem_size 0, both raw and lock);
 *         MPROC_EOVERFLOW (elem_size × count does not fit the address
 *         space); MPROC_ENOMEM (more than the system can hold);
 *         MPROC_EBADHANDLE (options->lock is not an RLock); MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_array_create(mproc_array_t *out, size_t elem_size,
                                 size_t count,
                                 const mproc_array_options_t *options);

/**
 * @brief Create a Value: mproc_array_create() with one element of `size`
 * bytes.
 * @return As mproc_array_create().
 */
MPROC_API int mproc_value_create(mproc_value_t *out, size_t size,
                                 const mproc_array_options_t *options);

/**
 * @brief The address of the first element in the calling process.
 *
 * Valid in this process until the array is destroyed here or the process
 * ends; other processes get their own address from their own call.
 * Elements are aligned to 64 bytes.
 * @return 0, MPROC_EINVAL (NULL ptr), MPROC_EBADHANDLE.
 * Any process, any thread.
 */
MPROC_API int mproc_array_ptr(mproc_array_t *array, void **ptr);

/**
 * @brief The element size and the number of elements.
 * @param array      The array.
 * @param elem_size  NULL, or receives the element size.
 * @param count      NULL, or receives the number of elements.
 * @return 0, MPROC_EINVAL, MPROC_EBADHANDLE.
 */
MPROC_API int mproc_array_length(mproc_array_t *array, size_t *elem_size,
                                 size_t *count);

/**
 * @brief The RLock that guards the array (Python's `get_lock()`), as a
 * handle usable with the mproc_rlock_* calls.
 * @return 0; MPROC_ESTATE for a raw array, which has none;
 *         MPROC_EINVAL; MPROC_EBADHANDLE.
 */
MPROC_API int mproc_array_get_lock(mproc_array_t *array, mproc_rlock_t *lock);

/**
 * @brief Acquire the array's lock: mproc_rlock_acquire() on
 * mproc_array_get_lock()'s lock.
 * @return As mproc_rlock_acquire(), including MPROC_EOWNERDEAD when a
 *         holder died (the elements may be half-updated then); MPROC_ESTATE
 *         for a raw array.
 */
MPROC_API int mproc_array_acquire(mproc_array_t *array, int64_t timeout_ms);

/** @brief Release the array's lock once. @return As mproc_rlock_release();
 *  MPROC_ESTATE for a raw array. */
MPROC_API int mproc_array_release(mproc_array_t *array);

/**
 * @brief Destroy the array, and its lock when the array made it; as
 * mproc_lock_destroy(). Pointers from mproc_array_ptr() in the calling
 * process are invalid afterwards.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_array_destroy(mproc_array_t *array);
/** @} */

/**
 * @name Shared state: Condition
 *
 * Python's `multiprocessing.Condition`, bound to a Lock or an RLock (an
 * RLock of its own by default). The handle is a 64-byte value like every
 * shared object's. A waiter releases the lock, sleeps until notified or
 * timed out, and holds the lock again when the call returns (except after
 * MPROC_EBADHANDLE).
 *
 * **Crash safety.** A process that dies while holding the lock hands it on
 * with MPROC_EOWNERDEAD, as Lock does: the waiter that reacquires it
 * returns MPROC_EOWNERDEAD. A waiter that dies costs the others nothing:
 * notify() passes over waiters whose process is gone, and a notification
 * that reached a waiter killed before it took it is handed to a living
 * waiter within about 100 ms (by the other waiters, which look for such
 * notifications while they sleep). A dead waiter's pid taken by a new
 * process before anyone noticed counts as alive until that process ends.
 */
/** @{ */

/** @brief A condition variable shared between processes. */
typedef struct mproc_condition {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_condition_t;

/** @brief Most waiters (threads of any processes) one condition holds at
 *  once; one more gets MPROC_EOVERFLOW. */
#define MPROC_CONDITION_MAX_WAITERS 256

/** @brief Options for mproc_condition_create(); zero means the default: an
 *  RLock of the condition's own, destroyed with it. */
typedef struct mproc_condition_options {
  /** Bind to this Lock (not destroyed with the condition). */
  const mproc_lock_t *lock;
  /** Or to this RLock (not destroyed with the condition). */
  const mproc_rlock_t *rlock;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_condition_options_t;

/**
 * @brief Create a condition.
 * @param out      Receives the handle.
 * @param options  NULL for the defaults.
 * @return 0; MPROC_EINVAL (NULL out, both lock and rlock); MPROC_EBADHANDLE
 *         (the lock given is not one of its kind); MPROC_ENOMEM; MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_condition_create(mproc_condition_t *out,
                                     const mproc_condition_options_t *options);

/**
 * @brief Acquire the bound lock: mproc_lock_acquire() or
 * mproc_rlock_acquire() on it.
 * @return As those calls; MPROC_EBADHANDLE for a bad condition.
 */
MPROC_API int mproc_condition_acquire(mproc_condition_t *c, int64_t timeout_ms);

/** @brief Release the bound lock once. @return As mproc_lock_release() or
 *  mproc_rlock_release(). */
MPROC_API int mproc_condition_release(mproc_condition_t *c);

/**
 * @brief Release the lock (an RLock completely, whatever its depth), sleep
 * until notified or the timeout passes, then take the lock again (an RLock
 * at the depth it had).
 *
 * Taking the lock again waits as long as it takes, also after a timeout.
 * As in Python, a notification can reach a waiter that then finds its
 * predicate false: check it in a loop.
 * @param c           The condition.
 * @param timeout_ms  #MPROC_INFINITE, 0, or milliseconds.
 * @return 0 (notified; the lock is held); MPROC_ETIMEDOUT (not notified in
 *         time; the lock is held); MPROC_EOWNERDEAD (the lock is held and a
 *         process died holding it meanwhile: repair what it guards);
 *         MPROC_ENOTOWNER (the calling thread does not hold the lock;
 *         nothing changed); MPROC_EOVERFLOW (#MPROC_CONDITION_MAX_WAITERS
 *         already wait); MPROC_EBADHANDLE (also when the condition is
 *         destroyed during the wait: the lock is not held then);
 *         MPROC_EINVAL.
 * Any process, any thread that holds the lock.
 */
MPROC_API int mproc_condition_wait(mproc_condition_t *c, int64_t timeout_ms);

/**
 * @brief Wake up to n of the waiters (Python's `notify(n)`); waiters whose
 * process has died are passed over. n = 0 does nothing.
 * @return 0; MPROC_ENOTOWNER (the calling thread does not hold the lock;
 *         on a build whose lock cannot name its holder, only RLock-bound
 *         conditions check); MPROC_EBADHANDLE; MPROC_EINVAL.
 * Any process, any thread that holds the lock.
 */
MPROC_API int mproc_condition_notify(mproc_condition_t *c, unsigned n);

/** @brief Wake every waiter (Python's `notify_all`). @return As
 *  mproc_condition_notify(). */
MPROC_API int mproc_condition_notify_all(mproc_condition_t *c);

/**
 * @brief Destroy the condition, and its lock when it made it; as
 * mproc_lock_destroy(). Waiters in every process wake with
 * MPROC_EBADHANDLE.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_condition_destroy(mproc_condition_t *c);
/** @} */

/**
 * @name Shared state: Barrier
 *
 * Python's `multiprocessing.Barrier` for `parties` participants: each wait
 * returns once all have arrived, with a distinct index 0..parties-1 (the
 * order of arrival). An optional action (a registered target) runs once
 * per round in the last participant to arrive, before the others are
 * released. A timeout, an abort or a failed action leaves the barrier
 * broken: every wait in progress and every later one fails with
 * MPROC_EBROKEN until mproc_barrier_reset().
 *
 * **Beyond Python:** a participant that dies while others wait breaks the
 * barrier for them: the waiters look every 20 ms whether this round's
 * arrivals are alive (and whether a process died holding the barrier's
 * lock) and get MPROC_EBROKEN promptly instead of waiting forever. A dead
 * participant counts once its process is gone (a zombie counts as alive
 * until reaped; mproc reaps its own children).
 */
/** @{ */

/** @brief A barrier shared between processes. */
typedef struct mproc_barrier {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[8];
} mproc_barrier_t;

/** @brief Most argument bytes a barrier's action can be given. */
#define MPROC_BARRIER_ACTION_ARG_MAX 256

/** @brief For mproc_barrier_wait(): use the barrier's own timeout
 *  (mproc_barrier_options_t::timeout_ms). */
#define MPROC_BARRIER_DEFAULT_TIMEOUT ((int64_t)-2)

/** @brief Options for mproc_barrier_create(); zero means the default. */
typedef struct mproc_barrier_options {
  /** NULL, or the action, registered with MPROC_TARGET() (it runs in
   *  whichever participant arrives last, whatever its start method); its
   *  non-zero return value breaks the barrier. */
  mproc_target_fn action;
  /** The action's argument bytes, copied at create. */
  const void *action_arg;
  /** Their size, at most #MPROC_BARRIER_ACTION_ARG_MAX. */
  size_t action_arg_size;
  /** Default timeout of waits given #MPROC_BARRIER_DEFAULT_TIMEOUT, in
   *  milliseconds; 0: none. */
  int64_t timeout_ms;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_barrier_options_t;

/**
 * @brief Create a barrier for `parties` participants.
 * @param out      Receives the handle.
 * @param parties  1 to 2^20.
 * @param options  NULL for the defaults.
 * @return 0; MPROC_EINVAL (NULL out, parties out of range, a negative
 *         timeout, arguments too large or NULL with a size, a non-zero
 *         reserved word); MPROC_ENOTREG (the action is not registered);
 *         MPROC_ENOMEM; MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_barrier_create(mproc_barrier_t *out, unsigned parties,
                                   const mproc_barrier_options_t *options);

/**
 * @brief Arrive and wait for the others.
 * @param barrier     The barrier.
 * @param timeout_ms  #MPROC_INFINITE, 0, milliseconds, or
 *                    #MPROC_BARRIER_DEFAULT_TIMEOUT. At the timeout the
 *                    barrier breaks, for every participant.
 * @param index       NULL, or receives this participant's index in the
 *                    round, 0..parties-1.
 * @return 0; MPROC_EBROKEN (broken: before or during this wait, by a
 *         timeout, an abort, a reset during the wait, a failed action or a
 *         participant's death); MPROC_EINVAL; MPROC_EBADHANDLE (also when
 *         destroyed during the wait).
 * Any process, any thread.
 */
MPROC_API int mproc_barrier_wait(mproc_barrier_t *barrier, int64_t timeout_ms,
                                 unsigned *index);

/** @brief Break the barrier: waits in progress and later ones fail with
 *  MPROC_EBROKEN until reset. @return 0, MPROC_EINVAL, MPROC_EBADHANDLE. */
MPROC_API int mproc_barrier_abort(mproc_barrier_t *barrier);

/** @brief Return to the empty, unbroken state; waits in progress fail with
 *  MPROC_EBROKEN. @return 0, MPROC_EINVAL, MPROC_EBADHANDLE. */
MPROC_API int mproc_barrier_reset(mproc_barrier_t *barrier);

/**
 * @brief A snapshot of the barrier (Python's `parties`, `n_waiting`,
 * `broken`).
 * @param barrier    The barrier.
 * @param parties    NULL, or receives the number of parties.
 * @param n_waiting  NULL, or receives how many wait in this round.
 * @param broken     NULL, or receives 1 when broken, else 0.
 * @return 0, MPROC_EINVAL, MPROC_EBADHANDLE.
 */
MPROC_API int mproc_barrier_state(mproc_barrier_t *barrier, unsigned *parties,
                                  unsigned *n_waiting, int *broken);

/** @brief Destroy the barrier; as mproc_lock_destroy(). Waiters in every
 *  process wake with MPROC_EBADHANDLE. */
MPROC_API int mproc_barrier_destroy(mproc_barrier_t *barrier);
/** @} */

/**
 * @name Shared state: SharedMemory
 *
 * Python's `multiprocessing.shared_memory.SharedMemory`: a block of bytes
 * with a name, which any process of the same user attaches by that name —
 * also a process that is not a child of its creator, or another program.
 * Unlike the shared objects, a block is held through a pointer to a
 * per-process record (mproc_shm_t): create or attach gives one, close
 * ends this process's use of it, and unlink removes the name.
 *
 * **Names**: 1 to #MPROC_SHM_NAME_MAX characters of `A-Z a-z 0-9 . _ -`;
 * anything else (empty, too long, a `/`) is MPROC_EINVAL. mproc gives
 * the system the name `mpb-<name>` (`/dev/shm/mpb-<name>` on Linux,
 * `Local\mpb-<name>` on Windows).
 *
 * **Permissions**: owner-only (0600) by default on POSIX; Windows uses the
 * creator's default security, which admits the same user.
 *
 * **Lifetime.** POSIX: the name lasts until mproc_shm_unlink(), and the
 * memory until the last process using it has closed it or exited. A block
 * whose creator died — or exited — without unlinking it is removed by the
 * next mproc_init() or mproc_shared_reclaim() in any program of the same
 * user, unless it was made persistent. Windows: a block lives while some
 * process has it open (as Python's does there), and its name goes with
 * the last close; unlink only refuses later attaches.
 */
/** @{ */

/** @brief A named block as attached in this process. */
typedef struct mproc_shm mproc_shm_t;

/** @brief Longest block name, in characters. */
#define MPROC_SHM_NAME_MAX 24

/** @brief Options for mproc_shm_create(); zero means the default. */
typedef struct mproc_shm_options {
  /** POSIX permission bits, e.g. 0640; 0: 0600. Windows accepts only 0 and
   *  0600 (MPROC_ENOTSUP otherwise). */
  unsigned mode;
  /** Non-zero: survive its creator's death (not reclaimed); it lasts until
   *  unlinked. Has no effect on Windows. */
  int persistent;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_shm_options_t;

/**
 * @brief Create a block of `size` zero bytes and attach it.
 * @param out      Receives the block; close it with mproc_shm_close().
 * @param name     The name, or NULL for a generated one (see
 *                 mproc_shm_name()).
 * @param size     Bytes, at least 1. The memory is backed when created.
 * @param options  NULL for the defaults.
 * @return 0; MPROC_EINVAL (NULL out, size 0, a bad name, mode bits beyond
 *         0777, a non-zero reserved word); MPROC_EEXIST (the name
 *         exists); MPROC_ENOMEM (more than the system can hold);
 *         MPROC_EPERM; MPROC_ENOTSUP (a mode on Windows); MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_shm_create(mproc_shm_t **out, const char *name, size_t size,
                               const mproc_shm_options_t *options);

/**
 * @brief Attach the block called `name`.
 * @return 0; MPROC_EINVAL (NULL out, a bad name); MPROC_ENOENT (no such
 *         block, or unlinked); MPROC_EPERM (its mode refuses this user);
 *         MPROC_ENOMEM; MPROC_EOS.
 * Any process, any thread.
 */
MPROC_API int mproc_shm_attach(mproc_shm_t **out, const char *name);

/** @brief The block's name (without mproc's prefix); NULL for NULL. Valid
 *  until closed. */
MPROC_API const char *mproc_shm_name(const mproc_shm_t *shm);

/** @brief The size asked for at create; 0 for NULL. */
MPROC_API size_t mproc_shm_size(const mproc_shm_t *shm);

/** @brief The first byte in this process, page-aligned; NULL for NULL.
 *  Valid until closed. */
MPROC_API void *mproc_shm_ptr(const mproc_shm_t *shm);

/**
 * @brief Mark the block persistent (not reclaimed after its creator's
 * death) or not.
 * @return 0, MPROC_EINVAL (NULL). Any process that has it attached.
 */
MPROC_API int mproc_shm_set_persistent(mproc_shm_t *shm, int persistent);

/**
 * @brief Remove the name: later attaches fail with MPROC_ENOENT; processes
 * that have it attached keep using it.
 * @return 0; MPROC_ENOENT (already unlinked); MPROC_EINVAL (NULL).
 * Any process that has it attached.
 */
MPROC_API int mproc_shm_unlink(mproc_shm_t *shm);

/**
 * @brief End this process's use: unmap the block and free the record (the
 * name stays, see mproc_shm_unlink()).
 * @return 0, MPROC_EINVAL (NULL). Not concurrently with other calls on
 * the same record.
 */
MPROC_API int mproc_shm_close(mproc_shm_t *shm);
/** @} */

/**
 * @name Pool
 *
 * Python's `multiprocessing.Pool`: worker processes that run tasks given as
 * a C function and argument bytes, and send back result bytes and a status.
 *
 * **Tasks.** A task is a #mproc_task_fn. It runs in a worker, receives its
 * argument bytes, writes its result into `result` with mproc_buf_set(),
 * mproc_buf_append() or mproc_buf_extend(), and returns its status: 0 for
 * success, any other value for a failure of its own (use positive values:
 * the negative ones are mproc's). The status and the result bytes reach the
 * caller whatever the status.
 *
 * **Start methods.** Workers are started with the pool's start method (the
 * `start_method` option, or the program's default from
 * mproc_set_start_method()). Under fork a worker is a copy of the pool's
 * process: a task travels as its function's address and needs no
 * registration. Under spawn and forkserver a worker is a fresh run of the
 * program, which must call mproc_init() first thing in `main`: a task
 * travels by the name it was registered under with MPROC_TASK(), and the
 * initializer by the name MPROC_TARGET() gave it. Submitting a task that is
 * not registered fails with MPROC_ENOTREG before anything is queued; so
 * does creating a pool whose initializer is not. Argument bytes travel the
 * same way under every method: copy shared-object handles into them, never
 * pointers.
 *
 * **Worker death.** A worker that crashes, calls `exit()` or is killed while
 * it runs a task fails that task alone with the status MPROC_EWORKERLOST;
 * mproc_async_result_exitcode() tells its exit code or `-signal`. A new
 * worker takes its place and the other tasks go on. With a per-task timeout,
 * a task still running at its deadline has its worker killed and replaced,
 * and fails with the status MPROC_ETIMEDOUT. A map chunk is one task: when
 * its worker dies, every item of the chunk fails (chunksize 1 fails one).
 * A task that failed this way is never run again; a task that succeeded is
 * never run twice.
 *
 * **Threads.** Each pool has one thread of its own in the creating process:
 * it hands tasks to workers, reads results, watches deadlines, replaces
 * workers and runs callbacks.
 *
 * Every function of this section may be called from any thread of the
 * process that created the pool (never from a worker or another process).
 * Do not free a pool, result or iterator while another thread is inside a
 * call on it.
 */
/** @{ */

/** @brief The result bytes a task writes (opaque; valid during the task). */
typedef struct mproc_buf mproc_buf_t;

/**
 * @brief A Pool task.
 * @param arg       The argument bytes (NULL when arg_size is 0). For a map,
 *                  one item.
 * @param arg_size  Their size.
 * @param result    Where to write the result; empty at the start.
 * @return The task's status: 0 for success, non-zero for a failure.
 */
typedef int (*mproc_task_fn)(const void *arg, size_t arg_size,
                             mproc_buf_t *result);

/**
 * @brief One registered task: filled by MPROC_TASK(), never by hand.
 */
typedef struct mproc_task_entry {
  const char *name;              /**< The name workers find the task by. */
  mproc_task_fn fn;              /**< The function. */
  struct mproc_task_entry *next; /**< The registry's list; mproc's own. */
} mproc_task_entry_t;

/**
 * @brief Add a task to the registry; MPROC_TASK() calls it before main.
 *
 * Tasks have a registry of their own, apart from the targets of
 * MPROC_TARGET(): a name never makes a process run a task as a target or
 * the reverse. Two entries with the same name and different functions make
 * that name ambiguous: submitting either to a spawn or forkserver pool then
 * fails with MPROC_ENOTREG.
 * @param entry  Static storage that lives as long as the program.
 * Any process, any thread.
 */
MPROC_API void mproc_register_task(mproc_task_entry_t *entry);

/**
 * @brief Register a Pool task under an explicit name, at file scope.
 *
 * Workers of a pool whose start method is spawn or forkserver are fresh
 * runs of the program: they find a task by this name, never by an address.
 * Under fork no registration is needed.
 */
#define MPROC_TASK_NAMED(fn, name_string)                                      \
  static mproc_task_entry_t mproc__task_##fn = {name_string, fn, 0};           \
  MPROC__INITIALIZER(mproc__register_task_##fn) {                              \
    mproc_register_task(&mproc__task_##fn);                                    \
  }                                                                            \
  typedef int mproc__task_registered_##fn

/**
 * @brief Register the task `fn` under its own name, at file scope:
 * `MPROC_TASK(square);` after the function's definition.
 */
#define MPROC_TASK(fn) MPROC_TASK_NAMED(fn, #fn)

/**
 * @brief Replace the result with a copy of `size` bytes.
 * @return 0, MPROC_EINVAL (NULL buf, NULL data with a non-zero size),
 *         MPROC_ENOMEM. Inside a task only.
 */
MPROC_API int mproc_buf_set(mproc_buf_t *buf, const void *data, size_t size);

/** @brief Append a copy of `size` bytes to the result. Returns as
 *  mproc_buf_set(). */
MPROC_API int mproc_buf_append(mproc_buf_t *buf, const void *data, size_t size);

/**
 * @brief Grow the result by `size` bytes and return where they are, for the
 * task to fill in place (no copy).
 * @return The address of the new bytes, valid until the next call on buf;
 *         NULL for a NULL buf or when memory runs out.
 */
MPROC_API void *mproc_buf_extend(mproc_buf_t *buf, size_t size);

/** @brief The result's size so far; 0 for a NULL buf. */
MPROC_API size_t mproc_buf_size(const mproc_buf_t *buf);

/** @brief Options for mproc_pool_create(); zero means the default. */
typedef struct mproc_pool_options {
  /** Number of workers; 0: mproc_cpu_count(). */
  int processes;
  /** NULL, or a function each new worker runs once before its first task,
   *  with initargs. Its return value is ignored. */
  mproc_target_fn initializer;
  /** The initializer's argument bytes, copied at create time. */
  const void *initargs;
  /** Their size. */
  size_t initargs_size;
  /** 0: workers live as long as the pool. Otherwise a worker exits after
   *  this many tasks (a map chunk counts as one) and a new one replaces
   *  it; no task is lost or run twice. */
  size_t maxtasksperchild;
  /** How workers are started: #MPROC_START_DEFAULT (the program's default,
   *  see mproc_set_start_method()), #MPROC_START_FORK, #MPROC_START_SPAWN
   *  or #MPROC_START_FORKSERVER. Under the last two, tasks and the
   *  initializer must be registered (see the section's introduction). */
  mproc_start_method_t start_method;
  /** Milliseconds a task may run; 0 or #MPROC_INFINITE: no limit. */
  int64_t task_timeout_ms;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_pool_options_t;

/** @brief A pool (opaque; lives in the process that created it). */
typedef struct mproc_pool mproc_pool_t;

/** @brief The result of mproc_pool_apply_async() (opaque). */
typedef struct mproc_async_result mproc_async_result_t;

/** @brief An iterator of mproc_pool_imap() / mproc_pool_imap_unordered(). */
typedef struct mproc_imap mproc_imap_t;

/**
 * @brief A callback of mproc_pool_apply_async().
 *
 * Runs in the pool's process on the pool's thread, before the result
 * becomes ready; it must return quickly (no waiting on the pool: the pool
 * waits for it). `data` is valid during the call only.
 */
typedef void (*mproc_pool_callback_fn)(void *user, int status, const void *data,
                                       size_t size);

/** @brief Options for mproc_pool_apply_async(); zero means none. */
typedef struct mproc_apply_options {
  /** Called when the task's status is 0 (Python's `callback`). */
  mproc_pool_callback_fn callback;
  /** Called for any other status, mproc's ones included (Python's
   *  `error_callback`). */
  mproc_pool_callback_fn error_callback;
  /** Passed to both. */
  void *user;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_apply_options_t;

/**
 * @brief Create a pool and start its workers (Python's `Pool(...)`).
 * @param out      Receives the handle.
 * @param options  NULL or options.
 * @return 0; MPROC_EINVAL (NULL out, negative processes or timeout, a
 *         start method out of range, NULL initargs with a non-zero size);
 *         MPROC_ENOTSUP (start method not available on this platform);
 *         MPROC_ENOTREG (spawn or forkserver, and the initializer was not
 *         registered with MPROC_TARGET()); MPROC_ENOMEM; MPROC_EOS.
 */
MPROC_API int mproc_pool_create(mproc_pool_t **out,
                                const mproc_pool_options_t *options);

/**
 * @brief Run one task and wait for it (Python's `apply`).
 * @param pool    The pool.
 * @param fn      The task.
 * @param arg     Argument bytes (NULL allowed when arg_size is 0).
 * @param arg_size Their size.
 * @param status  Receives the task's status (see mproc_async_result_get()).
 * @param data    NULL, or receives the result bytes, to be freed with
 *                mproc_free() (a valid pointer also when empty).
 * @param size    NULL, or receives their size.
 * @return 0 when the task has a status; MPROC_EINVAL; MPROC_ESTATE
 *         (closed or terminated pool); MPROC_EBADHANDLE; MPROC_ENOTREG
 *         (spawn or forkserver pool, fn not registered with MPROC_TASK());
 *         MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_apply(mproc_pool_t *pool, mproc_task_fn fn,
                               const void *arg, size_t arg_size, int *status,
                               void **data, size_t *size);

/** @brief The same as mproc_free(), kept for source compatibility.
 *  @param data  NULL, or result bytes from mproc_pool_apply().
 *  @deprecated Use mproc_free(); this name goes at 1.0. */
MPROC_API MPROC_DEPRECATED("use mproc_free()") void mproc_pool_result_free(
    void *data);

/**
 * @brief Queue one task (Python's `apply_async`).
 * @param pool           The pool.
 * @param fn             The task.
 * @param arg            Argument bytes, copied now.
 * @param arg_size       Their size.
 * @param options        NULL, or callbacks.
 * @param out            Receives the result handle; free it with
 *                       mproc_async_result_free(), before or after it is
 *                       ready.
 * @return 0; MPROC_EINVAL; MPROC_ESTATE (closed or terminated pool);
 *         MPROC_EBADHANDLE; MPROC_ENOTREG (spawn or forkserver pool, fn not
 *         registered with MPROC_TASK()); MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_apply_async(mproc_pool_t *pool, mproc_task_fn fn,
                                     const void *arg, size_t arg_size,
                                     const mproc_apply_options_t *options,
                                     mproc_async_result_t **out);

/**
 * @brief Whether the task has a status (Python's `ready()`).
 * @param r      The result handle.
 * @param ready  Receives 1 when it has, 0 before.
 * @return 0, MPROC_EINVAL (a bad handle, NULL ready).
 */
MPROC_API int mproc_async_result_ready(mproc_async_result_t *r, int *ready);

/**
 * @brief Whether the task ended with status 0 (Python's `successful()`).
 * @param r           The result handle.
 * @param successful  Receives 1 for status 0, 0 for another status.
 * @return 0; MPROC_ESTATE before it is ready (Python raises);
 *         MPROC_EINVAL (a bad handle, NULL successful).
 */
MPROC_API int mproc_async_result_successful(mproc_async_result_t *r,
                                            int *successful);

/** @brief Wait until ready. @return 0, MPROC_ETIMEDOUT, MPROC_EINVAL. */
MPROC_API int mproc_async_result_wait(mproc_async_result_t *r,
                                      int64_t timeout_ms);

/**
 * @brief Wait until ready and read the outcome (Python's `get`).
 * @param r           The result handle.
 * @param timeout_ms  MPROC_INFINITE, 0 to poll, or milliseconds.
 * @param status  NULL, or receives the task's return value; or
 *                MPROC_EWORKERLOST (its worker died), MPROC_ETIMEDOUT
 *                (it ran past the pool's task timeout), MPROC_ECLOSED (the
 *                pool was terminated before it finished).
 * @param data    NULL, or receives the result bytes, owned by the handle.
 * @param size    NULL, or receives their size.
 * @return 0 once ready (whatever the status); MPROC_ETIMEDOUT when not
 *         ready at the deadline; MPROC_EINVAL.
 */
MPROC_API int mproc_async_result_get(mproc_async_result_t *r,
                                     int64_t timeout_ms, int *status,
                                     const void **data, size_t *size);

/**
 * @brief The exit code of the worker whose death failed this task: its
 * `exit()` value (0..255) or `-N` for signal N, as mproc_process_exitcode().
 * @return 0; MPROC_ESTATE when not ready or the task's worker did not die
 *         under it; MPROC_EINVAL.
 */
MPROC_API int mproc_async_result_exitcode(mproc_async_result_t *r,
                                          int *exitcode);

/** @brief Free the handle; a task still queued or running goes on, and its
 *  callbacks still run. @return 0 (NULL accepted), MPROC_EINVAL. */
MPROC_API int mproc_async_result_free(mproc_async_result_t *r);

/**
 * @brief Run fn on every item and wait for all (Python's `map`).
 *
 * @param pool         The pool.
 * @param fn           The task, run on each item.
 * @param item_size    The size of one item.
 * @param count        The number of items.
 * @param items        count items of item_size bytes each, back to back.
 * @param chunksize    Items sent to a worker at once; 0: Python's default,
 *                     ceil(count / (4 * processes)).
 * @param results      count slots of result_size bytes: item i's result is
 *                     written to slot i, the rest of the slot zero-filled.
 *                     NULL when result_size or count is 0.
 * @param result_size  Slot size; a result larger than it fails its item
 *                     with MPROC_ERANGE. At most 4 GiB - 1.
 * @param statuses     NULL, or count ints receiving each item's status.
 * @return 0 when every item's status is 0; otherwise the status of the
 *         first item (in order) that failed; or, with nothing run,
 *         MPROC_EINVAL, MPROC_ESTATE (closed or terminated pool),
 *         MPROC_EBADHANDLE, MPROC_ENOTREG (spawn or forkserver pool, fn
 *         not registered with MPROC_TASK()), MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_map(mproc_pool_t *pool, mproc_task_fn fn,
                             const void *items, size_t item_size, size_t count,
                             size_t chunksize, void *results,
                             size_t result_size, int *statuses);

/**
 * @brief Run fn on every item without waiting (Python's `map_async`).
 *
 * The map's result handle is ready once every item has its outcome, and is
 * read like mproc_pool_apply_async()'s: mproc_async_result_ready(),
 * _wait(), _successful(), _free(). mproc_async_result_get() gives as
 * status what mproc_pool_map() would return (0, or the status of the first
 * item, in order, that failed), and as data the results: count slots of
 * result_size bytes, item i's in slot i, the rest of each slot
 * zero-filled (size count * result_size), valid until the handle is freed.
 * mproc_async_result_statuses() gives each item's status.
 *
 * @param pool         The pool.
 * @param fn           The task, run on each item.
 * @param items        count items of item_size bytes each, copied now.
 * @param item_size    The size of one item.
 * @param count        The number of items.
 * @param chunksize    As for mproc_pool_map().
 * @param result_size  Slot size, as for mproc_pool_map().
 * @param options      NULL, or callbacks: `callback` when every item
 *                     succeeded, `error_callback` otherwise, called once
 *                     (on the pool's thread; with no items, at once on the
 *                     caller's) with the status and the results above,
 *                     before the handle becomes ready.
 * @param out          Receives the result handle.
 * @return 0; MPROC_EINVAL; MPROC_ESTATE (closed or terminated pool);
 *         MPROC_EBADHANDLE; MPROC_ENOTREG (spawn or forkserver pool, fn not
 *         registered with MPROC_TASK()); MPROC_ENOMEM.
 */
MPROC_API int mproc_pool_map_async(mproc_pool_t *pool, mproc_task_fn fn,
                                   const void *items, size_t item_size,
                                   size_t count, size_t chunksize,
                                   size_t result_size,
                                   const mproc_apply_options_t *options,
                                   mproc_async_result_t **out);

/**
 * @brief Each item's status of a ready mproc_pool_map_async() result.
 * @param r         The result.
 * @param statuses  Receives count ints, valid until r is freed.
 * @param count     NULL, or receives the number of items.
 * @return 0; MPROC_ESTATE (not ready yet, or r is an apply's result);
 *         MPROC_EINVAL.
 */
MPROC_API int mproc_async_result_statuses(mproc_async_result_t *r,
                                          const int **statuses, size_t *count);

/**
 * @brief Run fn on every item; results come in item order from
 * mproc_imap_next() (Python's `imap`). The items are copied now.
 * @return As mproc_pool_apply_async(); *out receives the iterator.
 */
MPROC_API int mproc_pool_imap(mproc_pool_t *pool, mproc_task_fn fn,
                              const void *items, size_t item_size, size_t count,
                              size_t chunksize, mproc_imap_t **out);

/** @brief As mproc_pool_imap(), results in completion order (Python's
 *  `imap_unordered`). */
MPROC_API int mproc_pool_imap_unordered(mproc_pool_t *pool, mproc_task_fn fn,
                                        const void *items, size_t item_size,
                                        size_t count, size_t chunksize,
                                        mproc_imap_t **out);

/**
 * @brief The next item's outcome.
 * @param it          The iterator.
 * @param timeout_ms  MPROC_INFINITE, 0 to poll, or milliseconds.
 * @param index   NULL, or receives the item's index.
 * @param status  NULL, or receives its status (as mproc_async_result_get()).
 * @param data    NULL, or receives its result bytes, valid until the next
 *                call on the iterator.
 * @param size    NULL, or receives their size.
 * @return 0; MPROC_EEMPTY when every item has been returned (Python's
 *         StopIteration); MPROC_ETIMEDOUT; MPROC_EINVAL.
 */
MPROC_API int mproc_imap_next(mproc_imap_t *it, int64_t timeout_ms,
                              size_t *index, int *status, const void **data,
                              size_t *size);

/** @brief Free the iterator; items not run yet still run. @return 0 (NULL
 *  accepted), MPROC_EINVAL. */
MPROC_API int mproc_imap_free(mproc_imap_t *it);

/**
 * @brief The pids of the workers alive now.
 * @param pool   The pool.
 * @param cap    The length of pids.
 * @param pids   An array of cap pids, or NULL when cap is 0.
 * @param count  Receives the number of workers.
 * @return 0; MPROC_ERANGE when there are more than cap (the first cap are
 *         written); MPROC_EINVAL; MPROC_EBADHANDLE.
 */
MPROC_API int mproc_pool_worker_pids(mproc_pool_t *pool, mproc_pid_t *pids,
                                     size_t cap, size_t *count);

/**
 * @brief Accept no more tasks (Python's `close`); queued tasks still run,
 * then the workers exit. Closing twice is harmless.
 * @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_pool_close(mproc_pool_t *pool);

/**
 * @brief Kill the workers at once (Python's `terminate`): every task not
 * finished gets the status MPROC_ECLOSED. Returns when the workers have
 * been reaped. @return 0, MPROC_EBADHANDLE, MPROC_EINVAL.
 */
MPROC_API int mproc_pool_terminate(mproc_pool_t *pool);

/**
 * @brief Wait until every worker has exited (Python's `join`), after
 * close or terminate.
 * @return 0; MPROC_ETIMEDOUT; MPROC_ESTATE when neither close nor
 *         terminate was called; MPROC_EBADHANDLE; MPROC_EINVAL.
 */
MPROC_API int mproc_pool_join(mproc_pool_t *pool, int64_t timeout_ms);

/**
 * @brief Free the pool; a pool not joined is terminated first. Result
 * handles and iterators stay valid and must still be freed.
 * @return 0 (NULL accepted), MPROC_EBADHANDLE.
 */
MPROC_API int mproc_pool_free(mproc_pool_t *pool);
/** @} */

/**
 * @name Connections and waiting
 *
 * Python's `Process.sentinel`, `Pipe()` and `multiprocessing.connection.wait`.
 * See docs/connection.md for how they are built.
 */
/** @{ */

/** @brief A native handle: a file descriptor (as an `intptr_t`) on POSIX, a
 *  `HANDLE` on Windows. */
typedef intptr_t mproc_os_handle_t;

/**
 * @brief A native handle that becomes ready when the child ends (Python's
 *        `Process.sentinel`).
 *
 * On POSIX a file descriptor that polls readable (`POLLIN`; `EPOLLIN`;
 * kqueue `EVFILT_READ`; libuv `UV_READABLE`) from the moment the child has
 * ended, and stays so: a pidfd on Linux, the read end of the child's status
 * pipe on the portable POSIX path (at end of file once the child exited). On
 * Windows a process `HANDLE` (SYNCHRONIZE access only) that is signalled
 * from then on, for `WaitForMultipleObjects` and friends. It is never ready
 * while the child runs. The child may still await its reap when it becomes
 * ready: mproc_process_join() then returns at once or within moments.
 *
 * The handle belongs to the process object: do not close it or read from
 * it. It stays valid until mproc_process_free(); every call returns the
 * same handle. It is close-on-exec and not inherited by children (POSIX fork
 * children of mproc close it).
 *
 * @param p    A started process.
 * @param out  Receives the handle.
 * @return 0; MPROC_EINVAL (NULL out); MPROC_EBADHANDLE; MPROC_ESTATE before
 *         mproc_process_start(); MPROC_ENOMEM; MPROC_EOS (no descriptor
 *         left). Any thread of the process that started it.
 */
MPROC_API int mproc_process_sentinel(mproc_process_t *p,
                                     mproc_os_handle_t *out);

/**
 * @brief One end of a Connection (Python's `Connection`, from `Pipe()`).
 *
 * A value handle, as the shared objects' are: copy it into a child's or a
 * pool task's argument bytes and it works there, whatever the start method,
 * also in a pool worker started before the pipe. One process at a time uses
 * an end: the last process that sent, received or polled on it is its
 * owner, and when that process dies the end counts as closed.
 */
typedef struct mproc_connection {
  /** Internal: copy the struct whole, never edit its bytes. */
  uint64_t opaque[9];
} mproc_connection_t;

/** @brief Options for mproc_pipe(); zero means the default. */
typedef struct mproc_pipe_options {
  /** Non-zero: one-way (Python's `Pipe(duplex=False)`): the first end only
   *  receives, the second only sends. Zero: duplex, both ends do both. */
  int one_way;
  /** Bytes of ring per direction, rounded up to a power of two (4 KiB to
   *  1 GiB); 0: #MPROC_QUEUE_DEFAULT_CAPACITY. Messages of any size pass:
   *  one larger than half the ring travels in a segment of its own. */
  size_t capacity;
  /** Must be zero: room for later fields (see #MPROC_RESERVED_WORDS). */
  uint64_t reserved[MPROC_RESERVED_WORDS];
} mproc_pipe_options_t;

/**
 * @brief Make a connected pair of ends (Python's `Pipe()`).
 *
 * Messages are byte strings of any size, 0 included, delivered whole, in
 * order, each once. Each end is closed with mproc_connection_close(); the
 * pair's shared memory goes when both are closed, or when one is closed and
 * the other's process died.
 * @param end0     Receives the first end (the receiving one when one-way).
 * @param end1     Receives the second end (the sending one when one-way).
 * @param options  NULL or options.
 * @return 0; MPROC_EINVAL (NULL end, capacity above 1 GiB, a non-zero
 *         reserved word); MPROC_ENOMEM; MPROC_EOS. Any process, any
 *         thread.
 */
MPROC_API int mproc_pipe(mproc_connection_t *end0, mproc_connection_t *end1,
                         const mproc_pipe_options_t *options);

/**
 * @brief Send one message to the other end.
 *
 * Waits while the ring has no room. Never raises SIGPIPE.
 * @param c           The sending end.
 * @param data        The bytes (may be NULL when size is 0).
 * @param size        Their number, any.
 * @param timeout_ms  How long to wait for room; #MPROC_INFINITE.
 * @return 0; MPROC_ECLOSED when the other end is closed or its process
 *         died (nothing is sent); MPROC_ETIMEDOUT (nothing is sent);
 *         MPROC_EINVAL (an end that only receives; NULL data with a size;
 *         a negative timeout); MPROC_EBADHANDLE (never created, or closed
 *         by this side); MPROC_ENOMEM; MPROC_EOS.
 */
MPROC_API int mproc_connection_send(const mproc_connection_t *c,
                                    const void *data, size_t size,
                                    int64_t timeout_ms);

/**
 * @brief Receive the next message into memory the call allocates.
 *
 * Once the other end is closed, or its process died, the messages it sent
 * whole are still received, then MPROC_ECLOSED. A sender killed in the
 * middle of a send leaves no part of that message.
 * @param c           The receiving end.
 * @param data        Receives the bytes, freed with mproc_free() (a valid
 *                    pointer also for a 0-byte message); NULL on failure.
 * @param size        Receives their number.
 * @param timeout_ms  How long to wait; #MPROC_INFINITE.
 * @return 0; MPROC_ECLOSED (drained, and the other end is gone);
 *         MPROC_ETIMEDOUT; MPROC_ENOMEM (the message stays); MPROC_EINVAL
 *         (an end that only sends, NULL pointers, a negative timeout);
 *         MPROC_EBROKEN (as mproc_queue_get()); MPROC_EBADHANDLE;
 *         MPROC_EOS.
 */
MPROC_API int mproc_connection_recv(const mproc_connection_t *c, void **data,
                                    size_t *size, int64_t timeout_ms);

/**
 * @brief Receive the next message into the caller's buffer (Python's
 *        `recv_bytes_into`), without allocating.
 * @param c           The receiving end.
 * @param buf         The buffer.
 * @param cap         Its size in bytes.
 * @param size        Receives the message's size; on MPROC_EMSGSIZE the
 *                    size the buffer would need.
 * @param timeout_ms  How long to wait; #MPROC_INFINITE.
 * @return As mproc_connection_recv(), and MPROC_EMSGSIZE when the message
 *         is larger than cap: it then stays, the next to receive.
 */
MPROC_API int mproc_connection_recv_into(const mproc_connection_t *c, void *buf,
                                         size_t cap, size_t *size,
                                         int64_t timeout_ms);

/** @brief The same as mproc_free(), kept for source compatibility.
 *  @param data  NULL, or a message from mproc_connection_recv().
 *  @deprecated Use mproc_free(); this name goes at 1.0. */
MPROC_API MPROC_DEPRECATED(
    "use mproc_free()") void mproc_connection_free_message(void *data);

/**
 * @brief Whether a receive would return at once (Python's `poll`).
 *
 * Sleeps in the kernel until a message arrives, the other end is closed,
 * or the timeout passes (see docs/connection.md for how a dead peer is
 * noticed).
 * @param c           The receiving end.
 * @param timeout_ms  0 to look only; #MPROC_INFINITE.
 * @param ready       Receives 1 when a message is there or the other end
 *                    is gone (a receive then returns MPROC_ECLOSED once
 *                    drained), 0 when not within the timeout.
 * @return 0 (whatever the answer); MPROC_EINVAL (an end that only sends,
 *         a negative timeout, NULL ready); MPROC_EBADHANDLE.
 */
MPROC_API int mproc_connection_poll(const mproc_connection_t *c,
                                    int64_t timeout_ms, int *ready);

/**
 * @brief Close this end (Python's `close`).
 *
 * The other end then receives what was already sent, then MPROC_ECLOSED;
 * its sends fail with MPROC_ECLOSED at once. Using this end afterwards, in
 * any process, fails with MPROC_EBADHANDLE; so does closing it twice.
 * @return 0; MPROC_EBADHANDLE; MPROC_EINVAL (NULL).
 */
MPROC_API int mproc_connection_close(const mproc_connection_t *c);

/** @brief What an mproc_wait_item_t names. */
typedef enum mproc_wait_kind {
  /** A connection end: ready when a receive would return at once. */
  MPROC_WAIT_CONNECTION = 1,
  /** A started process: ready once it has ended. */
  MPROC_WAIT_PROCESS = 2,
  /** A queue: ready when a get would return at once (a message is queued,
   *  or the queue is closed). */
  MPROC_WAIT_QUEUE = 3
} mproc_wait_kind_t;

/** @brief One object for mproc_wait(). */
typedef struct mproc_wait_item {
  /** Which of the three pointers below is read. */
  mproc_wait_kind_t kind;
  /** #MPROC_WAIT_CONNECTION: the end. */
  const mproc_connection_t *connection;
  /** #MPROC_WAIT_PROCESS: the process. */
  mproc_process_t *process;
  /** #MPROC_WAIT_QUEUE: the queue. */
  const mproc_queue_t *queue;
  /** Set by mproc_wait(): 1 when ready, else 0. */
  int ready;
} mproc_wait_item_t;

/**
 * @brief Wait until at least one of the objects is ready (Python's
 *        `multiprocessing.connection.wait`).
 *
 * Sleeps in the kernel: on Linux in one futex_waitv over the objects'
 * words (and a word the reaper changes when it reaps a child), or in one
 * poll of the process sentinels when only processes are given; on Windows
 * in WaitForMultipleObjects when only processes are given. Queues and
 * connections on Windows and on the portable POSIX build are looked at in
 * naps of at most 1 ms, as every wait on them there. Every sleep also ends
 * after 100 ms at most to look for a connection's peer that died.
 * @param items       The objects; each item's `ready` is set.
 * @param n           Their number (1 or more).
 * @param timeout_ms  0 to look only; #MPROC_INFINITE.
 * @param nready      NULL, or receives the number of ready items.
 * @return 0 when at least one is ready; MPROC_ETIMEDOUT when none became
 *         ready in time; MPROC_EINVAL (NULL items, n of 0, an unknown kind,
 *         a NULL object, a sending-only end, a negative timeout);
 *         MPROC_EBADHANDLE (a handle never created, closed or freed);
 *         MPROC_ESTATE (a process never started); MPROC_ENOMEM; MPROC_EOS.
 *         Any thread.
 */
MPROC_API int mproc_wait(mproc_wait_item_t *items, size_t n, int64_t timeout_ms,
                         size_t *nready);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MPROC_H */
