#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A new user's first run, on a machine with only CMake and a C compiler:
#
#   1. the README's build with the default generator and no GoogleTest
#      builds the library, the examples and mproc-ps, and says tests are off;
#   2. ci/demo.sh runs with apt-get, sudo, Ninja and a C++ compiler made
#      unusable (stubs that fail), so it needs none of them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

echo "=== first run: configure and build without GoogleTest"
unset CMAKE_GENERATOR
cmake -S "$root" -B "$work/build" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON \
  -DMPROC_BUILD_BENCH=OFF >"$work/configure.log"
grep -q "Unix Makefiles" "$work/build/CMakeCache.txt" ||
  { echo "not the default generator"; exit 1; }
grep "mproc:.*tests are off" "$work/configure.log" ||
  { cat "$work/configure.log"; echo "configure did not say tests are off"; exit 1; }
cmake --build "$work/build" -j "$jobs" >/dev/null
for program in tools/mproc-ps examples/join examples/queue_pair; do
  [ -x "$work/build/$program" ] || { echo "$program was not built"; exit 1; }
done
[ ! -e "$work/build/tests" ] || { echo "tests were configured"; exit 1; }
"$work/build/tools/mproc-ps" >/dev/null
echo "library, examples and mproc-ps built; tests off"

echo "=== first run: ci/demo.sh without apt-get, sudo, Ninja or C++"
mkdir "$work/stubs"
for tool in apt-get sudo ninja c++ g++ clang++; do
  printf '#!/bin/sh\necho "ci/demo.sh called %s" >&2\nexit 1\n' "$tool" \
    >"$work/stubs/$tool"
  chmod +x "$work/stubs/$tool"
done
PATH="$work/stubs:$PATH" CXX="$work/stubs/c++" \
  "$root/ci/demo.sh" "$work/demo" >"$work/demo.log" 2>&1 ||
  { cat "$work/demo.log"; echo "ci/demo.sh failed"; exit 1; }
ran=$(grep -c '^=== examples/' "$work/demo.log")
echo "ci/demo.sh ran $ran examples"
echo "first run: 2 passed, 0 failed"
