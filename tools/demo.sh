#!/usr/bin/env bash
# demo.sh: the README's first command. Installs the dependencies, builds
# presenced (release) and runs it on loopback with a small fleet of real
# clients for a bounded time: live status lines from the server and the
# presence events as they happen. Part of the fleet goes silent halfway, so
# their OFFLINE events show the timeout at work.
#
#   DEMO_SECONDS   how long to run (default 30)
#   DEMO_CLIENTS   how many client sessions (default 24)
#   DEMO_BACKEND   uring (default) or socket
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${DEMO_SECONDS:-30}
clients=${DEMO_CLIENTS:-24}
backend=${DEMO_BACKEND:-uring}

bash tools/install-deps.sh
if [ ! -f build-release/build.ninja ]; then
  meson setup build-release --buildtype=release >/dev/null
fi
ninja -C build-release control/presenced tools/presence-client >/dev/null

work=$(mktemp -d /tmp/presenced-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/master.key"
echo >> "$work/master.key"

# Short intervals so that a 30-second demo shows sessions timing out:
# interval 2 s, 2 misses, 1 s grace -> offline 5 s after the last heartbeat,
# published after 1 s of linger.
./build-release/control/presenced --backend "$backend" --listen 127.0.0.1:0 \
  --master-key-file "$work/master.key" --max-sessions 100000 \
  --interval 2 --min-interval 1 --miss-limit 2 --grace 1s --linger 1s \
  --events-out "$work/events.jsonl" --stats-interval 2 \
  > "$work/stdout" 2> "$work/stderr" &
pids+=($!)
tail -n +1 -F "$work/stderr" 2>/dev/null | sed -u 's/^/[presenced] /' &
pids+=($!)
for _ in $(seq 100); do
  grep -q "listening on" "$work/stdout" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$address" ] || { echo "demo: presenced did not start"; exit 1; }
echo "demo: presenced listening on $address; $clients clients for $seconds s"

tail -n +1 -F "$work/events.jsonl" 2>/dev/null | sed -u 's/^/[event] /' &
pids+=($!)

# Two devices per user, with different statuses (the user shows the
# highest: busy > available > away).
statuses=(available away busy available away)
users=$(( (clients + 1) / 2 ))
client_pids=()
client_user=()
for i in $(seq 0 $((clients - 1))); do
  user=$((1001 + i / 2))
  ./build-release/tools/presence-client --server "$address" \
    --master-key-file "$work/master.key" --user "$user" --device $((i % 2 + 1)) \
    --status "${statuses[$((i % 5))]}" --interval-ms 2000 --quiet &
  client_pids+=($!)
  client_user+=("$user")
  pids+=($!)
done

sleep $((seconds / 2))
echo "demo: every third user's devices drop off the network (killed, no BYE):" \
  "OFFLINE follows after the timeout and the linger"
for i in "${!client_pids[@]}"; do
  if [ $(( (client_user[i] - 1001) % 3 )) -eq 0 ]; then
    kill -9 "${client_pids[$i]}" 2>/dev/null || true
  fi
done
sleep $((seconds - seconds / 2))

echo "demo: stopping clients (BYE) and the server"
for p in "${client_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
sleep 2
kill -TERM "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
sleep 0.5
echo "demo: $users users; events: $(grep -c '"type":"online"' "$work/events.jsonl" || true) online," \
  "$(grep -c '"type":"status"' "$work/events.jsonl" || true) status," \
  "$(grep -c '"type":"offline"' "$work/events.jsonl" || true) offline"
