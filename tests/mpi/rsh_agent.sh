#!/bin/sh
# SPDX-License-Identifier: MIT
# Open MPI's remote launcher for tests that simulate two machines on one:
# called as ssh would be (options, the host name, then the command), it
# drops the options and the host and runs the command here.
while [ $# -gt 0 ]; do
  case "$1" in
    -*) shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] && shift # the host
exec /bin/sh -c "$*"
