/* SPDX-License-Identifier: MIT */
/* Descriptor helpers every file of the POSIX backend shares: closing,
 * close-on-exec pipes and socket pairs, whole reads and writes, and closing
 * every descriptor a new program must not inherit. */
#ifndef MPROC_POSIX_FD_H
#define MPROC_POSIX_FD_H

#include <stddef.h>

/* Close *fd if open and set it to -1. */
void mproc__posix_close_fd(int *fd);

/* A pipe whose ends are close-on-exec. Returns 0 or an MPROC_E* code. */
int mproc__posix_cloexec_pipe(int fds[2]);

/* A child's status pipe: close-on-exec, the read end non-blocking (the
 * reaper drains it without waiting). */
int mproc__posix_status_pipe(int fds[2]);

/* A close-on-exec AF_UNIX stream pair whose sends never raise SIGPIPE. */
int mproc__posix_socketpair(int fds[2]);

/* Read exactly n bytes. Returns 0; MPROC_ECLOSED at end of file first;
 * another MPROC_E* code on error. EINTR is retried. */
int mproc__posix_read_all(int fd, void *buf, size_t n);

/* Write all n bytes. A socket is written with send(MSG_NOSIGNAL), so a
 * vanished reader never raises SIGPIPE there. Returns 0; MPROC_ECLOSED when
 * the reader is gone; another MPROC_E* code on error. */
int mproc__posix_write_all(int fd, const void *buf, size_t n);

/* The same for a descriptor that is no socket (a pipe): write() alone, so
 * that each write costs one system call, not a failed send() first. */
int mproc__posix_write_all_pipe(int fd, const void *buf, size_t n);

/* Close every descriptor from 3 up except keep[0..nkeep), however many
 * there are. For a forked child that runs no other thread. */
void mproc__posix_close_all_but(const int *keep, size_t nkeep);

/* Call fn(fd, ctx) for every descriptor from `from` up that is open now.
 * Returns 0, or MPROC_ENOTSUP where the open descriptors cannot be listed. */
int mproc__posix_each_open_fd(int from, void (*fn)(int fd, void *ctx),
                              void *ctx);

#endif
