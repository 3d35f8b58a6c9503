/* SPDX-License-Identifier: MIT */
/* Sleep and wake on shared 32-bit words, and on process handles, on
 * Windows.
 *
 * WaitOnAddress works within one process only. So words are slept on
 * through the session's doorbell: a small named file mapping that every
 * mproc process of the session maps, with a table of sleepers. A sleeping
 * thread holds a bell, an auto-reset event of its own with a random name,
 * listed in a slot of the table. To sleep it arms its slot (the slot says
 * which words it sleeps on, as a 64-bit mask of hashes), looks at its
 * words once more, and sleeps in one WaitForMultipleObjects on its bell and
 * the handles; then it disarms. mproc__wake32(), after the word changed,
 * reads the count of armed slots and, when it is not zero, sets the bell
 * of every armed slot whose mask holds the word's hash.
 *
 * No wake-up is lost. The sleeper arms (seq_cst) before it looks at its
 * words (seq_cst); the waker changes the word (seq_cst, in every caller)
 * before it reads the count and the slots (seq_cst). In the one order of
 * seq_cst operations, if the sleeper's look saw the old value, the look
 * came before the change, so the arming did too, and the waker sees the
 * slot armed and sets the bell: an event stays set until a wait takes it,
 * so the sleeper's wait, whenever it starts, returns. The mask is written
 * before the arming, so the waker reads this sleep's mask.
 *
 * Each thread that sleeps on words has a bell of its own, made on its first
 * such sleep and given up (its slot freed, its event closed) when the
 * thread ends, by a fiber-local's destructor: a process holds one bell per
 * thread that ever slept on a word, and a thread that ends leaves none.
 *
 * Every wake-up that brings no news costs one look at the words: a bell
 * set for a word that another sleep of the same thread was on, a word of
 * the same hash, or a slot armed a moment too early. Processes map a
 * segment whole at an address aligned to the allocation granularity
 * (64 KiB), so a word's address modulo 64 KiB is the same in each, and so
 * is its hash.
 *
 * A slot whose process died is taken back by the first waker that cannot
 * open its bell (the name went with its last handle: a waker opens a bell
 * for one ring and closes it), or by a newcomer when the table is full. Above
 * SLOTS sleepers at once, or when the doorbell cannot be made, a sleep on words
 * is a 1 ms nap instead; handles alone need no bell: one WaitForMultipleObjects
 * on them. The uncontended paths of every object never come here; a wake with
 * nobody asleep costs one atomic load. */
#include <stdio.h>
#include <stdlib.h>

#include "atomics.h"
#include "os.h"

#define SLOTS 512
#define DOORBELL_NAME L"Local\\mproc-doorbell-1"
#define BELL_NAME_MAX 64
/* A slot's id while a dead process's slot is being taken back; no bell's. */
#define TAKING_BACK UINT64_MAX

typedef struct slot {
  mproc__atomic_u64 id;   /* the bell's name; 0: free */
  mproc__atomic_u64 mask; /* hashes of the words of this sleep */
  mproc__atomic_u32 armed;
  uint32_t pad[3];
} slot_t;

typedef struct doorbell {
  mproc__atomic_u32 armed; /* slots armed now */
  uint32_t pad[15];
  slot_t slots[SLOTS];
} doorbell_t;

/* A thread's bell: its event and its slot. */
typedef struct bell {
  HANDLE event;
  uint64_t id;
  size_t slot;
} bell_t;

static doorbell_t *doorbell;
static INIT_ONCE doorbell_once = INIT_ONCE_STATIC_INIT;
static DWORD bell_of_thread = FLS_OUT_OF_INDEXES; /* the thread's bell_t */
static mproc__atomic_u32 bells_held;              /* by this process */

static void WINAPI bell_end(void *bell);

static BOOL CALLBACK map_doorbell(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  /* Made zero-filled by the first process, found by the others; the
   * handle is kept for the life of the process. */
  HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                (DWORD)sizeof(doorbell_t), DOORBELL_NAME);
  (void)once;
  (void)param;
  (void)ctx;
  bell_of_thread = FlsAlloc(bell_end);
  if (m) {
    doorbell = (doorbell_t *)MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 0, 0,
                                           sizeof(doorbell_t));
    if (!doorbell)
      CloseHandle(m);
  }
  return TRUE;
}

