// wire_parser_fuzz.cc: libFuzzer target for the protocol v1 wire parser.
//
// Owns: the properties dataplane/wire/codec.h must hold for ANY datagram.
// Every input goes through all four parsers (parse_client_packet,
// peek_server_packet, parse_ack, parse_reconnect) and the target traps
// (std::abort, which libFuzzer reports as a crash and saves the input) when:
//   - a success does not have the exact size of its type (40 or 60), has
//     user_id 0, a status above 3, reserved flag bits (client packets) or an
//     unknown family (RECONNECT);
//   - a success does not round-trip: build_* must give back the input byte
//     for byte;
//   - a failure returns kNone-or-out-of-range, a reason outside rule 1, or a
//     reason that is not true of the input (the drop counters map one to one
//     onto reasons, so a wrong label is a bug);
//   - the parsers disagree with an independent reading of PROTOCOL.md rule 1
//     written here with the spec's literal numbers (accepts exactly what the
//     spec accepts), or with each other (peek vs parse_ack/parse_reconnect,
//     client vs server direction);
//   - a single-byte mutation of a valid packet neither round-trips nor
//     yields a valid drop reason (every byte, every single-bit flip, 0xff and
//     one input-derived value).
// Memory errors, leaks and undefined behaviour are ASan's and UBSan's job:
// every buffer handed to a parser is a heap block of exactly the datagram's
// size, so an out-of-bounds read is reported.
//
// Build: tests/fuzz/meson.build (clang, -Dfuzz=true). Seeds:
// tests/fuzz/corpus/wire_parser/ (tests/fuzz/make_corpus.py).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "dataplane/wire/codec.h"

