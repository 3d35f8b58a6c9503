/* SPDX-License-Identifier: MIT */
/*
 * Pipes for the Pool on Windows: creation, whole reads and writes,
 * non-blocking reads, and a wait on many read ends at once.
 *
 * An anonymous pipe (CreatePipe) cannot be waited on: it supports no
 * overlapped I/O, and its handle is not signalled when data arrives. So each
 * pipe is a pair of ends of a named pipe made for it alone: the read end is
 * the server end, opened with FILE_FLAG_OVERLAPPED so that the pool thread
 * can wait on many of them (see mproc__pipe_wait_readable); the write end is
 * the client end, an ordinary blocking handle. The name holds this process's
 * id, a counter and random bytes, the pipe has one instance, and the client
 * is opened right after the server: nothing else can hold either end.
 *
 * Every read here passes an OVERLAPPED and waits for its completion, which
 * is how an overlapped handle is read synchronously; a worker that inherits
 * a read end (its task pipe) therefore reads it as a blocking end.
 *
 * Neither end is inheritable: a child inherits only the copies that the
 * spawn of a Pool worker makes of the two ends handed to it (src/win32/
 * spawn.c), named in its PROC_THREAD_ATTRIBUTE_HANDLE_LIST. A worker's death
 * closes its write end of the result pipe, which the parent reads as end of
 * file, as on POSIX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "child.h"

/* Bytes the system buffers in each direction of one pipe, as a Linux pipe. */
#define PIPE_BUFFER_BYTES 65536

/* Longest single ReadFile or WriteFile: their counts are DWORDs. */
#define IO_CHUNK_MAX 0x40000000u

/*
 * What this process keeps for a read end it reads or waits on: a HANDLE
 * holds no such state itself. One thread at a time reads and waits on an
 * end (the pool thread, the caller that leased a worker, a worker's only
 * thread; src/pool.c hands an end over under its lock), so the fields need
 * no lock; the list of records has one.
 */
typedef struct read_end {
  HANDLE h;
  int nonblocking;    /* mproc__pipe_set_nonblocking() */
  HANDLE read_event;  /* for the reads of data */
  HANDLE wait_event;  /* for the zero-byte read of the wait */
  OVERLAPPED wait_ov; /* that read, while armed */
  int armed;          /* started, and not yet seen complete */
} read_end_t;

static struct {
  SRWLOCK lock;
  read_end_t **ends;
  size_t count, capacity;
} R = {SRWLOCK_INIT, NULL, 0, 0};

static read_end_t *find_end(HANDLE h) {
  read_end_t *e = NULL;
  size_t i;
  AcquireSRWLockShared(&R.lock);
  for (i = 0; i < R.count && !e; i++)
    if (R.ends[i]->h == h)
      e = R.ends[i];
  ReleaseSRWLockShared(&R.lock);
  return e;
}

/* The record of h, made on first use (an end a worker inherited has none
 * until it reads). NULL without memory or events. */
static read_end_t *get_end(HANDLE h) {
  read_end_t *e = find_end(h);
  if (e)
    return e;
  e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  e->h = h;
  e->read_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  e->wait_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  e->wait_ov.hEvent = e->wait_event;
  AcquireSRWLockExclusive(&R.lock);
  if (e->read_event && e->wait_event && R.count == R.capacity) {
    size_t cap = R.capacity ? R.capacity * 2 : 32;
    read_end_t **bigger = realloc(R.ends, cap * sizeof *bigger);
    if (bigger) {
      R.ends = bigger;
      R.capacity = cap;
    }
  }
  if (e->read_event && e->wait_event && R.count < R.capacity) {
    R.ends[R.count++] = e;
  } else {
    if (e->read_event)
      CloseHandle(e->read_event);
    if (e->wait_event)
      CloseHandle(e->wait_event);
    free(e);
    e = NULL;
  }
  ReleaseSRWLockExclusive(&R.lock);
  return e;
}

