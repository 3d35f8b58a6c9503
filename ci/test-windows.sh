#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Cross-builds mproc for 64-bit Windows with MinGW-w64 and runs its tests
# under Wine (see "Portability facts" in the design notes for what Wine
# does differently). ci/test.sh runs it as its "windows" configuration.
#
#   ci/test-windows.sh          build in build/ci-windows, run every test
#   ci/test-windows.sh DIR      build in DIR instead
#
# Wine runs in a private prefix inside the build directory, with one
# wineserver kept alive for the whole run and stopped at the end. Nothing
# asks a question: no display, no stdin, no Mono or Gecko installer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/ci-windows}
mkdir -p "$build"
build=$(cd "$build" && pwd)
"$root/ci/install-deps.sh"

missing=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1 ||
  missing+=(g++-mingw-w64-x86-64-posix gcc-mingw-w64-x86-64-posix)
command -v wine >/dev/null 2>&1 || missing+=(wine wine64)
command -v wineserver >/dev/null 2>&1 || missing+=(wine64)
[ -f /usr/src/googletest/CMakeLists.txt ] || missing+=(googletest)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q "${missing[@]}"
fi

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -le 2 ] || jobs=2

echo "=== windows: configure and build (MinGW-w64)"
# The windows preset of CMakePresets.json, in $build.
(cd "$root" && cmake --preset windows -B "$build" >/dev/null)
cmake --build "$build" -j "$jobs"

export WINEPREFIX="$build/wineprefix"
export WINEDEBUG=-all
# No Mono or Gecko: the tests are console programs, and their installers
# would ask questions.
export WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY

echo "=== windows: Wine prefix and server"
# The server first (a leftover one of this prefix is stopped), so that
# wineboot and every test use this one persistent server.
mkdir -p "$WINEPREFIX"
wineserver -k 2>/dev/null || true
wineserver -p
trap 'wineserver -k 2>/dev/null || true' EXIT
# The first program of a server session starts Wine's services (explorer,
# services.exe, ...), which inherit its stdout and stderr and live as long
# as the server: started by a test, they would hold CTest's output pipe open
# and the test would time out. wineboot starts them with no output to hold.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wine wineboot -i >/dev/null 2>&1 </dev/null
else
  wine wineboot >/dev/null 2>&1 </dev/null
fi

echo "=== windows: test (under Wine)"
# Two tests at a time, as in the other configurations. Wine is slow to
# start a process, so the windows preset multiplies every test's timeout
# by 3 (MPROC_TEST_TIMEOUT_MULTIPLIER), as for the sanitizers; each test
# program holds its processes in a kill-on-close Job, so a test that times
# out leaves none behind (docs/windows.md).
(cd "$build" && ctest --output-on-failure -j "$jobs" </dev/null)
