/* SPDX-License-Identifier: MIT */
/*
 * The MPI pool's public calls: starting MPI and the worker ranks
 * (mproc_mpi_init), and making a pool of ranks (mproc_mpi_pool_create):
 * static ranks of the job, or ranks started with MPI_Comm_spawn.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi_pool.h"

/* The flag a dynamic worker is started with, beside MPI's own parent. */
#define WORKER_FLAG "--mproc-mpi-worker"

/* Ranks a dynamic pool spawned. They outlive the pool: the next dynamic
 * pool of the same size, program and hosts takes them instead of spawning
 * (a spawn costs a start of MPI in each rank); they leave at exit. */
typedef struct mproc__mpi_group {
  struct mproc__mpi_group *next;
  MPI_Comm comm;
  int n;
  int busy;  /* a pool has them */
  char *key; /* command, hosts and hostfile */
} group_t;

static struct {
  pthread_mutex_t lock;
  int ready;          /* mproc_mpi_init() returned on the owning rank */
  int we_initialized; /* MPI_Finalize at exit is ours */
  MPI_Comm world;     /* a copy of MPI_COMM_WORLD for the pools' traffic */
  int world_size;
  int static_busy; /* a static pool holds the job's other ranks */
  char program[PATH_MAX];
  char **args; /* the program's arguments, for dynamic workers */
  mproc__mpi_pool_t *pools;
  group_t *groups;
} g = {
    PTHREAD_MUTEX_INITIALIZER, 0, 0, MPI_COMM_NULL, 0, 0, "", NULL, NULL, NULL};

/* ---- start-up ------------------------------------------------------------ */

/* Remove WORKER_FLAG from argv; returns whether it was there. */
static int take_worker_flag(int *argc, char ***argv) {
  int i, j;
  if (!argc || !argv || !*argv)
    return 0;
  for (i = 1; i < *argc; i++) {
    if (strcmp((*argv)[i], WORKER_FLAG) != 0)
      continue;
    for (j = i; j < *argc; j++)
      (*argv)[j] = (*argv)[j + 1];
    (*argc)--;
    return 1;
  }
  return 0;
}

/* Remember the program and its arguments, for MPI_Comm_spawn. */
static void remember_program(int argc, char **argv) {
  int i;
  if (argc < 1 || !argv || !argv[0])
    return;
  if (!realpath(argv[0], g.program))
    snprintf(g.program, sizeof g.program, "%s", argv[0]);
  g.args = calloc((size_t)argc + 1, sizeof *g.args);
  if (!g.args)
    return;
  g.args[0] = WORKER_FLAG;
  for (i = 1; i < argc; i++)
    g.args[i] = argv[i];
}

/* At the owner's exit: every worker rank, static or spawned, is told to
 * leave (they wait for that), then MPI ends if mproc started it. */
static void at_exit(void) {
  int i;
  mproc__mpi_hdr_t h;
  pthread_mutex_lock(&g.lock);
  memset(&h, 0, sizeof h);
  h.kind = MPROC__MPI_EXIT;
  for (i = 1; i < g.world_size; i++)
    (void)mproc__mpi_send(g.world, i, &h, NULL, NULL, 0);
  while (g.groups) {
    group_t *grp = g.groups;
    g.groups = grp->next;
    for (i = 0; i < grp->n; i++)
      (void)mproc__mpi_send(grp->comm, i, &h, NULL, NULL, 0);
    MPI_Comm_disconnect(&grp->comm);
    free(grp->key);
    free(grp);
  }
  g.ready = 0;
  pthread_mutex_unlock(&g.lock);
  if (g.we_initialized) {
    MPI_Comm_free(&g.world);
    MPI_Finalize();
  }
}

/* A worker rank: serve, then leave the process. */
static void serve_and_exit(MPI_Comm comm, int owner, int dynamic) {
  mproc__mpi_serve(comm, owner);
  if (dynamic)
    MPI_Comm_disconnect(&comm);
  MPI_Comm_free(&g.world);
  if (g.we_initialized)
    MPI_Finalize();
  exit(0);
}

