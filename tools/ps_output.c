/* SPDX-License-Identifier: MIT */
/* mproc-ps's two outputs: columns for a terminal, and one JSON document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps.h"

/* Every field, in the order the JSON objects have always listed them. */
static const column_id_t all_fields[] = {
    COL_PPID, COL_NAME,    COL_STATE,   COL_START, COL_RSS,
    COL_TIME, COL_THREADS, COL_COMMAND, COL_USER,  COL_PCPU};

/* A process as a JSON object, without its closing brace: its pid, then
 * the chosen columns' fields (all of them without -o). Fields that could
 * not be read are null. */
static void json_object(text_t *t, const mproc_proc_info_t *p,
                        const layout_t *l) {
  const column_id_t *cols = l->all_fields ? all_fields : l->columns;
  size_t n =
      l->all_fields ? sizeof all_fields / sizeof all_fields[0] : l->ncolumns;
  size_t i, k;
  text_printf(t, "{\"pid\":%lld", (long long)p->pid);
  for (i = 0; i < n; i++) {
    int repeated = 0;
    for (k = 0; k < i; k++)
      repeated |= cols[k] == cols[i];
    if (!repeated)
      column_json(t, cols[i], p, &l->ctx);
  }
}

/* Flat: an array of objects. With --tree, each object has a "children"
 * array holding the objects of its children, in the same form. */
void print_json(const mproc_proc_info_t *list, const row_t *rows, size_t n,
                const layout_t *l) {
  text_t t = {NULL, 0, 0};
  unsigned char *first = (unsigned char *)alloc_array(n + 1, 1);
  size_t i, level = 0;

  text_puts(&t, "[");
  first[0] = 1;
  for (i = 0; i < n; i++) {
    size_t d = l->tree ? rows[i].depth : 0;
    while (level > d) {
      text_puts(&t, "]}");
      level--;
    }
    if (!first[d])
      text_puts(&t, ",");
    first[d] = 0;
    text_puts(&t, "\n");
    json_object(&t, &list[rows[i].index], l);
    if (l->tree) {
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

/* The column that carries the tree's marks: the first name or command
 * column; ncolumns when there is none. */
static size_t tree_column(const layout_t *l) {
  size_t k;
  for (k = 0; k < l->ncolumns; k++)
    if (l->columns[k] == COL_NAME || l->columns[k] == COL_COMMAND)
      return k;
  return l->ncolumns;
}

/* One cell, with ps's forest marks before the name (two spaces a level,
 * then "\_ " before a child). */
static void row_cell(text_t *t, const layout_t *l, size_t k,
                     const mproc_proc_info_t *p, size_t depth) {
  size_t d;
  if (l->tree && k == tree_column(l)) {
    for (d = 1; d < depth; d++)
      text_puts(t, "  ");
    if (depth > 0)
      text_puts(t, "\\_ ");
  }
  column_cell(t, l->columns[k], p, &l->ctx);
}

/* Appends a cell padded to `width` characters; the last column is not
 * padded, so that lines carry no trailing spaces. */
static void put_padded(text_t *line, const text_t *cell, size_t width, int text,
                       int last) {
  size_t have = text_width(cell->data, cell->len), pad;
  if (!text)
    for (pad = have; pad < width; pad++)
      text_puts(line, " ");
  text_put(line, cell->data, cell->len);
  if (!last) {
    if (text)
      for (pad = have; pad < width; pad++)
        text_puts(line, " ");
    text_puts(line, " ");
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

void print_table(const mproc_proc_info_t *list, const row_t *rows, size_t n,
                 const layout_t *l) {
  size_t *widths = (size_t *)alloc_array(l->ncolumns, sizeof(size_t));
  text_t line = {NULL, 0, 0}, cell = {NULL, 0, 0};
  size_t i, k;

  for (k = 0; k < l->ncolumns; k++)
    widths[k] = strlen(column_header(l->columns[k]));
  for (i = 0; i < n; i++) {
    for (k = 0; k < l->ncolumns; k++) {
      cell.len = 0;
      row_cell(&cell, l, k, &list[rows[i].index], rows[i].depth);
      if (text_width(cell.data, cell.len) > widths[k])
        widths[k] = text_width(cell.data, cell.len);
    }
  }

  for (k = 0; k < l->ncolumns; k++) {
    cell.len = 0;
    text_puts(&cell, column_header(l->columns[k]));
    put_padded(&line, &cell, widths[k], column_is_text(l->columns[k]),
               k + 1 == l->ncolumns);
  }
  emit_line(&line, l->width);
  for (i = 0; i < n; i++) {
    for (k = 0; k < l->ncolumns; k++) {
      cell.len = 0;
      row_cell(&cell, l, k, &list[rows[i].index], rows[i].depth);
      put_padded(&line, &cell, widths[k], column_is_text(l->columns[k]),
                 k + 1 == l->ncolumns);
    }
    emit_line(&line, l->width);
  }
  free(line.data);
  free(cell.data);
  free(widths);
}