static doorbell_t *get_doorbell(void) {
  InitOnceExecuteOnce(&doorbell_once, map_doorbell, NULL, NULL);
  return doorbell;
}

static uint64_t hash_bit(const void *word) {
  uint32_t at = (uint32_t)((uintptr_t)word & 0xffff) >> 2;
  return (uint64_t)1 << ((at * 2654435761u) >> 26);
}

static void bell_name(wchar_t *name, uint64_t id) {
  swprintf(name, BELL_NAME_MAX, L"Local\\mproc-bell-%08lx%08lx",
           (unsigned long)(id >> 32), (unsigned long)(id & 0xffffffffu));
}

/* Take slot i back from bell `id`: its process died (its name is gone),
 * or its thread ended.
 * 1 when this call took it. The slot holds TAKING_BACK meanwhile, so that
 * nobody takes it before it is disarmed: a waker that read the id just
 * before the slot changed hands must not disarm the next owner's sleep. */
static int take_back(doorbell_t *d, size_t i, uint64_t id) {
  slot_t *s = &d->slots[i];
  uint32_t one = 1;
  if (id == TAKING_BACK || !mproc__cas64(&s->id, &id, TAKING_BACK))
    return 0;
  if (mproc__cas32(&s->armed, &one, 0))
    mproc__sub32(&d->armed, 1);
  mproc__store64(&s->id, 0);
  return 1;
}

/* Open slot i's bell `id`, or, when its name is gone (its process died,
 * or its thread ended), take the slot back (*took: whether this call did)
 * and return NULL. */
static HANDLE open_bell(doorbell_t *d, size_t i, uint64_t id, DWORD access,
                        int *took) {
  wchar_t name[BELL_NAME_MAX];
  HANDLE h;
  bell_name(name, id);
  h = OpenEventW(access, FALSE, name);
  *took = !h && GetLastError() == ERROR_FILE_NOT_FOUND && take_back(d, i, id);
  return h;
}

/* Whether slot i's bell is gone with its process: then take the slot
 * back. */
static int reclaim_if_dead(doorbell_t *d, size_t i, uint64_t id) {
  int took;
  HANDLE h = open_bell(d, i, id, SYNCHRONIZE, &took);
  if (h)
    CloseHandle(h);
  return took;
}

/* A new bell in a free slot (one whose process died, when none is free). */
static bell_t *bell_new(doorbell_t *d) {
  wchar_t name[BELL_NAME_MAX];
  bell_t *b = (bell_t *)calloc(1, sizeof *b);
  size_t i, pass;
  if (!b)
    return NULL;
  if (mproc__os_random(&b->id, sizeof b->id) != 0 || b->id == 0 ||
      b->id == TAKING_BACK)
    goto fail;
  bell_name(name, b->id);
  b->event = CreateEventW(NULL, FALSE, FALSE, name);
  if (!b->event)
    goto fail;
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < SLOTS; i++) {
      uint64_t id = mproc__load64(&d->slots[i].id);
      if (id != 0 && (pass == 0 || !reclaim_if_dead(d, i, id)))
        continue;
      id = 0;
      if (mproc__cas64(&d->slots[i].id, &id, b->id)) {
        b->slot = i;
        return b;
      }
    }
  }
  CloseHandle(b->event);
fail:
  free(b);
  return NULL;
}

/* The calling thread's bell, made on its first sleep; NULL when none can
 * be had. */
static bell_t *bell_take(doorbell_t *d) {
  bell_t *b;
  if (bell_of_thread == FLS_OUT_OF_INDEXES)
    return NULL;
  b = (bell_t *)FlsGetValue(bell_of_thread);
  if (b)
    return b;
  b = bell_new(d);
  if (!b)
    return NULL;
  mproc__add32(&bells_held, 1);
  if (!FlsSetValue(bell_of_thread, b)) {
    bell_end(b);
    b = NULL;
  }
  return b;
}

size_t mproc__win32_bells(void) { return mproc__load32(&bells_held); }

