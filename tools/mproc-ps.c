/* SPDX-License-Identifier: MIT */
/* mproc-ps: list processes as `ps` does, through mproc's pid inspection.
 *
 *   mproc-ps                    every process
 *   mproc-ps PID...             those processes
 *   mproc-ps --children PID     the children of PID (with --tree: its
 *                               whole subtree)
 *   --tree                      indent each process below its parent
 *   --json                      one JSON document instead of columns
 *   --sort [-]FIELD             pid (default), ppid, name, state, rss,
 *                               threads, time, start; '-' sorts descending
 *   -f, --full                  the command line instead of the name
 *   -w, --wide                  never cut lines to the terminal's width
 *
 * Columns fit the terminal: $COLUMNS when set, else the width of the terminal
 * (on Windows, the console window) on standard output, else (a pipe, a
 * file) lines are not cut. Exit status:
 * 0; 1 when a named pid does not exist or the system refused the listing;
 * 2 for bad usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <sys/ioctl.h>
#include <unistd.h>
#endif

#include "mproc.h"

#define EXIT_MISSING 1
#define EXIT_USAGE 2

typedef enum sort_field {
  SORT_PID,
  SORT_PPID,
  SORT_NAME,
  SORT_STATE,
  SORT_RSS,
  SORT_THREADS,
  SORT_TIME,
  SORT_START
} sort_field_t;

static const struct {
  const char *name;
  sort_field_t field;
} sort_names[] = {{"pid", SORT_PID},   {"ppid", SORT_PPID},
                  {"name", SORT_NAME}, {"state", SORT_STATE},
                  {"rss", SORT_RSS},   {"threads", SORT_THREADS},
                  {"time", SORT_TIME}, {"start", SORT_START}};

typedef struct options {
  int tree;
  int json;
  int full;
  int wide;
  sort_field_t sort;
  int descending;
  int have_children;
  mproc_pid_t children_of;
  mproc_pid_t *pids;
  size_t npids;
} options_t;

/* qsort has no context argument in C11; the tool sorts once per run. */
static sort_field_t sort_key;
static int sort_descending;

/* A growing byte string. Allocation failure ends the tool: it has nothing
 * useful to print with half its output. */
typedef struct text {
  char *data;
  size_t len;
  size_t cap;
} text_t;

static void die_nomem(void) {
  fputs("mproc-ps: out of memory\n", stderr);
  exit(EXIT_MISSING);
}

