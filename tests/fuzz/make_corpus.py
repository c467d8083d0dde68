#!/usr/bin/env python3
"""make_corpus.py: writes the seed corpus of the wire parser fuzz target.

Owns: the contents of tests/fuzz/corpus/wire_parser/. Every seed is built
here from PROTOCOL.md (python3 stdlib only, no randomness, no timestamps), so
running it twice gives the same bytes; the generated files are committed and
are the corpus the `fuzz` test suite starts from. The script only writes the
files it knows; it never deletes anything in the directory (a regression
input someone adds by hand stays).

Seeds: the spec's HEARTBEAT and ACK test vectors, a BYE, a RECONNECT per
target family (0, 4, 6), all correctly signed with the spec test key, and one
file per malformed class of rule 1 (lengths 0, 1, 39, 41, 1500, bad magic,
bad version, type 0 and 5, an ACK-typed packet sent as a client packet,
user 0, status 4, a reserved flag bit, a RECONNECT with an unknown family).

Usage:
  make_corpus.py [--out DIR]   write the seeds (default: next to this script)
  make_corpus.py --check       exit 1 if a committed seed differs or is missing
"""

import argparse
import os
import struct
import sys

MASK64 = (1 << 64) - 1

# ---------------------------------------------------------------- SipHash-2-4


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & MASK64


def _siphash24(key, msg, out_len):
    """SipHash-2-4 with 8- or 16-byte output, as libsodium's
    crypto_shorthash_siphash24 / crypto_shorthash_siphashx24 compute it."""
    assert len(key) == 16 and out_len in (8, 16)
    k0, k1 = struct.unpack("<QQ", key)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    if out_len == 16:
        v1 ^= 0xEE

    def rounds(n):
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & MASK64
            v1 = _rotl(v1, 13) ^ v0
            v0 = _rotl(v0, 32)
            v2 = (v2 + v3) & MASK64
            v3 = _rotl(v3, 16) ^ v2
            v0 = (v0 + v3) & MASK64
            v3 = _rotl(v3, 21) ^ v0
            v2 = (v2 + v1) & MASK64
            v1 = _rotl(v1, 17) ^ v2
            v2 = _rotl(v2, 32)

    full = len(msg) - len(msg) % 8
    for i in range(0, full, 8):
        (m,) = struct.unpack_from("<Q", msg, i)
        v3 ^= m
        rounds(2)
        v0 ^= m
    tail = msg[full:] + bytes(7 - len(msg) % 8)
    b = (len(msg) & 0xFF) << 56 | int.from_bytes(tail, "little")
    v3 ^= b
    rounds(2)
    v0 ^= b
    v2 ^= 0xEE if out_len == 16 else 0xFF
    rounds(4)
    out = struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)
    if out_len == 16:
        v1 ^= 0xDD
        rounds(4)
        out += struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)
    return out


# ---------------------------------------------------------------- packets

MASTER_KEY = bytes(range(16))
USER = 0x0123456789ABCDEF
DEVICE = 7
SEQ = 42
EXPIRY = 1893456000

HEARTBEAT, ACK, BYE, RECONNECT = 1, 2, 3, 4


def session_key(user, device, expiry):
    return _siphash24(MASTER_KEY, b"PHK1" + struct.pack(">QII", user, device, expiry), 16)


def header(ptype, user=USER, device=DEVICE, seq=SEQ, expiry=EXPIRY):
    return b"PH" + bytes([1, ptype]) + struct.pack(">QIII", user, device, seq, expiry)


def signed(body_before_mac, user=USER, device=DEVICE, expiry=EXPIRY):
    """Appends mac = SipHash-2-4-64(k, every byte before the mac field)."""
    return body_before_mac + _siphash24(session_key(user, device, expiry), body_before_mac, 8)


def client_packet(ptype, status, flags, interval_s, epoch_seen):
    return signed(header(ptype) + struct.pack(">BBHI", status, flags, interval_s, epoch_seen))


