#!/usr/bin/env python3
"""instructions.py: instructions per heartbeat on the server core, from a
callgrind profile of `dpdk_bench --mode cost` (see instructions.sh).

Reads the profile's call arcs (caller -> callee: calls and inclusive
instructions), so a function's cost is counted where it is called from:
the generator in the same thread signs and checks packets with the same
SipHash batches, and its arcs are left out. Each part is divided by the
packets it handled: the engine's by the datagrams it parsed, the
backend's receive by the frames it classified and its send by the reply
frames it built (the cost mode's echo phase runs the backend alone, so
those are more packets than the engine saw). Prints a Markdown table.
"""
import collections
import re
import sys


def read_arcs(path):
    """{(caller, callee): [calls, inclusive instructions]}"""
    names = {}
    arcs = collections.defaultdict(lambda: [0, 0])
    caller = callee = None
    pending = None  # (caller, callee, calls): the next line holds the cost
    with open(path) as f:
        for line in f:
            if pending is not None:
                fields = line.split()
                if fields:
                    arc = arcs[(pending[0], pending[1])]
                    arc[0] += pending[2]
                    arc[1] += int(fields[-1])
                pending = None
                continue
            m = re.match(r"(c?)fn=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3).strip()
                if m.group(1):
                    callee = names.get(m.group(2), "?")
                else:
                    caller = names.get(m.group(2), "?")
                continue
            m = re.match(r"calls=(\d+)", line)
            if m:
                pending = (caller, callee, int(m.group(1)))
    return arcs


def main():
    arcs = read_arcs(sys.argv[1])

    def has(name, part):
        return part + "(" in name

    def into(callee, caller=None):
        """(calls, instructions) of `callee`, from `caller` or from anywhere."""
        calls = cost = 0
        for (a, b), (n, c) in arcs.items():
            if has(b, callee) and (caller is None or has(a, caller)) and not has(a, callee):
                calls += n
                cost += c
        return calls, cost

    parsed = into("wire::parse_client_packet", "Engine::ingest")[0]
    classified = into("dpdk::classify_frame", "DpdkBackend::receive")[0]
    built = into("dpdk::build_reply_frame", "DpdkBackend::send")[0]
    if not parsed or not classified or not built:
        sys.exit("instructions.py: the profile has no server packets")

    ingest = into("Engine::ingest")[1] / parsed
    # Home work without the lane messages: in the cost mode those are the
    # warm-up's session creations (one per session, not per heartbeat).
    home = (into("Engine::home_work")[1] -
            into("Engine::handle_lane_message", "Engine::home_work")[1]) / parsed
    receive = into("DpdkBackend::receive")[1] / classified
    send = into("DpdkBackend::send")[1] / built
    rows = [
        ("engine: ingest (parse, derive, verify, table, reply, sign)", ingest),
        ("  SipHash key derivation", into("siphash128_batch", "Engine::ingest")[1] / parsed),
        ("  SipHash MAC check", into("siphash64_batch", "Engine::ingest")[1] / parsed),
        ("  SipHash reply signatures", into("siphash64_batch", "Engine::sign_queued_replies")[1] / parsed),
        ("  parse_client_packet", into("wire::parse_client_packet", "Engine::ingest")[1] / parsed),
        ("  table lookup", into("PresenceTable::find", "Engine::ingest")[1] / parsed),
        ("  apply (slot claim and update)", into("Engine::apply", "Engine::ingest")[1] / parsed),
        ("engine: home work (wheel, linger, lane polling; not the warm-up's creations)", home),
        ("DPDK receive (rx burst, classify, checksum check, mbuf release)", receive),
        ("  classify_frame", into("dpdk::classify_frame", "DpdkBackend::receive")[1] / classified),
        ("DPDK send (reply frames, checksums, tx burst)", send),
        ("  build_reply_frame", into("dpdk::build_reply_frame", "DpdkBackend::send")[1] / built),
    ]
    print(f"datagrams parsed by the engine: {parsed}; frames classified: {classified}; "
          f"reply frames built: {built}")
    print("| part | instructions per heartbeat |")
    print("|---|---|")
    for label, v in rows:
        print(f"| {label} | {v:.0f} |")
    print(f"| **server core, total** | **{ingest + home + receive + send:.0f}** |")


if __name__ == "__main__":
    main()