static void text_put(text_t *t, const char *bytes, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 64;
    char *bigger;
    while (cap < t->len + n + 1)
      cap *= 2;
    bigger = (char *)realloc(t->data, cap);
    if (bigger == NULL)
      die_nomem();
    t->data = bigger;
    t->cap = cap;
  }
  memcpy(t->data + t->len, bytes, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void text_puts(text_t *t, const char *s) { text_put(t, s, strlen(s)); }

/* Lets the compiler check text_printf's formats as it checks printf's. */
#if defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PS_PRINTF_LIKE(fmt, args)
#endif

static void text_printf(text_t *t, const char *fmt, ...) PS_PRINTF_LIKE(2, 3);

/* Appends a short formatted piece (a number, an escape). */
static void text_printf(text_t *t, const char *fmt, ...) {
  char buf[128];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0)
    text_put(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* Decodes one UTF-8 sequence strictly (no overlong forms, no surrogates,
 * nothing past U+10FFFF). Returns its length, or 0 for a byte that does not
 * start a valid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  size_t len, i;
  uint32_t c;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if (s[0] >= 0xc2 && s[0] <= 0xdf) {
    len = 2;
    c = s[0] & 0x1fu;
  } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
    len = 3;
    c = s[0] & 0x0fu;
  } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    len = 4;
    c = s[0] & 0x07u;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (s[i] & 0x3fu);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
      (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

/* A JSON string. Non-ASCII characters are written as \u escapes, so the
 * document is plain ASCII whatever the terminal's encoding; a byte that is
 * not part of valid UTF-8 becomes U+FFFD, as JSON text must be Unicode. */
static void json_string(text_t *t, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  text_puts(t, "\"");
  while (n > 0) {
    uint32_t cp = 0;
    size_t len = utf8_decode(p, n, &cp);
    if (len == 0) {
      cp = 0xfffd;
      len = 1;
    }
    if (cp == '"' || cp == '\\') {
      char esc[2] = {'\\', (char)cp};
      text_put(t, esc, 2);
    } else if (cp == '\n') {
      text_puts(t, "\\n");
    } else if (cp == '\t') {
      text_puts(t, "\\t");
    } else if (cp == '\r') {
      text_puts(t, "\\r");
    } else if (cp >= 0x20 && cp < 0x7f) {
      char c = (char)cp;
      text_put(t, &c, 1);
    } else if (cp < 0x10000) {
      text_printf(t, "\\u%04x", (unsigned)cp);
    } else {
      cp -= 0x10000;
      text_printf(t, "\\u%04x\\u%04x", (unsigned)(0xd800 + (cp >> 10)),
                  (unsigned)(0xdc00 + (cp & 0x3ff)));
    }
    p += len;
    n -= len;
  }
  text_puts(t, "\"");
}

/* Text for a terminal: control characters and bytes that are not UTF-8
 * become '?', as ps does, so a name cannot move the cursor or corrupt the
 * columns. */
static void display_string(text_t *t, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n > 0) {
    uint32_t cp = 0;
    size_t len = utf8_decode(p, n, &cp);
    if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
      text_puts(t, "?");
      len = len ? len : 1;
    } else {
      text_put(t, (const char *)p, len);
    }
    p += len;
    n -= len;
  }
}

/* Cuts a line to `width` characters (code points: the tool does not try to
 * know which characters a terminal draws double-wide). */
static size_t cut_to_width(const char *s, size_t len, size_t width) {
  size_t i = 0, chars = 0;
  while (i < len && chars < width) {
    i++;
    while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
      i++;
    chars++;
  }
  return i;
}

/* The width of the terminal on standard output; 0 when it is not one (a
 * pipe, a file) or does not say. */
static size_t terminal_width(void) {
#ifdef _WIN32
  CONSOLE_SCREEN_BUFFER_INFO csbi;
  HANDLE out = (HANDLE)_get_osfhandle(_fileno(stdout));
  /* The visible window, not the scroll-back buffer, which is wider. */
  if (_isatty(_fileno(stdout)) && out != INVALID_HANDLE_VALUE &&
      GetConsoleScreenBufferInfo(out, &csbi) &&
      csbi.srWindow.Right >= csbi.srWindow.Left)
    return (size_t)(csbi.srWindow.Right - csbi.srWindow.Left + 1);
  return 0;
#else
  struct winsize ws;
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
      ws.ws_col > 0)
    return ws.ws_col;
  return 0;
#endif
}

/* Names and command lines are UTF-8 (the Windows backend converts them). A
 * Windows console is switched to UTF-8 output while the tool prints, and
 * back afterwards; the code page to restore is returned (0: none). */
static unsigned int console_utf8_begin(void) {
#ifdef _WIN32
  UINT previous = GetConsoleOutputCP();
  if (_isatty(_fileno(stdout)) && previous != CP_UTF8 && previous != 0 &&
      SetConsoleOutputCP(CP_UTF8))
    return previous;
#endif
  return 0;
}

static void console_utf8_end(unsigned int previous) {
#ifdef _WIN32
  if (previous != 0)
    SetConsoleOutputCP(previous);
#else
  (void)previous;
#endif
}

/* 0 means "do not cut". */
static size_t output_width(int wide) {
  const char *columns = getenv("COLUMNS");
  if (wide)
    return 0;
  if (columns != NULL && *columns != '\0') {
    char *end;
    long v = strtol(columns, &end, 10);
    if (*end == '\0' && v > 0)
      return (size_t)v;
  }
  return terminal_width();
}

