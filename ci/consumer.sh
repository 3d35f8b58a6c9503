#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Uses mproc as a user's project would, and checks each way of getting it:
#
#   plain layout    installed to a prefix (lib/, include/), then moved to
#                   another prefix to prove it relocatable;
#   Debian layout   --prefix /usr with the multiarch libdir
#                   (lib/x86_64-linux-gnu), installed under a DESTDIR;
#
# in each, tests/consumer with find_package (shared and static) and with
# pkg-config, and a compiler run by hand with `pkg-config --libs` and with
# `pkg-config --static --libs ... -static`; then tests/consumer embedding
# mproc with add_subdirectory and FetchContent, as a C-only parent that
# must not be disturbed (see tests/consumer/CMakeLists.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v pkg-config >/dev/null 2>&1 || "$root/ci/install-deps.sh" pkg-config
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cc=${CC:-cc}
system=$(uname -s)
if [ "$system" = Darwin ]; then
  shlib=libmproc.dylib
else
  shlib=libmproc.so
fi

# needs PROGRAM LIB: whether PROGRAM is dynamically linked against LIB.
needs() {
  if [ "$system" = Darwin ]; then
    otool -L "$1" | grep -q "/${2%.dylib}"
  else
    readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*\[$2"
  fi
}
# run_with LIBDIR PROGRAM: runs PROGRAM finding shared libraries in LIBDIR.
run_with() {
  LD_LIBRARY_PATH="$1:${LD_LIBRARY_PATH:-}" \
    DYLD_LIBRARY_PATH="$1:${DYLD_LIBRARY_PATH:-}" "$2"
}

# install NAME CMAKE-ARGS...: configures, builds and installs mproc.
install_mproc() {
  local name=$1; shift
  echo "=== consumer: install ($name)"
  cmake -S "$root" -B "$work/build-$name" "${generator[@]}" \
    -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF \
    -DMPROC_BUILD_BENCH=OFF -DMPROC_INSTALL=ON "$@" >/dev/null
  cmake --build "$work/build-$name" -j 2 >/dev/null
}

# check_layout NAME PREFIX LIBDIR: every way to use the install at PREFIX.
check_layout() {
  local name=$1 prefix=$2 libdir=$3
  local lib="$prefix/$libdir"
  (cd "$prefix" && find . -type f -o -type l | sort)
  [ -f "$lib/libmproc.a" ] || { echo "no $lib/libmproc.a"; exit 1; }

  echo "=== consumer ($name): find_package, shared and static"
  cmake -S "$root/tests/consumer" -B "$work/c-$name-package" "${generator[@]}" \
    -DMPROC_MODE=package -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
  cmake --build "$work/c-$name-package" >/dev/null
  needs "$work/c-$name-package/consumer_c" $shlib ||
    { echo "consumer_c does not use $shlib"; exit 1; }
  if needs "$work/c-$name-package/consumer_c_static" $shlib; then
    echo "consumer_c_static uses $shlib"; exit 1
  fi
  run_with "$lib" "$work/c-$name-package/consumer_c"
  "$work/c-$name-package/consumer_c_static"
  run_with "$lib" "$work/c-$name-package/consumer_cxx"
  passed=$((passed + 1))

  export PKG_CONFIG_PATH="$lib/pkgconfig"
  echo "=== consumer ($name): pkg-config in CMake"
  [ "$(pkg-config --variable=includedir mproc)/mproc.h" -ef "$prefix/include/mproc.h" ] ||
    { echo "mproc.pc: includedir is $(pkg-config --variable=includedir mproc)"; exit 1; }
  [ "$(pkg-config --variable=libdir mproc)" -ef "$lib" ] ||
    { echo "mproc.pc: libdir is $(pkg-config --variable=libdir mproc)"; exit 1; }
  cmake -S "$root/tests/consumer" -B "$work/c-$name-pc" "${generator[@]}" \
    -DMPROC_MODE=pkgconfig >/dev/null
  cmake --build "$work/c-$name-pc" >/dev/null
  run_with "$lib" "$work/c-$name-pc/consumer_c"
  run_with "$lib" "$work/c-$name-pc/consumer_cxx"
  passed=$((passed + 1))

  echo "=== consumer ($name): pkg-config by hand, shared and -static"
  # shellcheck disable=SC2046
  "$cc" -Wall -Werror -o "$work/$name-shared" "$root/tests/consumer/consumer.c" \
    $(pkg-config --cflags --libs mproc)
  run_with "$lib" "$work/$name-shared"
  if [ "$system" = Linux ]; then
    # shellcheck disable=SC2046
    "$cc" -Wall -Werror -o "$work/$name-static" "$root/tests/consumer/consumer.c" \
      $(pkg-config --static --cflags --libs mproc) -static 2>"$work/static.log" ||
      { cat "$work/static.log"; exit 1; }
    if readelf -d "$work/$name-static" 2>/dev/null | grep -q NEEDED; then
      echo "$name-static is not statically linked"; exit 1
    fi
    "$work/$name-static"
  else
    echo "(no fully static programs on $system: -static not checked)"
  fi
  unset PKG_CONFIG_PATH
  passed=$((passed + 1))
}

install_mproc plain -DCMAKE_INSTALL_PREFIX="$work/staging"
cmake --install "$work/build-plain" >/dev/null
mv "$work/staging" "$work/prefix" # relocated after install
plain_libdir=$(cd "$work/prefix" && dirname "$(find . -name libmproc.a)" | sed 's|^\./||')
check_layout plain "$work/prefix" "$plain_libdir"

if [ "$system" = Linux ]; then
  arch=$("$cc" -print-multiarch 2>/dev/null || true)
  [ -n "$arch" ] || arch=x86_64-linux-gnu
  install_mproc debian -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_INSTALL_LIBDIR="lib/$arch"
  DESTDIR="$work/debroot" cmake --install "$work/build-debian" >/dev/null
  check_layout debian "$work/debroot/usr" "lib/$arch"
fi

# embed MODE: mproc inside a C-only parent, which installs only its own.
embed() {
  local mode=$1
  echo "=== consumer: $mode (C-only parent, its own docs target, no build type)"
  cmake -S "$root/tests/consumer" -B "$work/c-$mode" "${generator[@]}" \
    -DMPROC_MODE="$mode" -DMPROC_SOURCE_DIR="$root" \
    -DCMAKE_CXX_COMPILER=/nonexistent/c++ --no-warn-unused-cli >/dev/null
  cmake --build "$work/c-$mode" >/dev/null
  "$work/c-$mode/consumer_c"
  "$work/c-$mode/consumer_c_static"
  cmake --install "$work/c-$mode" --prefix "$work/parent-$mode" >/dev/null
  local installed
  installed=$(cd "$work/parent-$mode" && find . -type f -o -type l | sort)
  if [ "$installed" != "./bin/consumer_c" ]; then
    echo "the parent's install has more than its own program:"
    echo "$installed"; exit 1
  fi
  passed=$((passed + 1))
}
embed subdirectory
embed fetchcontent

echo "=== consumer: exported symbols"
if [ "$system" = Darwin ]; then
  lib=$(find "$work/prefix" -name 'libmproc.*.dylib' -type f | head -n 1)
  symbols=$(nm -gU "$lib" | awk '{print $3}' | sed 's/^_//')
else
  lib=$(find "$work/prefix" -name 'libmproc.so.*' -type f | head -n 1)
  symbols=$(nm -D --defined-only "$lib" | awk '{print $3}')
fi
bad=$(echo "$symbols" | grep -v '^mproc_' || true)
count=$(echo "$symbols" | grep -c '^mproc_')
if [ -n "$bad" ]; then
  echo "symbols exported without the mproc_ prefix:"; echo "$bad"; exit 1
fi
echo "$count symbols exported, all mproc_*"
passed=$((passed + 1))
echo "consumer: $passed passed, 0 failed"
