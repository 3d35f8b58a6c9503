/* SPDX-License-Identifier: MIT */
/*
 * Process: lifecycle policy, names, the registry of this process's handles,
 * and what happens at exit. How a child is started, waited for and signalled
 * is the backend's (src/platform.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap.h"
#include "platform.h"
#include "waitable.h"
#include "targets.h"

enum process_state { STATE_CREATED, STATE_STARTED };

struct mproc_process {
  struct mproc_process *next, *prev; /* the registry, under registry.lock */
  enum process_state state;
  int daemon;
  int busy; /* threads inside a join: free must wait for them */
  mproc_start_method_t method;
  mproc_target_fn target;
  void *arg;
  size_t arg_size;
  mproc__child_t *child; /* set once started */
  mproc_pid_t pid;
  char *name;
  char identity[64];
  mproc__pipe_t handles[MPROC__CHILD_HANDLES_MAX];
  size_t nhandles;
  mproc__pipe_t sentinel;           /* made on first ask, closed by free */
  char title[MPROC__TITLE_MAX + 1]; /* "" for the name */
};

/*
 * Every live handle of this process is on one list. A handle is checked
 * against it before use, so a freed or foreign pointer is reported as
 * MPROC_EBADHANDLE instead of being dereferenced.
 */
static struct {
  mproc__mutex_t lock;
  mproc_process_t *head;
  unsigned long counter; /* the N of the next "Process-N" */
  char identity[64];     /* "" in the main process, "1", "1:2", ... */
  char name[MPROC__NAME_MAX + 1];
  int exit_handler_registered;
} registry = {MPROC__MUTEX_INITIALIZER, NULL, 0, "", "MainProcess", 0};

static void exit_handler(void) { mproc__process_exit_children(); }

static void ensure_exit_handler(void) {
  /* Called with registry.lock held. */
  if (!registry.exit_handler_registered) {
    registry.exit_handler_registered = 1;
    atexit(exit_handler);
  }
}

/* The program's arguments after argv[0], as mproc_init() saw them: spawned
 * children get them too, as Python's do, and its argv[0], so that they
 * look like the program in ps. */
static struct {
  int argc;
  char **argv;
  const char *argv0;
} program_args;

/* Titles are on unless the environment says MPROC_NO_TITLE (any value but
 * empty or "0"): docs/process.md. */
static int titles_wanted(void) {
  const char *off = getenv("MPROC_NO_TITLE");
  return !off || off[0] == 0 || strcmp(off, "0") == 0;
}

/* 0 means the platform's default. */
static mproc_start_method_t default_method;

int mproc_init(int *argc, char ***argv) {
  if (argc && argv && *argv)
    mproc__os_title_init(*argc, *argv);
  /* A spawned child runs its target here and never returns. */
  mproc__boot_child_if_asked(argc, argv);
  mproc__os_forkserver_if_asked(argc, argv);
  /* Not a child: the program's name, now, for every fork child to have. */
  mproc__os_title_name(NULL);
  mproc__log_init();
  /* Not a child: reclaim what crashed programs left of shared objects. */
  mproc__shm_reclaim();

  mproc__mutex_lock(&registry.lock);
  ensure_exit_handler();
  if (argc && argv && *argv && *argc > 0 && !program_args.argv0)
    program_args.argv0 = (*argv)[0];
  if (argc && argv && *argv && *argc > 1 && !program_args.argv) {
    /* The strings live as long as the program; only the array is copied,
     * because the program may reorder its own. */
    char **copy = malloc((size_t)*argc * sizeof *copy);
    if (copy) {
      memcpy(copy, *argv + 1, (size_t)(*argc - 1) * sizeof *copy);
      program_args.argv = copy;
      program_args.argc = *argc - 1;
    }
  }
  mproc__mutex_unlock(&registry.lock);
  return 0;
}

