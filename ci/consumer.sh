#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Uses mproc as a user's project would: installs it to a temporary prefix,
# then builds and runs tests/consumer against it with find_package and with
# pkg-config, and with mproc added as a subdirectory and through
# FetchContent. The install is moved to another prefix first, to prove it
# relocatable.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh" pkg-config
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "=== consumer: install"
cmake -S "$root" -B "$work/build" -G Ninja -DMPROC_BUILD_TESTS=OFF \
  -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF \
  -DCMAKE_INSTALL_PREFIX="$work/staging" >/dev/null
cmake --build "$work/build" >/dev/null
cmake --install "$work/build" >/dev/null
mv "$work/staging" "$work/prefix" # relocated after install
(cd "$work/prefix" && find . -type f -o -type l | sort)

run() {
  local mode=$1; shift
  echo "=== consumer: $mode"
  cmake -S "$root/tests/consumer" -B "$work/c-$mode" -G Ninja \
    -DMPROC_MODE="$mode" "$@" >/dev/null
  cmake --build "$work/c-$mode" >/dev/null
  LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" \
    "$work/c-$mode/consumer_c"
  LD_LIBRARY_PATH="$work/prefix/lib:$work/prefix/lib64:${LD_LIBRARY_PATH:-}" \
    "$work/c-$mode/consumer_cxx"
}
run package -DCMAKE_PREFIX_PATH="$work/prefix"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib64/pkgconfig" run pkgconfig
run subdirectory -DMPROC_SOURCE_DIR="$root"
run fetchcontent -DMPROC_SOURCE_DIR="$root"

echo "=== consumer: exported symbols"
lib=$(find "$work/prefix" -name 'libmproc.so.*' -type f | head -n 1)
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^mproc_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^mproc_')
if [ -n "$bad" ]; then
  echo "symbols exported without the mproc_ prefix:"; echo "$bad"; exit 1
fi
echo "$count symbols exported, all mproc_*"
echo "consumer: 4 passed, 0 failed"
