/* SPDX-License-Identifier: MIT */
/*
 * Shared objects' common runtime: segment names, value handles, the
 * per-process attach cache, owner identity and reclamation.
 *
 * A handle is 64 plain bytes that name a segment (creator pid, generation,
 * size). Any process that holds a copy attaches the segment on first use and
 * remembers the mapping; a fork child inherits both the mappings and this
 * memory of them. Everything the objects need for correctness lives in the
 * segment, never in this process's memory.
 */
#include "shared.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mproc__segment_header_t *header_of(void *body) {
  return (mproc__segment_header_t *)((unsigned char *)body -
                                     MPROC__HEADER_BYTES);
}

/* ---- identity --------------------------------------------------------- */

static struct {
  mproc__mutex_t lock;          /* guards the attach list and slot writes */
  mproc__atomic_u32 registered; /* fork handlers installed */
  mproc__atomic_u32 pid;        /* cached pid, 0 until known */
  mproc__atomic_u64 instance;   /* this process's random id, 0 until made */
  mproc__atomic_u64 counter;    /* feeds mproc__random64 */
} self = {MPROC__MUTEX_INITIALIZER, 0, 0, 0, 0};

static void atfork_prepare(void) { mproc__mutex_lock(&self.lock); }
static void atfork_parent(void) { mproc__mutex_unlock(&self.lock); }
static void atfork_child(void) {
  /* The child is single-threaded here: reset what identifies the process
   * and the lock another thread of the parent may have held. The attach
   * list and the mappings it names are inherited as they are. */
  mproc__mutex_init(&self.lock);
  mproc__store32(&self.pid, 0);
  mproc__store64(&self.instance, 0);
  /* The child's one thread is the one that forked: it keeps its token
   * (unique in the child too) and takes the child's instance when next
   * asked. */
  mproc__self_thread.instance = 0;
  /* Wake-ups the parent's thread put off are the parent's to make. */
  mproc__self_thread.wakes_deferred = 0;
}

static void ensure_registered(void) {
  uint32_t expected = 0;
  if (mproc__load32_acq(&self.registered))
    return;
  if (mproc__cas32(&self.registered, &expected, 1))
    mproc__os_atfork(atfork_prepare, atfork_parent, atfork_child);
}

uint32_t mproc__self_pid(void) {
  uint32_t pid = mproc__load32_rlx(&self.pid);
  if (pid)
    return pid;
  ensure_registered();
  pid = (uint32_t)mproc__os_getpid();
  mproc__store32_rlx(&self.pid, pid);
  return pid;
}

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t mproc__random64(void) {
  /* Time, pid, a per-call counter and an address (which differs between
   * runs under address-space randomisation) are mixed; a collision is
   * caught anyway by the exclusive creation of a segment. */
  uint64_t c = mproc__add64(&self.counter, 1);
  uint64_t x = (uint64_t)mproc__clock_ns() ^
               ((uint64_t)mproc__self_pid() << 40) ^ (uint64_t)(uintptr_t)&c ^
               (c * 0x2545f4914f6cdd1dull);
  x = splitmix64(x);
  return x ? x : 1;
}

uint64_t mproc__self_instance(void) {
  uint64_t id = mproc__load64_rlx(&self.instance);
  uint64_t expected = 0;
  if (id)
    return id;
  id = mproc__random64();
  if (!mproc__cas64(&self.instance, &expected, id))
    id = expected;
  return id;
}

MPROC__THREAD_LOCAL mproc__thread_id_t mproc__self_thread;

const mproc__thread_id_t *mproc__thread_id_fill(void) {
  static mproc__atomic_u32 next = 1;
  if (!mproc__self_thread.token)
    mproc__self_thread.token = mproc__add32(&next, 1);
  /* Asking for the instance installs the fork handlers first, so a fork
   * after this point renews it in the child (atfork_child). */
  mproc__self_thread.instance = mproc__self_instance();
  return &mproc__self_thread;
}

void mproc__shm_name(char name[MPROC__SHM_NAME_MAX + 1], uint32_t creator_pid,
                     uint64_t generation) {
  snprintf(name, MPROC__SHM_NAME_MAX + 1, "/" MPROC__SHM_PREFIX "%x-%012llx",
           (unsigned)creator_pid,
           (unsigned long long)(generation & 0xffffffffffffull));
}

/* ---- the attach cache ------------------------------------------------- */

/* Every segment this process maps, in a list guarded by self.lock, and in
 * front of it a direct-mapped table read without a lock: each slot holds a
 * generation and a base, written under the lock as "generation 0, base,
 * generation". */
typedef struct attachment {
  uint64_t generation;
  uint32_t creator_pid;
  size_t size;
  void *base;
  struct attachment *next;
} attachment_t;

#define SLOTS MPROC__SLOTS
mproc__slot_t mproc__slots[SLOTS];
#define slots mproc__slots
static attachment_t *attached;