int mproc_mpi_init(int *argc, char ***argv) {
  int r, done = 0, provided = 0, rank = 0, worker;
  MPI_Comm parent = MPI_COMM_NULL;
  if ((r = mproc_init(argc, argv)) != 0)
    return r;
  if (g.ready)
    return 0;
  worker = take_worker_flag(argc, argv);
  MPI_Initialized(&done);
  if (!done) {
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) !=
        MPI_SUCCESS)
      return MPROC_EOS;
    g.we_initialized = 1;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED)
    return MPROC_ENOTSUP;
  mproc__mpi_layer_init(provided);
  /* Errors are returned, not fatal: a failed spawn (on MPI_COMM_SELF) is
   * MPROC_EOS, and a lost rank is reported before the job ends. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
  if (MPI_Comm_dup(MPI_COMM_WORLD, &g.world) != MPI_SUCCESS)
    return MPROC_EOS;
  MPI_Comm_size(g.world, &g.world_size);
  MPI_Comm_rank(g.world, &rank);
  MPI_Comm_get_parent(&parent);
  if (worker && parent != MPI_COMM_NULL) {
    MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
    g.world_size = 0; /* its world is the spawned group: none to tell */
    serve_and_exit(parent, 0, 1);
  }
  if (rank != 0)
    serve_and_exit(g.world, 0, 0);
  if (argc && argv)
    remember_program(*argc, *argv);
  g.ready = 1;
  atexit(at_exit);
  return 0;
}

/* ---- pools -----------------------------------------------------------------
 */

void mproc__mpi_pool_release(mproc__mpi_pool_t *p) {
  mproc__mpi_pool_t **it;
  mproc__mpi_hdr_t h;
  int i;
  memset(&h, 0, sizeof h);
  h.kind = MPROC__MPI_RELEASE;
  for (i = 0; i < p->nranks; i++)
    (void)mproc__mpi_send(p->comm, p->ranks[i].rank, &h, NULL, NULL, 0);
  pthread_mutex_lock(&g.lock);
  for (it = &g.pools; *it; it = &(*it)->next)
    if (*it == p) {
      *it = p->next;
      break;
    }
  if (p->group)
    p->group->busy = 0;
  else
    g.static_busy = 0;
  pthread_mutex_unlock(&g.lock);
  free(p->slots);
  free(p->ranks);
  pthread_cond_destroy(&p->cond);
  pthread_mutex_destroy(&p->lock);
  free(p);
}

/* Start `n` dynamic worker ranks of this program (or mo->command). */
static int spawn_ranks(const mproc_mpi_options_t *mo, int n, MPI_Comm *comm) {
  MPI_Info info = MPI_INFO_NULL;
  char cwd[PATH_MAX];
  int *errs = calloc((size_t)n, sizeof *errs), rc;
  char **args = g.args;
  static char *only_flag[] = {WORKER_FLAG, NULL};
  if (!errs)
    return MPROC_ENOMEM;
  MPI_Info_create(&info);
  if (getcwd(cwd, sizeof cwd))
    MPI_Info_set(info, "wdir", cwd);
  if (mo && mo->hosts)
    MPI_Info_set(info, "host", mo->hosts);
  if (mo && mo->hostfile)
    MPI_Info_set(info, "hostfile", mo->hostfile);
  if (!args)
    args = only_flag;
  mproc__mpi_lock();
  rc = MPI_Comm_spawn(mo && mo->command ? mo->command : g.program, args, n,
                      info, 0, MPI_COMM_SELF, comm, errs);
  mproc__mpi_unlock();
  MPI_Info_free(&info);
  free(errs);
  if (rc != MPI_SUCCESS)
    return MPROC_EOS;
  MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
  return 0;
}

/* Spawned ranks for a dynamic pool: `n` idle ones started the same way
 * earlier, or new ones. Returns 0 with *out marked busy. */
static int take_group(const mproc_mpi_options_t *mo, int n, group_t **out) {
  group_t *grp;
  char *key;
  size_t len;
  int r;
  const char *cmd = mo && mo->command ? mo->command : g.program;
  const char *hosts = mo && mo->hosts ? mo->hosts : "";
  const char *file = mo && mo->hostfile ? mo->hostfile : "";
  len = strlen(cmd) + strlen(hosts) + strlen(file) + 3;
  if (!(key = malloc(len)))
    return MPROC_ENOMEM;
  snprintf(key, len, "%s\n%s\n%s", cmd, hosts, file);
  pthread_mutex_lock(&g.lock);
  for (grp = g.groups; grp; grp = grp->next)
    if (!grp->busy && grp->n == n && strcmp(grp->key, key) == 0)
      break;
  if (grp) {
    grp->busy = 1;
    pthread_mutex_unlock(&g.lock);
    free(key);
    *out = grp;
    return 0;
  }
  pthread_mutex_unlock(&g.lock);
  if (!(grp = calloc(1, sizeof *grp))) {
    free(key);
    return MPROC_ENOMEM;
  }
  if ((r = spawn_ranks(mo, n, &grp->comm)) != 0) {
    free(key);
    free(grp);
    return r;
  }
  grp->n = n;
  grp->key = key;
  grp->busy = 1;
  pthread_mutex_lock(&g.lock);
  grp->next = g.groups;
  g.groups = grp;
  pthread_mutex_unlock(&g.lock);
  *out = grp;
  return 0;
}