int mproc_set_start_method(mproc_start_method_t method) {
  if (method < MPROC_START_DEFAULT || method > MPROC_START_FORKSERVER)
    return MPROC_EINVAL;
  if (method != MPROC_START_DEFAULT && !mproc__child_method_supported(method))
    return MPROC_ENOTSUP;
  mproc__mutex_lock(&registry.lock);
  default_method = method;
  mproc__mutex_unlock(&registry.lock);
  return 0;
}

mproc_start_method_t mproc_get_start_method(void) {
  mproc_start_method_t m;
  mproc__mutex_lock(&registry.lock);
  m = default_method;
  mproc__mutex_unlock(&registry.lock);
  return m == MPROC_START_DEFAULT ? mproc__child_default_method() : m;
}

/* Whether p is a live handle of this process. Called with the lock held. */
static int is_registered(const mproc_process_t *p) {
  const mproc_process_t *it;
  for (it = registry.head; it; it = it->next)
    if (it == p)
      return 1;
  return 0;
}

/* Lock the registry and check p; on success the caller holds the lock. */
static int lock_handle(const mproc_process_t *p) {
  if (!p)
    return MPROC_EINVAL;
  mproc__mutex_lock(&registry.lock);
  if (!is_registered(p)) {
    mproc__mutex_unlock(&registry.lock);
    return MPROC_EBADHANDLE;
  }
  return 0;
}

static char *copy_string(const char *s) {
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  if (copy)
    memcpy(copy, s, n);
  return copy;
}

int mproc_process_create(mproc_process_t **out, mproc_target_fn target,
                         const void *arg, size_t arg_size,
                         const mproc_process_options_t *options) {
  mproc_process_options_t defaults = {0};
  mproc_process_t *p = NULL;
  char default_name[sizeof "Process-" + sizeof registry.identity + 24];
  int r = 0;

  if (!out || !target || (!arg && arg_size > 0))
    return MPROC_EINVAL;
  *out = NULL;
  if (!options)
    options = &defaults;
  if (options->start_method < MPROC_START_DEFAULT ||
      options->start_method > MPROC_START_FORKSERVER)
    return MPROC_EINVAL;
  if (options->name && strlen(options->name) > MPROC__NAME_MAX)
    return MPROC_EINVAL;
  if (!mproc__reserved_zero(options->reserved, MPROC_RESERVED_WORDS))
    return MPROC_EINVAL;

  p = calloc(1, sizeof *p);
  if (!p)
    return MPROC_ENOMEM;
  p->target = target;
  p->sentinel = MPROC__PIPE_INVALID;
  p->daemon = options->daemon != 0;
  p->method = options->start_method;
  p->arg_size = arg_size;
  if (arg_size > 0) {
    p->arg = malloc(arg_size);
    if (!p->arg) {
      r = MPROC_ENOMEM;
      goto finish;
    }
    memcpy(p->arg, arg, arg_size);
  }

  mproc__mutex_lock(&registry.lock);
  ensure_exit_handler();
  /* Python: a child's identity is its parent's plus a counter, and the
   * default name spells it: Process-1, Process-1:2, ... */
  if (snprintf(p->identity, sizeof p->identity, "%s%s%lu", registry.identity,
               registry.identity[0] ? ":" : "",
               ++registry.counter) >= (int)sizeof p->identity) {
    /* Only a chain of children dozens of generations deep gets here. */
    mproc__mutex_unlock(&registry.lock);
    r = MPROC_ERANGE;
    goto finish;
  }
  snprintf(default_name, sizeof default_name, "Process-%s", p->identity);
  p->name = copy_string(options->name ? options->name : default_name);
  if (!p->name) {
    mproc__mutex_unlock(&registry.lock);
    r = MPROC_ENOMEM;
    goto finish;
  }
  p->next = registry.head;
  if (registry.head)
    registry.head->prev = p;
  registry.head = p;
  mproc__mutex_unlock(&registry.lock);
  *out = p;

finish:
  if (r != 0) {
    free(p->arg);
    free(p);
  }
  return r;
}

