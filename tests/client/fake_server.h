// fake_server.h: a protocol-exact fake presence server for client tests.
//
// Owns: nothing but a session key and the server's epoch/advice. It builds
// ACK and RECONNECT packets with wire::build_* and signs them with
// auth::sign_packet, and parses what a Session sent (checking its MAC), so the
// tests exercise the client against the spec's byte layout, not against
// itself. Concurrency: test-only value type.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "client/session.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/wire/codec.h"
#include "tests/support/spec_vector.h"

namespace presenced::client::testing {

inline constexpr uint64_t kUser = 0x0123456789abcdefULL;
inline constexpr uint32_t kDevice = 7;
inline constexpr uint32_t kExpiry = presenced::testing::kSpecExpiry;  // 2030-01-01

inline auth::SessionKey key_for(uint64_t user, uint32_t device, uint32_t expiry) {
  auth::ensure_sodium_initialized();
  return auth::derive_session_key(presenced::testing::spec_master_key(), user, device, expiry);
}

inline SessionCredentials credentials(uint64_t user = kUser, uint32_t device = kDevice,
                                      uint32_t expiry = kExpiry) {
  return SessionCredentials{user, device, expiry, key_for(user, device, expiry)};
}

struct FakeServer {
  uint64_t user = kUser;
  uint32_t device = kDevice;
  uint32_t expiry = kExpiry;
  auth::SessionKey key = key_for(kUser, kDevice, kExpiry);
  uint32_t epoch = 0x5eed0001;
  uint16_t next_interval_s = 30;

  // Parses a packet the session sent; fails the test if it is not a valid,
  // correctly signed client packet.
  wire::ClientPacket receive(const Output& out) const {
    wire::ClientPacket p;
    EXPECT_TRUE(out.send);
    EXPECT_EQ(wire::parse_client_packet(out.packet, p), wire::DropReason::kNone);
    EXPECT_TRUE(auth::verify_packet(key, out.packet.data(), out.packet.size()))
        << "client packet MAC does not verify";
    EXPECT_EQ(p.h.seq, out.seq);
    EXPECT_EQ(p.first(), out.first);
    return p;
  }

  std::vector<uint8_t> ack(uint32_t seq) const { return ack(seq, epoch, next_interval_s); }

  std::vector<uint8_t> ack(uint32_t seq, uint32_t server_epoch, uint16_t next_interval) const {
    wire::AckPacket a;
    a.h = wire::Header{wire::PacketType::kAck, user, device, seq, expiry};
    a.server_epoch = server_epoch;
    a.next_interval_s = next_interval;
    std::vector<uint8_t> bytes(wire::kAckSize);
    wire::build_ack(a, std::span<uint8_t, wire::kAckSize>(bytes.data(), wire::kAckSize));
    auth::sign_packet(key, bytes.data(), bytes.size());
    return bytes;
  }

  std::vector<uint8_t> reconnect(
      uint32_t seq, uint32_t delay_ms, wire::TargetFamily family = wire::TargetFamily::kSameServer,
      uint16_t port = 0, std::array<uint8_t, 16> address = {},
      wire::ReconnectReason reason = wire::ReconnectReason::kDrain) const {
    wire::ReconnectPacket r;
    r.h = wire::Header{wire::PacketType::kReconnect, user, device, seq, expiry};
    r.server_epoch = epoch;
    r.delay_ms = delay_ms;
    r.reason = reason;
    r.family = family;
    r.port = port;
    r.address = address;
    std::vector<uint8_t> bytes(wire::kReconnectSize);
    wire::build_reconnect(
        r, std::span<uint8_t, wire::kReconnectSize>(bytes.data(), wire::kReconnectSize));
    auth::sign_packet(key, bytes.data(), bytes.size());
    return bytes;
  }
};

}  // namespace presenced::client::testing
