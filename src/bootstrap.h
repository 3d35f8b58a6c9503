/* SPDX-License-Identifier: MIT */
/*
 * The bootstrap of a spawned child: what the parent sends on the inherited
 * channel, and how a program recognises that it was started as a child.
 * The protocol lives here once; backends only move the bytes.
 *
 * Message (integers little-endian):
 *   0   magic "MPROCBT3"                     8 bytes
 *   8   cookie                               16 bytes, also given apart
 *                                            (MPROC__BOOT_COOKIE_ENV)
 *   24  flags (bit 0 daemon, bit 1 pdeathsig, u32
 *       bit 2 no title)
 *   28  name length, identity length, target length, handle count
 *                                            4 x u16
 *   36  parent pid                           i64
 *   44  status channel (-1: none)            i64
 *   52  death channel (-1: none)             i64
 *   60  argument size                        u64
 *   68  title length                         u16
 *   70  program length                       u16
 *   72  name, identity, target, title, program (no NUL), one i64 channel
 *       per handle (the pipe ends the child is handed, see
 *       mproc__child_spec_t), then the argument bytes
 * The program is the name the parent's titles show ("" when it has none):
 * the child takes it rather than look for it again in /proc.
 * The child answers with one i32: 0, or an MPROC_E* code.
 */
#ifndef MPROC_BOOTSTRAP_H
#define MPROC_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPROC__BOOT_FLAG "--mproc-child="
#define MPROC__BOOT_COOKIE_SIZE 16
#define MPROC__BOOT_HEADER_SIZE 72
/* Where a POSIX parent puts the cookie, so that no other user reads it in
 * the child's command line: the flag then names only the channel. */
#define MPROC__BOOT_COOKIE_ENV "MPROC_BOOT_COOKIE"
#define MPROC__BOOT_IDENTITY_MAX 63
#define MPROC__BOOT_TARGET_MAX 127
#define MPROC__BOOT_PROGRAM_MAX 63
#define MPROC__BOOT_HANDLES_MAX 2 /* MPROC__CHILD_HANDLES_MAX */
/* Largest channel number (a descriptor, or a handle value, which Windows
 * keeps within 32 bits): the flag and the message refuse anything above. */
#define MPROC__BOOT_CHANNEL_MAX 0x7fffffff
#define MPROC__BOOT_DAEMON 1u
#define MPROC__BOOT_PDEATHSIG 2u
#define MPROC__BOOT_NO_TITLE 4u

/* Exit codes of a child that refuses to run anything. */
#define MPROC__EXIT_REFUSED_SECURE 122

typedef struct mproc__boot {
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
  uint32_t flags;
  int64_t parent_pid;
  int64_t status_channel;
  int64_t death_channel;
  char name[MPROC__NAME_MAX + 1];
  char identity[MPROC__BOOT_IDENTITY_MAX + 1];
  char target[MPROC__BOOT_TARGET_MAX + 1];
  char title[MPROC__TITLE_MAX + 1];          /* "" for none */
  char program[MPROC__BOOT_PROGRAM_MAX + 1]; /* "" for unknown */
  int64_t handles[MPROC__BOOT_HANDLES_MAX];
  uint32_t nhandles;
  unsigned char *arg; /* malloc'd by the decoder; NULL when arg_size is 0 */
  uint64_t arg_size;
} mproc__boot_t;

/* Reads exactly n bytes; returns 0, or negative at EOF or on error. */
typedef int (*mproc__boot_reader_fn)(void *ctx, void *buf, size_t n);

/* The header and strings of a message (no argument bytes) into buf, which
 * holds at least MPROC__BOOT_HEADER_SIZE + 255 + 63 + 127 bytes. Returns
 * 0 with *len set, or MPROC_EINVAL when a string is too long. */
