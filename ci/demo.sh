#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds mproc and runs the examples: the two tutorials' lessons in C.
# Needs only CMake and a C compiler (installed with apt-get on Debian and
# Ubuntu when missing); no GoogleTest, no Ninja, no C++ compiler.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh" --build-only
build="${1:-$root/build/demo}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_BENCH=OFF \
  -DMPROC_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --config RelWithDebInfo \
  -j "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
for example in $(sed -n '/^set(MPROC_EXAMPLES/,/^)/p' "$root/examples/CMakeLists.txt" | sed '1d;$d'); do
  program="$build/examples/$example"
  # Multi-configuration generators (Xcode, Visual Studio) add a directory.
  [ -x "$program" ] || program="$build/examples/RelWithDebInfo/$example"
  echo "=== examples/$example.c"
  "$program"
done
