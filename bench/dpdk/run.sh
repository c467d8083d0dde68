#!/usr/bin/env bash
# run.sh: heartbeats per second per server core through the DPDK backend,
# next to the io_uring and socket backends, in one run so the ratios hold.
# Results and commands go to docs/BENCHMARKS.md ("DPDK").
#
# The server gets one data core (DPDK_BENCH_SERVER_CPU, busy polling), the
# load generator another (DPDK_BENCH_GEN_CPU); both are pinned. For each
# session count and each mode (bench/dpdk/dpdk_bench.cc says what they do):
#   ring    presenced's server in-process, on one end of two net_ring ports
#           wired back to back; the generator on the other end (another lcore)
#   memif   the presenced daemon on a net_memif server port; the generator a
#           second DPDK process on the memif client port
#   uring, socket
#           the presenced daemon on 127.0.0.1; the generator a kernel UDP
#           client (sendmmsg/recvmmsg, at most 1024 heartbeats unanswered)
#   cost    one thread does it all (generator burst -> receive -> engine ->
#           send -> replies back): the server's CPU nanoseconds per packet,
#           with the engine and with the backend alone (echo), medians per
#           burst; 1e9 / ns is the per-core ceiling without cross-core costs
# Every heartbeat carries a fresh seq and MAC; every reply is counted, one in
# 1024 parsed and its MAC verified. Daemon modes start presenced once per
# (mode, sessions), warm it up once (one heartbeat per session, at 150,000
# new sessions/s: below the engine's admission rate), then run
# DPDK_BENCH_RUNS measurement windows; ring mode is one process per run.
# Medians of the runs are printed as a Markdown table and written with the
# raw JSON lines to $DPDK_BENCH_OUT.
#
# Knobs (environment):
#   DPDK_BENCH_SESSIONS   session counts (default "1000000 10000000")
#   DPDK_BENCH_MODES      default "cost ring memif uring socket"
#   DPDK_BENCH_RUNS       measurement windows per configuration (default 3)
#   DPDK_BENCH_SECONDS    length of a window (default 5)
#   DPDK_BENCH_GEN_CPU / DPDK_BENCH_SERVER_CPU   (default 0 / 1)
#   DPDK_BENCH_BUILD_DIR  release build directory (default build-dpdk-release;
#                         configured and the two targets built if needed)
#   DPDK_BENCH_OUT        default bench/results/dpdk
# Needs root (DPDK's runtime directory, memif sockets, socket buffers past
# rmem_max). No hugepages or NIC: every EAL runs with --no-huge --no-pci and
# its own --file-prefix.
set -euo pipefail
cd "$(dirname "$0")/../.."

sessions_list=${DPDK_BENCH_SESSIONS:-"1000000 10000000"}
modes=${DPDK_BENCH_MODES:-"cost ring memif uring socket"}
runs=${DPDK_BENCH_RUNS:-3}
seconds=${DPDK_BENCH_SECONDS:-5}
gen_cpu=${DPDK_BENCH_GEN_CPU:-0}
srv_cpu=${DPDK_BENCH_SERVER_CPU:-1}
build=${DPDK_BENCH_BUILD_DIR:-build-dpdk-release}
out=${DPDK_BENCH_OUT:-bench/results/dpdk}

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: needs root (DPDK runtime directory, memif sockets)" >&2
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release -Dtests=false >/dev/null
fi
ninja -C "$build" control/presenced bench/dpdk/dpdk_bench >/dev/null
presenced=$build/control/presenced
bench=$build/bench/dpdk/dpdk_bench

mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
tmp=$(mktemp -d /tmp/presenced-dpdk-bench-XXXXXX)
echo 000102030405060708090a0b0c0d0e0f >"$tmp/key"
daemon_pid=""
prefixes=()

cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  for p in "${prefixes[@]}"; do rm -rf "/var/run/dpdk/$p"; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_daemon ARGS...: presenced in the background, its stdout in
# $tmp/daemon.out; waits (bounded) for `listening on ADDR:PORT`.
start_daemon() {
  : >"$tmp/daemon.out"
  "$presenced" "$@" >"$tmp/daemon.out" 2>"$tmp/daemon.err" &
  daemon_pid=$!
  for _ in $(seq 1 600); do
    if grep -q '^listening on ' "$tmp/daemon.out"; then
      listen=$(sed -n 's/^listening on //p' "$tmp/daemon.out" | head -1)
      return 0
    fi
    if ! kill -0 "$daemon_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "run.sh: presenced did not start:" >&2
  cat "$tmp/daemon.err" >&2
  exit 1
}

stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || true
  daemon_pid=""
}

common=(--master-key-file "$tmp/key" --cores "$srv_cpu" --busy-poll --control off)

