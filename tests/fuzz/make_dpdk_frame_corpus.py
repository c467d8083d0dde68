#!/usr/bin/env python3
"""make_dpdk_frame_corpus.py: writes the seed corpus of the DPDK frame
parser fuzz target (tests/fuzz/dpdk_frame_fuzz.cc).

Owns: tests/fuzz/corpus/dpdk_frame/. Every seed is built here (python3
stdlib only, deterministic): frames to the target's server (10.0.0.1,
2001:db8::1, UDP port 7460) over IPv4, IPv6 and 802.1Q, with correct
checksums; and one per other class of dataplane/io/dpdk/frame.h: ARP,
ICMP, NDP, another port, a fragment, a bad checksum, a short frame, a UDP
length mismatch. The payloads are 40 arbitrary bytes (the parser does not
look inside). It never deletes files in the directory.

Usage: make_dpdk_frame_corpus.py [--out DIR]   (default: corpus/dpdk_frame next to it)
"""
import os
import struct
import sys

SERVER4 = bytes([10, 0, 0, 1])
CLIENT4 = bytes([10, 0, 0, 2])
SERVER6 = bytes.fromhex("20010db8000000000000000000000001")
CLIENT6 = bytes.fromhex("20010db8000000000000000000000002")
PORT_MAC = bytes.fromhex("02aabbccdd01")
CLIENT_MAC = bytes.fromhex("024200000007")
PAYLOAD = bytes(range(0x50, 0x50 + 40))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def udp(src, dst, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    head = struct.pack("!HHHH", sport, dport, length, 0)
    c = (~csum(pseudo + head + payload)) & 0xFFFF or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, c) + payload


def ipv4(src, dst, proto, body, flags=0x4000):
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0x1234, flags, 64, proto, 0, src, dst)
    c = (~csum(head)) & 0xFFFF
    return head[:10] + struct.pack("!H", c) + head[12:] + body


def ipv6(src, dst, next_header, body):
    return struct.pack("!IHBB", 0x60000000, len(body), next_header, 64) + src + dst + body


def eth(ethertype, body, vlan=None, dst=PORT_MAC, src=CLIENT_MAC):
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return dst + src + tag + struct.pack("!H", ethertype) + body


def seeds():
    hb4 = eth(0x0800, ipv4(CLIENT4, SERVER4, 17, udp(CLIENT4, SERVER4, 40000, 7460, PAYLOAD)))
    hb6 = eth(0x86DD, ipv6(CLIENT6, SERVER6, 17, udp(CLIENT6, SERVER6, 40000, 7460, PAYLOAD)))
    yield "ipv4_heartbeat", hb4
    yield "ipv6_heartbeat", hb6
    yield "vlan_ipv4_heartbeat", eth(
        0x0800, ipv4(CLIENT4, SERVER4, 17, udp(CLIENT4, SERVER4, 40000, 7460, PAYLOAD)), vlan=0xA064)
    yield "padded_ipv4", eth(0x0800, ipv4(CLIENT4, SERVER4, 17, udp(CLIENT4, SERVER4, 1, 7460, b"x"))) + bytes(20)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, CLIENT_MAC, CLIENT4, bytes(6), SERVER4)
    yield "arp_request", eth(0x0806, arp, dst=b"\xff" * 6)
    icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    yield "icmp_echo", eth(0x0800, ipv4(CLIENT4, SERVER4, 1, icmp))
    ns = struct.pack("!BBHI", 135, 0, 0, 0) + SERVER6
    yield "ndp_solicitation", eth(0x86DD, ipv6(CLIENT6, bytes.fromhex("ff0200000000000000000001ff000001"), 58, ns),
                                  dst=bytes.fromhex("3333ff000001"))
    yield "other_port", eth(0x0800, ipv4(CLIENT4, SERVER4, 17, udp(CLIENT4, SERVER4, 40000, 53, PAYLOAD)))
    yield "ipv4_fragment", eth(0x0800, ipv4(CLIENT4, SERVER4, 17, udp(CLIENT4, SERVER4, 40000, 7460, PAYLOAD),
                                            flags=0x2000))
    frag6 = struct.pack("!BBHI", 17, 0, 1, 7) + udp(CLIENT6, SERVER6, 40000, 7460, PAYLOAD)
    yield "ipv6_fragment", eth(0x86DD, ipv6(CLIENT6, SERVER6, 44, frag6))
    bad = bytearray(hb4)
    bad[-1] ^= 1
    yield "bad_udp_checksum", bytes(bad)
    yield "truncated", hb6[:50]
    mismatch = bytearray(hb4)
    mismatch[14 + 20 + 5] += 1
    yield "udp_length_mismatch", bytes(mismatch)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dpdk_frame")
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
