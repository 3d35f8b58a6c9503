#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what building and testing mproc needs, when it is missing, with
# apt-get (Debian and Ubuntu). Does nothing when everything is there.
set -euo pipefail

#
#   ci/install-deps.sh               what the tests need
#   ci/install-deps.sh PKG...        that and these Debian packages
#   ci/install-deps.sh --build-only  only CMake and a C compiler (ci/demo.sh)
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if [ "${1:-}" = --build-only ]; then
  shift
else
  command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
  command -v c++ >/dev/null 2>&1 || missing+=(g++)
  [ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  # examples/event_loop.c watches a process sentinel with libuv when it is
  # there (pkg-config finds it); poll() otherwise.
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  [ -f /usr/include/uv.h ] || missing+=(libuv1-dev)
  # The MPI pool transport: Open MPI to build and test it, MPICH to compile
  # it against a second implementation.
  command -v mpiexec.openmpi >/dev/null 2>&1 || missing+=(openmpi-bin)
  dpkg -s libopenmpi-dev >/dev/null 2>&1 || missing+=(libopenmpi-dev)
  dpkg -s libmpich-dev >/dev/null 2>&1 || missing+=(libmpich-dev)
fi
for extra in "$@"; do
  dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${missing[*]} (install them; apt-get is not available here)" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
