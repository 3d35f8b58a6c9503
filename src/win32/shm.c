/* SPDX-License-Identifier: MIT */
/* Windows shared memory for shared objects: named file mappings backed by
 * the paging file, process liveness, and the seam's fork hooks (Windows has
 * no fork).
 *
 * POSIX keeps a segment's name until someone unlinks it, even when no
 * process maps the segment (a queue's large message waits that way for its
 * reader). A Windows mapping lives only while some process holds a handle
 * to it, and its name goes with it. So the creator keeps one extra handle,
 * the name keeper, and writes its value, with its own pid and start time,
 * in a trailer page after the segment's bytes. mproc__shm_unlink(), in
 * whichever process calls it, takes that value from the trailer (once) and
 * closes the creator's handle: in place when it is the creator, otherwise
 * with DuplicateHandle(DUPLICATE_CLOSE_SOURCE), after checking that the pid
 * still names the process that started at that time. The segment is then
 * freed once the last view is unmapped. When the creator ends, the kernel
 * closes its handles: a crash never leaves a segment behind.
 *
 * The creator here is the process whose pid the name carries (see
 * name_owner()), which need not be the process that makes the segment: a
 * queue's large message is made by its producer but named after the
 * queue's creator, and must outlive a producer that exits before the
 * message is taken, as it does on POSIX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "shared.h"
#include "shm_views.h"

#define TRAILER_MAGIC 0x6b70724du /* "Mrpk" */

typedef struct trailer {
  volatile LONG64 keeper; /* the creator's handle value; 0 once closed */
  uint32_t magic;
  uint32_t creator_pid;
  uint64_t creator_start; /* the creator's creation time (FILETIME) */
} trailer_t;

/* Each view's mapping handle, kept open until the view is unmapped: Wine
 * removes a mapping's name with its last handle even while views remain.
 * A segment's view also keeps its name and size, so that unlinking a
 * segment this process maps needs no new handle, nor view: no call that can
 * fail (a queue's consumer unlinks a large message's segment as soon as it
 * has attached it). */
typedef struct view {
  struct view *next;
  void *base;
  HANDLE mapping;
  size_t region;
  wchar_t name[64]; /* empty for a SharedMemory block */
} view_t;

static mproc__mutex_t views_lock = MPROC__MUTEX_INITIALIZER;
static view_t *views;

/* Mappings live in the session's namespace ("Local\"), where an ordinary
 * process may create names, and never meet another session's objects. */
static void object_name(wchar_t *out, size_t cap, const char *name) {
  if (name[0] == '/')
    name++;
  swprintf(out, cap, L"Local\\%hs", name);
}

static size_t page_size(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwPageSize;
}

/* The segment's bytes rounded to pages, then the trailer's page. */
static size_t mapping_size(size_t size) {
  size_t page = page_size();
  return (size + page - 1) / page * page + page;
}

static uint64_t process_start(HANDLE process) {
  FILETIME created, exited, kernel, user;
  if (!GetProcessTimes(process, &created, &exited, &kernel, &user))
    return 0;
  return (uint64_t)created.dwHighDateTime << 32 | created.dwLowDateTime;
}

static int keep_view(void *base, HANDLE mapping, size_t region) {
  view_t *v = (view_t *)malloc(sizeof *v);
  if (!v)
    return MPROC_ENOMEM;
  v->base = base;
  v->mapping = mapping;
  v->region = region;
  v->name[0] = 0;
  mproc__mutex_lock(&views_lock);
  v->next = views;
  views = v;
  mproc__mutex_unlock(&views_lock);
  return 0;
}

/* Unmap the view and close its mapping handle. */
void mproc__win32_drop_view(void *base) {
  view_t **pv, *v = NULL;
  mproc__mutex_lock(&views_lock);
  for (pv = &views; *pv; pv = &(*pv)->next) {
    if ((*pv)->base == base) {
      v = *pv;
      *pv = v->next;
      break;
    }
  }
  mproc__mutex_unlock(&views_lock);
  UnmapViewOfFile(base);
  if (v) {
    CloseHandle(v->mapping);
    free(v);
  }
}

/* Map all of the mapping and keep its handle with the view; the handle is
 * closed here on failure. *region receives the mapped size. */