/* A thread ends: its slot is freed, then its bell closed. A waker that
 * read the slot's id just before opens no bell, or sets one that nobody
 * waits on. */
static void WINAPI bell_end(void *bell) {
  bell_t *b = (bell_t *)bell;
  if (!b)
    return;
  take_back(doorbell, b->slot, b->id);
  CloseHandle(b->event);
  free(b);
  mproc__sub32(&bells_held, 1);
}

/* Mark the handles that are signalled. */
static void look(const mproc__pipe_t *handles, size_t n, unsigned char *ready) {
  size_t i;
  for (i = 0; i < n; i++)
    ready[i] = WaitForSingleObject((HANDLE)handles[i], 0) == WAIT_OBJECT_0;
}

static int changed(void *const *words, const uint32_t *expected, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (mproc__load32((mproc__atomic_u32 *)words[i]) != expected[i])
      return 1;
  return 0;
}

/* Wait on `first` (may be NULL) and the handles, at most ms; more handles
 * than one wait takes are looked at after a nap of at most 1 ms. */
static void wait_handles(HANDLE first, const mproc__pipe_t *handles, size_t n,
                         DWORD ms) {
  HANDLE hs[MAXIMUM_WAIT_OBJECTS];
  DWORD k = 0;
  size_t i;
  if (first)
    hs[k++] = first;
  if (n > MAXIMUM_WAIT_OBJECTS - k) {
    n = 0;
    if (ms > 1)
      ms = 1;
  }
  for (i = 0; i < n; i++)
    hs[k++] = (HANDLE)handles[i];
  if (k == 0)
    Sleep(ms);
  else
    WaitForMultipleObjects(k, hs, FALSE, ms);
}

int mproc__os_sleep(void *const *words, const uint32_t *expected, size_t nwords,
                    const mproc__pipe_t *handles, size_t nhandles,
                    int64_t until, unsigned round,
                    unsigned char *handle_ready) {
  int64_t left = mproc__timeout_left(until);
  DWORD ms = left > 0x7fffffff ? 0x7fffffff : (DWORD)left;
  doorbell_t *d = nwords > 0 ? get_doorbell() : NULL;
  bell_t *b = d ? bell_take(d) : NULL;
  slot_t *s;
  uint64_t mask = 0;
  size_t i;
  (void)round;
  if (nwords == 0 || !b) {
    /* Handles alone; or no bell to be had: a nap. */
    wait_handles(NULL, handles, nhandles, nwords > 0 && ms > 1 ? 1 : ms);
    look(handles, nhandles, handle_ready);
    return 0;
  }
  s = &d->slots[b->slot];
  for (i = 0; i < nwords; i++)
    mask |= hash_bit(words[i]);
  mproc__store64(&s->mask, mask);
  mproc__add32(&d->armed, 1);
  mproc__store32(&s->armed, 1);
  if (!changed(words, expected, nwords))
    wait_handles(b->event, handles, nhandles, ms);
  if (mproc__xchg32(&s->armed, 0) == 1)
    mproc__sub32(&d->armed, 1);
  look(handles, nhandles, handle_ready);
  return 0;
}

/* Set the bell of slot i, opened for this ring only: a handle kept to
 * another process's bell would keep its name, and so its slot, alive
 * after that process died, and the table would fill with dead slots. */
static void ring(doorbell_t *d, size_t i, uint64_t id) {
  int took;
  HANDLE h = open_bell(d, i, id, EVENT_MODIFY_STATE, &took);
  if (h) {
    SetEvent(h);
    CloseHandle(h);
  }
}

void mproc__wake32(void *word) {
  doorbell_t *d = get_doorbell();
  uint64_t bit;
  size_t i;
  if (!d || mproc__load32(&d->armed) == 0)
    return;
  bit = hash_bit(word);
  for (i = 0; i < SLOTS; i++) {
    slot_t *s = &d->slots[i];
    if (mproc__load32(&s->armed) && (mproc__load64(&s->mask) & bit)) {
      uint64_t id = mproc__load64(&s->id);
      if (id != 0 && id != TAKING_BACK)
        ring(d, i, id);
    }
  }
}
