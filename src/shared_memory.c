/* SPDX-License-Identifier: MIT */
/*
 * SharedMemory (Python's multiprocessing.shared_memory): a block that a
 * program names and any process of the user attaches by that name, also
 * one that is not a child of its creator.
 *
 * The system name is "/mpb-<name>". The block is the caller's bytes, then
 * a 64-byte trailer at the end of the mapping (the caller's bytes start on
 * a page boundary): the size asked for, the creator's pid, whether the
 * block persists, and whether it was unlinked (Windows keeps an unlinked
 * block's name while it is open: attach refuses it there too). Reclamation
 * lists the "mpb-" names and removes those whose creator is gone, unless
 * they persist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared.h"

#define BLOCK_PREFIX MPROC__SHM_BLOCK_PREFIX
#define TRAILER_MAGIC 0x6d70424bu /* "mpBK" */
#define OS_NAME_MAX (1 + sizeof BLOCK_PREFIX - 1 + MPROC_SHM_NAME_MAX)

typedef struct trailer {
  mproc__atomic_u32 magic; /* written last at creation */
  uint32_t creator_pid;
  uint64_t size;
  mproc__atomic_u32 persistent;
  mproc__atomic_u32 unlinked;
  uint64_t reserved[5];
} trailer_t;

_Static_assert(sizeof(trailer_t) == 64, "the trailer is 64 bytes");
_Static_assert(OS_NAME_MAX <= MPROC__SHM_NAME_MAX, "names fit every system");

struct mproc_shm {
  void *base;
  size_t mapped;
  size_t size;
  char name[MPROC_SHM_NAME_MAX + 1];
};

static trailer_t *trailer_of(void *base, size_t mapped) {
  return (trailer_t *)((unsigned char *)base + mapped - sizeof(trailer_t));
}

