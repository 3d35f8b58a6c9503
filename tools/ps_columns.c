/* SPDX-License-Identifier: MIT */
/* mproc-ps's columns: their names (with ps's), headers, cells, JSON
 * fields and orderings. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ps.h"

static const struct {
  column_id_t id;
  const char *header;
  int text; /* left-aligned */
  /* The name -o shows in --help first, then ps's names for it. */
  const char *names[5];
} columns[NCOLUMNS] = {
    {COL_PID, "PID", 0, {"pid", "tgid", NULL}},
    {COL_PPID, "PPID", 0, {"ppid", NULL}},
    {COL_USER, "USER", 1, {"user", "euser", "uname", NULL}},
    {COL_STATE, "S", 1, {"s", "state", "stat", NULL}},
    {COL_PCPU, "%CPU", 0, {"%cpu", "pcpu", "cpu", NULL}},
    {COL_THREADS, "THR", 0, {"thr", "threads", "nlwp", "thcount", NULL}},
    {COL_RSS, "RSS(KiB)", 0, {"rss", "rssize", "rsz", NULL}},
    {COL_TIME, "TIME", 0, {"time", "cputime", NULL}},
    {COL_START, "START", 1, {"start", "stime", "lstart", NULL}},
    {COL_NAME, "NAME", 1, {"name", "comm", "ucomm", NULL}},
    {COL_COMMAND, "COMMAND", 1, {"command", "cmd", "args", NULL}},
};

const char column_names_help[] =
    "pid, ppid, user, s, %cpu, thr, rss, time, start, name, command";

int column_by_name(const char *name) {
  size_t c, k;
  for (c = 0; c < NCOLUMNS; c++)
    for (k = 0; columns[c].names[k] != NULL; k++)
      if (strcmp(name, columns[c].names[k]) == 0)
        return (int)columns[c].id;
  return -1;
}

const char *column_header(column_id_t c) { return columns[c].header; }

int column_is_text(column_id_t c) { return columns[c].text; }

static uint64_t cpu_us(const mproc_proc_info_t *p) {
  return p->user_time_us + p->system_time_us;
}

/* ps's %CPU: the CPU time used over the time since the process started,
 * in tenths of a percent (above 1000 for several busy threads); -1 when
 * not known. */
static long long cpu_permille(const mproc_proc_info_t *p,
                              const column_context_t *ctx) {
  int64_t elapsed_ms;
  if (!(p->valid & MPROC_PROC_HAS_CPU_TIMES) ||
      !(p->valid & MPROC_PROC_HAS_START_TIME))
    return -1;
  elapsed_ms = ctx->now_ms - p->start_time_ms;
  if (elapsed_ms <= 0)
    return 0;
  return (long long)(cpu_us(p) / (uint64_t)elapsed_ms);
}

static void cell_time(text_t *t, const mproc_proc_info_t *p) {
  unsigned long long s = (unsigned long long)(cpu_us(p) / 1000000u);
  unsigned long long days = s / 86400;
  unsigned h = (unsigned)(s / 3600 % 24), m = (unsigned)(s / 60 % 60),
           sec = (unsigned)(s % 60);
  if (days > 0)
    text_printf(t, "%llu-%02u:%02u:%02u", days, h, m, sec);
  else
    text_printf(t, "%02u:%02u:%02u", h, m, sec);
}

/* Local time: the hour for a process started in the last day, else the
 * date, as ps's START. */
static void cell_start(text_t *t, const mproc_proc_info_t *p,
                       const column_context_t *ctx) {
  time_t when = (time_t)(p->start_time_ms / 1000);
  struct tm *tm = localtime(&when);
  char buf[32];
  size_t len = 0;
  if (tm != NULL && ctx->now_ms - p->start_time_ms < 86400000)
    len = strftime(buf, sizeof buf, "%H:%M:%S", tm);
  else if (tm != NULL)
    len = strftime(buf, sizeof buf, "%Y-%m-%d", tm);
  if (len == 0)
    text_puts(t, "-");
  else
    text_puts(t, buf);
}

/* The command line; a process without one shows its name in brackets, as
 * ps does. */
static void cell_command(text_t *t, const mproc_proc_info_t *p) {
  size_t i;
  if (p->argc > 0) {
    for (i = 0; i < p->argc; i++) {
      if (i > 0)
        text_puts(t, " ");
      display_string(t, p->argv[i]);
    }
    return;
  }
  text_puts(t, "[");
  display_string(t, (p->valid & MPROC_PROC_HAS_NAME) ? p->name : "?");
  text_puts(t, "]");
  if (p->state == MPROC_PROC_ZOMBIE)
    text_puts(t, " <defunct>");
}

/* The bit of `valid` a column needs; 0 for one always known. */
static unsigned int needs(column_id_t c) {
  static const unsigned int bits[NCOLUMNS] = {0,
                                              MPROC_PROC_HAS_PPID,
                                              MPROC_PROC_HAS_USER,
                                              MPROC_PROC_HAS_STATE,
                                              MPROC_PROC_HAS_CPU_TIMES |
                                                  MPROC_PROC_HAS_START_TIME,
                                              MPROC_PROC_HAS_THREADS,
                                              MPROC_PROC_HAS_RSS,
                                              MPROC_PROC_HAS_CPU_TIMES,
                                              MPROC_PROC_HAS_START_TIME,
                                              MPROC_PROC_HAS_NAME,
                                              0};
  return bits[c];
}