static void slot_set(uint64_t generation, void *base) {
  unsigned i = (unsigned)(generation % SLOTS);
  mproc__store64(&slots[i].generation, 0);
  mproc__store64(&slots[i].base, (uint64_t)(uintptr_t)base);
  mproc__store64(&slots[i].generation, generation);
}

/* A base read while the slot is being rewritten may be another segment's
 * (never an unmapped one: a slot is cleared before its segment is
 * unmapped); the caller's check of the segment header catches it. */
static void *slot_get(uint64_t generation) {
  unsigned i = (unsigned)(generation % SLOTS);
  if (mproc__load64_acq(&slots[i].generation) != generation)
    return NULL;
  return (void *)(uintptr_t)mproc__load64_acq(&slots[i].base);
}

static int read_handle(const void *handle, unsigned kind, mproc__handle_t *h) {
  const unsigned char *p = (const unsigned char *)handle;
  if (!handle)
    return MPROC_EINVAL;
  /* Field by field: a narrow read of a wide copy just made would stall on
   * store forwarding, and this runs on every call. */
  memcpy(&h->magic, p + offsetof(mproc__handle_t, magic), sizeof h->magic);
  memcpy(&h->kind, p + offsetof(mproc__handle_t, kind), sizeof h->kind);
  memcpy(&h->creator_pid, p + offsetof(mproc__handle_t, creator_pid),
         sizeof h->creator_pid);
  memcpy(&h->generation, p + offsetof(mproc__handle_t, generation),
         sizeof h->generation);
  memcpy(&h->size, p + offsetof(mproc__handle_t, size), sizeof h->size);
  if (h->magic != MPROC__HANDLE_MAGIC || h->kind != kind ||
      h->generation == 0 || h->size <= MPROC__HEADER_BYTES)
    return MPROC_EBADHANDLE;
  return 0;
}

static int check_header(void *base, const mproc__handle_t *h) {
  mproc__segment_header_t *hd = (mproc__segment_header_t *)base;
  if (mproc__load32_acq(&hd->magic) != MPROC__SEGMENT_MAGIC ||
      hd->generation != h->generation || hd->kind != h->kind ||
      mproc__load32_rlx(&hd->destroyed))
    return MPROC_EBADHANDLE;
  return 0;
}

static int attach_slow(const mproc__handle_t *h, void **base) {
  attachment_t *a;
  char name[MPROC__SHM_NAME_MAX + 1];
  int rc = 0;
  ensure_registered();
  mproc__mutex_lock(&self.lock);
  for (a = attached; a; a = a->next) {
    if (a->generation == h->generation && a->creator_pid == h->creator_pid)
      break;
  }
  if (!a) {
    a = (attachment_t *)calloc(1, sizeof *a);
    if (!a) {
      rc = MPROC_ENOMEM;
      goto finish;
    }
    mproc__shm_name(name, h->creator_pid, h->generation);
    rc = mproc__shm_attach(name, (size_t)h->size, &a->base);
    if (rc != 0) {
      free(a);
      goto finish;
    }
    a->generation = h->generation;
    a->creator_pid = h->creator_pid;
    a->size = (size_t)h->size;
    a->next = attached;
    attached = a;
  }
  slot_set(a->generation, a->base);
  *base = a->base;
finish:
  mproc__mutex_unlock(&self.lock);
  return rc;
}

int mproc__object_get_slow(const void *handle, unsigned kind, void **body) {
  mproc__handle_t h;
  void *base;
  int rc = read_handle(handle, kind, &h);
  if (rc != 0)
    return rc;
  base = slot_get(h.generation);
  if (!base || check_header(base, &h) != 0) {
    /* Not attached yet, a slot caught mid-rewrite, or destroyed: the slow
     * path under the lock settles which. */
    rc = attach_slow(&h, &base);
    if (rc != 0)
      return rc;
    rc = check_header(base, &h);
    if (rc != 0)
      return rc;
  }
  *body = (unsigned char *)base + MPROC__HEADER_BYTES;
  return 0;
}

int mproc__object_destroyed(void *body) {
  return mproc__load32(&header_of(body)->destroyed) != 0;
}

