/* SPDX-License-Identifier: MIT */
/*
 * Messages between a pool's owning rank and its worker ranks, over MPI.
 *
 * A message is a fixed header, an optional name and payload bytes of any
 * size. MPI counts are ints, so a message larger than a piece (1 GiB; the
 * environment variable MPROC_MPI_PIECE_BYTES lowers it, for tests) is sent
 * as its header, then its payload in pieces on a tag of their own; MPI
 * keeps messages from one sender on one tag in order, so the pieces follow
 * their header. Nothing here waits in MPI's own blocking calls, which spin:
 * a waiter probes, then naps between probes for longer and longer (up to
 * a millisecond), so that an idle rank, and an owner whose ranks compute,
 * cost almost no CPU.
 */
#ifndef MPROC_MPI_MESSAGE_H
#define MPROC_MPI_MESSAGE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "mproc.h"

enum mproc__mpi_kind {
  /* owner -> worker rank */
  MPROC__MPI_HELLO = 1,   /* a pool starts: a = layout, b = local workers,
                             c = local start method; answered by HELLO */
  MPROC__MPI_START = 2,   /* start slot's worker; payload: its arguments */
  MPROC__MPI_DATA = 3,    /* bytes of the slot's stream (both ways) */
  MPROC__MPI_STOP = 4,    /* no more jobs for the slot */
  MPROC__MPI_KILL = 5,    /* end the slot's worker now */
  MPROC__MPI_RELEASE = 6, /* the pool is over */
  MPROC__MPI_EXIT = 7,    /* leave the worker loop and the process */
  /* worker rank -> owner */
  MPROC__MPI_ENDED = 8 /* the slot's worker ended: a = exit code, b = 1
                          when it is known */
};

typedef struct mproc__mpi_hdr {
  uint32_t kind;
  int32_t slot;      /* which worker of the rank */
  uint64_t epoch;    /* which start of that slot the message is about */
  int64_t a, b, c;   /* by kind, above; HELLO answer: a = slots, c = pid */
  uint32_t name_len; /* bytes of name after the header (HELLO: host) */
  uint32_t split;    /* the payload follows in pieces */
  uint64_t size;     /* payload bytes */
} mproc__mpi_hdr_t;

/* A message received: name and payload point into memory it owns. */
typedef struct mproc__mpi_msg {
  mproc__mpi_hdr_t hdr;
  int source;
  char name[256];
  unsigned char *payload; /* hdr.size bytes; NULL when 0 */
  unsigned char *owned;   /* what to free; payload may point into it */
} mproc__mpi_msg_t;

/* Set up the layer once MPI is initialised: `provided` is the thread
 * level MPI gave; below MPI_THREAD_MULTIPLE every MPI call of this layer
 * is made under one lock. */
void mproc__mpi_layer_init(int provided);

/* Run MPI calls of one's own under the layer's lock (a no-op with
 * MPI_THREAD_MULTIPLE). */
void mproc__mpi_lock(void);
void mproc__mpi_unlock(void);

/* Send a message: the header (its size and name_len are filled in here),
 * the name (may be NULL) and the payload. Returns 0 or MPROC_EOS. */
int mproc__mpi_send(MPI_Comm comm, int dest, mproc__mpi_hdr_t *hdr,
                    const char *name, const void *payload, size_t size);

/* Take one message from `source` (or MPI_ANY_SOURCE) if one has arrived.
 * Returns 0 with *msg filled, MPROC_EEMPTY when none is there,
 * MPROC_ENOMEM, MPROC_EOS, MPROC_EINVAL for a malformed message. */
int mproc__mpi_try_recv(MPI_Comm comm, int source, mproc__mpi_msg_t *msg);

/* Free what a received message owns. */
void mproc__mpi_msg_free(mproc__mpi_msg_t *msg);

/* The payload of msg as a malloc'd block of its own (hdr.size bytes; one
 * byte when empty), which the caller frees; NULL when memory runs out. */
unsigned char *mproc__mpi_msg_take(mproc__mpi_msg_t *msg);

/* Backoff between probes. A waiter probes without a pause for a while
 * (the spin, 200 us), then naps between probes, for longer and longer.
 * A backoff that learns adapts its spin to the waits it serves: a message
 * that came after the spin ended but surely within 100 us (the last probe
 * that found nothing was that soon) doubles it, up to 200 us; one that
 * surely came later than 200 us halves it, down to 4 us: the ranks are
 * computing, and a spin would only take their CPU. Between the two it
 * stays, so that waits of a few hundred microseconds do not keep a spin
 * that always ends just too soon. Only one side of a conversation may
 * learn: two sides that both nap keep each other's waits long, and would
 * learn to nap for good. mproc__mpi_backoff_init() once;
 * mproc__mpi_backoff_next() when nothing arrived, which returns how long
 * to nap in nanoseconds (0 while still spinning);
 * mproc__mpi_backoff_arrived() when a message did. */
typedef struct mproc__mpi_backoff {
  int64_t idle_since_ns; /* when this wait began; 0 between waits */
  int64_t probed_ns;     /* the last probe of this wait that found nothing */
  int64_t nap_ns;        /* the last nap of this wait; 0 while spinning */
  int64_t spin_ns;       /* how long to spin */
  int learn;             /* adapt spin_ns to the waits */
} mproc__mpi_backoff_t;

void mproc__mpi_backoff_init(mproc__mpi_backoff_t *b, int learn);
void mproc__mpi_backoff_arrived(mproc__mpi_backoff_t *b);
int64_t mproc__mpi_backoff_next(mproc__mpi_backoff_t *b);

/* The monotonic clock in nanoseconds (the engine's: CLOCK_MONOTONIC). */
int64_t mproc__mpi_now_ns(void);

/* Sleep for ns nanoseconds (in the kernel). */
void mproc__mpi_nap(int64_t ns);

/* A lost rank cannot be replaced: say which one on stderr and end the
 * whole job (MPI_Abort), so that nothing waits for it forever. */
void mproc__mpi_rank_lost(MPI_Comm comm, int rank, int mpi_error);

#endif
