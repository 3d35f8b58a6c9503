#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One command for the performance report: builds mproc in Release, runs every
# benchmark of bench/ and the peers beside them (CPython's multiprocessing,
# Boost.Interprocess, libuv, and mpi4py.futures when the MPI component and
# its benchmark exist), and writes docs/performance.md with a table of every
# figure beside its same-run baseline and PNG plots of the scaling curves.
#
#   bench/report.sh [rounds]      (default 7 rounds per figure)
#
# Each figure is the median of `rounds` interleaved rounds: subject and
# baseline alternate, so a busy machine weighs on both alike. Needs gnuplot
# for the plots (ci/install-deps.sh report installs it on Debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-7}
build="$root/build/report"
out="$build/out"
docs="$root/docs"
plots="$docs/performance"
tsv="$out/figures.tsv"
scaling="$out/scaling.tsv"

"$root/ci/install-deps.sh" gnuplot-nox libboost-dev libuv1-dev pkg-config
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMPROC_BUILD_TESTS=OFF \
  -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
rm -rf "$out"
mkdir -p "$out" "$plots"
: >"$tsv"
export MPROC_BENCH_TSV="$tsv"

run() { # run NAME COMMAND...: output into $out/NAME.txt, echoed
  local name=$1
  shift
  echo "=== $name" >&2
  if ! "$@" >"$out/$name.txt" 2>&1; then
    echo "(failed: $*)" >>"$out/$name.txt"
  fi
  cat "$out/$name.txt" >&2
}

# The share of this machine's CPU time its host took for others while the
# benchmarks ran (steal time, Linux's /proc/stat; a virtual machine's noise).
cpu_times() { awk '/^cpu / {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat 2>/dev/null; }
times_before=$(cpu_times)

bin="$build/bench"
run process "$bin/process_bench" 200 "$rounds"
run shared "$bin/shared_bench" "$rounds"
run pool "$bin/pool_bench" 2000 "$rounds"
[ -x "$bin/boost_bench" ] && run boost "$bin/boost_bench" "$rounds"
[ -x "$bin/libuv_bench" ] && run libuv "$bin/libuv_bench" 100 "$rounds"
# Benchmarks of the other objects, whatever their names: every *_bench
# program not run above takes its round count as its only argument.
for b in "$bin"/*_bench; do
  name=$(basename "$b" _bench)
  case "$name" in
  process | shared | pool | boost | libuv | scaling | platform | ps | mpi_pool) continue ;;
  esac
  [ -x "$b" ] && run "$name" "$b" "$rounds"
done
# The MPI pool beside mpi4py.futures, when the MPI component was built.
if [ -x "$bin/mpi_pool_bench" ] && command -v mpiexec >/dev/null; then
  run mpi sh "$root/bench/mpi_pool_bench.sh" "$build" 2 "$rounds"
fi
if command -v python3 >/dev/null; then
  run python_process python3 "$root/bench/process_bench.py"
  run python_pool python3 "$root/bench/pool_bench.py"
fi
run scaling "$bin/scaling_bench" "$scaling" all "$(((rounds + 1) / 2))"

# ---- plots ---------------------------------------------------------------
series() { awk -F'\t' -v s="$1" '$1 == s {print $2, $3}' "$scaling"; }
if command -v gnuplot >/dev/null; then
  for p in 1 2 3 4; do series "queue_pc_p$p" >"$out/queue_pc_p$p.dat"; done
  series queue_size >"$out/queue_size.dat"
  series pool_map_chunk1 >"$out/pool_map.dat"
  series pool_speedup >"$out/pool_speedup.dat"
  for m in fork spawn forkserver; do series "start_mem_$m" >"$out/start_$m.dat"; done
  gnuplot <<EOF
set terminal pngcairo size 800,500 font ",10"
set grid
set key left top
set output "$plots/queue-producers-consumers.png"
set title "Queue, 64-byte messages: P producers x C consumers"
set xlabel "consumers"; set ylabel "M messages/s"; set xtics 1
plot for [p=1:4] sprintf("$out/queue_pc_p%d.dat", p) with linespoints title sprintf("%d producer(s)", p)
set output "$plots/queue-message-size.png"
set title "Queue throughput, 1 -> 1, against the message size"
set logscale x 2; set xlabel "message size (bytes)"; set ylabel "GB/s"; set xtics auto
plot "$out/queue_size.dat" with linespoints title "mproc_queue"
unset logscale x
set output "$plots/pool-workers.png"
set title "Pool: map throughput (chunksize 1) and CPU-bound speed-up"
set xlabel "workers"; set ylabel "k tasks/s"; set y2label "speed-up (x)"
set ytics nomirror; set y2tics; set xtics 1
plot "$out/pool_map.dat" with linespoints title "map, chunksize 1 (k tasks/s)", \
     "$out/pool_speedup.dat" axes x1y2 with linespoints title "CPU-bound speed-up"
unset y2tics; unset y2label; set ytics mirror
set output "$plots/start-parent-memory.png"
set title "start+join against the parent's touched memory"
set xlabel "parent memory (MiB)"; set ylabel "microseconds"; set logscale y
set xtics auto
plot "$out/start_fork.dat" with linespoints title "fork", \
     "$out/start_spawn.dat" with linespoints title "spawn", \
     "$out/start_forkserver.dat" with linespoints title "forkserver"
EOF
fi

steal=$(echo "$times_before $(cpu_times)" |
  awk 'NF == 4 && $4 > $2 {printf "%.1f%%", ($3 - $1) * 100 / ($4 - $2)}')

# ---- the page --------------------------------------------------------------
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
{
  echo "# Performance"
  echo
  echo "Made by \`bench/report.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores ($cpu),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r), $(cc --version | head -n 1)."
  echo "Load average when it started: $(cut -d' ' -f1-3 /proc/loadavg)."
  [ -n "$steal" ] && echo "Time the host took from this machine while it ran (steal): $steal."
  echo
  echo "Every figure is the median of $rounds interleaved rounds: the subject and its"
  echo "baseline alternate within one run, so that a noisy machine weighs on both"
  echo "alike; read the ratios, not the absolute values. \"ratio\" is the subject's"
  echo "cost over the baseline's (time per operation, or baseline rate over"
  echo "subject rate): below 1 is faster than the baseline."
  echo
  echo "| figure | mproc | value | baseline | value | unit | ratio |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %.4g | %s | %.4g | %s | %.2f |\n", $1, $2, $3, $4, $5, $6, $7}' "$tsv"
  echo
  echo "## Scaling"
  echo
  for f in queue-producers-consumers queue-message-size pool-workers start-parent-memory; do
    [ -f "$plots/$f.png" ] && echo "![$f](performance/$f.png)" && echo
  done
  echo "The points behind the plots:"
  echo
  echo '```'
  cat "$scaling"
  echo '```'
  echo
  echo "## Every benchmark's output"
  for f in "$out"/*.txt; do
    echo
    echo "### $(basename "$f" .txt)"
    echo
    echo '```'
    cat "$f"
    echo '```'
  done
} >"$docs/performance.md"
echo "wrote $docs/performance.md and $plots/*.png" >&2
