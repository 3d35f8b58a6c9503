/* SPDX-License-Identifier: MIT */
/*
 * What the MPI pool's files share: the worker ranks' side (rank.c), the
 * owning rank's transport (transport.c) and the public calls (init.c).
 */
#ifndef MPROC_MPI_POOL_H
#define MPROC_MPI_POOL_H

#include <pthread.h>

#include "message.h"
#include "mproc_mpi.h"
#include "pool_transport.h"

/* How long a stopped or killed worker may take to say it ended. */
#define MPROC__MPI_REAP_GRACE_MS 2000
/* How long the owner waits for a rank to answer HELLO. */
#define MPROC__MPI_HELLO_TIMEOUT_MS 60000

/* A worker rank: serve pools for the owner (rank `owner` of comm), one
 * after the other, until told to exit. */
void mproc__mpi_serve(MPI_Comm comm, int owner);

/* One worker rank of a pool, as its HELLO answer described it. */
typedef struct mproc__mpi_rank {
  int rank;
  int slots;
  int64_t pid;
  char host[64];
} mproc__mpi_rank_t;

/* One worker of the pool, as the engine numbers them. */
typedef struct mproc__mpi_slot {
  int rank_index; /* into ranks[] */
  int local;      /* its slot number on that rank */
  uint64_t epoch; /* the current start; 0 when empty */
  int ended;      /* ENDED arrived, or the worker was given up */
  int has_exit, exitcode;
  /* Bytes received and not read yet: a list of DATA messages. */
  struct mproc__mpi_bytes *head, *tail;
  size_t head_pos;
} mproc__mpi_slot_t;

/* A pool's workers on the owning rank: made by mproc_mpi_pool_create(),
 * handed to the engine's transport, which frees it at close. */
typedef struct mproc__mpi_pool {
  MPI_Comm comm;
  int dynamic;
  struct mproc__mpi_group *group; /* dynamic: the spawned ranks */
  mproc_mpi_layout_t layout;
  int nranks;
  mproc__mpi_rank_t *ranks;
  int nslots;
  mproc__mpi_slot_t *slots;
  mproc_pool_t *pool; /* once created, for mproc_mpi_pool_workers() */
  int opened;         /* the engine's transport owns it */
  uint64_t next_epoch;
  /* What the pool thread's waits have learned of how long to spin
   * (message.h). Its side of the conversation learns; the worker ranks,
   * and callers leasing a worker for a blocking apply, always spin. */
  mproc__mpi_backoff_t learned;
  pthread_mutex_t lock; /* the slots; the wake-up; learned */
  pthread_cond_t cond;  /* a wake-up, or bytes for some slot */
  int wake_pending;
  struct mproc__mpi_pool *next; /* the list of live MPI pools */
} mproc__mpi_pool_t;

/* The owning rank's transport (transport.c). */
extern const mproc__transport_t mproc__transport_mpi;

/* Send the pool's ranks RELEASE (they wait for the next pool: static
 * ones, and spawned ones kept for the next dynamic pool), then free
 * everything (init.c). */
void mproc__mpi_pool_release(mproc__mpi_pool_t *p);

#endif