/* ---- command line ----------------------------------------------------- */

/* One line on stderr, exit status 2: "mproc-ps: WHAT 'ARG' (try ...)". */
static void usage_error(const char *what, const char *arg) {
  if (arg != NULL)
    fprintf(stderr, "mproc-ps: %s '%s' (try 'mproc-ps --help')\n", what, arg);
  else
    fprintf(stderr, "mproc-ps: %s (try 'mproc-ps --help')\n", what);
  exit(EXIT_USAGE);
}

static void print_help(void) {
  puts("usage: mproc-ps [--children PID] [--tree] [--json] [--sort [-]FIELD]\n"
       "                [-f|--full] [-w|--wide] [PID...]\n"
       "  PID...          show these processes (exit 1 if one does not exist)\n"
       "  --children PID  the children of PID; with --tree its whole subtree\n"
       "  --tree          indent each process below its parent\n"
       "  --json          one JSON document (ASCII, \\u escapes)\n"
       "  --sort FIELD    pid, ppid, name, state, rss, threads, time, start;\n"
       "                  a leading '-' sorts in descending order\n"
       "  -f, --full      show the command line instead of the name\n"
       "  -w, --wide      do not cut lines to the terminal's width");
}

static int parse_pid(const char *s, mproc_pid_t *out) {
  long long v = 0;
  const char *c = s;
  if (*c == '\0')
    return -1;
  for (; *c; c++) {
    if (*c < '0' || *c > '9' || v > (INT64_MAX - 9) / 10)
      return -1;
    v = v * 10 + (*c - '0');
  }
  *out = (mproc_pid_t)v;
  return 0;
}

static void parse_sort(const char *arg, options_t *o) {
  const char *name = arg;
  size_t i;
  o->descending = 0;
  if (*name == '-') {
    o->descending = 1;
    name++;
  }
  for (i = 0; i < sizeof sort_names / sizeof sort_names[0]; i++) {
    if (strcmp(name, sort_names[i].name) == 0) {
      o->sort = sort_names[i].field;
      return;
    }
  }
  usage_error("unknown sort field", arg);
}

static void parse_args(int argc, char **argv, options_t *o) {
  int i, only_pids = 0;
  memset(o, 0, sizeof *o);
  o->pids = (mproc_pid_t *)calloc((size_t)argc, sizeof *o->pids);
  if (o->pids == NULL)
    die_nomem();
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pids && a[0] == '-' && a[1] != '\0') {
      if (strcmp(a, "--") == 0) {
        only_pids = 1;
      } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        print_help();
        exit(0);
      } else if (strcmp(a, "--tree") == 0) {
        o->tree = 1;
      } else if (strcmp(a, "--json") == 0) {
        o->json = 1;
      } else if (strcmp(a, "-f") == 0 || strcmp(a, "--full") == 0) {
        o->full = 1;
      } else if (strcmp(a, "-w") == 0 || strcmp(a, "--wide") == 0) {
        o->wide = 1;
      } else if (strcmp(a, "--sort") == 0 || strcmp(a, "--children") == 0) {
        if (i + 1 >= argc)
          usage_error("a value must follow", a);
        if (strcmp(a, "--sort") == 0) {
          parse_sort(argv[++i], o);
        } else {
          if (parse_pid(argv[++i], &o->children_of) != 0)
            usage_error("invalid pid", argv[i]);
          o->have_children = 1;
        }
      } else {
        usage_error("unknown option", a);
      }
    } else {
      if (parse_pid(a, &o->pids[o->npids]) != 0)
        usage_error("invalid pid", a);
      o->npids++;
    }
  }
  if (o->have_children && o->npids > 0)
    usage_error("PIDs and --children cannot be combined", NULL);
}

/* ---- gathering and ordering --------------------------------------------- */

static uint64_t cpu_us(const mproc_proc_info_t *p) {
  return p->user_time_us + p->system_time_us;
}

static int compare_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

