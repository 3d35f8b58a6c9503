#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What a user of mproc-ps tries first, on a built tree: --version, a choice
# of columns (-o) and a selection by name (-C), each checked for its output
# and its exit status.
#
#   ci/check-mproc-ps.sh BUILD_DIR
set -euo pipefail
ps_tool="$1/tools/mproc-ps"
fail() { echo "mproc-ps check failed: $*" >&2; exit 1; }

echo "=== mproc-ps: --version, -o, -C"
version=$("$ps_tool" --version)
[[ "$version" =~ ^mproc-ps\ \(mproc\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  fail "--version printed '$version'"
echo "$version"

# This shell, with the columns asked for, in that order.
out=$("$ps_tool" -o pid,user,rss,comm $$)
echo "$out"
header=$(echo "$out" | sed -n 1p | tr -s ' ' | sed 's/^ //')
[ "$header" = "PID USER RSS(KiB) NAME" ] || fail "-o header '$header'"
row=$(echo "$out" | sed -n 2p)
read -r pid user rss name <<<"$row"
[ "$pid" = "$$" ] || fail "-o pid '$pid'"
[ "$user" = "$(id -un)" ] || fail "-o user '$user'"
[ "$rss" -gt 0 ] || fail "-o rss '$rss'"

# -C: a child of this shell found by its name, and a name that no process
# has (exit status 1, as pgrep).
sleep 30 &
child=$!
trap 'kill $child 2>/dev/null || true' EXIT
out=$("$ps_tool" -C sleep -o pid,ppid,name)
echo "$out" | grep -q "^ *$child  *$$ sleep$" || fail "-C sleep: $out"
if "$ps_tool" -C no-such-process-name >/dev/null; then
  fail "-C of a name no process has exited 0"
fi
echo "mproc-ps: ok"
