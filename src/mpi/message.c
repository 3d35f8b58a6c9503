/* SPDX-License-Identifier: MIT */
/*
 * Messages over MPI: any size, and waiting that does not burn a core.
 * See message.h.
 */
#include "message.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_MSG = 7001, TAG_PIECE = 7002 };

/* Messages up to this size are sent as one buffer, header and payload
 * together; larger ones send the payload from where it is, in pieces. */
#define INLINE_MAX ((size_t)64 << 10)
#define PIECE_MAX ((size_t)1 << 30)
/* Probing goes on without a nap for the spin, SPIN_MAX_NS after the wait
 * began (a reply usually comes within it), or down to SPIN_MIN_NS for a
 * backoff that learns; then naps grow from NAP_MIN to NAP_MAX. */
#define SPIN_MIN_NS ((int64_t)4 * 1000)
#define SPIN_MAX_NS ((int64_t)200 * 1000)
#define NAP_MIN_NS ((int64_t)20 * 1000)
#define NAP_MAX_NS ((int64_t)1000 * 1000)

static pthread_mutex_t layer_lock = PTHREAD_MUTEX_INITIALIZER;
static int serialize = 1;
static size_t piece_max = PIECE_MAX;

void mproc__mpi_layer_init(int provided) {
  const char *env = getenv("MPROC_MPI_PIECE_BYTES");
  serialize = provided < MPI_THREAD_MULTIPLE;
  if (env) {
    char *end;
    unsigned long long v = strtoull(env, &end, 10);
    if (*end == 0 && v >= 4096 && v <= PIECE_MAX)
      piece_max = (size_t)v;
  }
}

void mproc__mpi_lock(void) {
  if (serialize)
    pthread_mutex_lock(&layer_lock);
}

void mproc__mpi_unlock(void) {
  if (serialize)
    pthread_mutex_unlock(&layer_lock);
}

int64_t mproc__mpi_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mproc__mpi_nap(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  while (nanosleep(&ts, &ts) != 0) {
  }
}

void mproc__mpi_backoff_init(mproc__mpi_backoff_t *b, int learn) {
  b->idle_since_ns = 0;
  b->probed_ns = 0;
  b->nap_ns = 0;
  b->spin_ns = SPIN_MAX_NS;
  b->learn = learn;
}

void mproc__mpi_backoff_arrived(mproc__mpi_backoff_t *b) {
  if (b->learn && b->idle_since_ns != 0) {
    /* It came after the last probe that found nothing: between `earliest`
     * and `waited` after the wait began (a nap may last much longer than
     * asked on a busy machine). */
    int64_t waited = mproc__mpi_now_ns() - b->idle_since_ns;
    int64_t earliest = b->probed_ns - b->idle_since_ns;
    if (earliest > SPIN_MAX_NS)
      b->spin_ns /= 2; /* no spin would have caught it */
    else if (waited > b->spin_ns && earliest <= SPIN_MAX_NS / 2)
      b->spin_ns *= 2; /* a longer spin would have, with room to spare */
    if (b->spin_ns < SPIN_MIN_NS)
      b->spin_ns = SPIN_MIN_NS;
    if (b->spin_ns > SPIN_MAX_NS)
      b->spin_ns = SPIN_MAX_NS;
  }
  b->idle_since_ns = 0;
  b->nap_ns = 0;
}

int64_t mproc__mpi_backoff_next(mproc__mpi_backoff_t *b) {
  int64_t now = mproc__mpi_now_ns();
  if (b->idle_since_ns == 0)
    b->idle_since_ns = now;
  b->probed_ns = now;
  if (now - b->idle_since_ns < b->spin_ns)
    return 0;
  b->nap_ns = b->nap_ns == 0 ? NAP_MIN_NS : b->nap_ns * 2;
  if (b->nap_ns > NAP_MAX_NS)
    b->nap_ns = NAP_MAX_NS;
  return b->nap_ns;
}

void mproc__mpi_rank_lost(MPI_Comm comm, int rank, int mpi_error) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  text[0] = 0;
  if (MPI_Error_string(mpi_error, text, &len) != MPI_SUCCESS)
    text[0] = 0;
  fprintf(stderr,
          "mproc: lost contact with MPI rank %d (%s); a lost rank cannot be "
          "replaced, ending the job\n",
          rank, text);
  fflush(stderr);
  MPI_Abort(comm, 1);
}

/* Send the payload's pieces after a split header. */
static int send_pieces(MPI_Comm comm, int dest, const unsigned char *p,
                       size_t size) {
  while (size > 0) {
    size_t n = size < piece_max ? size : piece_max;
    int rc = MPI_Send(p, (int)n, MPI_BYTE, dest, TAG_PIECE, comm);
    if (rc != MPI_SUCCESS) {
      mproc__mpi_rank_lost(comm, dest, rc);
      return MPROC_EOS;
    }
    p += n;
    size -= n;
  }
  return 0;
}