def ack(server_epoch, next_interval_s):
    return signed(header(ACK) + struct.pack(">IHH", server_epoch, next_interval_s, 0))


def reconnect(server_epoch, delay_ms, reason, family, port, address):
    address = address + bytes(16 - len(address))
    return signed(header(RECONNECT) + struct.pack(">IIBBH", server_epoch, delay_ms, reason,
                                                  family, port) + address)


def patched(packet, offset, value):
    """A copy of `packet` with one byte replaced (the mac is left stale: the
    parser does not check it, and these seeds are malformed anyway)."""
    out = bytearray(packet)
    out[offset] = value
    return bytes(out)


def seeds():
    hb = client_packet(HEARTBEAT, status=1, flags=0x01, interval_s=30, epoch_seen=0)
    ack_vec = ack(0xDEADBEEF, 45)
    # Self-check against the spec's test vectors: if these fail, every
    # signature below is wrong too.
    assert session_key(USER, DEVICE, EXPIRY).hex() == "44ef04a576d0e7b0789b5fba9183e715"
    assert hb.hex() == ("504801010123456789abcdef000000070000002a70dbd880"
                        "0101001e00000000f96ccbe9a65a7725"), hb.hex()
    assert ack_vec.hex() == ("504801020123456789abcdef000000070000002a70dbd880"
                             "deadbeef002d00000ad0231c6de99970"), ack_vec.hex()

    out = {
        # Valid packets.
        "valid_heartbeat_spec_vector": hb,
        "valid_ack_spec_vector": ack_vec,
        "valid_bye": client_packet(BYE, status=0, flags=0, interval_s=30, epoch_seen=0xDEADBEEF),
        "valid_reconnect_same_server": reconnect(0xDEADBEEF, 1500, 1, 0, 0, b""),
        "valid_reconnect_ipv4": reconnect(0xDEADBEEF, 2500, 3, 4, 7460, bytes([192, 0, 2, 10])),
        "valid_reconnect_ipv6": reconnect(
            0xDEADBEEF, 30000, 2, 6, 7461,
            bytes.fromhex("20010db8000000000000000000000001")),
        # Rule 1, one file per malformed class.
        "bad_length_0": b"",
        "bad_length_1": hb[:1],
        "bad_length_39": hb[:39],
        "bad_length_41": hb + b"\x00",
        "bad_length_1500": hb + bytes(1500 - len(hb)),
        "bad_magic": patched(hb, 1, ord("X")),
        "bad_version": patched(hb, 2, 2),
        "bad_type_0": patched(hb, 3, 0),
        "bad_type_5": patched(hb, 3, 5),
        "wrong_direction_ack_as_client": patched(hb, 3, ACK),
        "zero_user": signed(header(HEARTBEAT, user=0) + struct.pack(">BBHI", 1, 0x01, 30, 0),
                            user=0),
        "bad_status_4": patched(hb, 24, 4),
        "reserved_flag_bit": patched(hb, 25, 0x01 | 0x02),
        "bad_family_reconnect": patched(reconnect(0xDEADBEEF, 1500, 1, 4, 7460,
                                                  bytes([192, 0, 2, 10])), 33, 5),
    }
    assert len(out["bad_length_1500"]) == 1500
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(here, "corpus", "wire_parser"))
    ap.add_argument("--check", action="store_true",
                    help="compare with the files in --out instead of writing")
    args = ap.parse_args()

    bad = 0
    if not args.check:
        os.makedirs(args.out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        path = os.path.join(args.out, name)
        if args.check:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except FileNotFoundError:
                same = False
            if not same:
                print(f"make_corpus: {path} missing or stale", file=sys.stderr)
                bad += 1
        else:
            with open(path, "wb") as f:
                f.write(data)
    if not args.check:
        print(f"make_corpus: wrote {len(seeds())} seeds to {args.out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