namespace {

using presenced::wire::AckPacket;
using presenced::wire::ClientPacket;
using presenced::wire::DropReason;
using presenced::wire::PacketType;
using presenced::wire::ReconnectPacket;
using Bytes = std::span<const uint8_t>;

[[noreturn]] void fail(const char* what, int line, Bytes d) {
  std::fprintf(stderr, "wire_parser_fuzz.cc:%d: property violated: %s\n  input (%zu bytes):", line,
               what, d.size());
  for (std::size_t i = 0; i < d.size() && i < 64; ++i) std::fprintf(stderr, " %02x", d[i]);
  std::fprintf(stderr, "%s\n", d.size() > 64 ? " ..." : "");
  std::abort();
}

// Not assert(): it must hold in every build type (NDEBUG or not).
#define FUZZ_CHECK(cond, d)                  \
  do {                                       \
    if (!(cond)) fail(#cond, __LINE__, (d)); \
  } while (0)

// ---------------------------------------------------------------------------
// An independent reading of PROTOCOL.md, from the raw bytes and the spec's
// literal numbers (deliberately not protocol.h), so a wrong constant in the
// codec shows up as a disagreement.

bool spec_header_ok(Bytes d, std::size_t size, uint8_t type) {
  if (d.size() != size) return false;
  if (d[0] != 0x50 || d[1] != 0x48 || d[2] != 1 || d[3] != type) return false;
  for (std::size_t i = 4; i < 12; ++i) {
    if (d[i] != 0) return true;  // user_id never 0
  }
  return false;
}

// HEARTBEAT (1) or BYE (3), 40 bytes, status <= 3, flags bits 1..7 zero.
bool spec_valid_client(Bytes d) {
  if (d.size() != 40) return false;
  return (spec_header_ok(d, 40, 1) || spec_header_ok(d, 40, 3)) && d[24] <= 3 &&
         (d[25] & 0xfe) == 0;
}

// ACK (2), 40 bytes. Reserved is carried, not checked (the MAC covers it).
bool spec_valid_ack(Bytes d) {
  return spec_header_ok(d, 40, 2);
}

// RECONNECT (4), 60 bytes, family 0, 4 or 6.
bool spec_valid_reconnect(Bytes d) {
  return spec_header_ok(d, 60, 4) && (d[33] == 0 || d[33] == 4 || d[33] == 6);
}

std::size_t spec_size(uint8_t type) {
  return type == 4 ? 60 : 40;
}

bool user_is_zero(Bytes d) {
  for (std::size_t i = 4; i < 12; ++i) {
    if (d[i] != 0) return false;
  }
  return true;
}

enum class Dir { kClientToServer, kServerToClient };

// Is `r` a rule-1 reason that is actually true of `d`? Order-independent:
// it does not say which of several true reasons the parser must pick.
bool reason_holds(DropReason r, Bytes d, Dir dir) {
  const bool has_envelope = d.size() >= 4;
  const uint8_t type = has_envelope ? d[3] : 0;
  const bool known_type = type >= 1 && type <= 4;
  const bool client_type = type == 1 || type == 3;
  switch (r) {
    case DropReason::kBadLength:
      return !has_envelope || (known_type && d.size() != spec_size(type));
    case DropReason::kBadMagic:
      return has_envelope && (d[0] != 0x50 || d[1] != 0x48);
    case DropReason::kBadVersion:
      return has_envelope && d[2] != 1;
    case DropReason::kUnknownType:
      // parse_ack / parse_reconnect also use it for "the other server type".
      return has_envelope && (!known_type || (dir == Dir::kServerToClient && !client_type));
    case DropReason::kWrongDirection:
      return has_envelope && known_type &&
             (dir == Dir::kClientToServer ? !client_type : client_type);
    case DropReason::kZeroUser:
      return d.size() >= 12 && user_is_zero(d);
    case DropReason::kBadStatus:
      return dir == Dir::kClientToServer && d.size() == 40 && d[24] > 3;
    case DropReason::kReservedFlags:
      return dir == Dir::kClientToServer && d.size() == 40 && (d[25] & 0xfe) != 0;
    case DropReason::kBadFamily:
      return dir == Dir::kServerToClient && d.size() == 60 && type == 4 && d[33] != 0 &&
             d[33] != 4 && d[33] != 6;
    default:
      return false;  // kNone, engine reasons, kCount and beyond: never from a parser
  }
}

void check_failure(DropReason r, Bytes d, Dir dir) {
  FUZZ_CHECK(r != DropReason::kNone, d);
  FUZZ_CHECK(static_cast<uint8_t>(r) < static_cast<uint8_t>(DropReason::kCount), d);
  FUZZ_CHECK(reason_holds(r, d, dir), d);
}

// ---------------------------------------------------------------------------
// One datagram through every parser. Returns true if any parser accepted it.

bool check_client(Bytes d) {
  ClientPacket p;
  const DropReason r = presenced::wire::parse_client_packet(d, p);
  FUZZ_CHECK((r == DropReason::kNone) == spec_valid_client(d), d);
  if (r != DropReason::kNone) {
    check_failure(r, d, Dir::kClientToServer);
    return false;
  }
  FUZZ_CHECK(d.size() == 40, d);
  FUZZ_CHECK(p.h.type == PacketType::kHeartbeat || p.h.type == PacketType::kBye, d);
  FUZZ_CHECK(p.h.user_id != 0, d);
  FUZZ_CHECK(static_cast<uint8_t>(p.status) <= 3, d);
  FUZZ_CHECK((p.flags & 0xfe) == 0, d);
  FUZZ_CHECK(p.first() == ((d[25] & 0x01) != 0), d);

  std::array<uint8_t, presenced::wire::kHeartbeatSize> built{};
  presenced::wire::build_client_packet(p, built);
  FUZZ_CHECK(std::memcmp(built.data(), d.data(), built.size()) == 0, d);
  FUZZ_CHECK(presenced::wire::read_mac(built.data(), built.size()) == p.mac, d);
  return true;
}

bool check_server(Bytes d) {
  PacketType type = PacketType::kHeartbeat;
  const DropReason peek = presenced::wire::peek_server_packet(d, type);
  AckPacket ack;
  const DropReason r_ack = presenced::wire::parse_ack(d, ack);
  ReconnectPacket rc;
  const DropReason r_rc = presenced::wire::parse_reconnect(d, rc);

  FUZZ_CHECK((r_ack == DropReason::kNone) == spec_valid_ack(d), d);
  FUZZ_CHECK((r_rc == DropReason::kNone) == spec_valid_reconnect(d), d);
  FUZZ_CHECK((peek == DropReason::kNone) == (spec_valid_ack(d) || spec_valid_reconnect(d)), d);

  if (peek != DropReason::kNone) {
    check_failure(peek, d, Dir::kServerToClient);
    // The typed parsers start with peek: same verdict, same reason.
    FUZZ_CHECK(r_ack == peek && r_rc == peek, d);
    return false;
  }
  FUZZ_CHECK(type == PacketType::kAck || type == PacketType::kReconnect, d);
  FUZZ_CHECK(d.size() == presenced::wire::exact_size(type), d);

  if (type == PacketType::kAck) {
    FUZZ_CHECK(r_ack == DropReason::kNone, d);
    check_failure(r_rc, d, Dir::kServerToClient);
    FUZZ_CHECK(d.size() == 40, d);
    FUZZ_CHECK(ack.h.type == PacketType::kAck && ack.h.user_id != 0, d);
    std::array<uint8_t, presenced::wire::kAckSize> built{};
    presenced::wire::build_ack(ack, built);
    FUZZ_CHECK(std::memcmp(built.data(), d.data(), built.size()) == 0, d);
  } else {
    FUZZ_CHECK(r_rc == DropReason::kNone, d);
    check_failure(r_ack, d, Dir::kServerToClient);
    FUZZ_CHECK(d.size() == 60, d);
    FUZZ_CHECK(rc.h.type == PacketType::kReconnect && rc.h.user_id != 0, d);
    const auto fam = static_cast<uint8_t>(rc.family);
    FUZZ_CHECK(fam == 0 || fam == 4 || fam == 6, d);
    std::array<uint8_t, presenced::wire::kReconnectSize> built{};
    presenced::wire::build_reconnect(rc, built);
    FUZZ_CHECK(std::memcmp(built.data(), d.data(), built.size()) == 0, d);
  }
  return true;
}

bool check_all(Bytes d) {
  const bool client_ok = check_client(d);
  const bool server_ok = check_server(d);
  // A datagram is a packet of one direction at most.
  FUZZ_CHECK(!(client_ok && server_ok), d);
  return client_ok || server_ok;
}

// Every single-byte mutation of a valid packet: each must either parse and
// round-trip, or be rejected with a true rule-1 reason (check_all does both).
void check_mutations(Bytes valid) {
  // Exactly sized heap copy, so ASan still sees reads past the end.
  std::vector<uint8_t> buf(valid.begin(), valid.end());
  const Bytes view(buf.data(), buf.size());
  for (std::size_t i = 0; i < buf.size(); ++i) {
    const uint8_t orig = buf[i];
    const uint8_t derived = static_cast<uint8_t>(valid[(i * 7 + 3) % valid.size()] + i + 1);
    const std::array<uint8_t, 10> masks = {
        0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff, static_cast<uint8_t>(orig ^ derived)};
    for (const uint8_t m : masks) {
      if (m == 0) continue;
      buf[i] = static_cast<uint8_t>(orig ^ m);
      check_all(view);
    }
    buf[i] = orig;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const Bytes d(data, size);
  if (check_all(d)) check_mutations(d);
  return 0;
}
