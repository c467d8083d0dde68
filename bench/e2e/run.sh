#!/usr/bin/env bash
# run.sh: end-to-end benchmarks of presenced against Redis, in one run so the
# ratios hold. Builds (release), then on loopback, with the server pinned to
# one CPU and the load generator (or Redis client) to another:
#
#   1. throughput per server core, for each backend and session count:
#      presenced --cores 1 and presence-loadgen in steady mode at a forced
#      heartbeat rate; medians of per-second rates over the measurement
#      window; heartbeats per server core-second = acks / server CPU time
#      (/proc); server RSS / sessions.
#   2. Redis (Debian redis-server, started here on a private loopback port):
#      the same sessions as `SET presence:{user}:1 available EX <timeout>`,
#      bytes per key from INFO memory, pipelined SETs on one connection (Redis
#      runs commands on one core), SETs per Redis core-second (/proc).
#   3. offline detection at E2E_CHURN_SESSIONS: presenced churn mode (10 % of
#      the users go silent; delay of each OFFLINE beyond the timeout) next to
#      Redis keyspace `expired` events for the same timeout.
#   4. bench/results/e2e/{e2e.json,e2e.csv,e2e.md,*.dat,raw/} and the plots
#      docs/img/e2e_*.png (gnuplot).
#
# Knobs (environment):
#   E2E_QUICK=1           small and short: 100k sessions, 10 s windows
#   E2E_SESSIONS          session counts (default "1000000 10000000")
#   E2E_BACKENDS          presenced backends (default "socket uring")
#   E2E_RATE              offered heartbeats/s in the throughput runs (default 150000)
#   E2E_MEASURE_S         measurement window, s (default 30)
#   E2E_CHURN_SESSIONS    sessions of the detection run (default 1000000)
#   E2E_CHURN_INTERVAL_S  heartbeat interval there (default 10; timeout = 2 x it + 1 s)
#   E2E_SERVER_CPU / E2E_CLIENT_CPU   CPUs to pin to (default 1 / 0)
#   E2E_BUILD_DIR         build directory (default build-release)
#   E2E_SKIP_REDIS=1      presenced only
#   E2E_REDIS_EFFORT      Redis active-expire-effort of the detection run
#                         (default 1, Redis's default; 10 expires harder)
# Runs as root raise net.core.rmem_max/wmem_max to 64 MiB (UDP socket buffers
# for bursts of a million sessions) and say so; the old values are restored.
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=${E2E_QUICK:-0}
if [ "$quick" = 1 ]; then
  sessions_list=${E2E_SESSIONS:-100000}
  measure=${E2E_MEASURE_S:-10}
  churn_sessions=${E2E_CHURN_SESSIONS:-100000}
  churn_interval=${E2E_CHURN_INTERVAL_S:-2}
else
  sessions_list=${E2E_SESSIONS:-1000000 10000000}
  measure=${E2E_MEASURE_S:-30}
  churn_sessions=${E2E_CHURN_SESSIONS:-1000000}
  churn_interval=${E2E_CHURN_INTERVAL_S:-10}
fi
backends=${E2E_BACKENDS:-socket uring}
rate=${E2E_RATE:-150000}
scpu=${E2E_SERVER_CPU:-1}
ccpu=${E2E_CLIENT_CPU:-0}
build=${E2E_BUILD_DIR:-build-release}
out=bench/results/e2e
raw=$out/raw

log() { echo "e2e: $*" >&2; }

if [ "$(nproc)" -lt 2 ]; then
  log "only $(nproc) CPU: not pinning (server and load generator share it)"
  pin_server=()
  pin_client=()
else
  pin_server=(taskset -c "$scpu")
  pin_client=(taskset -c "$ccpu")
fi

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" control/presenced tools/presence-loadgen bench/e2e/redis_bench >/dev/null
presenced=$build/control/presenced
loadgen=$build/tools/presence-loadgen
redis_bench=$build/bench/e2e/redis_bench

work=$(mktemp -d /tmp/presenced-e2e-XXXXXX)
mkdir -p "$raw" docs/img
pids=()
source tools/lib/socket_buffers.sh
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  restore_socket_buffers
  rm -rf "$work"
}
trap cleanup EXIT

raise_socket_buffers e2e

head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/master.key"
echo >> "$work/master.key"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%MZ)

# start_presenced NAME ARGS...: starts presenced on 127.0.0.1:0 pinned to the
# server CPU; sets server_pid and server_addr.
start_presenced() {
  local name=$1; shift
  "${pin_server[@]}" "$presenced" --listen 127.0.0.1:0 --cores "$scpu" \
    --master-key-file "$work/master.key" --control off --log-level warn "$@" \
    > "$work/$name.out" 2> "$work/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_addr=
  for _ in $(seq 600); do
    server_addr=$(sed -n 's/^listening on //p' "$work/$name.out" 2>/dev/null)
    [ -n "$server_addr" ] && return 0
    sleep 0.1
  done
  log "presenced did not start:"; cat "$work/$name.err" >&2; exit 1
}