/* Take h's record out of the list; the caller frees it. */
static read_end_t *take_end(HANDLE h) {
  read_end_t *e = NULL;
  size_t i;
  AcquireSRWLockExclusive(&R.lock);
  for (i = 0; i < R.count; i++) {
    if (R.ends[i]->h == h) {
      e = R.ends[i];
      R.ends[i] = R.ends[--R.count];
      break;
    }
  }
  ReleaseSRWLockExclusive(&R.lock);
  return e;
}

/* The other end is gone: the writer (for a reader) or the reader (for a
 * writer). */
static int is_closed_error(DWORD err) {
  return err == ERROR_BROKEN_PIPE || err == ERROR_NO_DATA ||
         err == ERROR_PIPE_NOT_CONNECTED || err == ERROR_HANDLE_EOF;
}

static int io_error(DWORD err) {
  return is_closed_error(err) ? MPROC_ECLOSED : mproc__os_translate((int)err);
}

int mproc__win32_pipe_name(const wchar_t *kind,
                           wchar_t name[MPROC__WIN32_PIPE_NAME_MAX]) {
  static volatile LONG counter;
  unsigned char nonce[8];
  int r = mproc__os_random(nonce, sizeof nonce);
  if (r != 0)
    return r;
  swprintf(name, MPROC__WIN32_PIPE_NAME_MAX,
           L"\\\\.\\pipe\\mproc-%ls-%lu-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
           kind, (unsigned long)GetCurrentProcessId(),
           (long)InterlockedIncrement(&counter), nonce[0], nonce[1], nonce[2],
           nonce[3], nonce[4], nonce[5], nonce[6], nonce[7]);
  return 0;
}

