/* SPDX-License-Identifier: MIT */
/* Windows named blocks (SharedMemory): paging-file mappings in the
 * session's namespace. A mapping lives while some process has it open,
 * as Python's SharedMemory does on Windows: a name cannot be removed
 * sooner, and nothing outlives the last process that used it. */
#include <stdio.h>

#include "os.h"
#include "shm_views.h"

static void block_object_name(wchar_t *out, size_t cap, const char *name) {
  if (name[0] == '/')
    name++;
  swprintf(out, cap, L"Local\\%hs", name);
}

/* Mappings of the paging file commit their size when made: an impossible
 * size fails there, never later. */
int mproc__shm_create_reserved(const char *name, size_t size, void **base) {
  return mproc__shm_create(name, size, base);
}

int mproc__shm_block_create(const char *name, size_t size, unsigned mode,
                            void **base) {
  wchar_t wname[64];
  HANDLE mapping;
  size_t mapped = 0;
  DWORD err;
  if (mode != 0600)
    return MPROC_ENOTSUP;
  block_object_name(wname, sizeof wname / sizeof wname[0], name);
  mapping =
      CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                         (DWORD)((uint64_t)size >> 32), (DWORD)size, wname);
  err = GetLastError();
  if (!mapping)
    return mproc__os_translate((int)err);
  if (err == ERROR_ALREADY_EXISTS) {
    CloseHandle(mapping);
    return MPROC_EEXIST;
  }
  return mproc__win32_map_view(mapping, base, &mapped);
}

int mproc__shm_block_attach(const char *name, void **base, size_t *size) {
  wchar_t wname[64];
  HANDLE mapping;
  DWORD err;
  block_object_name(wname, sizeof wname / sizeof wname[0], name);
  mapping = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wname);
  if (!mapping) {
    err = GetLastError();
    return err == ERROR_FILE_NOT_FOUND ? MPROC_ENOENT
                                       : mproc__os_translate((int)err);
  }
  return mproc__win32_map_view(mapping, base, size);
}

void mproc__shm_block_unmap(void *base, size_t size) {
  (void)size;
  if (base)
    mproc__win32_drop_view(base);
}

void mproc__shm_block_unlink(const char *name) { (void)name; }

size_t mproc__shm_block_granule(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwPageSize;
}
