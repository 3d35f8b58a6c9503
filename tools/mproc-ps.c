/* SPDX-License-Identifier: MIT */
/* mproc-ps: list processes as `ps` does, through mproc's pid inspection.
 *
 *   mproc-ps                    every process
 *   mproc-ps PID...             those processes
 *   mproc-ps --children PID     the children of PID (with --tree: its
 *                               whole subtree)
 *   -C NAME[,NAME...]           only the processes of that name
 *   -o COLUMN[,COLUMN...]       these columns, in this order
 *   --tree                      indent each process below its parent
 *   --json                      one JSON document instead of columns
 *   --sort [-]COLUMN            order by a column; '-' sorts descending
 *   -f, --full                  the command line instead of the name
 *   -w, --wide                  never cut lines to the terminal's width
 *
 * The options are described in full by --help and the man page
 * (tools/mproc-ps.1); the pieces are ps_text.c (escaping), ps_system.c
 * (terminal, clock), ps_columns.c, ps_tree.c and ps_output.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps.h"

/* The default columns (with -f, COMMAND instead of NAME). */
static const column_id_t default_columns[] = {COL_PID,  COL_PPID, COL_STATE,
                                              COL_USER, COL_PCPU, COL_THREADS,
                                              COL_RSS,  COL_TIME, COL_NAME};

typedef struct options {
  int tree;
  int json;
  int full;
  int wide;
  column_id_t sort;
  int descending;
  int have_children;
  mproc_pid_t children_of;
  mproc_pid_t *pids;
  size_t npids;
  /* -o: the chosen columns (0: the default ones). */
  column_id_t *columns;
  size_t ncolumns;
  /* -C: the names to keep (0: every process). */
  char **names;
  size_t nnames;
} options_t;

/* qsort has no context argument in C11; the tool sorts once per run. */
static column_id_t sort_key;
static int sort_descending;
static column_context_t sort_context;

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
  printf(
      "usage: mproc-ps [-C NAME[,NAME...]] [-o COLUMN[,COLUMN...]] [--tree]\n"
      "                [--json] [--sort [-]COLUMN] [-f] [-w]\n"
      "                [--children PID | PID...]\n"
      "       mproc-ps --help | --version\n"
      "List processes, as ps and tasklist do.\n"
      "\n"
      "  PID...               show these processes\n"
      "  --children PID       the children of PID; with --tree its subtree\n"
      "  -C NAME[,NAME...]    only processes named NAME (the system's name\n"
      "                       of the process, or the file name of its\n"
      "                       argv[0]%s)\n"
      "  -o COLUMN[,...]      show these columns, in this order (repeatable)\n"
      "  --tree               indent each process below its parent\n"
      "  --json               one JSON document (ASCII, \\u escapes)\n"
      "  --sort [-]COLUMN     order by a column; a leading '-' descends\n"
      "  -f, --full           the command line instead of the name\n"
      "  -w, --wide           do not cut lines to the terminal's width\n"
      "  -h, --help           this help\n"
      "  --version            the version of mproc-ps and of mproc\n"
      "\n"
      "Columns: %s.\n"
      "Default: pid, ppid, s, user, %%cpu, thr, rss, time, name.\n"
      "RSS(KiB) is resident memory in KiB; %%CPU the CPU time used over the\n"
      "time since the process started; TIME the CPU time, [DD-]HH:MM:SS.\n"
      "Names and command lines are shown with control, bidirectional and\n"
      "line-separator characters as '?'; --json keeps them, escaped.\n"
      "\n"
      "Exit status:\n"
      "  0  success\n"
      "  1  a PID given does not exist, -C matched no process, or the\n"
      "     processes could not be listed or the output written\n"
      "  2  bad usage (unknown option or column, invalid pid)\n",
#ifdef _WIN32
      ", with or without .exe",
#else
      "",
#endif
      column_names_help);
}