stop_pid() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# --- 1. throughput per server core ---------------------------------------
for n in $sessions_list; do
  for b in $backends; do
    # Every session heartbeats every n/rate s (forced; the advice of 300 s
    # never binds) and starts at the same rate, so the bring-up takes one
    # interval and leaves the heartbeats evenly spread.
    interval_s=$(( (n + rate - 1) / rate ))
    log "throughput: $b backend, $n sessions, $rate heartbeats/s offered"
    start_presenced "tp-$b-$n" --backend "$b" --max-sessions $((n + n / 20 + 1000)) \
      --interval 300 --min-interval 300 --max-interval 300 --heartbeat-budget 0
    "${pin_client[@]}" "$loadgen" --server "$server_addr" --master-key-file "$work/master.key" \
      --mode steady --sessions "$n" --rate "$rate" --start-rate "$rate" --sockets 32 \
      --settle 3s --measure "${measure}s" --duration "$((interval_s * 3 + measure + 60))s" \
      --server-pid "$server_pid" --json "$raw/throughput-$b-$n.json" \
      2> "$work/tp-$b-$n.log" || log "  (the run's check failed; see its JSON)"
    tail -n 9 "$work/tp-$b-$n.log" | sed 's/^/    /' >&2
    stop_pid "$server_pid"
  done
done

# --- 2. Redis: memory and throughput ---------------------------------------
redis_pid=
if [ "${E2E_SKIP_REDIS:-0}" != 1 ]; then
  port=$(( 20000 + RANDOM % 20000 ))
  "${pin_server[@]}" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --protected-mode no --daemonize no --dir "$work" --logfile "$work/redis.log" &
  redis_pid=$!
  pids+=("$redis_pid")
  for _ in $(seq 100); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$port" ping >/dev/null || { log "redis-server did not start"; exit 1; }
  log "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port"
  for n in $sessions_list; do
    log "redis: memory and throughput at $n keys"
    "${pin_client[@]}" "$redis_bench" --port "$port" --mode memory --keys "$n" --timeout-s 3600 \
      --redis-pid "$redis_pid" --json "$raw/redis-memory-$n.json"
    "${pin_client[@]}" "$redis_bench" --port "$port" --mode throughput --keys "$n" \
      --timeout-s 3600 --duration "$((measure + 1))" --redis-pid "$redis_pid" \
      --json "$raw/redis-throughput-$n.json" 2> "$work/redis-tp-$n.log"
    tail -n 1 "$work/redis-tp-$n.log" | sed 's/^/    /' >&2
  done
fi

# --- 3. offline detection -----------------------------------------------
timeout_s=$(( 2 * churn_interval + 1 ))
log "detection: $churn_sessions sessions, interval ${churn_interval}s, timeout ${timeout_s}s"
start_presenced churn --backend uring --max-sessions $((churn_sessions + churn_sessions / 20 + 1000)) \
  --interval "$churn_interval" --min-interval "$churn_interval" --miss-limit 2 --grace 1s \
  --linger 0 --heartbeat-budget 0 --events-out "$work/events.jsonl"
"${pin_client[@]}" "$loadgen" --server "$server_addr" --master-key-file "$work/master.key" \
  --mode churn --sessions "$churn_sessions" --churn-fraction 0.1 \
  --start-rate "$(( churn_sessions / churn_interval ))" --settle "$((churn_interval))s" \
  --events-file "$work/events.jsonl" --miss-limit 2 --grace 1s --linger 0 \
  --duration "$(( churn_interval * 3 + timeout_s + 120 ))s" --server-pid "$server_pid" \
  --json "$raw/detection-presenced.json" --delays-out "$work/delays-presenced.txt" \
  2> "$work/churn.log" || log "  (the churn check failed; see its JSON)"
tail -n 6 "$work/churn.log" | sed 's/^/    /' >&2
stop_pid "$server_pid"
if [ -n "$redis_pid" ]; then
  log "detection: Redis keyspace expired events, $churn_sessions keys, EX $timeout_s"
  "${pin_client[@]}" "$redis_bench" --port "$port" --mode expiry --keys "$churn_sessions" \
    --interval-s "$churn_interval" --timeout-s "$timeout_s" --churn-fraction 0.1 \
    --expire-effort "${E2E_REDIS_EFFORT:-1}" \
    --redis-pid "$redis_pid" --json "$raw/detection-redis.json" \
    --delays-out "$work/delays-redis.txt" 2> "$work/redis-expiry.log" ||
    log "  (Redis missed keys; see its JSON)"
  tail -n 1 "$work/redis-expiry.log" | sed 's/^/    /' >&2
  stop_pid "$redis_pid"
fi

# --- 4. results and plots -------------------------------------------------
python3 bench/e2e/aggregate.py --raw "$raw" --out "$out" \
  --delays-presenced "$work/delays-presenced.txt" --delays-redis "$work/delays-redis.txt" \
  --machine "$(nproc) vCPU $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), Linux $(uname -r), $(free -g | awk '/Mem:/{print $2}') GB; run $started; load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
gnuplot -e "datadir='$out'; imgdir='docs/img'" bench/e2e/plots.gp
log "results in $out (e2e.md, e2e.json, e2e.csv), plots in docs/img/e2e_*.png"
cat "$out/e2e.md"