int mproc__mpi_send(MPI_Comm comm, int dest, mproc__mpi_hdr_t *hdr,
                    const char *name, const void *payload, size_t size) {
  unsigned char small[4096];
  unsigned char *buf = small;
  size_t name_len = name ? strlen(name) : 0;
  size_t head = sizeof *hdr + name_len, total;
  int rc, r = 0;
  if (name_len > 255)
    return MPROC_EINVAL;
  hdr->name_len = (uint32_t)name_len;
  hdr->size = size;
  hdr->split = size > INLINE_MAX;
  total = head + (hdr->split ? 0 : size);
  if (total > sizeof small && !(buf = malloc(total)))
    return MPROC_ENOMEM;
  memcpy(buf, hdr, sizeof *hdr);
  if (name_len)
    memcpy(buf + sizeof *hdr, name, name_len);
  if (!hdr->split && size)
    memcpy(buf + head, payload, size);
  mproc__mpi_lock();
  rc = MPI_Send(buf, (int)total, MPI_BYTE, dest, TAG_MSG, comm);
  if (rc != MPI_SUCCESS) {
    mproc__mpi_rank_lost(comm, dest, rc);
    r = MPROC_EOS;
  } else if (hdr->split) {
    r = send_pieces(comm, dest, payload, size);
  }
  mproc__mpi_unlock();
  if (buf != small)
    free(buf);
  return r;
}

/* The pieces of a split payload, straight into its own buffer. */
static int recv_pieces(MPI_Comm comm, int source, mproc__mpi_msg_t *msg) {
  size_t size = (size_t)msg->hdr.size, got = 0;
  unsigned char *p = malloc(size ? size : 1);
  if (!p)
    return MPROC_ENOMEM;
  while (got < size) {
    size_t n = size - got < piece_max ? size - got : piece_max;
    MPI_Status st;
    int count = 0;
    int rc = MPI_Recv(p + got, (int)n, MPI_BYTE, source, TAG_PIECE, comm, &st);
    if (rc != MPI_SUCCESS) {
      free(p);
      mproc__mpi_rank_lost(comm, source, rc);
      return MPROC_EOS;
    }
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (count <= 0) {
      free(p);
      return MPROC_EINVAL;
    }
    got += (size_t)count;
  }
  msg->payload = p;
  msg->owned = p;
  return 0;
}

/* Unpack a received buffer into msg; takes buf. */
static int unpack(MPI_Comm comm, unsigned char *buf, size_t n,
                  mproc__mpi_msg_t *msg) {
  size_t head;
  int r = 0;
  if (n < sizeof msg->hdr) {
    free(buf);
    return MPROC_EINVAL;
  }
  memcpy(&msg->hdr, buf, sizeof msg->hdr);
  head = sizeof msg->hdr + msg->hdr.name_len;
  if (msg->hdr.name_len > 255 || n < head ||
      (!msg->hdr.split && n - head != msg->hdr.size)) {
    free(buf);
    return MPROC_EINVAL;
  }
  memcpy(msg->name, buf + sizeof msg->hdr, msg->hdr.name_len);
  msg->name[msg->hdr.name_len] = 0;
  if (msg->hdr.split) {
    free(buf);
    r = recv_pieces(comm, msg->source, msg);
  } else {
    msg->owned = buf;
    msg->payload = msg->hdr.size ? buf + head : NULL;
  }
  return r;
}

int mproc__mpi_try_recv(MPI_Comm comm, int source, mproc__mpi_msg_t *msg) {
  MPI_Message handle;
  MPI_Status st;
  unsigned char *buf;
  int flag = 0, count = 0, rc, r;
  memset(msg, 0, sizeof *msg);
  mproc__mpi_lock();
  rc = MPI_Improbe(source, TAG_MSG, comm, &flag, &handle, &st);
  if (rc != MPI_SUCCESS || !flag) {
    mproc__mpi_unlock();
    if (rc != MPI_SUCCESS)
      mproc__mpi_rank_lost(comm, source, rc);
    return rc != MPI_SUCCESS ? MPROC_EOS : MPROC_EEMPTY;
  }
  MPI_Get_count(&st, MPI_BYTE, &count);
  msg->source = st.MPI_SOURCE;
  buf = malloc(count > 0 ? (size_t)count : 1);
  /* A matched message must be received, even when there is no room for
   * it: into a byte of the stack then, and reported. */
  if (!buf) {
    unsigned char none;
    MPI_Mrecv(&none, 0, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
    mproc__mpi_unlock();
    return MPROC_ENOMEM;
  }
  rc = MPI_Mrecv(buf, count, MPI_BYTE, &handle, MPI_STATUS_IGNORE);
  if (rc != MPI_SUCCESS) {
    mproc__mpi_unlock();
    free(buf);
    mproc__mpi_rank_lost(comm, msg->source, rc);
    return MPROC_EOS;
  }
  r = unpack(comm, buf, (size_t)count, msg);
  mproc__mpi_unlock();
  return r;
}

void mproc__mpi_msg_free(mproc__mpi_msg_t *msg) {
  free(msg->owned);
  msg->owned = NULL;
  msg->payload = NULL;
}

unsigned char *mproc__mpi_msg_take(mproc__mpi_msg_t *msg) {
  unsigned char *p;
  size_t size = (size_t)msg->hdr.size;
  if (msg->payload && msg->payload == msg->owned) {
    msg->owned = NULL;
    return msg->payload;
  }
  p = malloc(size ? size : 1);
  if (p && size)
    memcpy(p, msg->payload, size);
  return p;
}