static void print_version(void) {
  printf("mproc-ps (mproc) %s\n", mproc_version());
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

/* Splits a comma-separated list in place; each piece goes to `add`. */
static void split_list(char *list, const char *option,
                       void (*add)(char *item, options_t *o), options_t *o) {
  char *piece = list, *comma;
  for (;;) {
    comma = strchr(piece, ',');
    if (comma != NULL)
      *comma = '\0';
    if (*piece == '\0')
      usage_error("empty item in the list of", option);
    add(piece, o);
    if (comma == NULL)
      break;
    piece = comma + 1;
  }
}

static void add_column(char *name, options_t *o) {
  int c = column_by_name(name);
  column_id_t *more;
  if (c < 0)
    usage_error("unknown column", name);
  more = (column_id_t *)realloc(o->columns,
                                (o->ncolumns + 1) * sizeof *o->columns);
  if (more == NULL)
    die_nomem();
  o->columns = more;
  o->columns[o->ncolumns++] = (column_id_t)c;
}

static void add_name(char *name, options_t *o) {
  char **more = (char **)realloc(o->names, (o->nnames + 1) * sizeof *o->names);
  if (more == NULL)
    die_nomem();
  o->names = more;
  o->names[o->nnames++] = name;
}

static void parse_sort(const char *arg, options_t *o) {
  const char *name = arg;
  int c;
  o->descending = 0;
  if (*name == '-') {
    o->descending = 1;
    name++;
  }
  c = column_by_name(name);
  if (c < 0)
    usage_error("unknown sort column", arg);
  o->sort = (column_id_t)c;
}

/* An option that takes a value: "-o LIST", "-oLIST" or "--sort VALUE".
 * Returns the value, or NULL when `a` is not that option. */
static char *option_value(const char *a, const char *short_name,
                          const char *long_name, int argc, char **argv,
                          int *i) {
  size_t n = short_name ? strlen(short_name) : 0;
  int whole = (short_name && strcmp(a, short_name) == 0) ||
              (long_name && strcmp(a, long_name) == 0);
  if (!whole && short_name && strncmp(a, short_name, n) == 0 && a[n] != '\0')
    return argv[*i] + n;
  if (!whole)
    return NULL;
  if (*i + 1 >= argc)
    usage_error("a value must follow", a);
  return argv[++*i];
}

static int parse_flag(const char *a, options_t *o) {
  if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
    print_help();
    exit(0);
  } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
    print_version();
    exit(0);
  } else if (strcmp(a, "--tree") == 0) {
    o->tree = 1;
  } else if (strcmp(a, "--json") == 0) {
    o->json = 1;
  } else if (strcmp(a, "-f") == 0 || strcmp(a, "--full") == 0) {
    o->full = 1;
  } else if (strcmp(a, "-w") == 0 || strcmp(a, "--wide") == 0) {
    o->wide = 1;
  } else {
    return 0;
  }
  return 1;
}

static void parse_args(int argc, char **argv, options_t *o) {
  int i, only_pids = 0;
  char *v;
  memset(o, 0, sizeof *o);
  o->sort = COL_PID;
  o->pids = (mproc_pid_t *)calloc((size_t)argc, sizeof *o->pids);
  if (o->pids == NULL)
    die_nomem();
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_pids || a[0] != '-' || a[1] == '\0') {
      if (parse_pid(a, &o->pids[o->npids]) != 0)
        usage_error("invalid pid", a);
      o->npids++;
    } else if (strcmp(a, "--") == 0) {
      only_pids = 1;
    } else if (parse_flag(a, o)) {
      continue;
    } else if ((v = option_value(a, "-o", "--format", argc, argv, &i))) {
      split_list(v, "columns", add_column, o);
    } else if ((v = option_value(a, "-C", NULL, argc, argv, &i))) {
      split_list(v, "names", add_name, o);
    } else if ((v = option_value(a, NULL, "--sort", argc, argv, &i))) {
      parse_sort(v, o);
    } else if ((v = option_value(a, NULL, "--children", argc, argv, &i))) {
      if (parse_pid(v, &o->children_of) != 0)
        usage_error("invalid pid", v);
      o->have_children = 1;
    } else {
      usage_error("unknown option", a);
    }
  }
  if (o->have_children && o->npids > 0)
    usage_error("PIDs and --children cannot be combined", NULL);
}

/* ---- gathering, selecting and ordering ---------------------------------- */

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

/* The file name of a path: what follows its last '/' (or '\\'). */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *back = strrchr(path, '\\');
  if (back != NULL && (slash == NULL || back > slash))
    slash = back;
  return slash ? slash + 1 : path;
}

