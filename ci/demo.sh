#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds mproc and runs the examples: the two tutorials' lessons in C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh"
build="$root/build/demo"
cmake -S "$root" -B "$build" -G Ninja -DMPROC_BUILD_TESTS=OFF \
  -DMPROC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
for example in $(sed -n '/^set(MPROC_EXAMPLES/,/^)/p' "$root/examples/CMakeLists.txt" | sed '1d;$d'); do
  echo "=== examples/$example.c"
  "$build/examples/$example"
done
