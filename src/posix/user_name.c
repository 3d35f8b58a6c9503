/* SPDX-License-Identifier: MIT */
/* User ids to names through the user database (getpwuid_r). */
#include "user_name.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest buffer tried for one passwd record; a record larger than this
 * (a huge gecos field) is shown by its id. */
#define PASSWD_BUFFER_MAX ((size_t)1 << 20)

void mproc__user_name(uid_t uid, char *buf, size_t size) {
  struct passwd pw, *found = NULL;
  size_t cap = 1024;
  char *scratch = NULL;
  int rc;

  for (;;) {
    char *bigger = (char *)realloc(scratch, cap);
    if (bigger == NULL)
      break;
    scratch = bigger;
    do {
      rc = getpwuid_r(uid, &pw, scratch, cap, &found);
    } while (rc == EINTR);
    if (rc != ERANGE || cap >= PASSWD_BUFFER_MAX)
      break;
    cap *= 2;
  }
  if (found != NULL && found->pw_name != NULL &&
      strlen(found->pw_name) < size && found->pw_name[0] != '\0')
    memcpy(buf, found->pw_name, strlen(found->pw_name) + 1);
  else
    snprintf(buf, size, "%lu", (unsigned long)uid);
  free(scratch);
}