#define MPROC__BOOT_PREFIX_MAX                                                 \
  (MPROC__BOOT_HEADER_SIZE + MPROC__NAME_MAX + MPROC__BOOT_IDENTITY_MAX +      \
   MPROC__BOOT_TARGET_MAX + MPROC__TITLE_MAX + MPROC__BOOT_PROGRAM_MAX +       \
   8 * MPROC__BOOT_HANDLES_MAX)
int mproc__boot_encode(const mproc__boot_t *b, unsigned char *buf, size_t *len);

/* Decode a whole message. Returns 0, or MPROC_EINVAL / MPROC_ENOMEM with
 * *why saying what was wrong; on failure nothing stays allocated. */
int mproc__boot_decode(mproc__boot_reader_fn read, void *ctx, mproc__boot_t *b,
                       const char **why);

/* Decode a message held in memory (the fuzzer's entry point). */
int mproc__boot_decode_buffer(const void *data, size_t size, mproc__boot_t *b,
                              const char **why);

void mproc__boot_free(mproc__boot_t *b);

/* The argv flag: format into buf (at least 64 bytes), and parse one. With
 * cookie NULL the flag names only the channel, and the parser takes the
 * cookie from the environment variable MPROC__BOOT_COOKIE_ENV instead,
 * which mproc__boot_format_cookie_env() formats as "NAME=hex" (at least
 * 64 bytes). */
void mproc__boot_format_cookie_env(const unsigned char *cookie, char *buf,
                                   size_t size);
void mproc__boot_format_flag(int64_t channel, const unsigned char *cookie,
                             char *buf, size_t size);
int mproc__boot_parse_flag(const char *arg, int64_t *channel,
                           unsigned char *cookie);
/* The same for another role's flag (the fork server's). */
void mproc__boot_format_flag_as(const char *prefix, int64_t channel,
                                const unsigned char *cookie, char *buf,
                                size_t size);
int mproc__boot_parse_flag_as(const char *prefix, const char *arg,
                              int64_t *channel, unsigned char *cookie);

/* Compare two cookies in constant time; 1 when equal. */
int mproc__boot_same_cookie(const unsigned char *a, const unsigned char *b);

/* Print "mproc: not starting as a child: WHY" and end the process. */
void mproc__boot_refuse(int code, const char *why);

struct mproc__child_spec;

/* The message that starts the child `spec` describes: its flags (daemon),
 * this process's pid, name, identity, target, argument size and handles
 * as the spec holds them; no status or death channel. The backend then
 * sets what only it knows (channels, PDEATHSIG, handle numbers as the child
 * will see them). cookie: the one to send, or NULL for a fresh random one.
 * Returns 0, MPROC_EINVAL (a string too long for the message), or the
 * random source's error. */
int mproc__boot_from_spec(const struct mproc__child_spec *spec,
                          const unsigned char *cookie, mproc__boot_t *b);

/* The child spec a checked message describes; it points into b. The target
 * is looked up by name (NULL when this program has not registered it). */
void mproc__boot_to_spec(const mproc__boot_t *b, mproc_start_method_t method,
                         struct mproc__child_spec *spec);

/* Writes all n bytes; returns 0 or an MPROC_E* code. */
typedef int (*mproc__boot_writer_fn)(void *ctx, const void *buf, size_t n);

/* Send b: the header and strings in one call of write, then the argument
 * bytes (arg, b->arg_size of them). Returns 0, MPROC_EINVAL, or what write
 * returned. */
int mproc__boot_send(const mproc__boot_t *b, const void *arg,
                     mproc__boot_writer_fn write, void *ctx);

/* In the parent, after the message: the child's answer on the channel, 0
 * or an MPROC_E* code; MPROC_ECLOSED when it refused or died first. */
int mproc__boot_answer(int64_t channel);

/* In mproc_init: when argv says this is a spawned child, strip the flag,
 * read and check the bootstrap, and run the target; never returns then.
 * Returns when this process is not a child. */
void mproc__boot_child_if_asked(int *argc, char ***argv);

#ifdef __cplusplus
}
#endif

#endif
