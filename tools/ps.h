/* SPDX-License-Identifier: MIT */
/* mproc-ps's pieces: the text it builds, the columns it knows, the tree
 * it orders, and what it asks of the system. */
#ifndef MPROC_PS_H
#define MPROC_PS_H

#include <stddef.h>
#include <stdint.h>

#include "mproc.h"

/* Exit statuses (also in --help and the man page). */
#define EXIT_MISSING 1
#define EXIT_USAGE 2

/* Lets the compiler check text_printf's formats as it checks printf's. */
#if defined(__GNUC__) || defined(__clang__)
#define PS_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PS_PRINTF_LIKE(fmt, args)
#endif

/* ---- ps_text.c: growing strings, UTF-8, escapes ---------------------- */

/* A growing byte string. Allocation failure ends the tool: it has nothing
 * useful to print with half its output. */
typedef struct text {
  char *data;
  size_t len;
  size_t cap;
} text_t;

void die_nomem(void);
void *alloc_array(size_t n, size_t size);
void text_put(text_t *t, const char *bytes, size_t n);
void text_puts(text_t *t, const char *s);
void text_printf(text_t *t, const char *fmt, ...) PS_PRINTF_LIKE(2, 3);
/* A JSON string literal, in plain ASCII (\u escapes). */
void json_string(text_t *t, const char *s);
/* Text for a terminal, each character that could move the cursor or
 * reorder the line shown as '?'. */
void display_string(text_t *t, const char *s);
/* The bytes of the first `width` characters of s[0..len). */
size_t cut_to_width(const char *s, size_t len, size_t width);
/* The number of characters (code points) of s[0..len). */
size_t text_width(const char *s, size_t len);

/* ---- ps_system.c: the terminal and the clock ------------------------- */

/* The width to cut lines to; 0: do not cut. */
size_t output_width(int wide);
/* Switches a Windows console to UTF-8 output; returns what to restore. */
unsigned int console_utf8_begin(void);
void console_utf8_end(unsigned int previous);
/* The wall clock: milliseconds since 1970-01-01 UTC. */
int64_t wall_clock_ms(void);

/* ---- ps_columns.c: what a column shows ------------------------------- */

typedef enum column_id {
  COL_PID,
  COL_PPID,
  COL_USER,
  COL_STATE,
  COL_PCPU,
  COL_THREADS,
  COL_RSS,
  COL_TIME,
  COL_START,
  COL_NAME,
  COL_COMMAND,
  NCOLUMNS
} column_id_t;

/* What formatting needs beyond the record: the time now, for %CPU. */
typedef struct column_context {
  int64_t now_ms;
} column_context_t;

/* The column a name of -o or --sort stands for (ps's names are accepted
 * too); -1 for none. */
int column_by_name(const char *name);
const char *column_header(column_id_t c);
/* Left-aligned (text) rather than right-aligned (numbers). */
int column_is_text(column_id_t c);
/* Appends the column's cell for p ('-' when not known). */
void column_cell(text_t *t, column_id_t c, const mproc_proc_info_t *p,
                 const column_context_t *ctx);
/* Appends the column's members of a JSON object (",\"key\":value"...). */
void column_json(text_t *t, column_id_t c, const mproc_proc_info_t *p,
                 const column_context_t *ctx);
/* Orders two records by the column, then by pid. */
int column_compare(column_id_t c, const mproc_proc_info_t *x,
                   const mproc_proc_info_t *y, const column_context_t *ctx);
/* The names -o accepts, for --help and error messages. */
extern const char column_names_help[];

/* ---- ps_tree.c: rows in tree order ----------------------------------- */

/* One output row: a process and its depth in the tree (0 without --tree). */
typedef struct row {
  size_t index;
  size_t depth;
} row_t;

/* Rows as a forest: each process below its parent, in list order. */
row_t *tree_rows(const mproc_proc_info_t *list, size_t n);

/* ---- ps_output.c: the table and the JSON document -------------------- */

typedef struct layout {
  const column_id_t *columns;
  size_t ncolumns;
  /* Non-zero: the JSON objects hold every field, not only the columns'. */
  int all_fields;
  int tree;
  size_t width; /* 0: lines are not cut */
  column_context_t ctx;
} layout_t;

void print_table(const mproc_proc_info_t *list, const row_t *rows, size_t n,
                 const layout_t *l);
void print_json(const mproc_proc_info_t *list, const row_t *rows, size_t n,
                const layout_t *l);

#endif
