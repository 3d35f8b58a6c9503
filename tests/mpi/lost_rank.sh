#!/bin/sh
# SPDX-License-Identifier: MIT
# A worker rank killed under a running task: the job must end, non-zero,
# within a bounded time, with a message that names the lost rank.
#   lost_rank.sh SECONDS NAMED MPIEXEC ARGS...
# NAMED is how the message names the rank ("rank 1": rank 1 of the job;
# a spawned worker is named by its rank in the spawned group).
limit=$1
named=$2
shift 2
start=$(date +%s)
out=$(timeout -k 5 "$limit" "$@" 2>&1)
rc=$?
took=$(($(date +%s) - start))
printf '%s\n' "$out"
if [ "$took" -ge "$limit" ]; then
  echo "FAIL: the job did not end within $limit s (exit code $rc)"
  exit 1
fi
if [ "$rc" -eq 0 ]; then
  echo "FAIL: the job ended with exit code 0"
  exit 1
fi
if ! printf '%s\n' "$out" | grep -q "$named"; then
  echo "FAIL: no message names $named"
  exit 1
fi
echo "PASS: the job ended in ${took} s with exit code $rc"