static int compare_info(const void *a, const void *b) {
  const mproc_proc_info_t *x = (const mproc_proc_info_t *)a;
  const mproc_proc_info_t *y = (const mproc_proc_info_t *)b;
  int c = 0;
  switch (sort_key) {
  case SORT_PID:
    break;
  case SORT_PPID:
    c = (x->ppid > y->ppid) - (x->ppid < y->ppid);
    break;
  case SORT_NAME:
    c = strcmp(x->name, y->name);
    c = (c > 0) - (c < 0);
    break;
  case SORT_STATE:
    c = (x->state_code > y->state_code) - (x->state_code < y->state_code);
    break;
  case SORT_RSS:
    c = compare_u64(x->rss_bytes, y->rss_bytes);
    break;
  case SORT_THREADS:
    c = compare_u64(x->num_threads, y->num_threads);
    break;
  case SORT_TIME:
    c = compare_u64(cpu_us(x), cpu_us(y));
    break;
  case SORT_START:
    c = (x->start_time_ms > y->start_time_ms) -
        (x->start_time_ms < y->start_time_ms);
    break;
  }
  if (c == 0)
    c = (x->pid > y->pid) - (x->pid < y->pid);
  return sort_descending ? -c : c;
}

/* Reads the processes the options name. Returns the exit status so far. */
static int gather(const options_t *o, mproc_proc_info_t **out, size_t *count) {
  size_t i, j, n = 0;
  mproc_proc_info_t *list;
  int status = 0, rc;

  if (o->npids == 0) {
    mproc_proc_scope_t scope = MPROC_PROC_ALL;
    if (o->have_children)
      scope = o->tree ? MPROC_PROC_SUBTREE : MPROC_PROC_CHILDREN;
    rc = mproc_proc_list(scope, o->children_of, out, count);
    if (rc == MPROC_ESRCH) {
      fprintf(stderr, "mproc-ps: no such process: %lld\n",
              (long long)o->children_of);
      return EXIT_MISSING;
    }
    if (rc != 0) {
      fprintf(stderr, "mproc-ps: cannot list processes: %s\n",
              mproc_strerror(rc));
      return EXIT_MISSING;
    }
    return 0;
  }

  list = (mproc_proc_info_t *)calloc(o->npids, sizeof *list);
  if (list == NULL)
    die_nomem();
  for (i = 0; i < o->npids; i++) {
    int seen = 0;
    for (j = 0; j < n; j++)
      seen |= list[j].pid == o->pids[i];
    if (seen)
      continue;
    rc = mproc_proc_info(o->pids[i], &list[n]);
    if (rc == 0 || rc == MPROC_EPERM) {
      n++;
    } else {
      fprintf(stderr, "mproc-ps: %s: %lld\n",
              rc == MPROC_ESRCH ? "no such process" : mproc_strerror(rc),
              (long long)o->pids[i]);
      status = EXIT_MISSING;
    }
  }
  *out = list;
  *count = n;
  return status;
}

/* One output row: a process and its depth in the tree (0 without --tree). */
typedef struct row {
  size_t index;
  size_t depth;
} row_t;

/* qsort's comparison for indices into this list, ordered by pid. */
static const mproc_proc_info_t *pid_order_list;

static int compare_index_by_pid(const void *a, const void *b) {
  mproc_pid_t x = pid_order_list[*(const size_t *)a].pid;
  mproc_pid_t y = pid_order_list[*(const size_t *)b].pid;
  return (x > y) - (x < y);
}

/* The index of `pid` in the list, through `by_pid` (indices sorted by pid);
 * n when it is not listed. */
static size_t find_pid(const mproc_proc_info_t *list, const size_t *by_pid,
                       size_t n, mproc_pid_t pid) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (list[by_pid[mid]].pid < pid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && list[by_pid[lo]].pid == pid ? by_pid[lo] : n;
}

static void *alloc_array(size_t n, size_t size) {
  void *p = calloc(n + 1, size);
  if (p == NULL)
    die_nomem();
  return p;
}

