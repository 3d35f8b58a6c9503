/* SPDX-License-Identifier: MIT */
/* Test mock of macOS's <mach/kern_return.h>, as far as src/posix/
 * procinfo_darwin.c needs it. Used by tests/darwin_mock only. */
#ifndef DARWIN_MOCK_MACH_KERN_RETURN_H
#define DARWIN_MOCK_MACH_KERN_RETURN_H

typedef int kern_return_t;
#define KERN_SUCCESS 0
#define KERN_FAILURE 5

#endif
