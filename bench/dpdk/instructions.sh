#!/usr/bin/env bash
# instructions.sh: instructions per heartbeat on the server core, counted by
# callgrind (repeatable, unlike this VM's timings) on the DPDK cost mode
# (bench/dpdk/dpdk_bench.cc, run_cost: generator, backend and engine in one
# thread on net_ring). Prints the Markdown table of docs/BENCHMARKS.md
# ("The instruction budget").
#
#   bash bench/dpdk/instructions.sh [SESSIONS]     (default 10000; root)
#   DPDK_BENCH_BUILD_DIR   release build (default build-dpdk-release)
# Takes a few minutes: callgrind runs the program ~50x slower.
set -euo pipefail
cd "$(dirname "$0")/../.."
sessions=${1:-10000}
build=${DPDK_BENCH_BUILD_DIR:-build-dpdk-release}
if [ "$(id -u)" -ne 0 ]; then
  echo "instructions.sh: needs root (DPDK's runtime directory)" >&2
  exit 1
fi
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind" >&2; exit 1; }
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" bench/dpdk/dpdk_bench >/dev/null
tmp=$(mktemp -d /tmp/presenced-instructions-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$tmp/profile" \
  "$build/bench/dpdk/dpdk_bench" --mode cost --sessions "$sessions" --seconds 2 --cpu 1 \
  >"$tmp/bench.out" 2>"$tmp/valgrind.err" || { cat "$tmp/valgrind.err" >&2; exit 1; }
python3 bench/dpdk/instructions.py "$tmp/profile"
