/* SPDX-License-Identifier: MIT */
/* POSIX shared memory for shared objects: shm_open segments, listing them
 * for reclamation, process liveness, fork hooks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mproc_config.h"
#include "platform.h"
#include "shm_block.h"

/* Where segments can be listed. Linux shows them as files of /dev/shm; the
 * BSDs and macOS keep them out of the file system and have no call to list
 * them, so there (and in the portable build, which stands in for them) each
 * segment also gets an empty marker file of the same name in a private
 * directory, made before the segment and removed after it, so that a
 * crash at any point leaves at least a marker to find. */
static int registry_used;
static char registry[256];
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

/* Decide once whether markers are used, and make their directory (mode
 * 0700; left unused when it cannot be made or belongs to someone else). */
static void registry_init(void) {
  struct stat st;
  const char *tmp;
#if MPROC_PORTABLE_BUILD
  registry_used = 1;
#else
  DIR *d = opendir("/dev/shm");
  registry_used = d == NULL;
  if (d)
    closedir(d);
#endif
  if (!registry_used)
    return;
  tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) > 180)
    tmp = "/tmp";
  snprintf(registry, sizeof registry, "%s/mproc-shm-%lu", tmp,
           (unsigned long)geteuid());
  if ((mkdir(registry, 0700) != 0 && errno != EEXIST) ||
      lstat(registry, &st) != 0 || !S_ISDIR(st.st_mode) ||
      st.st_uid != geteuid() || (st.st_mode & 0077) != 0)
    registry[0] = 0;
}

static int use_registry(void) {
  pthread_once(&registry_once, registry_init);
  return registry_used;
}

static const char *registry_dir(void) {
  pthread_once(&registry_once, registry_init);
  return registry[0] ? registry : NULL;
}

static void marker_path(char *path, size_t cap, const char *dir,
                        const char *name) {
  snprintf(path, cap, "%s/%s", dir, name[0] == '/' ? name + 1 : name);
}

static void marker_add(const char *name) {
  char path[320];
  const char *dir;
  int fd;
  if (!use_registry() || (dir = registry_dir()) == NULL)
    return;
  marker_path(path, sizeof path, dir, name);
  fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0)
    close(fd);
}

static void marker_remove(const char *name) {
  char path[320];
  const char *dir;
  if (!use_registry() || (dir = registry_dir()) == NULL)
    return;
  marker_path(path, sizeof path, dir, name);
  unlink(path);
}

static int map_fd(int fd, size_t size, void **base) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return mproc__os_translate(errno);
  *base = p;
  return 0;
}

/* Back every byte of the segment now, so that a size the system cannot
 * hold fails here instead of with SIGBUS when a page is first touched. */
static int reserve_fd(int fd, size_t size) {
#if MPROC_HAVE_POSIX_FALLOCATE
  int rc;
  while ((rc = posix_fallocate(fd, 0, (off_t)size)) == EINTR) {
  }
  /* A file system without the call: the size stays as set. */
  if (rc == 0 || rc == EOPNOTSUPP || rc == EINVAL)
    return 0;
  return rc == ENOSPC || rc == EFBIG ? MPROC_ENOMEM : mproc__os_translate(rc);
#else
  (void)fd;
  (void)size;
  return 0;
#endif
}

int mproc__posix_shm_open_new(const char *name, size_t size, unsigned mode,
                              int reserve, void **base) {
  int fd, rc;
  if ((uint64_t)size > (uint64_t)INT64_MAX)
    return MPROC_ENOMEM;
  marker_add(name);
  do {
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, (mode_t)mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int err = errno;
    /* EEXIST: the marker is the existing segment's; keep it. */
    if (err != EEXIST)
      marker_remove(name);
    return err == EEXIST ? MPROC_EEXIST : mproc__os_translate(err);
  }
  /* The umask may narrow the mode shm_open applied; a mode asked for is
   * exact. macOS lets ftruncate size a segment once only, which is all we
   * do. */
  rc = 0;
  if (mode != 0600 && fchmod(fd, (mode_t)mode) != 0)
    rc = mproc__os_translate(errno);
  while (rc == 0 && ftruncate(fd, (off_t)size) != 0) {
    if (errno != EINTR)
      rc = errno == EFBIG || errno == ENOSPC ? MPROC_ENOMEM
                                             : mproc__os_translate(errno);
  }
  if (rc == 0 && reserve)
    rc = reserve_fd(fd, size);
  if (rc == 0)
    rc = map_fd(fd, size, base);
  close(fd);
  if (rc != 0)
    mproc__shm_unlink(name);
  return rc;
}

int mproc__shm_create(const char *name, size_t size, void **base) {
  int rc = mproc__posix_shm_open_new(name, size, 0600, 0, base);
  return rc == MPROC_EEXIST ? mproc__os_fail(EEXIST) : rc;
}

int mproc__shm_create_reserved(const char *name, size_t size, void **base) {
  int rc = mproc__posix_shm_open_new(name, size, 0600, 1, base);
  return rc == MPROC_EEXIST ? mproc__os_fail(EEXIST) : rc;
}

int mproc__shm_attach(const char *name, size_t size, void **base) {
  struct stat st;
  int fd, rc;
  do {
    fd = shm_open(name, O_RDWR, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return errno == ENOENT ? MPROC_EBADHANDLE : mproc__os_translate(errno);
  /* A size that differs means the name was reused by another object (or
   * the creator died before sizing it); mapping past its end would fault. */
  if (fstat(fd, &st) != 0) {
    rc = mproc__os_translate(errno);
  } else if ((uint64_t)st.st_size != (uint64_t)size) {
    rc = MPROC_EBADHANDLE;
  } else {
    rc = map_fd(fd, size, base);
  }
  close(fd);
  return rc;
}

void mproc__shm_unlink(const char *name) {
  shm_unlink(name);
  marker_remove(name);
}

void mproc__shm_unmap(void *base, size_t size) {
  if (base)
    munmap(base, size);
}

int mproc__shm_list(const char *prefix, void (*fn)(const char *name, void *ctx),
                    void *ctx) {
  size_t n = strlen(prefix);
  struct dirent *e;
  DIR *d;
  if (use_registry()) {
    const char *dir = registry_dir();
    d = dir ? opendir(dir) : NULL;
  } else {
    d = opendir("/dev/shm");
  }
  if (!d)
    return MPROC_ENOTSUP;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, prefix, n) == 0)
      fn(e->d_name, ctx);
  }
  closedir(d);
  return 0;
}

int mproc__pid_alive(mproc_pid_t pid) {
  if (pid <= 0)
    return 0;
  if (kill((pid_t)pid, 0) == 0)
    return 1;
  return errno != ESRCH;
}

int mproc__os_atfork(void (*prepare)(void), void (*parent)(void),
                     void (*child)(void)) {
  int rc = pthread_atfork(prepare, parent, child);
  return rc == 0 ? 0 : mproc__os_translate(rc);
}
