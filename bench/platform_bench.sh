#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# platform_bench on this machine and, cross-built with MinGW-w64, under
# Wine, one after the other, so the figures can be read side by side.
#
#   bench/platform_bench.sh [scale]
#
# Needs what ci/test-windows.sh installs (MinGW-w64, Wine). Builds in
# build/bench-linux and build/bench-windows; Wine runs in a private prefix
# there, with one wineserver stopped at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scale=${1:-1}
jobs=2

lin="$root/build/bench-linux"
win="$root/build/bench-windows"
cmake -S "$root" -B "$lin" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$lin" -j "$jobs" --target platform_bench >/dev/null
cmake -S "$root" -B "$win" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64.cmake" \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$win" -j "$jobs" --target platform_bench >/dev/null

echo "=== this machine"
"$lin/bench/platform_bench" "$scale"

export WINEPREFIX="$win/wineprefix" WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
mkdir -p "$WINEPREFIX"
wineserver -k 2>/dev/null || true
wineserver -p
trap 'wineserver -k 2>/dev/null || true' EXIT
wine wineboot -i >/dev/null 2>&1 </dev/null
echo "=== Windows build under Wine (indicative only)"
wine "$win/bench/platform_bench.exe" "$scale" </dev/null | tr -d '\r'