int mproc_process_start(mproc_process_t *p) {
  mproc__child_spec_t spec;
  mproc__child_t *child = NULL;
  char name[64] = "";
  int os_error = -1;
  int r = lock_handle(p);
  if (r != 0)
    return r;

  if (p->state != STATE_CREATED) {
    r = MPROC_ESTATE;
    goto finish;
  }
  memset(&spec, 0, sizeof spec);
  spec.method = p->method;
  if (spec.method == MPROC_START_DEFAULT)
    spec.method = default_method;
  if (spec.method == MPROC_START_DEFAULT)
    spec.method = mproc__child_default_method();
  if (!mproc__child_method_supported(spec.method)) {
    r = MPROC_ENOTSUP;
    goto finish;
  }
  if (spec.method != MPROC_START_FORK) {
    /* A fresh program knows the target only by its registered name. */
    spec.target_name = mproc__target_name(p->target);
    if (!spec.target_name) {
      r = MPROC_ENOTREG;
      goto finish;
    }
    spec.argc = program_args.argc;
    spec.argv = program_args.argv;
    spec.argv0 = program_args.argv0;
  }
  spec.title = p->title[0] ? p->title : NULL;
  spec.no_title = !titles_wanted();
  spec.target = p->target;
  spec.arg = p->arg;
  spec.arg_size = p->arg_size;
  spec.name = p->name;
  spec.identity = p->identity;
  spec.daemon = p->daemon;
  memcpy(spec.handles, p->handles, sizeof spec.handles);
  spec.nhandles = p->nhandles;

  /* Nothing buffered may be printed twice: once by us, once by a child
   * that inherited the buffer. */
  fflush(NULL);
  /* The lock is held across the start so that a concurrent free or join
   * never sees a half-started handle. */
  r = mproc__child_start(&spec, &child);
  if (r != 0) {
    os_error = r == MPROC_EOS ? mproc_os_error() : 0;
    snprintf(name, sizeof name, "%s", p->name);
    goto finish;
  }
  p->child = child;
  p->pid = mproc__child_pid(child);
  p->state = STATE_STARTED;

finish:
  mproc__mutex_unlock(&registry.lock);
  /* Logged with no lock held: the handler may call mproc. */
  if (os_error >= 0)
    mproc__log(MPROC_LOG_ERROR, "process %s: start failed: %s (OS error %d)",
               name, mproc_strerror(r), os_error);
  return r;
}

int mproc__process_set_handles(mproc_process_t *p, const mproc__pipe_t *handles,
                               size_t n) {
  int r;
  if ((!handles && n > 0) || n > MPROC__CHILD_HANDLES_MAX)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_CREATED) {
    r = MPROC_ESTATE;
  } else {
    if (n > 0)
      memcpy(p->handles, handles, n * sizeof *handles);
    p->nhandles = n;
  }
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc__process_set_title(mproc_process_t *p, const char *role) {
  int r;
  if (!role || strlen(role) > MPROC__TITLE_MAX)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_CREATED)
    r = MPROC_ESTATE;
  else
    snprintf(p->title, sizeof p->title, "%s", role);
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc_process_join(mproc_process_t *p, int64_t timeout_ms) {
  mproc__child_t *child;
  int exitcode;
  int r;
  if (timeout_ms < 0 && timeout_ms != MPROC_INFINITE)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_STARTED) {
    mproc__mutex_unlock(&registry.lock);
    return MPROC_ESTATE;
  }
  child = p->child;
  p->busy++;
  mproc__mutex_unlock(&registry.lock);

  r = mproc__child_wait(child, timeout_ms, &exitcode);

  mproc__mutex_lock(&registry.lock);
  p->busy--;
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc_process_is_alive(mproc_process_t *p, int *alive) {
  int exitcode;
  int r;
  if (!alive)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  *alive = p->state == STATE_STARTED &&
           mproc__child_wait(p->child, 0, &exitcode) == MPROC_ETIMEDOUT;
  mproc__mutex_unlock(&registry.lock);
  return 0;
}