void column_cell(text_t *t, column_id_t c, const mproc_proc_info_t *p,
                 const column_context_t *ctx) {
  long long permille;
  if ((p->valid & needs(c)) != needs(c) ||
      (c == COL_STATE && (p->state_code < 0x21 || p->state_code >= 0x7f))) {
    text_puts(t, "-");
    return;
  }
  switch (c) {
  case COL_PID:
    text_printf(t, "%lld", (long long)p->pid);
    break;
  case COL_PPID:
    text_printf(t, "%lld", (long long)p->ppid);
    break;
  case COL_USER:
    display_string(t, p->user);
    break;
  case COL_STATE:
    text_printf(t, "%c", p->state_code);
    break;
  case COL_PCPU:
    permille = cpu_permille(p, ctx);
    text_printf(t, "%lld.%lld", permille / 10, permille % 10);
    break;
  case COL_THREADS:
    text_printf(t, "%lu", (unsigned long)p->num_threads);
    break;
  case COL_RSS:
    text_printf(t, "%llu", (unsigned long long)(p->rss_bytes / 1024));
    break;
  case COL_TIME:
    cell_time(t, p);
    break;
  case COL_START:
    cell_start(t, p, ctx);
    break;
  case COL_NAME:
    display_string(t, p->name);
    break;
  case COL_COMMAND:
  case NCOLUMNS:
    cell_command(t, p);
    break;
  }
}

static void json_number(text_t *t, const char *key, int valid,
                        long long value) {
  text_printf(t, ",\"%s\":", key);
  if (valid)
    text_printf(t, "%lld", value);
  else
    text_puts(t, "null");
}

static void json_text(text_t *t, const char *key, int valid, const char *s) {
  text_printf(t, ",\"%s\":", key);
  if (valid)
    json_string(t, s);
  else
    text_puts(t, "null");
}

static void json_argv(text_t *t, const mproc_proc_info_t *p) {
  size_t i;
  text_puts(t, ",\"argv\":");
  if (!(p->valid & MPROC_PROC_HAS_ARGV)) {
    text_puts(t, "null");
    return;
  }
  text_puts(t, "[");
  for (i = 0; i < p->argc; i++) {
    if (i > 0)
      text_puts(t, ",");
    json_string(t, p->argv[i]);
  }
  text_puts(t, "]");
}

void column_json(text_t *t, column_id_t c, const mproc_proc_info_t *p,
                 const column_context_t *ctx) {
  unsigned int v = p->valid;
  int known = (v & needs(c)) == needs(c);
  char code[2] = {p->state_code, '\0'};
  long long permille;
  switch (c) {
  case COL_PID:
    break; /* every object starts with its pid */
  case COL_PPID:
    json_number(t, "ppid", known, (long long)p->ppid);
    break;
  case COL_USER:
    json_text(t, "user", known, p->user);
    break;
  case COL_STATE:
    json_text(t, "state", known, mproc_proc_state_name(p->state));
    json_text(t, "stat", known, code);
    break;
  case COL_PCPU:
    permille = known ? cpu_permille(p, ctx) : 0;
    text_puts(t, ",\"cpu_percent\":");
    if (known)
      text_printf(t, "%lld.%lld", permille / 10, permille % 10);
    else
      text_puts(t, "null");
    break;
  case COL_THREADS:
    json_number(t, "threads", known, (long long)p->num_threads);
    break;
  case COL_RSS:
    json_number(t, "rss_bytes", known, (long long)p->rss_bytes);
    break;
  case COL_TIME:
    json_number(t, "user_time_us", known, (long long)p->user_time_us);
    json_number(t, "system_time_us", known, (long long)p->system_time_us);
    break;
  case COL_START:
    json_number(t, "start_time_ms", known, (long long)p->start_time_ms);
    break;
  case COL_NAME:
    json_text(t, "name", known, p->name);
    break;
  case COL_COMMAND:
  case NCOLUMNS:
    json_argv(t, p);
    break;
  }
}

static int compare_ll(long long a, long long b) { return (a > b) - (a < b); }

static int compare_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

static int compare_text(const char *a, const char *b) {
  int c = strcmp(a, b);
  return (c > 0) - (c < 0);
}

int column_compare(column_id_t c, const mproc_proc_info_t *x,
                   const mproc_proc_info_t *y, const column_context_t *ctx) {
  int r = 0;
  switch (c) {
  case COL_PID:
    break;
  case COL_PPID:
    r = compare_ll((long long)x->ppid, (long long)y->ppid);
    break;
  case COL_USER:
    r = compare_text(x->user, y->user);
    break;
  case COL_STATE:
    r = compare_ll(x->state_code, y->state_code);
    break;
  case COL_PCPU:
    r = compare_ll(cpu_permille(x, ctx), cpu_permille(y, ctx));
    break;
  case COL_THREADS:
    r = compare_u64(x->num_threads, y->num_threads);
    break;
  case COL_RSS:
    r = compare_u64(x->rss_bytes, y->rss_bytes);
    break;
  case COL_TIME:
    r = compare_u64(cpu_us(x), cpu_us(y));
    break;
  case COL_START:
    r = compare_ll((long long)x->start_time_ms, (long long)y->start_time_ms);
    break;
  case COL_NAME:
    r = compare_text(x->name, y->name);
    break;
  case COL_COMMAND:
  case NCOLUMNS:
    r = compare_text(x->argc > 0 ? x->argv[0] : x->name,
                     y->argc > 0 ? y->argv[0] : y->name);
    break;
  }
  if (r == 0)
    r = compare_ll((long long)x->pid, (long long)y->pid);
  return r;
}