/* Orders rows as a forest: each process below its parent, siblings in the
 * list's (sorted) order; a process whose parent is not listed is a root.
 * Pids read one at a time can, rarely, show a cycle of parents that no root
 * reaches; a second pass prints those too, each process once. */
static row_t *tree_rows(const mproc_proc_info_t *list, size_t n) {
  size_t *by_pid = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *parent = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *first_child = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *last_child = (size_t *)alloc_array(n, sizeof(size_t));
  size_t *next_sibling = (size_t *)alloc_array(n, sizeof(size_t));
  unsigned char *seen = (unsigned char *)alloc_array(n, 1);
  row_t *rows = (row_t *)alloc_array(n, sizeof(row_t));
  /* A process is pushed once as a child and at most once as a start. */
  row_t *stack = (row_t *)alloc_array(2 * n, sizeof(row_t));
  size_t i, nrows = 0;
  int pass;

  for (i = 0; i < n; i++)
    by_pid[i] = i;
  pid_order_list = list;
  qsort(by_pid, n, sizeof *by_pid, compare_index_by_pid);
  for (i = 0; i < n; i++) {
    first_child[i] = last_child[i] = next_sibling[i] = parent[i] = n;
    if ((list[i].valid & MPROC_PROC_HAS_PPID) && list[i].ppid != list[i].pid)
      parent[i] = find_pid(list, by_pid, n, list[i].ppid);
  }
  /* Appending in list order keeps siblings in the sorted order. */
  for (i = 0; i < n; i++) {
    size_t p = parent[i];
    if (p == n)
      continue;
    if (first_child[p] == n)
      first_child[p] = i;
    else
      next_sibling[last_child[p]] = i;
    last_child[p] = i;
  }

  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < n; i++) {
      size_t top = 0;
      if (seen[i] || (pass == 0 && parent[i] != n))
        continue;
      stack[top].index = i;
      stack[top].depth = 0;
      top++;
      while (top > 0) {
        row_t r = stack[--top];
        size_t c, lo = top, hi;
        if (seen[r.index])
          continue;
        seen[r.index] = 1;
        rows[nrows++] = r;
        for (c = first_child[r.index]; c != n; c = next_sibling[c]) {
          if (seen[c])
            continue;
          stack[top].index = c;
          stack[top].depth = r.depth + 1;
          top++;
        }
        /* Reversed, so that the first sibling comes off the stack first. */
        for (hi = top; hi > lo + 1; lo++, hi--) {
          row_t t = stack[lo];
          stack[lo] = stack[hi - 1];
          stack[hi - 1] = t;
        }
      }
    }
  }

  free(by_pid);
  free(parent);
  free(first_child);
  free(last_child);
  free(next_sibling);
  free(seen);
  free(stack);
  return rows;
}

/* ---- output -------------------------------------------------------------- */

static void json_number_or_null(text_t *t, const char *key, int valid,
                                long long value) {
  text_printf(t, ",\"%s\":", key);
  if (valid)
    text_printf(t, "%lld", value);
  else
    text_puts(t, "null");
}

/* A process as a JSON object, without its closing brace. Fields that could
 * not be read are null. */
