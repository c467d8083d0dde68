// test_client.h: builds correctly signed client packets for tests (the
// client side of one session, without the client library's state machine).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dataplane/auth/session_key.h"
#include "dataplane/common/net_addr.h"
#include "dataplane/wire/codec.h"
#include "tests/support/spec_vector.h"

namespace presenced::testing {

inline constexpr int64_t kWallStartMs = 1'800'000'000'000;  // 2027
inline constexpr uint32_t kFarExpiry = 1'900'000'000;       // tokens valid

struct Packet {
  std::vector<uint8_t> bytes;
  NetAddr src;
  uint64_t l2_hint = 0;
};

// A client's view of one session: builds correctly signed packets.
struct TestClient {
  auth::MasterKey master = spec_master_key();
  uint64_t user = 1;
  uint32_t device = 1;
  uint32_t expiry = kFarExpiry;
  uint32_t seq = 0;
  wire::Status status = wire::Status::kAvailable;
  uint32_t epoch_seen = 0;  // the server epoch the client last saw (0: none)
  NetAddr addr = NetAddr::v4_bytes(10, 0, 0, 1, 40000);

  auth::SessionKey key() const { return auth::derive_session_key(master, user, device, expiry); }

  Packet make(wire::PacketType type, uint32_t with_seq, uint8_t flags = 0) const {
    wire::ClientPacket p;
    p.h = {type, user, device, with_seq, expiry};
    p.status = status;
    p.flags = flags;
    p.interval_s = 30;
    p.epoch_seen = epoch_seen;
    Packet out;
    out.bytes.resize(wire::kHeartbeatSize);
    wire::build_client_packet(p, std::span<uint8_t, wire::kHeartbeatSize>(out.bytes.data(), 40));
    auth::sign_packet(key(), out.bytes.data(), out.bytes.size());
    out.src = addr;
    return out;
  }
  Packet heartbeat() { return make(wire::PacketType::kHeartbeat, ++seq); }
  Packet bye() { return make(wire::PacketType::kBye, ++seq); }
};

}  // namespace presenced::testing
