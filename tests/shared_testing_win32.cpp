// SPDX-License-Identifier: MIT
// Shared-object test support on Windows: memory in a named file mapping
// (the pagefile's), which lives as long as a handle or a view of it does.
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "shared_testing.h"

#include <atomic>

namespace shared_testing {

void *map_new_shared(size_t bytes, SharedRef *ref, intptr_t *keep) {
  static std::atomic<unsigned> serial{0};
  *keep = -1;
  ref->bytes = bytes;
  snprintf(ref->path, sizeof ref->path, "Local\\mproc-test-mem-%lu-%u",
           (unsigned long)GetCurrentProcessId(), serial++);
  HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                (DWORD)((uint64_t)bytes >> 32), (DWORD)bytes,
                                ref->path);
  if (!h)
    return nullptr;
  void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, bytes);
  if (!p) {
    CloseHandle(h);
    return nullptr;
  }
  // The handle keeps the name, so that children can still open it after
  // one of them unmapped its view.
  *keep = (intptr_t)h;
  return p;
}

void *map_shared(const SharedRef &ref) {
  HANDLE h = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, ref.path);
  if (!h)
    return nullptr;
  void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, ref.bytes);
  CloseHandle(h); // the view keeps the mapping
  return p;
}

void unmap_shared(void *p, const SharedRef &, intptr_t keep) {
  if (p)
    UnmapViewOfFile(p);
  if (keep != -1)
    CloseHandle((HANDLE)keep);
}

std::vector<std::string> mproc_segments(mproc_pid_t) { return {}; }

std::vector<std::string> live_segments(mproc_pid_t) { return {}; }

std::vector<std::string> reclaimable_names(mproc_pid_t) { return {}; }

} // namespace shared_testing
