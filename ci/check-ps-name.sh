#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks how a spawned child looks in ps (Linux): its name (comm) is the
# program's, its command line is "<program>: Process-1", and no bootstrap
# cookie shows in it. With MPROC_NO_TITLE=1 the command line keeps the
# program's own argv[0] and still shows no cookie.
#
#   ci/check-ps-name.sh BUILD_DIR     (a build with tests: tests/ps_name_demo)
set -euo pipefail
demo="$1/tests/ps_name_demo"
[ -x "$demo" ] || { echo "check-ps-name: $demo not built" >&2; exit 2; }
fail=0

look() { # look EXPECTED_ARGS [env...]
  local expected=$1 pid comm args
  shift
  coproc DEMO { env "$@" timeout 60 "$demo"; }
  read -r -t 60 pid <&"${DEMO[0]}"
  comm=$(ps -o comm= -p "$pid")
  args=$(ps -o args= -p "$pid")
  echo ready >&"${DEMO[1]}"
  wait "$DEMO_PID" || { echo "FAIL: the demo failed" >&2; fail=1; }
  echo "child $pid: comm '$comm', args '$args'"
  [ "$comm" = ps_name_demo ] || { echo "FAIL: comm is '$comm'" >&2; fail=1; }
  case "$args" in
  $expected) ;;
  *) echo "FAIL: args '$args' are not '$expected'" >&2; fail=1 ;;
  esac
  if printf '%s' "$args" | grep -Eq '[0-9a-f]{32}'; then
    echo "FAIL: a cookie shows in '$args'" >&2
    fail=1
  fi
}

echo "=== ps name of a spawned child"
look "ps_name_demo: Process-1"
look "$demo --mproc-child=3" MPROC_NO_TITLE=1
[ $fail -eq 0 ] && echo "ps name: ok"
exit $fail
