/* SPDX-License-Identifier: MIT */
/* Error codes: one table (MPROC_ERRNO_MAP in mproc.h) gives names and text. */
#include "internal.h"

static MPROC__THREAD_LOCAL int last_os_error;

const char *mproc_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define MPROC__ERR_TEXT(name, value, msg)                                      \
  case MPROC_##name:                                                           \
    return msg;
    MPROC_ERRNO_MAP(MPROC__ERR_TEXT)
#undef MPROC__ERR_TEXT
  default:
    return "unknown error";
  }
}

const char *mproc_error_name(int code) {
  switch (code) {
  case 0:
    return "0";
#define MPROC__ERR_NAME(name, value, msg)                                      \
  case MPROC_##name:                                                           \
    return "MPROC_" #name;
    MPROC_ERRNO_MAP(MPROC__ERR_NAME)
#undef MPROC__ERR_NAME
  default:
    return "MPROC_E?";
  }
}

int mproc_os_error(void) { return last_os_error; }

int mproc__os_fail(int native_error) {
  last_os_error = native_error;
  return MPROC_EOS;
}
