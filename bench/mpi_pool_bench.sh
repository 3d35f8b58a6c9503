#!/bin/sh
# SPDX-License-Identifier: MIT
# mproc's pool on MPI ranks beside mpi4py.futures.MPIPoolExecutor, the
# same worker count under the same launcher, in alternating rounds; prints
# each side's median and their ratio.
#   mpi_pool_bench.sh BUILD_DIR [WORKERS [ROUNDS]]
set -eu
build=$1
workers=${2:-2}
rounds=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
launch="mpiexec --oversubscribe -n $((workers + 1))"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
  $launch "$build/bench/mpi_pool_bench" >>"$tmp/mproc"
  $launch "$python" -m mpi4py.futures "$here/mpi_pool_bench.py" >>"$tmp/mpi4py"
  i=$((i + 1))
done
median() { # key file
  grep "^$1 " "$2" | awk '{print $2}' | sort -g |
    awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "nan"}'
}
echo "$workers worker ranks, $rounds rounds, medians (machine load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-26s %14s %14s %10s\n' figure mproc mpi4py ratio
for key in apply_round_trip_us map_chunksize1_per_s map_tiny_per_s \
           cpu_speedup_per_worker; do
  a=$(median "$key" "$tmp/mproc")
  b=$(median "$key" "$tmp/mpi4py")
  case $key in
    *_us) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1fx", b / a}') ;;
    *) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.1fx", a / b}') ;;
  esac
  printf '%-26s %14s %14s %10s\n' "$key" "$a" "$b" "$ratio"
done
printf '%-26s %14s %14s\n' cpu_owner_core_share \
  "$(median cpu_owner_core_share "$tmp/mproc")" \
  "$(median cpu_owner_core_share "$tmp/mpi4py")"
printf '%-26s %14s\n' idle_worker_core_share \
  "$(median idle_worker_core_share "$tmp/mproc")"
echo "a local pool of as many workers, same rounds (mproc's local transport):"
for key in apply_round_trip_us map_chunksize1_per_s map_tiny_per_s; do
  printf '%-26s %14s\n' "$key" "$(median "local_$key" "$tmp/mproc")"
done
