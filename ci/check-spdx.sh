#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that every tracked source file starts with its SPDX line:
#   .c .h (and .h.in)                  /* SPDX-License-Identifier: MIT */
#   .cpp                               // SPDX-License-Identifier: MIT
#   CMake, shell, Python, PowerShell,
#   pkg-config and YAML files          # SPDX-License-Identifier: MIT
# as line 1, or line 2 after a shebang line.
#
#   ci/check-spdx.sh           checks the files git tracks
#   ci/check-spdx.sh FILE...   checks the files given
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The comment a file's SPDX line is written in, or nothing for files that
# are not source (documents, the fuzz corpus, the license itself).
comment_for() {
  case "$1" in
    tests/fuzz/corpus/*) ;;
    *.c|*.h|*.h.in) echo '/* SPDX-License-Identifier: MIT */' ;;
    *.cpp) echo '// SPDX-License-Identifier: MIT' ;;
    *CMakeLists.txt|*.cmake|*.cmake.in|*.sh|*.py|*.ps1|*.pc.in|*.yml|*.yaml|\
    */Doxyfile.in|.ci/run|debian/rules) echo '# SPDX-License-Identifier: MIT' ;;
  esac
}

if [ $# -gt 0 ]; then
  files=("$@")
elif git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files)
else
  echo "check-spdx: not a git checkout and no files given" >&2
  exit 2
fi

checked=0 missing=0
for f in "${files[@]}"; do
  want=$(comment_for "$f")
  [ -n "$want" ] || continue
  [ -f "$f" ] || continue
  checked=$((checked + 1))
  first=$(head -n 1 "$f" | tr -d '\r')
  if [ "${first#\#!}" != "$first" ]; then
    first=$(sed -n 2p "$f" | tr -d '\r')
  fi
  if [ "$first" != "$want" ]; then
    echo "$f: first line is not '$want'" >&2
    missing=$((missing + 1))
  fi
done
echo "check-spdx: $checked files checked, $missing without their SPDX line"
[ "$missing" -eq 0 ]