static void json_object(text_t *t, const mproc_proc_info_t *p) {
  unsigned int v = p->valid;
  char code[2] = {p->state_code, '\0'};
  size_t i;

  text_printf(t, "{\"pid\":%lld", (long long)p->pid);
  json_number_or_null(t, "ppid", v & MPROC_PROC_HAS_PPID, (long long)p->ppid);
  text_puts(t, ",\"name\":");
  if (v & MPROC_PROC_HAS_NAME)
    json_string(t, p->name);
  else
    text_puts(t, "null");
  text_puts(t, ",\"state\":");
  if (v & MPROC_PROC_HAS_STATE) {
    json_string(t, mproc_proc_state_name(p->state));
    text_puts(t, ",\"stat\":");
    json_string(t, code);
  } else {
    text_puts(t, "null,\"stat\":null");
  }
  json_number_or_null(t, "start_time_ms", v & MPROC_PROC_HAS_START_TIME,
                      (long long)p->start_time_ms);
  json_number_or_null(t, "rss_bytes", v & MPROC_PROC_HAS_RSS,
                      (long long)p->rss_bytes);
  json_number_or_null(t, "user_time_us", v & MPROC_PROC_HAS_CPU_TIMES,
                      (long long)p->user_time_us);
  json_number_or_null(t, "system_time_us", v & MPROC_PROC_HAS_CPU_TIMES,
                      (long long)p->system_time_us);
  json_number_or_null(t, "threads", v & MPROC_PROC_HAS_THREADS,
                      (long long)p->num_threads);
  text_puts(t, ",\"argv\":");
  if (v & MPROC_PROC_HAS_ARGV) {
    text_puts(t, "[");
    for (i = 0; i < p->argc; i++) {
      if (i > 0)
        text_puts(t, ",");
      json_string(t, p->argv[i]);
    }
    text_puts(t, "]");
  } else {
    text_puts(t, "null");
  }
}

/* Flat: an array of objects. With --tree, each object has a "children"
 * array holding the objects of its children, in the same form. */
static void print_json(const mproc_proc_info_t *list, const row_t *rows,
                       size_t n, int tree) {
  text_t t = {NULL, 0, 0};
  unsigned char *first = (unsigned char *)alloc_array(n + 1, 1);
  size_t i, level = 0;

  text_puts(&t, "[");
  first[0] = 1;
  for (i = 0; i < n; i++) {
    size_t d = tree ? rows[i].depth : 0;
    while (level > d) {
      text_puts(&t, "]}");
      level--;
    }
    if (!first[d])
      text_puts(&t, ",");
    first[d] = 0;
    text_puts(&t, "\n");
    json_object(&t, &list[rows[i].index]);
    if (tree) {
      text_puts(&t, ",\"children\":[");
      level = d + 1;
      first[level] = 1;
    } else {
      text_puts(&t, "}");
    }
  }
  while (level > 0) {
    text_puts(&t, "]}");
    level--;
  }
  text_puts(&t, "\n]\n");
  fwrite(t.data, 1, t.len, stdout);
  free(t.data);
  free(first);
}

enum { COL_PID, COL_PPID, COL_STATE, COL_THREADS, COL_RSS, COL_TIME, NCOLS };

static void format_cells(const mproc_proc_info_t *p, char cells[NCOLS][32]) {
  unsigned int v = p->valid;
  int i;
  for (i = 0; i < NCOLS; i++)
    strcpy(cells[i], "-");
  snprintf(cells[COL_PID], 32, "%lld", (long long)p->pid);
  if (v & MPROC_PROC_HAS_PPID)
    snprintf(cells[COL_PPID], 32, "%lld", (long long)p->ppid);
  if ((v & MPROC_PROC_HAS_STATE) && p->state_code >= 0x21 &&
      p->state_code < 0x7f)
    snprintf(cells[COL_STATE], 32, "%c", p->state_code);
  if (v & MPROC_PROC_HAS_THREADS)
    snprintf(cells[COL_THREADS], 32, "%lu", (unsigned long)p->num_threads);
  if (v & MPROC_PROC_HAS_RSS)
    snprintf(cells[COL_RSS], 32, "%llu",
             (unsigned long long)(p->rss_bytes / 1024));
  if (v & MPROC_PROC_HAS_CPU_TIMES) {
    unsigned long long s = (unsigned long long)(cpu_us(p) / 1000000u);
    unsigned long long days = s / 86400;
    unsigned h = (unsigned)(s / 3600 % 24), m = (unsigned)(s / 60 % 60),
             sec = (unsigned)(s % 60);
    if (days > 0)
      snprintf(cells[COL_TIME], 32, "%llu-%02u:%02u:%02u", days, h, m, sec);
    else
      snprintf(cells[COL_TIME], 32, "%02u:%02u:%02u", h, m, sec);
  }
}

/* The last column: the name, or with --full the command line; a process
 * without one shows its name in brackets, as ps does. */
