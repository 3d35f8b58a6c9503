/* SPDX-License-Identifier: MIT */
/*
 * Waiting on shared words, and on many objects at once (Python's
 * multiprocessing.connection.wait) over connections, queues and processes.
 *
 * The policy of every wait on words is here, once: look at the words, mind
 * the deadline and the slice, sleep in the backend's mproc__os_sleep()
 * (src/platform.h), look again after every return. A return that brought
 * no news costs one look.
 *
 * A wait on many takes each round every object under watch
 * (src/waitable.h), which says whether it is ready now and names a word
 * that changes when it may become so, then sleeps in one mproc__wait_many()
 * on all those words, plus the word the reaper changes when it reaps a
 * child (for processes), or, with processes alone, on their sentinels. No
 * sleep lasts more than WATCH_NS: a connection's peer that dies changes no
 * word, so each round that ends without news looks at the peers more
 * closely (src/connection.c).
 */
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "platform.h"
#include "waitable.h"

#define WATCH_NS 100000000LL

static mproc__atomic_u32 reaped_seq;

/* Rounds of mproc_wait() under way. Only while there are any does a reap
 * change reaped_seq and wake its sleepers: every other reap (every join)
 * is spared the write, which after a fork costs a copy of the page, and
 * the wake's system call. A round counts itself before it reads the word
 * and looks at its processes under the reaper's lock; the reaper marks a
 * child reaped under that lock before it reads the count. So either the
 * round sees the child reaped, or the reaper sees the round and changes
 * the word the round sleeps on. */
static mproc__atomic_u32 reaped_waiters;

void mproc__process_reaped(void) {
  if (mproc__load32(&reaped_waiters) == 0)
    return;
  mproc__add32(&reaped_seq, 1);
  mproc__wake32(&reaped_seq);
}

void *mproc__process_reaped_word(void) { return &reaped_seq; }

/* ---- words: the policy over the backend's one sleep ------------------- */

/* The longest one call sleeps before it returns to its caller, who then
 * looks at what no word tells: a destroyed object, a dead owner. */
#define SLICE_NS 100000000LL

static int words_changed(void *const *words, const uint32_t *expected,
                         size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (mproc__load32((mproc__atomic_u32 *)words[i]) != expected[i])
      return 1;
  return 0;
}

int mproc__wait_many(void *const *words, const uint32_t *expected,
                     size_t nwords, const mproc__pipe_t *handles,
                     size_t nhandles, int64_t deadline_ns,
                     unsigned char *handle_ready) {
  int64_t now = mproc__clock_ns(), slice_end = now + SLICE_NS, until;
  unsigned round;
  size_t i;
  for (round = 0;; round++) {
    int rc;
    if (words_changed(words, expected, nwords))
      return 0;
    if (deadline_ns != MPROC_INFINITE && now >= deadline_ns)
      return MPROC_ETIMEDOUT;
    if (now >= slice_end)
      return 0;
    until = deadline_ns != MPROC_INFINITE && deadline_ns < slice_end
                ? deadline_ns
                : slice_end;
    for (i = 0; i < nhandles; i++)
      handle_ready[i] = 0;
    rc = mproc__os_sleep(words, expected, nwords, handles, nhandles, until,
                         round, handle_ready);
    if (rc != 0 && rc != MPROC_ETIMEDOUT)
      return rc;
    for (i = 0; i < nhandles; i++)
      if (handle_ready[i])
        return 0;
    now = mproc__clock_ns();
  }
}

int mproc__wait32(void *word, uint32_t expected, int64_t deadline_ns) {
  return mproc__wait_many(&word, &expected, 1, NULL, 0, deadline_ns, NULL);
}

/* ---- many objects ------------------------------------------------------ */

typedef struct wait_state {
  mproc__watch_t *watch;  /* per item */
  void **words;           /* the words of this round, reaped_seq first */
  uint32_t *expected;     /* their values */
  mproc__pipe_t *handles; /* the sentinels of this round */
  size_t *handle_item;    /* which item each sentinel is */
  unsigned char *handle_ready;
  unsigned char *watching; /* per item: under watch, to be let go */
} wait_state_t;

static int check_items(const mproc_wait_item_t *items, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    const mproc_wait_item_t *it = &items[i];
    if ((it->kind == MPROC_WAIT_CONNECTION && !it->connection) ||
        (it->kind == MPROC_WAIT_QUEUE && !it->queue) ||
        (it->kind == MPROC_WAIT_PROCESS && !it->process) ||
        it->kind < MPROC_WAIT_CONNECTION || it->kind > MPROC_WAIT_QUEUE)
      return MPROC_EINVAL;
  }
  return 0;
}

static int state_alloc(wait_state_t *s, size_t n) {
  memset(s, 0, sizeof *s);
  s->watch = (mproc__watch_t *)calloc(n, sizeof *s->watch);
  s->words = (void **)calloc(n + 1, sizeof *s->words);
  s->expected = (uint32_t *)calloc(n + 1, sizeof *s->expected);
  s->handles = (mproc__pipe_t *)calloc(n, sizeof *s->handles);
  s->handle_item = (size_t *)calloc(n, sizeof *s->handle_item);
  s->handle_ready = (unsigned char *)calloc(n, 1);
  s->watching = (unsigned char *)calloc(n, 1);
  return s->watch && s->words && s->expected && s->handles && s->handle_item &&
                 s->handle_ready && s->watching
             ? 0
             : MPROC_ENOMEM;
}

