// SPDX-License-Identifier: MIT
// Shared-object test support on POSIX: memory in a file of its own under
// /tmp, and the segment names in /dev/shm and the portable build's marker
// directory.
#include "shared_testing.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>

#include "mproc_config.h"
#include <stdlib.h>
#include <unistd.h>

namespace shared_testing {

void *map_new_shared(size_t bytes, SharedRef *ref, intptr_t *keep) {
  void *p = nullptr;
  *keep = -1;
  ref->bytes = bytes;
  snprintf(ref->path, sizeof ref->path, "/tmp/mproc-test-mem-XXXXXX");
  int fd = mkstemp(ref->path);
  if (fd < 0)
    return nullptr;
  if (ftruncate(fd, (off_t)bytes) == 0) {
    p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
      p = nullptr;
  }
  close(fd);
  return p;
}

void *map_shared(const SharedRef &ref) {
  int fd = open(ref.path, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return nullptr;
  void *p = mmap(nullptr, ref.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : p;
}

void unmap_shared(void *p, const SharedRef &ref, intptr_t) {
  if (p)
    munmap(p, ref.bytes);
  unlink(ref.path);
}

namespace {

std::string registry_dir() {
  const char *tmp = getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/mproc-shm-" +
         std::to_string((unsigned long)geteuid());
}

std::vector<std::string> list(const std::vector<std::string> &dirs,
                              mproc_pid_t creator) {
  std::vector<std::string> out;
  char prefix[64];
  if (creator)
    snprintf(prefix, sizeof prefix, "mproc-%x-", (unsigned)creator);
  else
    snprintf(prefix, sizeof prefix, "mproc-");
  for (const std::string &dir : dirs) {
    DIR *d = opendir(dir.c_str());
    if (!d)
      continue;
    while (struct dirent *e = readdir(d)) {
      if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
        out.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace

std::vector<std::string> reclaimable_names(mproc_pid_t creator) {
#if MPROC_PORTABLE_BUILD
  return list({registry_dir()}, creator);
#else
  return list({"/dev/shm"}, creator);
#endif
}

std::vector<std::string> live_segments(mproc_pid_t creator) {
  std::vector<std::string> out;
  for (const std::string &name : mproc_segments(creator)) {
    struct stat st;
    if (stat(("/dev/shm/" + name).c_str(), &st) == 0)
      out.push_back(name);
  }
  return out;
}

std::vector<std::string> mproc_segments(mproc_pid_t creator) {
  // The segments themselves, and the markers that the portable build keeps
  // beside them so that it can list them.
  return list({"/dev/shm", registry_dir()}, creator);
}

} // namespace shared_testing