/* Wait for a HELLO answer from any rank; returns 0 or MPROC_ETIMEDOUT. */
static int await_hello(MPI_Comm comm, mproc__mpi_msg_t *m) {
  mproc__mpi_backoff_t bo;
  int64_t deadline =
      mproc__mpi_now_ns() + (int64_t)MPROC__MPI_HELLO_TIMEOUT_MS * 1000000;
  mproc__mpi_backoff_init(&bo, 0);
  for (;;) {
    int64_t nap;
    int r = mproc__mpi_try_recv(comm, MPI_ANY_SOURCE, m);
    if (r == 0 && m->hdr.kind == MPROC__MPI_HELLO)
      return 0;
    if (r == 0)
      mproc__mpi_msg_free(m); /* an earlier pool's: stale */
    if (mproc__mpi_now_ns() > deadline)
      return MPROC_ETIMEDOUT;
    nap = mproc__mpi_backoff_next(&bo);
    if (nap > 0)
      mproc__mpi_nap(nap);
  }
}

/* Say HELLO to every rank of p and lay out the slots from the answers. */
static int greet(mproc__mpi_pool_t *p, const mproc_mpi_options_t *mo,
                 mproc_start_method_t method) {
  mproc__mpi_hdr_t h;
  int i, j, k, r;
  memset(&h, 0, sizeof h);
  h.kind = MPROC__MPI_HELLO;
  h.a = p->layout;
  h.b = mo ? mo->local_processes : 0;
  h.c = method;
  for (i = 0; i < p->nranks; i++)
    if ((r = mproc__mpi_send(p->comm, p->ranks[i].rank, &h, NULL, NULL, 0)))
      return r;
  for (k = 0; k < p->nranks; k++) {
    mproc__mpi_msg_t m;
    if ((r = await_hello(p->comm, &m)) != 0)
      return r;
    for (i = 0; i < p->nranks && p->ranks[i].rank != m.source; i++) {
    }
    if (i < p->nranks) {
      p->ranks[i].slots = (int)m.hdr.a;
      p->ranks[i].pid = m.hdr.c;
      size_t len = strnlen(m.name, sizeof p->ranks[i].host - 1);
      memcpy(p->ranks[i].host, m.name, len);
      p->ranks[i].host[len] = 0;
    }
    mproc__mpi_msg_free(&m);
  }
  for (i = 0; i < p->nranks; i++) {
    if (p->ranks[i].slots <= 0)
      return MPROC_EOS; /* it could not start its local workers */
    p->nslots += p->ranks[i].slots;
  }
  p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
  if (!p->slots)
    return MPROC_ENOMEM;
  for (i = 0, k = 0; i < p->nranks; i++)
    for (j = 0; j < p->ranks[i].slots; j++, k++) {
      p->slots[k].rank_index = i;
      p->slots[k].local = j;
    }
  return 0;
}

/* The checks that need no MPI traffic; fills the number of ranks. */
static int check_options(const mproc_pool_options_t *o,
                         const mproc_mpi_options_t *mo, int *dynamic,
                         int *nranks) {
  mproc_mpi_layout_t layout = mo ? mo->layout : MPROC_MPI_RANK_PER_CORE;
  mproc_mpi_workers_t w = mo ? mo->workers : MPROC_MPI_WORKERS_AUTO;
  int n = o ? o->processes : 0, i;
  if (n < 0 || (unsigned)layout > MPROC_MPI_SUPERVISOR ||
      (unsigned)w > MPROC_MPI_WORKERS_DYNAMIC ||
      (mo && mo->local_processes < 0))
    return MPROC_EINVAL;
  /* Room for later fields must be empty (libmproc's own check is not
   * exported to this library). */
  for (i = 0; mo && i < MPROC_RESERVED_WORDS; i++)
    if (mo->reserved[i] != 0)
      return MPROC_EINVAL;
  /* A rank cannot be killed alone, so it cannot be held to a time limit. */
  if (layout == MPROC_MPI_RANK_PER_CORE && o && o->task_timeout_ms != 0)
    return MPROC_EINVAL;
  if (w == MPROC_MPI_WORKERS_AUTO)
    w = g.world_size > 1 ? MPROC_MPI_WORKERS_STATIC : MPROC_MPI_WORKERS_DYNAMIC;
  *dynamic = w == MPROC_MPI_WORKERS_DYNAMIC;
  if (!*dynamic) {
    if (n == 0)
      n = g.world_size - 1;
    if (n > g.world_size - 1 || n == 0)
      return MPROC_EINVAL;
    if (g.static_busy)
      return MPROC_ESTATE;
  } else if (n == 0) {
    n = layout == MPROC_MPI_SUPERVISOR ? 1 : mproc_cpu_count();
  }
  *nranks = n;
  return 0;
}