/* Whether `have` is the name `want`: exactly; on Windows also as
 * "want.exe", in any case, as Windows compares file names. */
static int same_name(const char *have, const char *want) {
#ifdef _WIN32
  size_t n = strlen(want);
  return _stricmp(have, want) == 0 ||
         (_strnicmp(have, want, n) == 0 && _stricmp(have + n, ".exe") == 0);
#else
  return strcmp(have, want) == 0;
#endif
}

static int matches_name(const mproc_proc_info_t *p, const options_t *o) {
  size_t k;
  for (k = 0; k < o->nnames; k++) {
    if ((p->valid & MPROC_PROC_HAS_NAME) && same_name(p->name, o->names[k]))
      return 1;
    if (p->argc > 0 && same_name(base_name(p->argv[0]), o->names[k]))
      return 1;
  }
  return 0;
}

/* -C: keeps the processes of the names given, in place. */
static size_t select_names(mproc_proc_info_t *list, size_t n,
                           const options_t *o) {
  size_t i, kept = 0;
  if (o->nnames == 0)
    return n;
  for (i = 0; i < n; i++) {
    if (matches_name(&list[i], o)) {
      list[kept++] = list[i];
    } else {
      mproc_proc_info_free(&list[i]);
    }
  }
  return kept;
}

static int compare_info(const void *a, const void *b) {
  int c = column_compare(sort_key, (const mproc_proc_info_t *)a,
                         (const mproc_proc_info_t *)b, &sort_context);
  return sort_descending ? -c : c;
}

static void print_listing(mproc_proc_info_t *list, size_t n, const options_t *o,
                          const layout_t *l) {
  row_t *rows;
  size_t i;
  sort_key = o->sort;
  sort_descending = o->descending;
  sort_context = l->ctx;
  if (n > 0)
    qsort(list, n, sizeof *list, compare_info);
  if (o->tree) {
    rows = tree_rows(list, n);
  } else {
    rows = (row_t *)alloc_array(n, sizeof *rows);
    for (i = 0; i < n; i++) {
      rows[i].index = i;
      rows[i].depth = 0;
    }
  }
  if (o->json)
    print_json(list, rows, n, l);
  else
    print_table(list, rows, n, l);
  free(rows);
}

/* The columns: -o's, or the default ones; -f shows the command line
 * where the name would be. */
static column_id_t *choose_columns(const options_t *o, size_t *count) {
  size_t n = o->ncolumns ? o->ncolumns
                         : sizeof default_columns / sizeof default_columns[0];
  column_id_t *columns = (column_id_t *)alloc_array(n, sizeof *columns);
  size_t k;
  memcpy(columns, o->ncolumns ? o->columns : default_columns,
         n * sizeof *columns);
  for (k = 0; k < n && o->full; k++)
    if (columns[k] == COL_NAME)
      columns[k] = COL_COMMAND;
  *count = n;
  return columns;
}

int main(int argc, char **argv) {
  mproc_proc_info_t *list = NULL;
  size_t n = 0;
  unsigned int code_page;
  column_id_t *columns;
  layout_t l;
  options_t o;
  int status, listed;

  parse_args(argc, argv, &o);
  status = gather(&o, &list, &n);
  /* A listing that failed prints nothing; one that found nothing (no
   * children, no match) is still a listing, with its header. */
  listed = list != NULL || status == 0;
  if (o.nnames > 0) {
    n = select_names(list, n, &o);
    if (n == 0)
      status = EXIT_MISSING; /* as pgrep and ps -C: nothing matched */
  }

  memset(&l, 0, sizeof l);
  columns = choose_columns(&o, &l.ncolumns);
  l.columns = columns;
  l.all_fields = o.ncolumns == 0;
  l.tree = o.tree;
  l.width = output_width(o.wide);
  l.ctx.now_ms = wall_clock_ms();

  code_page = console_utf8_begin();
  if (listed)
    print_listing(list, n, &o, &l);
  mproc_proc_list_free(list, n);
  free(o.pids);
  free(o.columns);
  free(o.names);
  free(columns);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "mproc-ps: write error: %s\n", strerror(errno));
    status = EXIT_MISSING;
  }
  console_utf8_end(code_page);
  return status;
}