int mproc__win32_map_view(HANDLE mapping, void **base, size_t *region) {
  MEMORY_BASIC_INFORMATION info;
  void *view = MapViewOfFile(mapping, FILE_MAP_ALL_ACCESS, 0, 0, 0);
  int rc;
  if (!view) {
    rc = mproc__os_translate((int)GetLastError());
    CloseHandle(mapping);
    return rc;
  }
  if (VirtualQuery(view, &info, sizeof info) != sizeof info) {
    rc = mproc__os_translate((int)GetLastError());
    UnmapViewOfFile(view);
    CloseHandle(mapping);
    return rc;
  }
  rc = keep_view(view, mapping, info.RegionSize);
  if (rc != 0) {
    UnmapViewOfFile(view);
    CloseHandle(mapping);
    return rc;
  }
  *base = view;
  *region = info.RegionSize;
  return 0;
}

static trailer_t *trailer_of(void *base, size_t region) {
  return (trailer_t *)((unsigned char *)base + region - page_size());
}

/* Give the view at base the segment's name. */
static void name_view(void *base, const wchar_t *name) {
  view_t *v;
  mproc__mutex_lock(&views_lock);
  for (v = views; v; v = v->next)
    if (v->base == base)
      wcsncpy(v->name, name, sizeof v->name / sizeof v->name[0] - 1);
  mproc__mutex_unlock(&views_lock);
}

/* The running process the name "/mproc-<pid hex>-..." names, when it is
 * another one, opened to take a handle (its pid in *pid); NULL otherwise. */
static HANDLE name_owner(const char *name, DWORD *pid) {
  const char *p = name[0] == '/' ? name + 1 : name;
  unsigned long v;
  HANDLE h;
  DWORD code;
  char *end;
  if (strncmp(p, MPROC__SHM_PREFIX, strlen(MPROC__SHM_PREFIX)) != 0)
    return NULL;
  p += strlen(MPROC__SHM_PREFIX);
  v = strtoul(p, &end, 16);
  if (end == p || *end != '-' || v == 0 || v == GetCurrentProcessId())
    return NULL;
  h = OpenProcess(PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                  (DWORD)v);
  if (h && (!GetExitCodeProcess(h, &code) || code != STILL_ACTIVE)) {
    CloseHandle(h);
    h = NULL;
  }
  if (h)
    *pid = (DWORD)v;
  return h;
}

int mproc__shm_create(const char *name, size_t size, void **base) {
  size_t total = mapping_size(size), region = 0;
  wchar_t wname[64];
  HANDLE mapping, keeper = NULL, owner, keeper_process;
  DWORD owner_pid = GetCurrentProcessId();
  trailer_t *t;
  DWORD err;
  int rc;
  object_name(wname, sizeof wname / sizeof wname[0], name);
  mapping =
      CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                         (DWORD)((uint64_t)total >> 32), (DWORD)total, wname);
  err = GetLastError();
  if (!mapping)
    return mproc__os_translate((int)err);
  if (err == ERROR_ALREADY_EXISTS) {
    /* Someone else's: creation is exclusive. */
    CloseHandle(mapping);
    return mproc__os_fail(ERROR_ALREADY_EXISTS);
  }
  /* Pages of a new paging-file mapping are zero. The view keeps the
   * mapping handle, which stays valid to copy the keeper from. */
  rc = mproc__win32_map_view(mapping, base, &region);
  if (rc != 0)
    return rc;
  owner = name_owner(name, &owner_pid);
  keeper_process = owner ? owner : GetCurrentProcess();
  if (!DuplicateHandle(GetCurrentProcess(), mapping, keeper_process, &keeper, 0,
                       FALSE, DUPLICATE_SAME_ACCESS)) {
    rc = mproc__os_translate((int)GetLastError());
    if (owner)
      CloseHandle(owner);
    mproc__win32_drop_view(*base);
    return rc;
  }
  t = trailer_of(*base, region);
  t->magic = TRAILER_MAGIC;
  t->creator_pid = (uint32_t)owner_pid;
  t->creator_start = process_start(keeper_process);
  if (owner)
    CloseHandle(owner);
  InterlockedExchange64(&t->keeper, (LONG64)(intptr_t)keeper);
  name_view(*base, wname);
  return 0;
}

int mproc__shm_attach(const char *name, size_t size, void **base) {
  wchar_t wname[64];
  HANDLE mapping;
  size_t region = 0;
  void *view;
  DWORD err;
  int rc;
  object_name(wname, sizeof wname / sizeof wname[0], name);
  mapping = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wname);
  if (!mapping) {
    err = GetLastError();
    return err == ERROR_FILE_NOT_FOUND ? MPROC_EBADHANDLE
                                       : mproc__os_translate((int)err);
  }
  rc = mproc__win32_map_view(mapping, &view, &region);
  if (rc != 0)
    return rc;
  /* Windows keeps a mapping's size in pages: a segment of another size
   * (a name reused by another object) shows a different page count. */
  if (region != mapping_size(size) ||
      trailer_of(view, region)->magic != TRAILER_MAGIC) {
    mproc__win32_drop_view(view);
    return MPROC_EBADHANDLE;
  }
  name_view(view, wname);
  *base = view;
  return 0;
}

