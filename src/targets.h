/* SPDX-License-Identifier: MIT */
/* The target registry (src/targets.c). */
#ifndef MPROC_TARGETS_H
#define MPROC_TARGETS_H

#include "mproc.h"

/* The function registered under name, or NULL (unknown or ambiguous). */
mproc_target_fn mproc__target_lookup(const char *name);

/* The registered name of fn, or NULL. Names live as long as the program. */
const char *mproc__target_name(mproc_target_fn fn);

/* The same for Pool tasks (MPROC_TASK), a registry of their own. */
mproc_task_fn mproc__task_lookup(const char *name);
const char *mproc__task_name(mproc_task_fn fn);

#endif
