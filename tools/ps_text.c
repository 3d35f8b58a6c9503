/* SPDX-License-Identifier: MIT */
/* mproc-ps's text: a growing string, strict UTF-8, and the two escapings
 * of what a process calls itself (JSON and the terminal). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps.h"

void die_nomem(void) {
  fputs("mproc-ps: out of memory\n", stderr);
  exit(EXIT_MISSING);
}

void text_put(text_t *t, const char *bytes, size_t n) {
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

void text_puts(text_t *t, const char *s) { text_put(t, s, strlen(s)); }

void *alloc_array(size_t n, size_t size) {
  void *p = calloc(n + 1, size);
  if (p == NULL)
    die_nomem();
  return p;
}

/* Appends a short formatted piece (a number, an escape). */
void text_printf(text_t *t, const char *fmt, ...) {
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
void json_string(text_t *t, const char *s) {
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

/* Characters that would let a name rewrite the line it is shown in: the
 * C0 and C1 controls, the bidirectional marks, embeddings, overrides and
 * isolates (U+061C, U+200E-200F, U+202A-202E, U+2066-2069), which reorder
 * the text after them ("Trojan Source"), and the line and paragraph
 * separators (U+2028, U+2029), which a terminal may take as a line break. */
static int unsafe_on_terminal(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x061c ||
         cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

/* Text for a terminal: those characters and bytes that are not UTF-8
 * become '?', as ps does with control characters, so a name cannot move
 * the cursor, reorder the columns or corrupt them. */
void display_string(text_t *t, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  while (n > 0) {
    uint32_t cp = 0;
    size_t len = utf8_decode(p, n, &cp);
    if (len == 0 || unsafe_on_terminal(cp)) {
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
size_t cut_to_width(const char *s, size_t len, size_t width) {
  size_t i = 0, chars = 0;
  while (i < len && chars < width) {
    i++;
    while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
      i++;
    chars++;
  }
  return i;
}

size_t text_width(const char *s, size_t len) {
  size_t i, chars = 0;
  for (i = 0; i < len; i++)
    if (((unsigned char)s[i] & 0xc0) != 0x80)
      chars++;
  return chars;
}
