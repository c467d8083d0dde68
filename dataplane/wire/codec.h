// codec.h: parse and build the four packet types of protocol v1.
//
// Owns: the byte layout (via protocol.h). The parser is exception-free and
// allocation-free: it validates everything rule 1 of the spec lists and
// returns a DropReason (kNone on success) that feeds the drop counters one to
// one. It does not check MACs (see auth/), only carries them.
//
// The `mac` fields hold the 8 MAC bytes read as a little-endian integer, which
// is how SipHash (and libsodium's crypto_shorthash_siphash24) produces them,
// so a computed tag compares to it directly.
//
// Concurrency: pure functions on caller-owned memory; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/wire/drop_reason.h"
#include "dataplane/wire/protocol.h"

namespace presenced::wire {

// Fields common to every packet (the 24-byte header minus magic/version).
struct Header {
  PacketType type = PacketType::kHeartbeat;
  uint64_t user_id = 0;
  uint32_t device_id = 0;
  uint32_t seq = 0;
  uint32_t token_expiry = 0;

  friend bool operator==(const Header&, const Header&) = default;
};

// HEARTBEAT or BYE.
struct ClientPacket {
  Header h;
  Status status = Status::kAvailable;
  uint8_t flags = 0;
  uint16_t interval_s = 0;
  uint32_t epoch_seen = 0;
  uint64_t mac = 0;

  bool first() const { return (flags & kFlagFirst) != 0; }
  friend bool operator==(const ClientPacket&, const ClientPacket&) = default;
};

struct AckPacket {
  Header h;  // h.type == kAck
  uint32_t server_epoch = 0;
  uint16_t next_interval_s = 0;
  uint16_t reserved = 0;
  uint64_t mac = 0;

  friend bool operator==(const AckPacket&, const AckPacket&) = default;
};

struct ReconnectPacket {
  Header h;  // h.type == kReconnect
  uint32_t server_epoch = 0;
  uint32_t delay_ms = 0;
  ReconnectReason reason = ReconnectReason::kOperator;
  TargetFamily family = TargetFamily::kSameServer;
  uint16_t port = 0;
  std::array<uint8_t, 16> address{};
  uint64_t mac = 0;

  friend bool operator==(const ReconnectPacket&, const ReconnectPacket&) = default;
};

// Server side: validates a datagram as a client-to-server packet (rule 1).
// On kNone `out` is filled; otherwise `out` is unspecified.
DropReason parse_client_packet(std::span<const uint8_t> datagram, ClientPacket& out);

// Client side: which server packet a datagram is. Validates magic, version,
// type, exact size, user_id != 0 and (RECONNECT) the family. Reserved fields
// are carried, not checked: the MAC covers them.
DropReason peek_server_packet(std::span<const uint8_t> datagram, PacketType& type);
DropReason parse_ack(std::span<const uint8_t> datagram, AckPacket& out);
DropReason parse_reconnect(std::span<const uint8_t> datagram, ReconnectPacket& out);

// Builders write exactly the packet's size into `out`, including the `mac`
// field as given (callers sign first with auth::sign_*). They do not validate.
void build_client_packet(const ClientPacket& p, std::span<uint8_t, kHeartbeatSize> out);
void build_ack(const AckPacket& p, std::span<uint8_t, kAckSize> out);
void build_reconnect(const ReconnectPacket& p, std::span<uint8_t, kReconnectSize> out);

// Writes magic, version and the header fields.
void build_header(const Header& h, uint8_t* out);

// Reads the MAC field of a packet of the given exact size.
uint64_t read_mac(const uint8_t* packet, std::size_t size);
void write_mac(uint8_t* packet, std::size_t size, uint64_t mac);

}  // namespace presenced::wire