static int object_create(void *handle, unsigned kind, size_t body_size,
                         int reserve, void **body) {
  mproc__handle_t h;
  mproc__segment_header_t *hd;
  attachment_t *a;
  char name[MPROC__SHM_NAME_MAX + 1];
  void *base = NULL;
  int rc = MPROC_EOS, tries;
  if (!handle)
    return MPROC_EINVAL;
  if (body_size > SIZE_MAX - MPROC__HEADER_BYTES)
    return MPROC_ENOMEM;
  a = (attachment_t *)calloc(1, sizeof *a);
  if (!a)
    return MPROC_ENOMEM;
  memset(&h, 0, sizeof h);
  h.magic = MPROC__HANDLE_MAGIC;
  h.kind = (uint16_t)kind;
  h.version = 1;
  h.creator_pid = mproc__self_pid();
  h.size = MPROC__HEADER_BYTES + (uint64_t)body_size;
  /* A name already taken (a collision, or a leftover of a dead process
   * whose pid is ours now) is skipped with a new generation. */
  for (tries = 0; tries < 8; tries++) {
    h.generation = mproc__random64();
    mproc__shm_name(name, h.creator_pid, h.generation);
    rc = reserve ? mproc__shm_create_reserved(name, (size_t)h.size, &base)
                 : mproc__shm_create(name, (size_t)h.size, &base);
    if (rc != MPROC_EOS)
      break;
  }
  if (rc != 0) {
    free(a);
    return rc;
  }
  hd = (mproc__segment_header_t *)base;
  hd->kind = kind;
  hd->generation = h.generation;
  hd->size = h.size;
  hd->creator_pid = h.creator_pid;
  a->generation = h.generation;
  a->creator_pid = h.creator_pid;
  a->size = (size_t)h.size;
  a->base = base;
  ensure_registered();
  mproc__mutex_lock(&self.lock);
  a->next = attached;
  attached = a;
  slot_set(a->generation, a->base);
  mproc__mutex_unlock(&self.lock);
  memcpy(handle, &h, sizeof h);
  *body = (unsigned char *)base + MPROC__HEADER_BYTES;
  return 0;
}

int mproc__object_create(void *handle, unsigned kind, size_t body_size,
                         void **body) {
  return object_create(handle, kind, body_size, 0, body);
}

int mproc__object_create_reserved(void *handle, unsigned kind, size_t body_size,
                                  void **body) {
  return object_create(handle, kind, body_size, 1, body);
}

void mproc__object_publish(void *body) {
  mproc__store32_rel(&header_of(body)->magic, MPROC__SEGMENT_MAGIC);
}

int mproc__object_destroy(void *handle, unsigned kind,
                          void (*wake)(void *body)) {
  mproc__handle_t h;
  attachment_t **pa, *a = NULL;
  char name[MPROC__SHM_NAME_MAX + 1];
  void *body;
  uint32_t was = 0;
  int rc = mproc__object_get(handle, kind, &body);
  if (rc != 0)
    return rc;
  memcpy(&h, handle, sizeof h);
  /* One destroyer wins; a second call sees EBADHANDLE. */
  if (!mproc__cas32(&header_of(body)->destroyed, &was, 1))
    return MPROC_EBADHANDLE;
  if (wake)
    wake(body);
  mproc__shm_name(name, h.creator_pid, h.generation);
  mproc__shm_unlink(name);
  mproc__mutex_lock(&self.lock);
  for (pa = &attached; *pa; pa = &(*pa)->next) {
    if ((*pa)->generation == h.generation &&
        (*pa)->creator_pid == h.creator_pid) {
      a = *pa;
      *pa = a->next;
      break;
    }
  }
  if (a &&
      mproc__load64(&slots[h.generation % SLOTS].generation) == h.generation)
    mproc__store64(&slots[h.generation % SLOTS].generation, 0);
  mproc__mutex_unlock(&self.lock);
  /* Other processes keep their mappings until they exit; the memory goes
   * back to the system when the last one is gone. */
  if (a) {
    mproc__shm_unmap(a->base, a->size);
    free(a);
  }
  memset(handle, 0, sizeof h);
  return 0;
}

/* ---- reclamation ------------------------------------------------------ */

static void reclaim_one(const char *name, void *ctx) {
  size_t *removed = (size_t *)ctx;
  char path[MPROC__SHM_NAME_MAX + 2];
  unsigned long pid;
  char *end;
  const char *p = name + strlen(MPROC__SHM_PREFIX);
  pid = strtoul(p, &end, 16);
  if (end == p || *end != '-' || pid == 0)
    return;
  if (mproc__pid_alive((mproc_pid_t)pid))
    return;
  if (strlen(name) > MPROC__SHM_NAME_MAX - 1)
    return;
  snprintf(path, sizeof path, "/%s", name);
  mproc__shm_unlink(path);
  mproc__log(MPROC_LOG_INFO,
             "reclaimed shared segment %s of exited process %lu", name, pid);
  if (removed)
    (*removed)++;
}

static void reclaim_block(const char *name, void *ctx) {
  size_t *removed = (size_t *)ctx;
  if (!mproc__shm_block_reclaim(name))
    return;
  mproc__log(MPROC_LOG_INFO, "reclaimed shared memory block %s", name);
  if (removed)
    (*removed)++;
}

int mproc_shared_reclaim(size_t *removed) {
  int rc;
  if (removed)
    *removed = 0;
  rc = mproc__shm_list(MPROC__SHM_PREFIX, reclaim_one, removed);
  if (rc == 0)
    rc = mproc__shm_list(MPROC__SHM_BLOCK_PREFIX, reclaim_block, removed);
  return rc;
}

void mproc__shm_reclaim(void) { (void)mproc_shared_reclaim(NULL); }
