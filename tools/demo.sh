#!/usr/bin/env bash
# demo.sh: the README's first command. Installs the dependencies, builds
# presenced (release) and runs it on loopback with presence-loadgen driving
# 1,000,000 sessions (one client state machine each) for a bounded time:
# the sessions come online, heartbeat, then 10 % of the users go silent and
# their OFFLINE events follow the timeout. Live status comes from
# `presencectl top` (or presenced's --stats-interval lines when presencectl
# is not built); the load generator's summary ends the demo.
#
#   DEMO_SECONDS    upper bound of the run (default 60)
#   DEMO_SESSIONS   sessions (default 1000000; DEMO_CLIENTS is accepted too)
#   DEMO_INTERVAL   heartbeat interval the server advises, s (default 10;
#                   timeout = 2 x interval + 1 s)
#   DEMO_BACKEND    uring (default) or socket
#
# As root it raises net.core.rmem_max/wmem_max to 64 MiB while it runs (UDP
# socket buffers for bursts of a million sessions on loopback) and puts the
# old values back at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${DEMO_SECONDS:-60}
sessions=${DEMO_SESSIONS:-${DEMO_CLIENTS:-1000000}}
interval=${DEMO_INTERVAL:-10}
backend=${DEMO_BACKEND:-uring}

bash tools/install-deps.sh
if [ ! -f build-release/build.ninja ]; then
  meson setup build-release --buildtype=release >/dev/null
fi
targets=(control/presenced tools/presence-loadgen)
if grep -q "'presencectl'" tools/meson.build 2>/dev/null; then targets+=(tools/presencectl); fi
ninja -C build-release "${targets[@]}" >/dev/null
ctl=build-release/tools/presencectl
[ -x "$ctl" ] || ctl=

work=$(mktemp -d /tmp/presenced-demo-XXXXXX)
pids=()
source tools/lib/socket_buffers.sh
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  restore_socket_buffers
  rm -rf "$work"
}
trap cleanup EXIT

raise_socket_buffers demo

head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/master.key"
echo >> "$work/master.key"

timeout_s=$(( 2 * interval + 1 ))
stats=()
[ -n "$ctl" ] || stats=(--stats-interval 2)
./build-release/control/presenced --backend "$backend" --listen 127.0.0.1:0 \
  --control 127.0.0.1:0 --master-key-file "$work/master.key" \
  --max-sessions $(( sessions + sessions / 10 + 1000 )) \
  --interval "$interval" --min-interval "$interval" --miss-limit 2 --grace 1s --linger 1s \
  --events-out "$work/events.jsonl" "${stats[@]}" \
  > "$work/stdout" 2> "$work/stderr" &
server_pid=$!
pids+=("$server_pid")
if [ -z "$ctl" ]; then
  tail -n +1 -F "$work/stderr" 2>/dev/null | sed -u 's/^/[presenced] /' &
  pids+=($!)
fi
for _ in $(seq 100); do
  grep -q "listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$work/stdout")
control=$(sed -n 's/^control on //p' "$work/stdout")
[ -n "$address" ] || { echo "demo: presenced did not start"; cat "$work/stderr"; exit 1; }

# Sessions start at sessions/interval per second, so the bring-up takes one
# interval and the heartbeats are spread evenly. Churn needs the bring-up,
# a settle, the timeout, one interval (the silenced sessions' last
# heartbeats are spread over one) and the linger; with less time the demo
# stays in steady mode.
start_rate=$(( sessions / interval ))
needed=$(( interval + 2 + timeout_s + interval + 1 + 5 ))
mode=churn
[ "$seconds" -ge "$needed" ] || mode=steady
echo "demo: presenced on $address (control $control); presence-loadgen drives $sessions sessions" \
  "($start_rate/s bring-up, ${interval}s interval, timeout ${timeout_s}s), mode $mode, at most ${seconds}s"
[ "$mode" = churn ] && echo "demo: once all are online, 10 % of the users go silent (no BYE):" \
  "their OFFLINE follows the timeout"

./build-release/tools/presence-loadgen --server "$address" --master-key-file "$work/master.key" \
  --mode "$mode" --sessions "$sessions" --start-rate "$start_rate" --settle 2s \
  --churn-fraction 0.1 --events-file "$work/events.jsonl" --miss-limit 2 --grace 1s --linger 1s \
  --duration "${seconds}s" --server-pid "$server_pid" --json "$work/loadgen.json" \
  2> "$work/loadgen.log" &
loadgen_pid=$!
pids+=("$loadgen_pid")

if [ -n "$ctl" ]; then
  # presencectl top redraws the screen every 2 s until the load generator
  # is done; the load generator's own progress goes to its log.
  "$ctl" --control "$control" top --interval-ms 2000 < /dev/null &
  top_pid=$!
  pids+=("$top_pid")
else
  tail -n +1 -F "$work/loadgen.log" 2>/dev/null | sed -u 's/^/[loadgen] /' &
  pids+=($!)
fi
status=0
wait "$loadgen_pid" || status=$?
if [ -n "$ctl" ]; then
  kill -TERM "$top_pid" 2>/dev/null || true
  wait "$top_pid" 2>/dev/null || true
  echo
  echo "demo: last status from presencectl:"
  "$ctl" --control "$control" status || true
  echo
  echo "demo: the load generator's last progress lines:"
  grep '^\[' "$work/loadgen.log" | tail -n 5 || true
fi
echo
sed -n '/^presence-loadgen .*: \(PASS\|FAIL\)/,$p' "$work/loadgen.log"
kill -TERM "$server_pid"
wait "$server_pid" 2>/dev/null || true
echo "demo: server events: $(grep -c '"type":"online"' "$work/events.jsonl" || true) online," \
  "$(grep -c '"type":"offline"' "$work/events.jsonl" || true) offline"
exit "$status"
