#!/usr/bin/env bash
# bench/micro/run.sh: runs the data-plane micro-benchmarks (release build)
# and prints the medians as the markdown rows of docs/BENCHMARKS.md.
#
#   REPS   repetitions per benchmark (default 5); the engine benchmark runs
#          as REPS separate processes (its pre-signed packets are consumed)
# Usage: bash bench/micro/run.sh [BUILD_DIR]   (default build-release)
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-release}
reps=${REPS:-5}
if [ ! -f "$build/build.ninja" ]; then meson setup "$build" --buildtype=release >/dev/null; fi
ninja -C "$build" bench/siphash_benchmark bench/wheel_benchmark bench/table_benchmark \
  bench/engine_benchmark >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(--benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
        --benchmark_format=json)
"$build/bench/siphash_benchmark" "${common[@]}" > "$out/siphash.json"
"$build/bench/table_benchmark" "${common[@]}" > "$out/table.json"
"$build/bench/wheel_benchmark" "${common[@]}" > "$out/wheel.json"
for i in $(seq "$reps"); do
  "$build/bench/engine_benchmark" --benchmark_format=json > "$out/engine.$i.json"
done

python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]

def medians(path):
    rows = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("aggregate_name") == "median":
            rows[b["run_name"]] = b
    return rows

def rate(b, key):
    v = b.get(key)
    return f"{v/1e6:.1f} M/s" if v is not None else "-"

print("| benchmark | median |")
print("|---|---|")
for name in ("siphash", "table", "wheel"):
    for run, b in medians(f"{out}/{name}.json").items():
        keys = [k for k in b if k.endswith("/s") or k in ("schedules", "visits", "ticks", "catch_ups")]
        vals = ", ".join(f"{k}{'' if k.endswith('/s') else '/s'} {b[k]/1e6:.1f} M" for k in keys)
        extra = [k for k in b if k.startswith("ns/")]
        vals += "".join(f", {k} {b[k]*1e9:.2f}" for k in extra)
        if "bytes_per_session" in b:
            vals += f", table bytes/session {b['bytes_per_session']:.1f}"
        if "bytes_per_entry" in b:
            vals += f", bytes/entry {b['bytes_per_entry']:.1f}"
        print(f"| {run} | {vals} |")
runs = {}
for path in sorted(glob.glob(f"{out}/engine.*.json")):
    for b in json.load(open(path))["benchmarks"]:
        runs.setdefault(b["run_name"], []).append(b)
for run, bs in runs.items():
    pps = statistics.median(b["packets/s"] for b in bs)
    extra = ""
    if "valid/s" in bs[0]:
        valid = statistics.median(b["valid/s"] for b in bs)
        extra = f", valid/s {valid/1e6:.2f} M ({bs[0].get('label', '')})"
    print(f"| {run} | packets/s {pps/1e6:.2f} M{extra} (median of {len(bs)} processes) |")
PY
