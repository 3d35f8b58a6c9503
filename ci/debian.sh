#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the Debian packages (libmproc0, libmproc-dev, mproc-tools) from
# debian/ with dpkg-buildpackage, checks them with lintian (no errors
# allowed), installs them, builds tests/consumer.c against the installed
# libmproc-dev with pkg-config and with find_package, runs it, and removes
# the packages again.
#
# The build runs on a copy of the tree in build/debian, where the .deb files
# are left; the tree itself stays clean. The test suite is not run here
# (DEB_BUILD_OPTIONS=nocheck): ci/test.sh runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/ci/install-deps.sh" --build-only dpkg-dev debhelper lintian pkg-config
out="$root/build/debian"
version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
src="$out/mproc-$version"
rm -rf "$out"
mkdir -p "$src"

echo "=== debian: build"
(cd "$root" && git ls-files -co --exclude-standard -z | grep -zv '^build/' |
  tar --null -T - -cf - ) | tar -xf - -C "$src"
(cd "$src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=2" \
  dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1) ||
  { tail -n 40 "$out/build.log"; echo "dpkg-buildpackage failed"; exit 1; }
packages=(libmproc0 libmproc-dev mproc-tools)
debs=()
for pkg in "${packages[@]}"; do
  deb=$(ls "$out/${pkg}_${version}_"*.deb 2>/dev/null || true)
  [ -n "$deb" ] || { echo "no $pkg package"; exit 1; }
  debs+=("$deb")
done
for deb in "${debs[@]}"; do
  echo "$(basename "$deb"):"
  dpkg-deb -c "$deb" | awk '{print "  " $6 ($7 ? " " $7 " " $8 : "")}' |
    grep -v '/$'
done

echo "=== debian: lintian"
changes=("$out"/*.changes)
lintian --fail-on error "${changes[@]}" | tee "$out/lintian.log"
errors=$(grep -c '^E:' "$out/lintian.log" || true)
echo "lintian: $errors errors, $(grep -c '^W:' "$out/lintian.log" || true) warnings"
[ "$errors" -eq 0 ]

echo "=== debian: install and use libmproc-dev"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
cleanup() {
  $sudo dpkg --purge "${packages[@]}" >/dev/null ||
    echo "could not remove ${packages[*]}" >&2
}
trap cleanup EXIT
$sudo dpkg -i "${debs[@]}" >/dev/null
work="$out/consumer"
mkdir -p "$work"
# shellcheck disable=SC2046
cc -Wall -Werror -o "$work/consumer-pc" "$root/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs mproc)
"$work/consumer-pc"
cmake -S "$root/tests/consumer" -B "$work/package" -DMPROC_MODE=package \
  >/dev/null
cmake --build "$work/package" >/dev/null
"$work/package/consumer_c"
"$work/package/consumer_c_static"
mproc-ps --help >/dev/null
echo "debian: 3 packages built, lintian clean of errors, consumer built against libmproc-dev"