for n in $sessions_list; do
  max=$((n + n / 8 + 1024))
  for mode in $modes; do
    echo "== $mode, $n sessions" >&2
    case $mode in
      cost)
        for r in $(seq 1 "$runs"); do
          "$bench" --mode cost --sessions "$n" --seconds "$seconds" --cpu "$srv_cpu" | tee -a "$results"
        done
        ;;
      ring)
        for r in $(seq 1 "$runs"); do
          "$bench" --mode ring --sessions "$n" --seconds "$seconds" --cpu "$gen_cpu" \
            --server-cpu "$srv_cpu" | tee -a "$results"
        done
        ;;
      memif)
        sock=$tmp/memif.sock
        srv_prefix=pd-bench-srv-$$
        gen_prefix=pd-bench-gen-$$
        prefixes+=("$srv_prefix" "$gen_prefix")
        start_daemon --backend dpdk "${common[@]}" --max-sessions "$max" \
          --dpdk-args "--no-huge --no-pci -m 1024 --file-prefix $srv_prefix --vdev=net_memif0,role=server,socket=$sock" \
          --port 0 --ip 10.1.0.1/24 --dpdk-exception off --listen 0.0.0.0:7460
        for r in $(seq 1 "$runs"); do
          warm=()
          if [ "$r" -gt 1 ]; then warm=(--skip-warmup --seq-base $((r * 268435456))); fi
          "$bench" --mode memif --sessions "$n" --seconds "$seconds" --cpu "$gen_cpu" \
            --master-key-file "$tmp/key" --server-pid "$daemon_pid" "${warm[@]}" \
            --dpdk-args "--no-huge --no-pci -m 1024 --file-prefix $gen_prefix --vdev=net_memif0,role=client,socket=$sock" \
            | tee -a "$results"
          rm -rf "/var/run/dpdk/$gen_prefix"
        done
        stop_daemon
        ;;
      uring|socket)
        start_daemon --backend "$mode" "${common[@]}" --max-sessions "$max" --listen 127.0.0.1:0
        for r in $(seq 1 "$runs"); do
          warm=()
          if [ "$r" -gt 1 ]; then warm=(--skip-warmup --seq-base $((r * 268435456))); fi
          "$bench" --mode udp --target "$listen" --sessions "$n" --seconds "$seconds" \
            --cpu "$gen_cpu" --master-key-file "$tmp/key" --server-pid "$daemon_pid" "${warm[@]}" \
            | sed "s/\"backend\":\"kernel-udp\"/\"backend\":\"$mode\"/" | tee -a "$results"
        done
        stop_daemon
        ;;
      *) echo "run.sh: unknown mode $mode" >&2; exit 2 ;;
    esac
  done
done

python3 - "$results" "$runs" "$seconds" >"$out/results.md" <<'PY'
import json, statistics, sys
rows = {}
costs = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r["mode"] == "cost":
        costs.setdefault(r["sessions"], []).append(r)
        continue
    rows.setdefault((r["backend"], r["sessions"]), []).append(r)
order = {"dpdk-ring": 0, "dpdk-memif": 1, "uring": 2, "socket": 3}
print(f"| backend | sessions | heartbeats acked/s (median of {sys.argv[2]} x {sys.argv[3]} s) | min | max | server core CPU busy | acked per server CPU-second | bad replies |")
print("|---|---|---|---|---|---|---|---|")
for (b, n), rs in sorted(rows.items(), key=lambda kv: (kv[0][1], order.get(kv[0][0], 9))):
    acked = [r["acked_pps"] for r in rs]
    busy = statistics.median(r["server_cpu_s"] / r["seconds"] for r in rs)
    per_cpu = statistics.median(r["acked_per_server_cpu_s"] for r in rs)
    bad = sum(r["bad_replies"] for r in rs)
    print(f"| {b} | {n:,} | {statistics.median(acked)/1e6:.2f} M | {min(acked)/1e6:.2f} M | "
          f"{max(acked)/1e6:.2f} M | {busy*100:.0f} % | {per_cpu/1e6:.2f} M | {bad} |")
if costs:
    print()
    print("| sessions | server ns/packet (backend + engine) | backend alone ns/packet | engine ns/packet | ceiling per core | backend ceiling |")
    print("|---|---|---|---|---|---|")
    for n, rs in sorted(costs.items()):
        srv = statistics.median(r["server_ns_per_packet"] for r in rs)
        io = statistics.median(r["backend_ns_per_packet"] for r in rs)
        print(f"| {n:,} | {srv:.0f} | {io:.0f} | {srv - io:.0f} | {1e3/srv:.2f} Mpps | {1e3/io:.2f} Mpps |")
PY
cat "$out/results.md"
