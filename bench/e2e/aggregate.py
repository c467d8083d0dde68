#!/usr/bin/env python3
"""aggregate.py: turns the raw results of bench/e2e/run.sh into the tables,
JSON, CSV and gnuplot data of the end-to-end benchmarks.

Owns: reading bench/results/e2e/raw/*.json (presence-loadgen --json and
redis_bench --json), the derived figures (per-core rates, bytes per
session, ratios, detection-delay percentiles and CDFs) and the files
e2e.json, e2e.csv, e2e.md and *.dat next to them. Nothing is measured here.
Standard library only.
"""
import argparse
import glob
import json
import math
import os
import re


def load(path):
    with open(path) as f:
        return json.load(f)


def pct(sorted_values, q):
    if not sorted_values:
        return None
    i = max(0, min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[i]


def read_delays(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return sorted(float(x) for x in f if x.strip())


def cdf_points(values, total, points=200):
    """(value, fraction of `total`) pairs: a step of 1/points of the values
    plus the tail. Signals that never came (total > len(values)) keep the
    curve below 1."""
    if not values:
        return []
    scale = len(values) / total if total else 1.0
    out = []
    qs = [i / points for i in range(1, points)] + [0.99, 0.995, 0.999, 0.9999, 1.0]
    for q in sorted(set(qs)):
        out.append((pct(values, q), q * scale))
    return out


def fmt_rate(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def fmt_sessions(n):
    return f"{n // 1000000} M" if n >= 1000000 and n % 1000000 == 0 else f"{n // 1000} k"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--delays-presenced")
    ap.add_argument("--delays-redis")
    ap.add_argument("--machine", default="")
    a = ap.parse_args()

    throughput = []
    for path in sorted(glob.glob(os.path.join(a.raw, "throughput-*.json"))):
        m = re.match(r"throughput-(\w+)-(\d+)\.json", os.path.basename(path))
        j = load(path)
        t = j["totals"]
        throughput.append({
            "backend": m.group(1),
            "sessions": int(m.group(2)),
            "pass": j["pass"],
            "verdict": j["verdict"],
            "offered_hb_per_s": j["config"]["rate"],
            "acked_hb_per_s_median": j["rates"]["window_acked_pps_median"],
            "window_s": j["rates"]["window_s"],
            "server_cores_median": j["server"]["cores_median"],
            "hb_per_server_core_s": j["server"]["acks_per_core_s"],
            "server_user_share": j["server"].get("user_share", -1),
            "hb_per_server_user_core_s": j["server"].get("acks_per_user_core_s", -1),
            "window_unanswered_ratio": j["rates"].get("window_unanswered_ratio", 0),
            "window_resends": j["rates"].get("window_resends", 0),
            "server_rss_bytes": j["server"]["rss_bytes"],
            "server_bytes_per_session": j["server"]["rss_bytes_per_session"],
            "loadgen_cores_median": j["loadgen"]["cores_median"],
            "loadgen_bytes_per_session": j["loadgen"]["rss_bytes_per_session"],
            "unanswered_ratio": j["loss"]["unanswered_ratio"],
            "resends": t["resends"],
            "bring_up_s": j["all_up_s"],
            "ack_latency_ms": {k: j["ack_latency_us"][k] / 1000.0 for k in ("p50", "p90", "p99", "max")},
        })
    throughput.sort(key=lambda r: (r["sessions"], r["backend"]))

    redis = {}
    for path in glob.glob(os.path.join(a.raw, "redis-memory-*.json")):
        n = int(re.search(r"-(\d+)\.json", path).group(1))
        redis.setdefault(n, {})["memory"] = load(path)
    for path in glob.glob(os.path.join(a.raw, "redis-throughput-*.json")):
        n = int(re.search(r"-(\d+)\.json", path).group(1))
        redis.setdefault(n, {})["throughput"] = load(path)

    compare = []
    for n in sorted({r["sessions"] for r in throughput}):
        runs = [r for r in throughput if r["sessions"] == n and r["hb_per_server_core_s"] > 0]
        if not runs or n not in redis or "throughput" not in redis[n]:
            continue
        best = max(runs, key=lambda r: r["hb_per_server_core_s"])
        rt = redis[n]["throughput"]
        rm = redis[n].get("memory", {})
        row = {
            "sessions": n,
            "presenced_backend": best["backend"],
            "presenced_hb_per_core_s": best["hb_per_server_core_s"],
            "redis_sets_per_core_s": rt["sets_per_redis_core_s"],
            "presenced_hb_per_user_core_s": best["hb_per_server_user_core_s"],
            "redis_sets_per_user_core_s": rt.get("sets_per_redis_user_core_s", -1),
            "redis_sets_per_s_median": rt["sets_per_s_median"],
            "redis_cores_median": rt["redis_cores_median"],
            "presenced_bytes_per_session": best["server_bytes_per_session"],
            "redis_bytes_per_session": rm.get("bytes_per_key"),
            "redis_rss_bytes_per_session": rm.get("rss_bytes_per_key"),
        }
        row["per_core_ratio"] = (row["presenced_hb_per_core_s"] / row["redis_sets_per_core_s"]
                                 if row["redis_sets_per_core_s"] > 0 else None)
        row["per_user_core_ratio"] = (row["presenced_hb_per_user_core_s"] / row["redis_sets_per_user_core_s"]
                                      if row["redis_sets_per_user_core_s"] > 0 else None)
        row["memory_ratio"] = (row["presenced_bytes_per_session"] / row["redis_bytes_per_session"]
                               if row["redis_bytes_per_session"] else None)
        compare.append(row)

    detection = {}
    dp = os.path.join(a.raw, "detection-presenced.json")
    if os.path.exists(dp):
        j = load(dp)
        detection["presenced"] = {
            "sessions": j["config"]["sessions"],
            "pass": j["pass"],
            "verdict": j["verdict"],
            "timeout_ms": j["churn"]["timeout_ms"],
            "silenced": j["churn"]["silenced_users"],
            "detected": j["churn"]["detected"],
            "early": j["churn"]["early"],
            "delay_ms": j["churn"]["delay_ms"],
        }
    dr = os.path.join(a.raw, "detection-redis.json")
    if os.path.exists(dr):
        j = load(dr)
        detection["redis"] = {
            "keys": j["keys"],
            "timeout_ms": j["timeout_s"] * 1000,
            "silenced": j["silenced"],
            "expired": j["expired"],
            "missing": j["missing"],
            "unexpected": j["unexpected"],
            "active_expire_effort": j.get("active_expire_effort", 1),
            "delay_ms": j["delay_ms"],
        }
    for name, path in (("presenced", a.delays_presenced), ("redis", a.delays_redis)):
        values = read_delays(path)
        if values and name in detection:
            with open(os.path.join(a.out, f"cdf_{name}.dat"), "w") as f:
                f.write("# delay beyond the timeout (ms), fraction of the silenced sessions signalled\n")
                for v, q in cdf_points(values, detection[name]["silenced"]):
                    f.write(f"{v:.3f} {q:.4f}\n")

    result = {"machine": a.machine, "throughput": throughput, "redis": {str(k): v for k, v in redis.items()},
              "comparison": compare, "detection": detection}
    with open(os.path.join(a.out, "e2e.json"), "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

    with open(os.path.join(a.out, "e2e.csv"), "w") as f:
        f.write("metric,system,backend,sessions,value,unit\n")
        for r in throughput:
            f.write(f"acked_rate,presenced,{r['backend']},{r['sessions']},{r['acked_hb_per_s_median']:.0f},hb/s\n")
            f.write(f"per_core,presenced,{r['backend']},{r['sessions']},{r['hb_per_server_core_s']:.0f},hb/core-s\n")
            f.write(f"server_cores,presenced,{r['backend']},{r['sessions']},{r['server_cores_median']:.3f},cores\n")
            f.write(f"bytes_per_session,presenced,{r['backend']},{r['sessions']},{r['server_bytes_per_session']:.1f},B\n")
            f.write(f"ack_p99,presenced,{r['backend']},{r['sessions']},{r['ack_latency_ms']['p99']:.3f},ms\n")
        for n, v in sorted(redis.items()):
            if "throughput" in v:
                f.write(f"acked_rate,redis,,{n},{v['throughput']['sets_per_s_median']:.0f},SET/s\n")
                f.write(f"per_core,redis,,{n},{v['throughput']['sets_per_redis_core_s']:.0f},SET/core-s\n")
            if "memory" in v:
                f.write(f"bytes_per_session,redis,,{n},{v['memory']['bytes_per_key']:.1f},B\n")
        for name, d in detection.items():
            n = d.get("sessions", d.get("keys"))
            for k in ("p50", "p90", "p99", "max"):
                f.write(f"detection_{k},{name},,{n},{d['delay_ms'][k]:.3f},ms\n")

    # gnuplot data.
    backends = sorted({r["backend"] for r in throughput})
    counts = sorted({r["sessions"] for r in throughput})
    with open(os.path.join(a.out, "throughput.dat"), "w") as f:
        f.write("# sessions " + " ".join(f"{b}_per_core {b}_acked" for b in backends) + "\n")
        for n in counts:
            cells = []
            for b in backends:
                r = next((x for x in throughput if x["sessions"] == n and x["backend"] == b), None)
                cells += [f"{r['hb_per_server_core_s']:.0f}" if r else "NaN",
                          f"{r['acked_hb_per_s_median']:.0f}" if r else "NaN"]
            f.write(f"\"{fmt_sessions(n)}\" " + " ".join(cells) + "\n")
    with open(os.path.join(a.out, "comparison.dat"), "w") as f:
        f.write("# sessions presenced_per_core redis_per_core presenced_B redis_B "
                "presenced_per_user_core redis_per_user_core\n")
        for c in compare:
            f.write(f"\"{fmt_sessions(c['sessions'])}\" {c['presenced_hb_per_core_s']:.0f} "
                    f"{c['redis_sets_per_core_s']:.0f} {c['presenced_bytes_per_session']:.1f} "
                    f"{c['redis_bytes_per_session'] or 0:.1f} {c['presenced_hb_per_user_core_s']:.0f} "
                    f"{c['redis_sets_per_user_core_s']:.0f}\n")

    # The markdown tables for docs/BENCHMARKS.md.
    md = []
    if a.machine:
        md.append(f"Machine: {a.machine}.\n")
    md.append("| backend | sessions | offered hb/s | acked hb/s (median) | server cores (user-space share) | hb per server core-second | hb per server user-space core-second | unanswered in the window | ACK p50 / p99 (whole run) | bring-up | server B/session | loadgen cores | loadgen B/session |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in throughput:
        md.append(f"| {r['backend']} | {fmt_sessions(r['sessions'])} | {fmt_rate(r['offered_hb_per_s'])} | "
                  f"{fmt_rate(r['acked_hb_per_s_median'])} | {r['server_cores_median']:.2f} ({100 * r['server_user_share']:.0f} %) | "
                  f"**{fmt_rate(r['hb_per_server_core_s'])}** | {fmt_rate(r['hb_per_server_user_core_s'])} | "
                  f"{100 * r['window_unanswered_ratio']:.2f} % | "
                  f"{r['ack_latency_ms']['p50']:.2f} / {r['ack_latency_ms']['p99']:.2f} ms | {r['bring_up_s']:.0f} s | "
                  f"{r['server_bytes_per_session']:.1f} | {r['loadgen_cores_median']:.2f} | "
                  f"{r['loadgen_bytes_per_session']:.1f} |")
    if compare:
        md.append("")
        md.append("| sessions | presenced hb per core-second | Redis SET per core-second | ratio (goal >= 50x) | user space only: presenced / Redis | ratio | presenced B/session | Redis B/session (used_memory) | ratio (goal <= 1/3) |")
        md.append("|---|---|---|---|---|---|---|---|---|")
        for c in compare:
            ratio = f"{c['per_core_ratio']:.2f}x" if c["per_core_ratio"] else "n/a"
            uratio = f"{c['per_user_core_ratio']:.1f}x" if c["per_user_core_ratio"] else "n/a"
            mratio = f"{c['memory_ratio']:.2f}" if c["memory_ratio"] else "n/a"
            md.append(f"| {fmt_sessions(c['sessions'])} | {fmt_rate(c['presenced_hb_per_core_s'])} ({c['presenced_backend']}) | "
                      f"{fmt_rate(c['redis_sets_per_core_s'])} | {ratio} | "
                      f"{fmt_rate(c['presenced_hb_per_user_core_s'])} / {fmt_rate(c['redis_sets_per_user_core_s'])} | {uratio} | "
                      f"{c['presenced_bytes_per_session']:.1f} | "
                      f"{(c['redis_bytes_per_session'] or 0):.1f} | {mratio} |")
    if detection:
        md.append("")
        md.append("| offline signal | sessions | timeout | signalled | p50 | p90 | p99 | max beyond the timeout |")
        md.append("|---|---|---|---|---|---|---|---|")
        if "presenced" in detection:
            d = detection["presenced"]
            md.append(f"| presenced OFFLINE event | {fmt_sessions(d['sessions'])} | {d['timeout_ms'] / 1000:.0f} s | "
                      f"{d['detected']} / {d['silenced']} | {d['delay_ms']['p50']:.1f} ms | {d['delay_ms']['p90']:.1f} ms | "
                      f"{d['delay_ms']['p99']:.1f} ms | {d['delay_ms']['max']:.1f} ms |")
        if "redis" in detection:
            d = detection["redis"]
            md.append(f"| Redis `expired` keyspace event (active-expire-effort {d['active_expire_effort']}) | {fmt_sessions(d['keys'])} | {d['timeout_ms'] / 1000:.0f} s | "
                      f"{d['expired']} / {d['silenced']} | {d['delay_ms']['p50']:.1f} ms | {d['delay_ms']['p90']:.1f} ms | "
                      f"{d['delay_ms']['p99']:.1f} ms | {d['delay_ms']['max']:.1f} ms |")
    with open(os.path.join(a.out, "e2e.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