int mproc_process_exitcode(mproc_process_t *p, int *exitcode) {
  int r;
  if (!exitcode)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_STARTED) {
    r = MPROC_ESTATE;
  } else {
    r = mproc__child_wait(p->child, 0, exitcode);
    if (r == MPROC_ETIMEDOUT)
      r = MPROC_ESTATE;
  }
  mproc__mutex_unlock(&registry.lock);
  return r;
}

static int send_signal(mproc_process_t *p, int sig) {
  int r = lock_handle(p);
  if (r != 0)
    return r;
  r = p->state == STATE_STARTED ? mproc__child_signal(p->child, sig)
                                : MPROC_ESTATE;
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc_process_terminate(mproc_process_t *p) {
  return send_signal(p, MPROC__SIG_TERM);
}

int mproc_process_kill(mproc_process_t *p) {
  return send_signal(p, MPROC__SIG_KILL);
}

int mproc_process_sentinel(mproc_process_t *p, mproc_os_handle_t *out) {
  int r;
  if (!out)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_STARTED)
    r = MPROC_ESTATE;
  else if (p->sentinel == MPROC__PIPE_INVALID)
    r = mproc__child_sentinel(p->child, &p->sentinel);
  if (r == 0)
    *out = (mproc_os_handle_t)p->sentinel;
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc__process_watch(mproc_process_t *p, int on, int *ended,
                         mproc__pipe_t *sentinel) {
  int exitcode;
  int r = lock_handle(p);
  if (r != 0)
    return r;
  if (!on) {
    p->busy--;
  } else if (p->state != STATE_STARTED) {
    r = MPROC_ESTATE;
  } else {
    if (p->sentinel == MPROC__PIPE_INVALID)
      r = mproc__child_sentinel(p->child, &p->sentinel);
    if (r == 0) {
      *sentinel = p->sentinel;
      *ended = mproc__child_wait(p->child, 0, &exitcode) == 0;
      p->busy++;
    }
  }
  mproc__mutex_unlock(&registry.lock);
  return r;
}

mproc_pid_t mproc_process_pid(mproc_process_t *p) {
  mproc_pid_t pid;
  int r = lock_handle(p);
  if (r != 0)
    return r;
  pid = p->pid;
  mproc__mutex_unlock(&registry.lock);
  return pid;
}

const char *mproc_process_name(mproc_process_t *p) {
  const char *name;
  if (lock_handle(p) != 0)
    return NULL;
  name = p->name;
  mproc__mutex_unlock(&registry.lock);
  return name;
}

int mproc_process_set_daemon(mproc_process_t *p, int daemon) {
  int r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->state != STATE_CREATED)
    r = MPROC_ESTATE;
  else
    p->daemon = daemon != 0;
  mproc__mutex_unlock(&registry.lock);
  return r;
}

int mproc_process_daemon(mproc_process_t *p, int *daemon) {
  int r;
  if (!daemon)
    return MPROC_EINVAL;
  r = lock_handle(p);
  if (r != 0)
    return r;
  *daemon = p->daemon ? 1 : 0;
  mproc__mutex_unlock(&registry.lock);
  return 0;
}

int mproc_process_free(mproc_process_t *p) {
  int exitcode;
  int r;
  if (!p)
    return 0;
  r = lock_handle(p);
  if (r != 0)
    return r;
  if (p->busy > 0 ||
      (p->state == STATE_STARTED &&
       mproc__child_wait(p->child, 0, &exitcode) == MPROC_ETIMEDOUT)) {
    mproc__mutex_unlock(&registry.lock);
    return MPROC_ESTATE;
  }
  if (p->prev)
    p->prev->next = p->next;
  else
    registry.head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  mproc__mutex_unlock(&registry.lock);

  mproc__pipe_close(&p->sentinel);
  if (p->child)
    mproc__child_release(p->child);
  free(p->arg);
  free(p->name);
  free(p);
  return 0;
}

