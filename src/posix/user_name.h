/* SPDX-License-Identifier: MIT */
/* The name of a user id, for the pid readers of the POSIX backend. */
#ifndef MPROC_POSIX_USER_NAME_H
#define MPROC_POSIX_USER_NAME_H

#include <stddef.h>
#include <sys/types.h>

/* Writes the user database's name of `uid` into buf (NUL-terminated), or
 * the id in decimal when the database has no name for it or the name does
 * not fit, as ps(1) shows it. Never fails: a record always has a user. */
void mproc__user_name(uid_t uid, char *buf, size_t size);

#endif