static void last_cell(text_t *t, const mproc_proc_info_t *p, int full) {
  size_t i;
  if (full && p->argc > 0) {
    for (i = 0; i < p->argc; i++) {
      if (i > 0)
        text_puts(t, " ");
      display_string(t, p->argv[i]);
    }
    return;
  }
  if (full)
    text_puts(t, "[");
  display_string(t, (p->valid & MPROC_PROC_HAS_NAME) ? p->name : "?");
  if (full) {
    text_puts(t, "]");
    if (p->state == MPROC_PROC_ZOMBIE)
      text_puts(t, " <defunct>");
  }
}

static void emit_line(text_t *line, size_t width) {
  size_t len = line->len;
  if (width > 0)
    len = cut_to_width(line->data, len, width);
  while (len > 0 && line->data[len - 1] == ' ')
    len--;
  fwrite(line->data, 1, len, stdout);
  fputc('\n', stdout);
  line->len = 0;
}

static void print_table(const mproc_proc_info_t *list, const row_t *rows,
                        size_t n, const options_t *o) {
  static const char *const headers[NCOLS] = {"PID", "PPID", "S",
                                             "THR", "RSS",  "TIME"};
  size_t widths[NCOLS], width = output_width(o->wide), i, d;
  char cells[NCOLS][32];
  text_t line = {NULL, 0, 0};
  int c;

  for (c = 0; c < NCOLS; c++)
    widths[c] = strlen(headers[c]);
  for (i = 0; i < n; i++) {
    format_cells(&list[rows[i].index], cells);
    for (c = 0; c < NCOLS; c++)
      if (strlen(cells[c]) > widths[c])
        widths[c] = strlen(cells[c]);
  }

  for (c = 0; c < NCOLS; c++)
    text_printf(&line, c == COL_STATE ? "%-*s " : "%*s ", (int)widths[c],
                headers[c]);
  text_puts(&line, o->full ? "COMMAND" : "NAME");
  emit_line(&line, width);

  for (i = 0; i < n; i++) {
    const mproc_proc_info_t *p = &list[rows[i].index];
    format_cells(p, cells);
    for (c = 0; c < NCOLS; c++)
      text_printf(&line, c == COL_STATE ? "%-*s " : "%*s ", (int)widths[c],
                  cells[c]);
    /* ps's forest marks: two spaces a level, then "\_ " before a child. */
    for (d = 1; d < rows[i].depth; d++)
      text_puts(&line, "  ");
    if (rows[i].depth > 0)
      text_puts(&line, "\\_ ");
    last_cell(&line, p, o->full);
    emit_line(&line, width);
  }
  free(line.data);
}

int main(int argc, char **argv) {
  mproc_proc_info_t *list = NULL;
  size_t n = 0, i;
  row_t *rows;
  unsigned int code_page;
  options_t o;
  int status;

  parse_args(argc, argv, &o);
  status = gather(&o, &list, &n);
  code_page = console_utf8_begin();
  if (list != NULL) {
    sort_key = o.sort;
    sort_descending = o.descending;
    qsort(list, n, sizeof *list, compare_info);
    if (o.tree) {
      rows = tree_rows(list, n);
    } else {
      rows = (row_t *)alloc_array(n, sizeof *rows);
      for (i = 0; i < n; i++) {
        rows[i].index = i;
        rows[i].depth = 0;
      }
    }
    if (o.json)
      print_json(list, rows, n, o.tree);
    else
      print_table(list, rows, n, &o);
    free(rows);
  } else if (status == 0) {
    /* Nothing matched (no children): an empty listing is still a listing. */
    if (o.json)
      fputs("[\n]\n", stdout);
    else
      print_table(NULL, NULL, 0, &o);
  }
  mproc_proc_list_free(list, n);
  free(o.pids);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "mproc-ps: write error: %s\n", strerror(errno));
    status = EXIT_MISSING;
  }
  console_utf8_end(code_page);
  return status;
}