int mproc__pipe_create(mproc__pipe_t *read_end, mproc__pipe_t *write_end) {
  wchar_t name[MPROC__WIN32_PIPE_NAME_MAX];
  HANDLE server, client;
  int r = mproc__win32_pipe_name(L"pool", name);
  if (r != 0)
    return r;
  server = CreateNamedPipeW(name,
                            PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED |
                                FILE_FLAG_FIRST_PIPE_INSTANCE,
                            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                PIPE_REJECT_REMOTE_CLIENTS,
                            1, PIPE_BUFFER_BYTES, PIPE_BUFFER_BYTES, 0, NULL);
  if (server == INVALID_HANDLE_VALUE)
    return mproc__os_translate((int)GetLastError());
  /* The server needs no ConnectNamedPipe: a client that opens it before
   * any is called is connected. */
  client = CreateFileW(name, GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
  if (client == INVALID_HANDLE_VALUE) {
    r = mproc__os_translate((int)GetLastError());
    CloseHandle(server);
    return r;
  }
  *read_end = (mproc__pipe_t)server;
  *write_end = (mproc__pipe_t)client;
  return 0;
}

void mproc__pipe_close(mproc__pipe_t *end) {
  HANDLE h = (HANDLE)*end;
  read_end_t *e;
  if (*end == MPROC__PIPE_INVALID)
    return;
  *end = MPROC__PIPE_INVALID;
  e = take_end(h);
  if (e && e->armed) {
    /* The system writes into the OVERLAPPED until the read is over: it
     * must be over before the record is freed. */
    DWORD done;
    CancelIoEx(h, &e->wait_ov);
    GetOverlappedResult(h, &e->wait_ov, &done, TRUE);
  }
  CloseHandle(h);
  if (e) {
    CloseHandle(e->read_event);
    CloseHandle(e->wait_event);
    free(e);
  }
}

/* Windows has no fork: a child holds only the handles its spawn names, so
 * there is nothing to keep or to close here. */
void mproc__pipe_keep_in_child(mproc__pipe_t a, mproc__pipe_t b) {
  (void)a;
  (void)b;
}

/* PIPE_NOWAIT would also make the zero-byte reads of the wait return at
 * once: the mode is kept in the record instead, and read_some asks the
 * pipe what it holds before it reads. */
int mproc__pipe_set_nonblocking(mproc__pipe_t end) {
  read_end_t *e = get_end((HANDLE)end);
  if (!e)
    return MPROC_ENOMEM;
  e->nonblocking = 1;
  return 0;
}

int mproc__pipe_write_all(mproc__pipe_t end, const void *buf, size_t n) {
  const unsigned char *p = buf;
  /* The write end is a blocking handle: WriteFile returns once the reader
   * has taken what did not fit in the pipe's buffer. */
  while (n > 0) {
    DWORD want = n > IO_CHUNK_MAX ? IO_CHUNK_MAX : (DWORD)n, put = 0;
    if (!WriteFile((HANDLE)end, p, want, &put, NULL))
      return io_error(GetLastError());
    p += put;
    n -= put;
  }
  return 0;
}

/* One read of at most n bytes, waited for: *got is 0 only after a
 * zero-length write, which mproc never makes. */
static int read_once(read_end_t *e, void *buf, size_t n, size_t *got) {
  OVERLAPPED ov;
  DWORD want = n > IO_CHUNK_MAX ? IO_CHUNK_MAX : (DWORD)n, done = 0;
  int r = 0;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = e->read_event;
  if (!ReadFile(e->h, buf, want, NULL, &ov) &&
      GetLastError() != ERROR_IO_PENDING)
    r = io_error(GetLastError());
  else if (!GetOverlappedResult(e->h, &ov, &done, TRUE))
    r = io_error(GetLastError());
  *got = done;
  return r;
}

int mproc__pipe_read_all(mproc__pipe_t end, void *buf, size_t n) {
  read_end_t *e = get_end((HANDLE)end);
  unsigned char *p = buf;
  if (!e)
    return MPROC_ENOMEM;
  while (n > 0) {
    size_t got;
    int r = read_once(e, p, n, &got);
    if (r != 0)
      return r;
    p += got;
    n -= got;
  }
  return 0;
}

int mproc__pipe_read_some(mproc__pipe_t end, void *buf, size_t n, size_t *got) {
  read_end_t *e = get_end((HANDLE)end);
  int r;
  if (!e)
    return MPROC_ENOMEM;
  if (n == 0)
    return MPROC_EINVAL;
  if (e->nonblocking) {
    DWORD avail = 0;
    /* Fails with ERROR_BROKEN_PIPE once the writer is gone and the buffer
     * is empty: end of file comes after the last byte, as on POSIX. */
    if (!PeekNamedPipe(e->h, NULL, 0, NULL, &avail, NULL))
      return io_error(GetLastError());
    if (avail == 0)
      return MPROC_EEMPTY;
    if (n > avail)
      n = avail;
  }
  do {
    r = read_once(e, buf, n, got);
  } while (r == 0 && *got == 0);
  return r;
}

/* ---- waiting on many ends ----------------------------------------------- */

/*
 * How the wait works: a zero-byte overlapped ReadFile on an end completes
 * (signalling its event) when data arrives or when the writer goes away,
 * and consumes nothing; libuv and CPython wait on pipes the same way. The
 * read stays armed in the end's record from one wait to the next, so a
 * wait costs one ReadFile for each end that was ready last time and one
 * WaitForMultipleObjects; mproc__pipe_close() cancels a read still armed.
 *
 * WaitForMultipleObjects takes at most 64 handles. The first 63 events are
 * waited on directly; each further one is handed to the system thread
 * pool with RegisterWaitForSingleObject, whose callback sets one more
 * event that the direct wait includes. The thread pool watches up to 63
 * objects per thread of its own, so this costs no thread per call and no
 * polling, and a pool with few workers (the usual case) takes only the
 * direct wait.
 */

#define DIRECT_WAIT_MAX (MAXIMUM_WAIT_OBJECTS - 1)

/* Whether e is readable (or at end of file, or failing: the read that
 * follows tells) now. Arms its zero-byte read when none is. */
static int poll_end(read_end_t *e) {
  static char nothing[1];
  for (;;) {
    DWORD done;
    if (!e->armed) {
      if (ReadFile(e->h, nothing, 0, NULL, &e->wait_ov) ||
          GetLastError() != ERROR_IO_PENDING)
        return 1; /* done already: nothing is pending on the OVERLAPPED */
      e->armed = 1;
    }
    if (!HasOverlappedIoCompleted(&e->wait_ov))
      return 0;
    e->armed = 0;
    /* The system cancels a thread's I/O when the thread exits: a read
     * armed by a thread that is gone (a caller that leased a worker) says
     * nothing about the pipe. Arm it again. */
    if (GetOverlappedResult(e->h, &e->wait_ov, &done, FALSE) ||
        GetLastError() != ERROR_OPERATION_ABORTED)
      return 1;
  }
}

static VOID CALLBACK overflow_ready(PVOID event, BOOLEAN timed_out) {
  (void)timed_out;
  SetEvent((HANDLE)event);
}

/* Sleep until one of the n events is set, or the deadline. */
static int wait_any(const HANDLE *events, size_t n, int64_t deadline_ns) {
  HANDLE direct[MAXIMUM_WAIT_OBJECTS], overflow = NULL, *registered = NULL;
  DWORD n_direct = 0;
  size_t i, n_registered = 0;
  int r = 0;
  if (n > DIRECT_WAIT_MAX || n == 0) {
    /* With no event at all, one nobody sets makes this a sleep until the
     * deadline, as poll() with no descriptors. */
    overflow = CreateEventW(NULL, TRUE, FALSE, NULL);
    registered = malloc((n ? n : 1) * sizeof *registered);
    if (!overflow || !registered) {
      r = overflow ? MPROC_ENOMEM : mproc__os_translate((int)GetLastError());
      goto finish;
    }
    direct[n_direct++] = overflow;
  }
  for (i = 0; i < n; i++) {
    if (n_direct < MAXIMUM_WAIT_OBJECTS && i < DIRECT_WAIT_MAX) {
      direct[n_direct++] = events[i];
      continue;
    }
    if (!RegisterWaitForSingleObject(
            &registered[n_registered], events[i], overflow_ready, overflow,
            INFINITE, WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
      r = mproc__os_translate((int)GetLastError());
      goto finish;
    }
    n_registered++;
  }
  for (;;) {
    int64_t left = mproc__timeout_left(deadline_ns);
    /* All ones means forever: longer finite waits go round in slices. */
    DWORD slice = left == MPROC_INFINITE ? INFINITE
                  : left >= 0x7fffffff   ? 0x7fffffff
                                         : (DWORD)left;
    DWORD w = WaitForMultipleObjects(n_direct, direct, FALSE, slice);
    if (w < WAIT_OBJECT_0 + n_direct)
      break;
    if (w == WAIT_FAILED) {
      r = mproc__os_translate((int)GetLastError());
      break;
    }
    if (left != MPROC_INFINITE && mproc__timeout_left(deadline_ns) == 0) {
      r = MPROC_ETIMEDOUT;
      break;
    }
  }

finish:
  /* Blocking: no callback runs on the event after this. */
  for (i = 0; i < n_registered; i++)
    UnregisterWaitEx(registered[i], INVALID_HANDLE_VALUE);
  free(registered);
  if (overflow)
    CloseHandle(overflow);
  return r;
}

int mproc__pipe_wait_readable(const mproc__pipe_t *ends, size_t n,
                              int64_t deadline_ns, unsigned char *ready) {
  read_end_t **e = malloc((n ? n : 1) * sizeof *e);
  HANDLE *events = calloc(n ? n : 1, sizeof *events);
  size_t i;
  int r = 0;
  if (!e || !events) {
    r = MPROC_ENOMEM;
    goto finish;
  }
  for (i = 0; i < n; i++) {
    e[i] = get_end((HANDLE)ends[i]);
    if (!e[i]) {
      r = MPROC_ENOMEM;
      goto finish;
    }
  }
  /* Every read that completed counts, not only the one that ended the
   * wait; a wake-up that finds none (a cancelled read) waits again. */
  for (;;) {
    size_t n_events = 0;
    int any = 0;
    for (i = 0; i < n; i++) {
      ready[i] = (unsigned char)poll_end(e[i]);
      any |= ready[i];
      if (!ready[i])
        events[n_events++] = e[i]->wait_event;
    }
    if (any || (r = wait_any(events, n_events, deadline_ns)) != 0)
      break;
  }

finish:
  if (r != 0)
    memset(ready, 0, n);
  free(e);
  free(events);
  return r;
}
