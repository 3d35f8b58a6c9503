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
static mproc_target_entry_t *head;

void mproc_register_target(mproc_target_entry_t *entry) {
  mproc_target_entry_t *it;
  if (!entry || !entry->name || !entry->fn)
    return;
  mproc__mutex_lock(&lock);
  for (it = head; it; it = it->next)
    if (it == entry)
      break; /* registered twice: keep one */
  if (!it) {
    entry->next = head;
    head = entry;
  }
  mproc__mutex_unlock(&lock);
}

/* A name is usable when every entry with it names the same function. */
static mproc_target_fn find_by_name(const char *name) {
  mproc_target_entry_t *it;
  mproc_target_fn found = NULL;
  for (it = head; it; it = it->next) {
    if (strcmp(it->name, name) != 0)
      continue;
    if (found && found != it->fn)
      return NULL; /* ambiguous */
    found = it->fn;
  }
  return found;
}

mproc_target_fn mproc__target_lookup(const char *name) {
  mproc_target_fn fn;
  mproc__mutex_lock(&lock);
  fn = find_by_name(name);
  mproc__mutex_unlock(&lock);
  return fn;
}

const char *mproc__target_name(mproc_target_fn fn) {
  mproc_target_entry_t *it;
  const char *name = NULL;
  mproc__mutex_lock(&lock);
  for (it = head; it; it = it->next) {
    if (it->fn == fn && find_by_name(it->name) == fn) {
      name = it->name;
      break;
    }
  }
  mproc__mutex_unlock(&lock);
  return name;
}

static mproc_task_entry_t *task_head;

void mproc_register_task(mproc_task_entry_t *entry) {
  mproc_task_entry_t *it;
  if (!entry || !entry->name || !entry->fn)
    return;
  mproc__mutex_lock(&lock);
  for (it = task_head; it; it = it->next)
    if (it == entry)
      break;
  if (!it) {
    entry->next = task_head;
    task_head = entry;
  }
  mproc__mutex_unlock(&lock);
}

static mproc_task_fn find_task(const char *name) {
  mproc_task_entry_t *it;
  mproc_task_fn found = NULL;
  for (it = task_head; it; it = it->next) {
    if (strcmp(it->name, name) != 0)
      continue;
    if (found && found != it->fn)
      return NULL; /* ambiguous */
    found = it->fn;
  }
  return found;
}

mproc_task_fn mproc__task_lookup(const char *name) {
  mproc_task_fn fn;
  mproc__mutex_lock(&lock);
  fn = find_task(name);
  mproc__mutex_unlock(&lock);
  return fn;
}

const char *mproc__task_name(mproc_task_fn fn) {
  mproc_task_entry_t *it;
  const char *name = NULL;
  mproc__mutex_lock(&lock);
  for (it = task_head; it; it = it->next) {
    if (it->fn == fn && find_task(it->name) == fn) {
      name = it->name;
      break;
    }
  }
  mproc__mutex_unlock(&lock);
  return name;
}
