/* SPDX-License-Identifier: MIT */
/* Types the POSIX backend gives the seam (src/platform.h). */
#ifndef MPROC_POSIX_OS_TYPES_H
#define MPROC_POSIX_OS_TYPES_H

#include <pthread.h>

typedef pthread_mutex_t mproc__mutex_t;
#define MPROC__MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER

#endif
