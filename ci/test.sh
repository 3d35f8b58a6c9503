#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds mproc and runs its whole test suite.
#
#   ci/test.sh                 all four configurations, as CI runs them
#   ci/test.sh default         one of: default, sanitize, portable, windows
#
# default:  warnings are errors
# sanitize: AddressSanitizer + UndefinedBehaviorSanitizer
# portable: POSIX.1-2008 only (the path macOS and the BSDs take)
# windows:  MinGW-w64 cross-build, tests under Wine (ci/test-windows.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh"

configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(default sanitize portable windows)
jobs=$(nproc 2>/dev/null || echo 2)

# Once per full run, first: the installed package as a user's project sees
# it, and the API reference, built with warnings as errors. The test runs
# come last so that their summary closes the output.
# Each check says how long it took.
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
if [ $# -eq 0 ]; then
  timed "$root/ci/check-spdx.sh"
  timed "$root/ci/consumer.sh"
  timed "$root/ci/first-run.sh"
  timed docs
fi

for config in "${configs[@]}"; do
  if [ "$config" = windows ]; then
    "$root/ci/test-windows.sh" "$root/build/ci-windows"
    continue
  fi
  flags=(-DMPROC_WERROR=ON -DMPROC_BUILD_BENCH=ON)
  case "$config" in
    default) ;;
    sanitize) flags+=(-DMPROC_SANITIZE=address,undefined
                      -DMPROC_TEST_TIMEOUT_MULTIPLIER=3) ;;
    portable) flags+=(-DMPROC_PORTABLE=ON) ;;
    *) echo "unknown configuration: $config" >&2; exit 2 ;;
  esac
  build="$root/build/ci-$config"
  echo "=== $config: configure and build"
  cmake -S "$root" -B "$build" -G Ninja "${flags[@]}" >/dev/null
  cmake --build "$build" -j "$jobs"
  echo "=== $config: test"
  (cd "$build" && ctest --output-on-failure -j "$jobs")
done

