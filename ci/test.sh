#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds mproc and runs its whole test suite.
#
#   ci/test.sh                 the checks, then all four configurations,
#                              as CI runs them
#   ci/test.sh default         one of: default, sanitize, portable, windows
#   ci/test.sh checks default  the checks, then the default configuration
#
# The configurations are the presets of CMakePresets.json
# (cmake --preset NAME, cmake --build --preset NAME, ctest --preset NAME):
# default:  warnings are errors; the MPI pool transport (when MPI is found:
#           ci/install-deps.sh installs Open MPI) and its tests
# sanitize: AddressSanitizer + UndefinedBehaviorSanitizer
# portable: POSIX.1-2008 only (the path macOS and the BSDs take)
# windows:  MinGW-w64 cross-build, tests under Wine (ci/test-windows.sh)
#
# The MPI transport is built and tested in default only: it is the same
# code in the others, MPI's libraries are not built with the sanitizers,
# and its tests take a minute and a half.
#
# checks, once per full run: SPDX lines, the installed and embedded library
# as a user's project sees it (ci/consumer.sh), a first run without
# GoogleTest (ci/first-run.sh), the Debian packages (ci/debian.sh), the MPI
# transport compiled against MPICH (preset mpich: `ci/test.sh mpich`), and
# the API reference built with warnings as errors. Each says how long it
# took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh"

configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(checks default sanitize portable windows)
jobs=$(nproc 2>/dev/null || echo 2)

# The checks come first, the test runs last, so that their summary closes
# the output.
timed() {
  local start=$SECONDS
  "$@"
  echo "--- $(basename "$1"): $((SECONDS - start)) s"
}
docs() {
  "$root/ci/install-deps.sh" doxygen
  echo "=== docs"
  cmake -S "$root" -B "$root/build/ci-docs" -G Ninja -DMPROC_BUILD_TESTS=OFF \
    -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF >/dev/null
  cmake --build "$root/build/ci-docs" --target mproc_docs
}
# The MPI transport against a second implementation: compiled, not run.
mpich() {
  echo "=== mpich: the MPI pool transport against MPICH"
  cmake --preset mpich >/dev/null
  cmake --build --preset mpich -j "$jobs"
}
checks() {
  timed "$root/ci/check-spdx.sh"
  timed "$root/ci/consumer.sh"
  timed "$root/ci/first-run.sh"
  timed "$root/ci/debian.sh"
  timed mpich
  timed docs
}

cd "$root"
for config in "${configs[@]}"; do
  case "$config" in
    checks) checks; continue ;;
    mpich) mpich; continue ;;
    windows) "$root/ci/test-windows.sh"; continue ;;
    default|sanitize|portable) ;;
    *) echo "unknown configuration: $config" >&2; exit 2 ;;
  esac
  build="$root/build/ci-$config" # the preset's binaryDir
  echo "=== $config: configure and build"
  cmake --preset "$config" >/dev/null
  cmake --build --preset "$config" -j "$jobs"
  build="$root/build/ci-$config" # the presets' binaryDir
  if [ "$config" = default ]; then
    "$root/ci/check-mproc-ps.sh" "$build"
    # Kills, stops and timeouts over queues, locks and a pool at once, for a
    # bounded time; the seed it prints replays a failure.
    echo "=== $config: chaos"
    MPROC_CHAOS_SECONDS=${MPROC_CHAOS_SECONDS:-90} "$build/tests/chaos_test"
  fi
  if [ "$config" = default ] && [ "$(uname -s)" = Linux ]; then
    "$root/ci/check-ps-name.sh" "$build"
  fi
  echo "=== $config: test"
  ctest --preset "$config" -j "$jobs"
done