static int valid_name(const char *name) {
  size_t n, i;
  if (!name)
    return 0;
  n = strlen(name);
  if (n == 0 || n > MPROC_SHM_NAME_MAX)
    return 0;
  for (i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static void os_name(char out[OS_NAME_MAX + 1], const char *name) {
  snprintf(out, OS_NAME_MAX + 1, "/" BLOCK_PREFIX "%s", name);
}

/* The mapping's size for `size` bytes and the trailer, in whole pages; 0
 * when it does not fit a size_t. */
static size_t mapping_size(size_t size) {
  size_t g = mproc__shm_block_granule();
  if (size > SIZE_MAX - sizeof(trailer_t) - g)
    return 0;
  return (size + sizeof(trailer_t) + g - 1) / g * g;
}

static int create_named(mproc_shm_t *s, size_t size, unsigned mode,
                        int persistent) {
  char osn[OS_NAME_MAX + 1];
  trailer_t *t;
  int rc;
  s->mapped = mapping_size(size);
  if (s->mapped == 0)
    return MPROC_ENOMEM;
  os_name(osn, s->name);
  rc = mproc__shm_block_create(osn, s->mapped, mode, &s->base);
  if (rc != 0)
    return rc;
  s->size = size;
  t = trailer_of(s->base, s->mapped);
  t->size = size;
  t->creator_pid = mproc__self_pid();
  mproc__store32(&t->persistent, persistent ? 1 : 0);
  mproc__store32_rel(&t->magic, TRAILER_MAGIC);
  return 0;
}

int mproc_shm_create(mproc_shm_t **out, const char *name, size_t size,
                     const mproc_shm_options_t *options) {
  mproc_shm_t *s;
  unsigned mode = options && options->mode ? options->mode : 0600;
  int persistent = options && options->persistent, rc = MPROC_EEXIST, tries;
  if (!out || size == 0 || (name && !valid_name(name)) || (mode & ~0777u) ||
      (options &&
       !mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS)))
    return MPROC_EINVAL;
  *out = NULL;
  s = (mproc_shm_t *)calloc(1, sizeof *s);
  if (!s)
    return MPROC_ENOMEM;
  if (name) {
    memcpy(s->name, name, strlen(name) + 1);
    rc = create_named(s, size, mode, persistent);
  }
  /* A generated name that exists already is replaced by another. */
  for (tries = 0; !name && rc == MPROC_EEXIST && tries < 8; tries++) {
    snprintf(s->name, sizeof s->name, "mp%016llx",
             (unsigned long long)mproc__random64());
    rc = create_named(s, size, mode, persistent);
  }
  if (rc != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int mproc_shm_attach(mproc_shm_t **out, const char *name) {
  char osn[OS_NAME_MAX + 1];
  mproc_shm_t *s;
  trailer_t *t;
  int rc;
  if (!out || !valid_name(name))
    return MPROC_EINVAL;
  *out = NULL;
  s = (mproc_shm_t *)calloc(1, sizeof *s);
  if (!s)
    return MPROC_ENOMEM;
  memcpy(s->name, name, strlen(name) + 1);
  os_name(osn, name);
  rc = mproc__shm_block_attach(osn, &s->base, &s->mapped);
  if (rc == 0) {
    t = s->mapped >= sizeof *t ? trailer_of(s->base, s->mapped) : NULL;
    /* Not (yet) a whole block of mproc's, or unlinked on a system that
     * keeps the name while the block is open. */
    if (!t || mproc__load32_acq(&t->magic) != TRAILER_MAGIC ||
        t->size > s->mapped - sizeof *t || mproc__load32(&t->unlinked)) {
      mproc__shm_block_unmap(s->base, s->mapped);
      rc = MPROC_ENOENT;
    } else {
      s->size = (size_t)t->size;
    }
  }
  if (rc != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

const char *mproc_shm_name(const mproc_shm_t *shm) {
  return shm ? shm->name : NULL;
}

size_t mproc_shm_size(const mproc_shm_t *shm) { return shm ? shm->size : 0; }

void *mproc_shm_ptr(const mproc_shm_t *shm) { return shm ? shm->base : NULL; }

int mproc_shm_set_persistent(mproc_shm_t *shm, int persistent) {
  if (!shm)
    return MPROC_EINVAL;
  mproc__store32(&trailer_of(shm->base, shm->mapped)->persistent,
                 persistent ? 1 : 0);
  return 0;
}

int mproc_shm_unlink(mproc_shm_t *shm) {
  char osn[OS_NAME_MAX + 1];
  uint32_t was = 0;
  if (!shm)
    return MPROC_EINVAL;
  /* The first unlink wins; a second is told the name is gone. */
  if (!mproc__cas32(&trailer_of(shm->base, shm->mapped)->unlinked, &was, 1))
    return MPROC_ENOENT;
  os_name(osn, shm->name);
  mproc__shm_block_unlink(osn);
  return 0;
}

int mproc_shm_close(mproc_shm_t *shm) {
  if (!shm)
    return MPROC_EINVAL;
  mproc__shm_block_unmap(shm->base, shm->mapped);
  free(shm);
  return 0;
}

/* ---- reclamation --------------------------------------------------------- */

int mproc__shm_block_reclaim(const char *listed) {
  char osn[OS_NAME_MAX + 2];
  void *base = NULL;
  size_t mapped = 0;
  trailer_t *t;
  int rc, removed = 0;
  if (strlen(listed) > OS_NAME_MAX - 1)
    return 0;
  snprintf(osn, sizeof osn, "/%s", listed);
  rc = mproc__shm_block_attach(osn, &base, &mapped);
  if (rc == MPROC_ENOENT) {
    /* Where markers stand for segments: a marker whose segment is gone. */
    mproc__shm_block_unlink(osn);
    return 0;
  }
  if (rc != 0)
    return 0;
  t = mapped >= sizeof *t ? trailer_of(base, mapped) : NULL;
  if (t && mproc__load32_acq(&t->magic) == TRAILER_MAGIC &&
      !mproc__load32(&t->persistent) &&
      !mproc__pid_alive((mproc_pid_t)t->creator_pid)) {
    mproc__store32(&t->unlinked, 1);
    mproc__shm_block_unlink(osn);
    removed = 1;
  }
  mproc__shm_block_unmap(base, mapped);
  return removed;
}