/* Close the creator's name keeper (see the top of this file), given a
 * copy of the segment's trailer. */
static void close_keeper(trailer_t t, HANDLE keeper) {
  HANDLE creator;
  if (t.creator_pid == GetCurrentProcessId()) {
    CloseHandle(keeper);
    return;
  }
  creator = OpenProcess(PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION,
                        FALSE, t.creator_pid);
  /* Gone: its handles went with it. */
  if (!creator)
    return;
  /* A pid given to another process since: its handles are not ours. */
  if (process_start(creator) == t.creator_start) {
    /* Taken over into this process and closed here: Wine refuses a NULL
     * target process, which Windows would accept. */
    HANDLE taken = NULL;
    if (DuplicateHandle(creator, keeper, GetCurrentProcess(), &taken, 0, FALSE,
                        DUPLICATE_CLOSE_SOURCE | DUPLICATE_SAME_ACCESS))
      CloseHandle(taken);
  }
  CloseHandle(creator);
}

/* Take the keeper's value from the trailer of a view of the segment this
 * process has, into *keeper with a copy of the trailer; 0 when it has no
 * view of it. Only the first unlinker gets the value: a handle is closed
 * once. */
static int take_keeper_from_view(const wchar_t *name, trailer_t *copy,
                                 LONG64 *keeper) {
  view_t *v;
  int found = 0;
  mproc__mutex_lock(&views_lock);
  for (v = views; v && !found; v = v->next) {
    if (v->name[0] && wcscmp(v->name, name) == 0) {
      trailer_t *t = trailer_of(v->base, v->region);
      *keeper =
          t->magic == TRAILER_MAGIC ? InterlockedExchange64(&t->keeper, 0) : 0;
      *copy = *t;
      found = 1;
    }
  }
  mproc__mutex_unlock(&views_lock);
  return found;
}

void mproc__shm_unlink(const char *name) {
  wchar_t wname[64];
  HANDLE mapping;
  size_t region = 0;
  trailer_t copy;
  LONG64 keeper = 0;
  void *view;
  object_name(wname, sizeof wname / sizeof wname[0], name);
  if (!take_keeper_from_view(wname, &copy, &keeper)) {
    mapping = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wname);
    if (!mapping)
      return; /* already gone */
    if (mproc__win32_map_view(mapping, &view, &region) != 0)
      return;
    copy = *trailer_of(view, region);
    if (copy.magic == TRAILER_MAGIC)
      keeper = InterlockedExchange64(&trailer_of(view, region)->keeper, 0);
    mproc__win32_drop_view(view);
  }
  if (keeper)
    close_keeper(copy, (HANDLE)(intptr_t)keeper);
}

void mproc__shm_unmap(void *base, size_t size) {
  (void)size;
  if (base)
    mproc__win32_drop_view(base);
}

int mproc__shm_list(const char *prefix, void (*fn)(const char *name, void *ctx),
                    void *ctx) {
  /* Nothing can outlive its last process, so there is nothing to reclaim;
   * and the session's object directory is not listed by a documented
   * call. */
  (void)prefix;
  (void)fn;
  (void)ctx;
  return MPROC_ENOTSUP;
}

int mproc__pid_alive(mproc_pid_t pid) {
  HANDLE h;
  DWORD code, err;
  if (pid <= 0 || pid > 0xffffffffLL)
    return 0;
  h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
  if (!h) {
    err = GetLastError();
    /* ERROR_INVALID_PARAMETER: no process has that pid. Anything else (a
     * protected process) exists. */
    return err != ERROR_INVALID_PARAMETER;
  }
  /* A process that ended but is still held open by someone is dead. */
  if (!GetExitCodeProcess(h, &code))
    code = STILL_ACTIVE;
  CloseHandle(h);
  if (code != STILL_ACTIVE)
    return 0;
  /* STILL_ACTIVE may also be a real exit code: ask the handle. */
  h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
  if (!h)
    return 1;
  code = WaitForSingleObject(h, 0);
  CloseHandle(h);
  return code != WAIT_OBJECT_0;
}

int mproc__os_atfork(void (*prepare)(void), void (*parent)(void),
                     void (*child)(void)) {
  /* Windows has no fork: there is never a copy of this process's memory
   * to repair. */
  (void)prepare;
  (void)parent;
  (void)child;
  return 0;
}
