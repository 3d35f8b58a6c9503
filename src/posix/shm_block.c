/* SPDX-License-Identifier: MIT */
/* POSIX named blocks (SharedMemory): shm_open segments that a program
 * names, created with the caller's mode and attached whole by any process
 * of a user the mode admits. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform.h"
#include "shm_block.h"

int mproc__shm_block_create(const char *name, size_t size, unsigned mode,
                            void **base) {
  return mproc__posix_shm_open_new(name, size, mode, 1, base);
}

int mproc__shm_block_attach(const char *name, void **base, size_t *size) {
  struct stat st;
  void *p;
  int fd, rc = 0;
  do {
    fd = shm_open(name, O_RDWR, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return errno == ENOENT ? MPROC_ENOENT : mproc__os_translate(errno);
  if (fstat(fd, &st) != 0) {
    rc = mproc__os_translate(errno);
  } else if (st.st_size <= 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
    rc = MPROC_ENOENT; /* not a block mproc made: it has no trailer */
  } else {
    p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             0);
    if (p == MAP_FAILED) {
      rc = mproc__os_translate(errno);
    } else {
      *base = p;
      *size = (size_t)st.st_size;
    }
  }
  close(fd);
  return rc;
}

void mproc__shm_block_unmap(void *base, size_t size) {
  if (base)
    munmap(base, size);
}

void mproc__shm_block_unlink(const char *name) { mproc__shm_unlink(name); }

size_t mproc__shm_block_granule(void) {
  long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? (size_t)page : 4096;
}
