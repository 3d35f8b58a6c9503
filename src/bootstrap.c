/* SPDX-License-Identifier: MIT */
/* The spawned child's bootstrap protocol; see bootstrap.h for the format. */
#include "bootstrap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "targets.h"

static const char magic[8] = {'M', 'P', 'R', 'O', 'C', 'B', 'T', '3'};

/* The message carries every handle a child spec may hold. */
typedef char
    handles_fit_[MPROC__BOOT_HANDLES_MAX == MPROC__CHILD_HANDLES_MAX ? 1 : -1];

static void put_u16(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
  int i;
  for (i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u16(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  int i;
  for (i = 0; i < 4; i++)
    v |= (uint32_t)p[i] << (8 * i);
  return v;
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

int mproc__boot_encode(const mproc__boot_t *b, unsigned char *buf,
                       size_t *len) {
  size_t name = strlen(b->name), identity = strlen(b->identity),
         target = strlen(b->target), title = strlen(b->title),
         program = strlen(b->program);
  unsigned char *p = buf + MPROC__BOOT_HEADER_SIZE;
  uint32_t i;
  if (name > MPROC__NAME_MAX || identity > MPROC__BOOT_IDENTITY_MAX ||
      target > MPROC__BOOT_TARGET_MAX || target == 0 ||
      title > MPROC__TITLE_MAX || program > MPROC__BOOT_PROGRAM_MAX ||
      b->nhandles > MPROC__BOOT_HANDLES_MAX)
    return MPROC_EINVAL;
  memcpy(buf, magic, sizeof magic);
  memcpy(buf + 8, b->cookie, MPROC__BOOT_COOKIE_SIZE);
  put_u32(buf + 24, b->flags);
  put_u16(buf + 28, (uint32_t)name);
  put_u16(buf + 30, (uint32_t)identity);
  put_u16(buf + 32, (uint32_t)target);
  put_u16(buf + 34, b->nhandles);
  put_u64(buf + 36, (uint64_t)b->parent_pid);
  put_u64(buf + 44, (uint64_t)b->status_channel);
  put_u64(buf + 52, (uint64_t)b->death_channel);
  put_u64(buf + 60, b->arg_size);
  put_u16(buf + 68, (uint32_t)title);
  put_u16(buf + 70, (uint32_t)program);
  memcpy(p, b->name, name);
  p += name;
  memcpy(p, b->identity, identity);
  p += identity;
  memcpy(p, b->target, target);
  p += target;
  memcpy(p, b->title, title);
  p += title;
  memcpy(p, b->program, program);
  p += program;
  for (i = 0; i < b->nhandles; i++, p += 8)
    put_u64(p, (uint64_t)b->handles[i]);
  *len = (size_t)(p - buf);
  return 0;
}

static const char bad_strings[] =
    "bad name, identity, target, title or program in bootstrap message";

/* Take a string of n bytes from *p into dst (room for n + NUL); no NUL
 * inside. */
static int take_string(const unsigned char **p, char *dst, size_t n) {
  memcpy(dst, *p, n);
  dst[n] = 0;
  *p += n;
  return strlen(dst) == n ? 0 : MPROC_EINVAL;
}

/* The argument bytes grow with what actually arrives, so a forged huge
 * length costs no more memory than the bytes really sent. */
static int read_arg(mproc__boot_reader_fn read, void *ctx, mproc__boot_t *b,
                    const char **why) {
  uint64_t have = 0, cap = 0;
  unsigned char *buf = NULL;
  if (b->arg_size == 0)
    return 0;
  if (b->arg_size > (uint64_t)SIZE_MAX / 2) {
    *why = "argument size out of range";
    return MPROC_EINVAL;
  }
  while (have < b->arg_size) {
    uint64_t want = b->arg_size - have;
    if (have == cap) {
      uint64_t grow = cap < 65536 ? 65536 : cap;
      unsigned char *bigger;
      if (grow > b->arg_size - cap)
        grow = b->arg_size - cap;
      bigger = realloc(buf, (size_t)(cap + grow));
      if (!bigger) {
        free(buf);
        *why = "no memory for the argument";
        return MPROC_ENOMEM;
      }
      buf = bigger;
      cap += grow;
    }
    if (want > cap - have)
      want = cap - have;
    if (read(ctx, buf + have, (size_t)want) != 0) {
      free(buf);
      *why = "argument bytes cut short";
      return MPROC_EINVAL;
    }
    have += want;
  }
  b->arg = buf;
  return 0;
}

int mproc__boot_decode(mproc__boot_reader_fn read, void *ctx, mproc__boot_t *b,
                       const char **why) {
  unsigned char h[MPROC__BOOT_HEADER_SIZE];
  const char *unused;
  uint32_t i;
  if (!why)
    why = &unused;
  memset(b, 0, sizeof *b);
  if (read(ctx, h, sizeof h) != 0) {
    *why = "bootstrap message missing or cut short";
    return MPROC_EINVAL;
  }
  if (memcmp(h, magic, sizeof magic) != 0) {
    *why = "not a bootstrap message";
    return MPROC_EINVAL;
  }
  memcpy(b->cookie, h + 8, MPROC__BOOT_COOKIE_SIZE);
  b->flags = get_u32(h + 24);
  b->parent_pid = (int64_t)get_u64(h + 36);
  b->status_channel = (int64_t)get_u64(h + 44);
  b->death_channel = (int64_t)get_u64(h + 52);
  b->arg_size = get_u64(h + 60);
  b->nhandles = get_u16(h + 34);
  if ((b->flags & ~(MPROC__BOOT_DAEMON | MPROC__BOOT_PDEATHSIG |
                    MPROC__BOOT_NO_TITLE)) != 0 ||
      b->nhandles > MPROC__BOOT_HANDLES_MAX || b->parent_pid <= 0 ||
      b->status_channel < -1 || b->death_channel < -1 ||
      b->status_channel > MPROC__BOOT_CHANNEL_MAX ||
      b->death_channel > MPROC__BOOT_CHANNEL_MAX) {
    *why = "bootstrap header out of range";
    return MPROC_EINVAL;
  }
  {
    /* The strings and the handles, read in one go: their lengths are in
     * the header, and each is checked against its bound before anything
     * is read. */
    size_t name = get_u16(h + 28), identity = get_u16(h + 30),
           target = get_u16(h + 32), title = get_u16(h + 68),
           program = get_u16(h + 70);
    unsigned char rest[MPROC__BOOT_PREFIX_MAX - MPROC__BOOT_HEADER_SIZE];
    const unsigned char *p = rest;
    if (name > MPROC__NAME_MAX || identity > MPROC__BOOT_IDENTITY_MAX ||
        target > MPROC__BOOT_TARGET_MAX || target == 0 ||
        title > MPROC__TITLE_MAX || program > MPROC__BOOT_PROGRAM_MAX) {
      *why = bad_strings;
      return MPROC_EINVAL;
    }
    if (read(ctx, rest,
             name + identity + target + title + program + 8 * b->nhandles) !=
        0) {
      *why = "bootstrap message cut short";
      return MPROC_EINVAL;
    }
    if (take_string(&p, b->name, name) != 0 ||
        take_string(&p, b->identity, identity) != 0 ||
        take_string(&p, b->target, target) != 0 ||
        take_string(&p, b->title, title) != 0 ||
        take_string(&p, b->program, program) != 0) {
      *why = bad_strings;
      return MPROC_EINVAL;
    }
    for (i = 0; i < b->nhandles; i++, p += 8) {
      int64_t v = (int64_t)get_u64(p);
      if (v < 0 || v > MPROC__BOOT_CHANNEL_MAX) {
        *why = "bad handle in bootstrap message";
        return MPROC_EINVAL;
      }
      b->handles[i] = v;
    }
  }
  return read_arg(read, ctx, b, why);
}

struct memory_reader {
  const unsigned char *data;
  size_t left;
};

static int read_memory(void *ctx, void *buf, size_t n) {
  struct memory_reader *m = ctx;
  if (n > m->left)
    return MPROC_EINVAL;
  memcpy(buf, m->data, n);
  m->data += n;
  m->left -= n;
  return 0;
}

int mproc__boot_decode_buffer(const void *data, size_t size, mproc__boot_t *b,
                              const char **why) {
  struct memory_reader m;
  m.data = data;
  m.left = size;
  return mproc__boot_decode(read_memory, &m, b, why);
}

void mproc__boot_free(mproc__boot_t *b) {
  free(b->arg);
  b->arg = NULL;
}

void mproc__boot_format_flag(int64_t channel, const unsigned char *cookie,
                             char *buf, size_t size) {
  mproc__boot_format_flag_as(MPROC__BOOT_FLAG, channel, cookie, buf, size);
}

static void format_cookie(const unsigned char *cookie, char *hex_out) {
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 0; i < MPROC__BOOT_COOKIE_SIZE; i++) {
    hex_out[2 * i] = hex[cookie[i] >> 4];
    hex_out[2 * i + 1] = hex[cookie[i] & 15];
  }
  hex_out[2 * MPROC__BOOT_COOKIE_SIZE] = 0;
}

void mproc__boot_format_flag_as(const char *prefix, int64_t channel,
                                const unsigned char *cookie, char *buf,
                                size_t size) {
  char cookie_hex[2 * MPROC__BOOT_COOKIE_SIZE + 1];
  if (!cookie) {
    snprintf(buf, size, "%s%lld", prefix, (long long)channel);
    return;
  }
  format_cookie(cookie, cookie_hex);
  snprintf(buf, size, "%s%lld:%s", prefix, (long long)channel, cookie_hex);
}

void mproc__boot_format_cookie_env(const unsigned char *cookie, char *buf,
                                   size_t size) {
  char cookie_hex[2 * MPROC__BOOT_COOKIE_SIZE + 1];
  format_cookie(cookie, cookie_hex);
  snprintf(buf, size, "%s=%s", MPROC__BOOT_COOKIE_ENV, cookie_hex);
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

int mproc__boot_parse_flag(const char *arg, int64_t *channel,
                           unsigned char *cookie) {
  return mproc__boot_parse_flag_as(MPROC__BOOT_FLAG, arg, channel, cookie);
}

/* Exactly 2 * MPROC__BOOT_COOKIE_SIZE hex digits. */
static int parse_cookie(const char *p, unsigned char *cookie) {
  int i;
  for (i = 0; i < MPROC__BOOT_COOKIE_SIZE; i++) {
    int hi = hex_value(p[2 * i]), lo = hi < 0 ? -1 : hex_value(p[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return MPROC_EINVAL;
    cookie[i] = (unsigned char)(hi << 4 | lo);
  }
  return p[2 * MPROC__BOOT_COOKIE_SIZE] == 0 ? 0 : MPROC_EINVAL;
}

int mproc__boot_parse_flag_as(const char *prefix, const char *arg,
                              int64_t *channel, unsigned char *cookie) {
  const char *p;
  int64_t value = 0;
  int digits = 0;
  size_t len = strlen(prefix);
  if (strncmp(arg, prefix, len) != 0)
    return MPROC_EINVAL;
  p = arg + len;
  for (; *p >= '0' && *p <= '9' && digits < 12; p++, digits++)
    value = value * 10 + (*p - '0');
  /* A descriptor or handle number is an int in the child: a larger value
   * would be cut to another one. */
  if (digits == 0 || (*p != ':' && *p != 0) || value > MPROC__BOOT_CHANNEL_MAX)
    return MPROC_EINVAL;
  /* Without ":COOKIE" the cookie is in the environment. */
  if (*p == 0)
    p = getenv(MPROC__BOOT_COOKIE_ENV);
  else
    p++;
  if (!p || parse_cookie(p, cookie) != 0)
    return MPROC_EINVAL;
  *channel = value;
  return 0;
}

/* Compare without an early exit, so timing says nothing of the cookie. */
int mproc__boot_same_cookie(const unsigned char *a, const unsigned char *b) {
  unsigned diff = 0;
  int i;
  for (i = 0; i < MPROC__BOOT_COOKIE_SIZE; i++)
    diff |= (unsigned)(a[i] ^ b[i]);
  return diff == 0;
}

void mproc__boot_refuse(int code, const char *why) {
  fprintf(stderr, "mproc: not starting as a child: %s\n", why);
  fflush(stderr);
  mproc__os_exit(code);
}

int mproc__boot_from_spec(const mproc__child_spec_t *spec,
                          const unsigned char *cookie, mproc__boot_t *b) {
  size_t i;
  int r = 0;
  memset(b, 0, sizeof *b);
  if (strlen(spec->name) > MPROC__NAME_MAX ||
      strlen(spec->identity) > MPROC__BOOT_IDENTITY_MAX ||
      strlen(spec->target_name) > MPROC__BOOT_TARGET_MAX ||
      (spec->title && strlen(spec->title) > MPROC__TITLE_MAX) ||
      spec->nhandles > MPROC__BOOT_HANDLES_MAX)
    return MPROC_EINVAL;
  if (cookie)
    memcpy(b->cookie, cookie, sizeof b->cookie);
  else if ((r = mproc__os_random(b->cookie, sizeof b->cookie)) != 0)
    return r;
  b->flags = spec->daemon ? MPROC__BOOT_DAEMON : 0;
  if (spec->no_title)
    b->flags |= MPROC__BOOT_NO_TITLE;
  b->parent_pid = (int64_t)mproc__os_getpid();
  b->status_channel = -1;
  b->death_channel = -1;
  snprintf(b->name, sizeof b->name, "%s", spec->name);
  snprintf(b->identity, sizeof b->identity, "%s", spec->identity);
  snprintf(b->target, sizeof b->target, "%s", spec->target_name);
  snprintf(b->title, sizeof b->title, "%s", spec->title ? spec->title : "");
  snprintf(b->program, sizeof b->program, "%s", mproc__os_program_name());
  b->arg_size = spec->arg_size;
  for (i = 0; i < spec->nhandles; i++)
    b->handles[i] = (int64_t)spec->handles[i];
  b->nhandles = (uint32_t)spec->nhandles;
  return 0;
}

void mproc__boot_to_spec(const mproc__boot_t *b, mproc_start_method_t method,
                         mproc__child_spec_t *spec) {
  uint32_t i;
  memset(spec, 0, sizeof *spec);
  spec->target = mproc__target_lookup(b->target);
  spec->arg = b->arg;
  spec->arg_size = (size_t)b->arg_size;
  spec->name = b->name;
  spec->identity = b->identity;
  spec->target_name = b->target;
  spec->title = b->title[0] ? b->title : NULL;
  spec->daemon = (b->flags & MPROC__BOOT_DAEMON) != 0;
  spec->no_title = (b->flags & MPROC__BOOT_NO_TITLE) != 0;
  spec->method = method;
  for (i = 0; i < b->nhandles; i++)
    spec->handles[i] = (mproc__pipe_t)b->handles[i];
  spec->nhandles = b->nhandles;
}

int mproc__boot_send(const mproc__boot_t *b, const void *arg,
                     mproc__boot_writer_fn write, void *ctx) {
  unsigned char prefix[MPROC__BOOT_PREFIX_MAX];
  size_t len;
  int r = mproc__boot_encode(b, prefix, &len);
  if (r == 0)
    r = write(ctx, prefix, len);
  if (r == 0 && b->arg_size > 0)
    r = write(ctx, arg, (size_t)b->arg_size);
  return r;
}

int mproc__boot_answer(int64_t channel) {
  int32_t answer = 0;
  if (mproc__os_channel_read(channel, &answer, sizeof answer) != 0)
    return MPROC_ECLOSED;
  return answer;
}

static int read_channel(void *ctx, void *buf, size_t n) {
  return mproc__os_channel_read(*(int64_t *)ctx, buf, n);
}

void mproc__boot_child_if_asked(int *argc, char ***argv) {
  unsigned char cookie[MPROC__BOOT_COOKIE_SIZE];
  int64_t channel;
  mproc__boot_t boot;
  mproc__child_spec_t spec;
  const char *why = NULL;
  int32_t answer;
  int i;

  if (!argc || !argv || !*argv || *argc < 2 || !(*argv)[1] ||
      strncmp((*argv)[1], MPROC__BOOT_FLAG, sizeof MPROC__BOOT_FLAG - 1) != 0)
    return;
  if (mproc__boot_parse_flag((*argv)[1], &channel, cookie) != 0)
    mproc__boot_refuse(MPROC__EXIT_BOOTSTRAP_FAILED,
                       "malformed " MPROC__BOOT_FLAG " flag");
  /* The program sees its arguments as the parent had them. */
  for (i = 1; i < *argc; i++)
    (*argv)[i] = (*argv)[i + 1];
  (*argc)--;
  if (mproc__os_secure_mode())
    mproc__boot_refuse(MPROC__EXIT_REFUSED_SECURE,
                       "the program runs setuid or setgid");
  if (mproc__boot_decode(read_channel, &channel, &boot, &why) != 0)
    mproc__boot_refuse(MPROC__EXIT_BOOTSTRAP_FAILED, why);
  if (!mproc__boot_same_cookie(cookie, boot.cookie))
    mproc__boot_refuse(MPROC__EXIT_BOOTSTRAP_FAILED,
                       "bootstrap cookie does not match");

  /* The name the parent found for this program, as the child's titles
   * show it: no need to look for it again. */
  mproc__os_title_name(boot.program[0] ? boot.program : NULL);
  mproc__boot_to_spec(&boot, MPROC_START_SPAWN, &spec);
  answer = spec.target ? 0 : MPROC_ENOTREG;
  mproc__os_channel_write(channel, &answer, sizeof answer);
  mproc__os_channel_close(channel);
  if (!spec.target)
    mproc__boot_refuse(MPROC__EXIT_BOOTSTRAP_FAILED, "target not registered");
  mproc__os_child_run_spawned(&boot, &spec);
}
