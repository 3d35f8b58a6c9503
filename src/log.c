/* SPDX-License-Identifier: MIT */
/* The logging hook: the handler, its level, the MPROC_LOG switch, and the
 * bounded formatting every message goes through (docs/process.md). */
#include "internal.h"
#include "platform.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A message longer than this is cut and ends with "...". */
#define LOG_MESSAGE_MAX 512

static struct {
  mproc__mutex_t lock;
  mproc_log_fn fn; /* under lock */
  void *ctx;       /* under lock */
  int level;       /* under lock; below MPROC_LOG_ERROR: silent */
  int env_read;    /* under lock: MPROC_LOG looked at */
  int handler_set; /* under lock: a call chose the handler */
} logger = {MPROC__MUTEX_INITIALIZER, NULL, NULL, 0, 0, 0};

static const char *level_name(int level) {
  switch (level) {
  case MPROC_LOG_ERROR:
    return "ERROR";
  case MPROC_LOG_WARNING:
    return "WARNING";
  case MPROC_LOG_INFO:
    return "INFO";
  default:
    return "DEBUG";
  }
}

/* The handler MPROC_LOG installs: one line on stderr, as Python's
 * log_to_stderr() prints. */
static void log_to_stderr(int level, const char *message, void *ctx) {
  (void)ctx;
  fprintf(stderr, "[%s/%lu] %s\n", level_name(level),
          (unsigned long)mproc__os_getpid(), message);
  fflush(stderr);
}

static int level_from_env(const char *v) {
  if (!v)
    return 0;
  if (strcmp(v, "debug") == 0 || strcmp(v, "DEBUG") == 0)
    return MPROC_LOG_DEBUG;
  if (strcmp(v, "info") == 0 || strcmp(v, "INFO") == 0)
    return MPROC_LOG_INFO;
  if (strcmp(v, "warning") == 0 || strcmp(v, "WARNING") == 0)
    return MPROC_LOG_WARNING;
  if (strcmp(v, "error") == 0 || strcmp(v, "ERROR") == 0)
    return MPROC_LOG_ERROR;
  return 0;
}

/* Called with logger.lock held. A handler set by a call wins over the
 * environment. */
static void read_env_locked(void) {
  int level;
  if (logger.env_read)
    return;
  logger.env_read = 1;
  if (logger.handler_set)
    return;
  level = level_from_env(getenv("MPROC_LOG"));
  if (level) {
    logger.fn = log_to_stderr;
    logger.ctx = NULL;
    logger.level = level;
  }
}

void mproc__log_init(void) {
  mproc__mutex_lock(&logger.lock);
  read_env_locked();
  mproc__mutex_unlock(&logger.lock);
}

int mproc_set_log_handler(mproc_log_fn fn, void *ctx, int level) {
  if (fn && (level < MPROC_LOG_ERROR || level > MPROC_LOG_DEBUG))
    return MPROC_EINVAL;
  mproc__mutex_lock(&logger.lock);
  logger.env_read = 1;
  logger.handler_set = 1;
  logger.fn = fn;
  logger.ctx = fn ? ctx : NULL;
  logger.level = fn ? level : 0;
  mproc__mutex_unlock(&logger.lock);
  return 0;
}

void mproc__log(int level, const char *fmt, ...) {
  char message[LOG_MESSAGE_MAX];
  mproc_log_fn fn;
  void *ctx;
  va_list ap;
  int n;

  mproc__mutex_lock(&logger.lock);
  read_env_locked();
  fn = level <= logger.level ? logger.fn : NULL;
  ctx = logger.ctx;
  mproc__mutex_unlock(&logger.lock);
  if (!fn)
    return;
  va_start(ap, fmt);
  n = vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (n < 0) {
    strcpy(message, "(message could not be formatted)");
  } else if ((size_t)n >= sizeof message) {
    memcpy(message + sizeof message - 4, "...", 4);
  }
  /* No lock is held: the handler may log, or set another handler. */
  fn(level, message, ctx);
}