int mproc_active_children(mproc_process_t **out, size_t cap, size_t *count) {
  mproc_process_t *it;
  size_t n = 0;
  int exitcode;
  if (!count || (!out && cap > 0))
    return MPROC_EINVAL;
  mproc__mutex_lock(&registry.lock);
  for (it = registry.head; it; it = it->next) {
    if (it->state != STATE_STARTED ||
        mproc__child_wait(it->child, 0, &exitcode) != MPROC_ETIMEDOUT)
      continue;
    if (n < cap)
      out[n] = it;
    n++;
  }
  mproc__mutex_unlock(&registry.lock);
  *count = n;
  return n > cap ? MPROC_ERANGE : 0;
}

mproc_pid_t mproc_getpid(void) { return mproc__os_getpid(); }

mproc_pid_t mproc_getppid(void) { return mproc__os_getppid(); }

const char *mproc_current_process_name(void) { return registry.name; }

int mproc_cpu_count(void) { return mproc__os_cpu_count(); }

/* ---- called by the backend ------------------------------------------- */

void mproc__process_after_fork_child(void) {
  /* The parent's handles describe the parent's children. Their memory is
   * left as it is (the parent still owns them); this process starts with an
   * empty registry and a lock no other thread can hold. */
  mproc__mutex_init(&registry.lock);
  registry.head = NULL;
}

void mproc__process_exit_children(void) {
  mproc_process_t *it;
  mproc__child_t **children = NULL;
  size_t n = 0, i;
  int exitcode;

  /* Take the children out under the lock, then wait without it: a child's
   * exit may take a while, and other threads may still call in. */
  mproc__mutex_lock(&registry.lock);
  for (it = registry.head; it; it = it->next)
    if (it->state == STATE_STARTED)
      n++;
  if (n > 0)
    children = malloc(n * sizeof *children);
  n = 0;
  for (it = registry.head; children && it; it = it->next) {
    if (it->state != STATE_STARTED)
      continue;
    /* As in Python: daemons are terminated, the others are waited for. */
    if (it->daemon)
      mproc__child_signal(it->child, MPROC__SIG_TERM);
    children[n++] = it->child;
  }
  mproc__mutex_unlock(&registry.lock);
  for (i = 0; i < n; i++)
    mproc__child_wait(children[i], MPROC_INFINITE, &exitcode);
  if (children) /* a child with none calls nothing it need not page in */
    free(children);
}

/* The pipe ends this process was handed as a child. */
static struct {
  mproc__pipe_t handles[MPROC__CHILD_HANDLES_MAX];
  size_t n;
} inherited;

mproc__pipe_t mproc__child_handle(size_t i) {
  return i < inherited.n ? inherited.handles[i] : MPROC__PIPE_INVALID;
}

void mproc__process_title(const char *role) {
  mproc__os_set_title(titles_wanted() ? role : NULL);
}

/* snprintf(dst, size, "%s", s) without the formatting code, which a fork
 * child would otherwise page in at every start. */
static void copy_cut(char *dst, size_t size, const char *s) {
  size_t n = strlen(s);
  if (n > size - 1)
    n = size - 1;
  memcpy(dst, s, n);
  dst[n] = 0;
}

int mproc__child_main(const mproc__child_spec_t *spec) {
  int code;
  inherited.n = spec->nhandles;
  memcpy(inherited.handles, spec->handles, sizeof inherited.handles);
  copy_cut(registry.identity, sizeof registry.identity, spec->identity);
  copy_cut(registry.name, sizeof registry.name, spec->name);
  registry.counter = 0;
  mproc__os_set_title(spec->no_title ? NULL
                      : spec->title  ? spec->title
                                     : spec->name);
  code = spec->target(spec->arg, spec->arg_size);
  mproc__process_exit_children();
  fflush(NULL);
  return code;
}