static mproc__mpi_pool_t *pool_new(int nranks, int dynamic,
                                   mproc_mpi_layout_t layout) {
  mproc__mpi_pool_t *p = calloc(1, sizeof *p);
  pthread_condattr_t ca;
  int i;
  if (!p)
    return NULL;
  p->ranks = calloc((size_t)nranks, sizeof *p->ranks);
  if (!p->ranks) {
    free(p);
    return NULL;
  }
  p->nranks = nranks;
  p->dynamic = dynamic;
  p->layout = layout;
  p->comm = g.world;
  for (i = 0; i < nranks; i++)
    p->ranks[i].rank = dynamic ? i : i + 1;
  mproc__mpi_backoff_init(&p->learned, 1);
  pthread_mutex_init(&p->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cond, &ca);
  pthread_condattr_destroy(&ca);
  return p;
}

int mproc_mpi_pool_create(mproc_pool_t **out,
                          const mproc_pool_options_t *options,
                          const mproc_mpi_options_t *mpi) {
  mproc_pool_options_t o;
  mproc__mpi_pool_t *p;
  mproc_start_method_t method;
  int dynamic = 0, nranks = 0, r;
  if (!out)
    return MPROC_EINVAL;
  *out = NULL;
  pthread_mutex_lock(&g.lock);
  r = g.ready ? check_options(options, mpi, &dynamic, &nranks) : MPROC_ESTATE;
  if (r == 0 && !dynamic)
    g.static_busy = 1;
  pthread_mutex_unlock(&g.lock);
  if (r != 0)
    return r;
  p = pool_new(nranks, dynamic, mpi ? mpi->layout : MPROC_MPI_RANK_PER_CORE);
  if (!p) {
    r = MPROC_ENOMEM;
    goto fail_early;
  }
  if (dynamic) {
    if ((r = take_group(mpi, nranks, &p->group)) != 0)
      goto fail_spawn;
    p->comm = p->group->comm;
  }
  method = options ? options->start_method : MPROC_START_DEFAULT;
  if (method == MPROC_START_DEFAULT)
    method = mproc_get_start_method();
  if ((r = greet(p, mpi, method)) != 0)
    goto fail;
  memset(&o, 0, sizeof o);
  if (options)
    o = *options;
  o.processes = p->nslots;
  pthread_mutex_lock(&g.lock);
  p->next = g.pools;
  g.pools = p;
  pthread_mutex_unlock(&g.lock);
  r = mproc__pool_create_with(out, &o, &mproc__transport_mpi, p);
  if (r != 0) {
    if (!p->opened)
      mproc__mpi_pool_release(p);
    return r;
  }
  pthread_mutex_lock(&g.lock);
  p->pool = *out;
  pthread_mutex_unlock(&g.lock);
  return 0;

fail:
  mproc__mpi_pool_release(p);
  return r;
fail_spawn:
  free(p->ranks);
  free(p);
  return r;
fail_early:
  pthread_mutex_lock(&g.lock);
  if (!dynamic)
    g.static_busy = 0;
  pthread_mutex_unlock(&g.lock);
  return r;
}

int mproc_mpi_pool_workers(mproc_pool_t *pool, mproc_mpi_worker_info_t *out,
                           size_t cap, size_t *count) {
  mproc__mpi_pool_t *p;
  size_t i;
  if (!pool || !count || (cap > 0 && !out))
    return MPROC_EINVAL;
  pthread_mutex_lock(&g.lock);
  for (p = g.pools; p && p->pool != pool; p = p->next) {
  }
  if (!p) {
    pthread_mutex_unlock(&g.lock);
    return MPROC_EINVAL;
  }
  *count = (size_t)p->nslots;
  for (i = 0; i < cap && i < (size_t)p->nslots; i++) {
    const mproc__mpi_rank_t *r = &p->ranks[p->slots[i].rank_index];
    memset(&out[i], 0, sizeof out[i]);
    out[i].rank = r->rank;
    out[i].slot = p->slots[i].local;
    out[i].pid = r->pid;
    memcpy(out[i].host, r->host, sizeof out[i].host);
  }
  pthread_mutex_unlock(&g.lock);
  return cap < (size_t)p->nslots ? MPROC_ERANGE : 0;
}
