/* SPDX-License-Identifier: MIT */
/* Process titles where a process cannot retitle itself in the system's
 * process list (Windows shows the image name; macOS and the BSDs keep
 * their own copy of the arguments): nothing to do. */
#include "platform.h"

void mproc__os_title_init(int argc, char **argv) {
  (void)argc;
  (void)argv;
}

void mproc__os_set_title(const char *role) { (void)role; }

void mproc__os_title_named(void) {}

void mproc__os_title_name(const char *name) { (void)name; }

const char *mproc__os_program_name(void) { return ""; }
