# SPDX-License-Identifier: MIT
# GoogleTest for the suites: GTest::gtest when it can be had, no target
# otherwise (the top-level CMakeLists.txt then leaves the tests off).
if(TARGET GTest::gtest)
  return()
endif()
if(CMAKE_CROSSCOMPILING AND EXISTS /usr/src/googletest/CMakeLists.txt)
  # The build machine's libgtest is for the build machine: a cross build
  # compiles GoogleTest from the sources Debian's googletest package ships.
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${PROJECT_BINARY_DIR}/googletest
                   EXCLUDE_FROM_ALL)
  add_library(GTest::gtest ALIAS gtest)
elseif(NOT CMAKE_CROSSCOMPILING)
  find_package(GTest QUIET)
endif()
if(NOT TARGET GTest::gtest AND MPROC_FETCH_GTEST)
  include(FetchContent)
  FetchContent_Declare(googletest
    URL https://github.com/google/googletest/archive/refs/tags/v1.14.0.tar.gz)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  # MSVC: the same C runtime (the DLL one) as the code under test.
  set(gtest_force_shared_crt ON CACHE BOOL "" FORCE)
  FetchContent_MakeAvailable(googletest)
  add_library(GTest::gtest ALIAS gtest)
endif()
