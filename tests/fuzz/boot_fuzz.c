/* SPDX-License-Identifier: MIT */
/* Fuzz target for the spawned child's bootstrap decoder: whatever the bytes,
 * decoding must fail cleanly or succeed with consistent fields, and never
 * read or write out of bounds (built with libFuzzer + ASan, or replayed). */
#include <stdint.h>
#include <string.h>

#include "bootstrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mproc__boot_t b;
  const char *why = NULL;
  if (mproc__boot_decode_buffer(data, size, &b, &why) == 0) {
    /* Accepted: every string is terminated and the argument is all there. */
    if (strlen(b.name) > MPROC__NAME_MAX ||
        strlen(b.program) > MPROC__BOOT_PROGRAM_MAX || b.target[0] == 0 ||
        (b.arg_size > 0 && b.arg == NULL))
      __builtin_trap();
    mproc__boot_free(&b);
  } else if (why == NULL) {
    __builtin_trap(); /* a refusal always says why */
  }
  return 0;
}
