// SPDX-License-Identifier: MIT
#include <errno.h>
#include <gtest/gtest.h>
#ifdef _WIN32
#include <windows.h> // the native codes mproc__os_translate() maps
#endif

#include <set>
#include <string>

#include "mproc.h"
#include "platform.h"

TEST(Errors, EveryCodeHasDistinctNameAndMessage) {
  std::set<std::string> names, messages;
  int count = 0;
#define CHECK_ONE(name, value, msg)                                            \
  EXPECT_LT(MPROC_##name, 0);                                                  \
  EXPECT_STREQ(mproc_strerror(MPROC_##name), msg);                             \
  EXPECT_STREQ(mproc_error_name(MPROC_##name), "MPROC_" #name);                \
  names.insert(mproc_error_name(MPROC_##name));                                \
  messages.insert(mproc_strerror(MPROC_##name));                               \
  count++;
  MPROC_ERRNO_MAP(CHECK_ONE)
#undef CHECK_ONE
  EXPECT_EQ((int)names.size(), count);
  EXPECT_EQ((int)messages.size(), count);
}

TEST(Errors, UnknownCodes) {
  EXPECT_STREQ(mproc_strerror(0), "success");
  EXPECT_STREQ(mproc_strerror(-9999), "unknown error");
  EXPECT_STREQ(mproc_strerror(12345), "unknown error");
  EXPECT_STREQ(mproc_error_name(-9999), "MPROC_E?");
}

#ifdef _WIN32
// The Windows backend translates GetLastError() values.
TEST(Errors, TranslateNativeErrors) {
  EXPECT_EQ(mproc__os_translate(ERROR_SUCCESS), 0);
  EXPECT_EQ(mproc__os_translate(ERROR_NOT_ENOUGH_MEMORY), MPROC_ENOMEM);
  EXPECT_EQ(mproc__os_translate(ERROR_OUTOFMEMORY), MPROC_ENOMEM);
  EXPECT_EQ(mproc__os_translate(ERROR_ACCESS_DENIED), MPROC_EPERM);
  EXPECT_EQ(mproc__os_translate(ERROR_PRIVILEGE_NOT_HELD), MPROC_EPERM);
  EXPECT_EQ(mproc__os_translate(WAIT_TIMEOUT), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc__os_translate(ERROR_TIMEOUT), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc__os_translate(ERROR_FILE_NOT_FOUND), MPROC_EOS);
  EXPECT_EQ(mproc_os_error(), ERROR_FILE_NOT_FOUND);
  EXPECT_EQ(mproc__os_translate(ERROR_TOO_MANY_OPEN_FILES), MPROC_EOS);
  EXPECT_EQ(mproc_os_error(), ERROR_TOO_MANY_OPEN_FILES);
}
#else
TEST(Errors, TranslateNativeErrors) {
  EXPECT_EQ(mproc__os_translate(ENOMEM), MPROC_ENOMEM);
  EXPECT_EQ(mproc__os_translate(ESRCH), MPROC_ESRCH);
  EXPECT_EQ(mproc__os_translate(EPERM), MPROC_EPERM);
  EXPECT_EQ(mproc__os_translate(EACCES), MPROC_EPERM);
  EXPECT_EQ(mproc__os_translate(ETIMEDOUT), MPROC_ETIMEDOUT);
  EXPECT_EQ(mproc__os_translate(EMFILE), MPROC_EOS);
  EXPECT_EQ(mproc_os_error(), EMFILE);
  EXPECT_EQ(mproc__os_translate(EIO), MPROC_EOS);
  EXPECT_EQ(mproc_os_error(), EIO);
}
#endif

TEST(Errors, Version) { EXPECT_STREQ(mproc_version(), "0.1.0"); }