static void state_free(wait_state_t *s) {
  free(s->watch);
  free((void *)s->words);
  free(s->expected);
  free(s->handles);
  free(s->handle_item);
  free(s->handle_ready);
  free(s->watching);
}

/* Let go of every item under watch. */
static void unwatch(mproc_wait_item_t *items, size_t n, wait_state_t *s) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (!s->watching[i])
      continue;
    s->watching[i] = 0;
    if (items[i].kind == MPROC_WAIT_CONNECTION)
      mproc__connection_watch(items[i].connection, 0, 0, &s->watch[i]);
    else if (items[i].kind == MPROC_WAIT_QUEUE)
      mproc__queue_watch(items[i].queue, 0, &s->watch[i]);
    else
      mproc__process_watch(items[i].process, 0, NULL, NULL);
  }
}

/* One round: watch every item, mark the ready ones, and sleep when none is
 * until `until`. Returns the count ready (>= 0) or an error. */
static int round_once(mproc_wait_item_t *items, size_t n, wait_state_t *s,
                      int thorough, int64_t until, int *slept_out) {
  size_t i, nw = 1, nh = 0, nproc = 0;
  int count = 0, rc = 0;
  mproc__add32(&reaped_waiters, 1);
  s->words[0] = mproc__process_reaped_word();
  s->expected[0] = mproc__load32((mproc__atomic_u32 *)s->words[0]);
  for (i = 0; i < n && rc == 0; i++) {
    mproc_wait_item_t *it = &items[i];
    int ready = 0;
    if (it->kind == MPROC_WAIT_PROCESS) {
      rc = mproc__process_watch(it->process, 1, &ready, &s->handles[nh]);
      if (rc == 0) {
        s->handle_item[nh++] = i;
        nproc++;
      }
    } else {
      rc = it->kind == MPROC_WAIT_QUEUE
               ? mproc__queue_watch(it->queue, 1, &s->watch[i])
               : mproc__connection_watch(it->connection, 1, thorough,
                                         &s->watch[i]);
      if (rc == 0) {
        ready = s->watch[i].ready;
        s->words[nw] = s->watch[i].word;
        s->expected[nw++] = s->watch[i].seq;
      }
    }
    if (rc == 0) {
      s->watching[i] = 1;
      it->ready = ready;
      count += ready;
    }
  }
  *slept_out = 0;
  if (rc == 0 && count == 0 && until != 0) {
    /* With no process, the reaper's word is left out; with processes
     * alone, the backend may sleep on their sentinels instead. */
    void **words = nproc ? s->words : s->words + 1;
    uint32_t *expected = nproc ? s->expected : s->expected + 1;
    size_t nwords = nproc ? nw : nw - 1;
    if (nwords == 1 && nproc)
      nwords = 0;
    rc = mproc__wait_many(words, expected, nwords, s->handles, nh, until,
                          s->handle_ready);
    *slept_out = rc == MPROC_ETIMEDOUT;
    if (rc == MPROC_ETIMEDOUT)
      rc = 0;
    for (i = 0; rc == 0 && i < nh; i++)
      if (s->handle_ready[i] && !items[s->handle_item[i]].ready) {
        items[s->handle_item[i]].ready = 1;
        count++;
      }
  }
  unwatch(items, n, s);
  mproc__sub32(&reaped_waiters, 1);
  return rc != 0 ? rc : count;
}

int mproc_wait(mproc_wait_item_t *items, size_t n, int64_t timeout_ms,
               size_t *nready) {
  wait_state_t s;
  int64_t deadline;
  int rc, thorough = 0;
  if (nready)
    *nready = 0;
  if (!items || n == 0 || n > SIZE_MAX / sizeof(mproc__watch_t) - 1 ||
      (timeout_ms < 0 && timeout_ms != MPROC_INFINITE))
    return MPROC_EINVAL;
  rc = check_items(items, n);
  if (rc != 0)
    return rc;
  rc = state_alloc(&s, n);
  deadline = mproc__deadline_from_timeout(timeout_ms);
  while (rc == 0) {
    int64_t now = mproc__clock_ns(), until;
    int slept = 0;
    until = timeout_ms == 0 ? 0 : now + WATCH_NS;
    if (deadline != MPROC_INFINITE && until > deadline)
      until = deadline;
    rc = round_once(items, n, &s, thorough, until, &slept);
    if (rc > 0) {
      if (nready)
        *nready = (size_t)rc;
      rc = 0;
      break;
    }
    if (rc < 0)
      break;
    if (deadline != MPROC_INFINITE && mproc__clock_ns() >= deadline) {
      rc = MPROC_ETIMEDOUT;
      break;
    }
    /* A whole watch slice without news: look at peers closely next. */
    thorough = slept;
  }
  state_free(&s);
  return rc;
}
