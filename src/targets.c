/* SPDX-License-Identifier: MIT */
/*
 * The registry of targets that spawned children may run, filled before
 * main by MPROC_TARGET() constructors. A child finds its target by name;
 * the parent finds the name by the function. Pool tasks (MPROC_TASK) have
 * a registry of their own: a task and a target differ in type, and a name
 * must never make a process call one as the other.
 */
#include <string.h>

#include "platform.h"
#include "targets.h"

static mproc__mutex_t lock = MPROC__MUTEX_INITIALIZER;

/*
 * Both registries work alike; one definition serves both, each over its
 * own list and function type:
 *   register: add an entry once (registering it twice keeps one);
 *   find:     a name is usable when every entry with it names the same
 *             function (otherwise it is ambiguous: NULL);
 *   lookup:   find, under the lock;
 *   name:     the usable name of a function, or NULL.
 */
#define MPROC__REGISTRY(entry_t, fn_t, head, register_fn, lookup_fn, name_fn)  \
  static entry_t *head;                                                        \
                                                                               \
  void register_fn(entry_t *entry) {                                           \
    entry_t *it;                                                               \
    if (!entry || !entry->name || !entry->fn)                                  \
      return;                                                                  \
    mproc__mutex_lock(&lock);                                                  \
    for (it = head; it; it = it->next)                                         \
      if (it == entry)                                                         \
        break;                                                                 \
    if (!it) {                                                                 \
      entry->next = head;                                                      \
      head = entry;                                                            \
    }                                                                          \
    mproc__mutex_unlock(&lock);                                                \
  }                                                                            \
                                                                               \
  static fn_t head##_find(const char *name) {                                  \
    entry_t *it;                                                               \
    fn_t found = NULL;                                                         \
    for (it = head; it; it = it->next) {                                       \
      if (strcmp(it->name, name) != 0)                                         \
        continue;                                                              \
      if (found && found != it->fn)                                            \
        return NULL;                                                           \
      found = it->fn;                                                          \
    }                                                                          \
    return found;                                                              \
  }                                                                            \
                                                                               \
  fn_t lookup_fn(const char *name) {                                           \
    fn_t fn;                                                                   \
    mproc__mutex_lock(&lock);                                                  \
    fn = head##_find(name);                                                    \
    mproc__mutex_unlock(&lock);                                                \
    return fn;                                                                 \
  }                                                                            \
                                                                               \
  const char *name_fn(fn_t fn) {                                               \
    entry_t *it;                                                               \
    const char *name = NULL;                                                   \
    mproc__mutex_lock(&lock);                                                  \
    for (it = head; it; it = it->next) {                                       \
      if (it->fn == fn && head##_find(it->name) == fn) {                       \
        name = it->name;                                                       \
        break;                                                                 \
      }                                                                        \
    }                                                                          \
    mproc__mutex_unlock(&lock);                                                \
    return name;                                                               \
  }

MPROC__REGISTRY(mproc_target_entry_t, mproc_target_fn, targets,
                mproc_register_target, mproc__target_lookup, mproc__target_name)

MPROC__REGISTRY(mproc_task_entry_t, mproc_task_fn, tasks, mproc_register_task,
                mproc__task_lookup, mproc__task_name)
