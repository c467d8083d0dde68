// protocol.h: constants and field layout of the presence heartbeat protocol v1.
//
// Owns: the numbers of docs/PROTOCOL.md (offsets, sizes, type and status
// codes). Nothing here allocates or has state; see codec.h for parsing and
// building. Concurrency: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace presenced::wire {

inline constexpr uint8_t kMagic0 = 0x50;  // 'P'
inline constexpr uint8_t kMagic1 = 0x48;  // 'H'
inline constexpr uint8_t kVersion = 1;
inline constexpr uint16_t kDefaultPort = 7460;

enum class PacketType : uint8_t {
  kHeartbeat = 1,  // client -> server, 40 bytes
  kAck = 2,        // server -> client, 40 bytes
  kBye = 3,        // client -> server, 40 bytes
  kReconnect = 4,  // server -> client, 60 bytes
};

enum class Status : uint8_t {
  kAvailable = 0,
  kAway = 1,
  kBusy = 2,
  kInvisible = 3,
};
inline constexpr uint8_t kMaxStatus = 3;

enum class ReconnectReason : uint8_t {
  kDrain = 1,
  kOperator = 2,
  kRebalance = 3,
  kOverload = 4,
};

// RECONNECT `family` field.
enum class TargetFamily : uint8_t {
  kSameServer = 0,
  kIpv4 = 4,
  kIpv6 = 6,
};

inline constexpr uint8_t kFlagFirst = 0x01;         // HEARTBEAT/BYE flags bit 0
inline constexpr uint8_t kReservedFlagMask = 0xfe;  // must be zero

// Sizes.
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMacSize = 8;
inline constexpr std::size_t kHeartbeatSize = 40;
inline constexpr std::size_t kByeSize = 40;
inline constexpr std::size_t kAckSize = 40;
inline constexpr std::size_t kReconnectSize = 60;
inline constexpr std::size_t kMaxPacketSize = kReconnectSize;

// Header offsets (every packet).
inline constexpr std::size_t kOffMagic = 0;
inline constexpr std::size_t kOffVersion = 2;
inline constexpr std::size_t kOffType = 3;
inline constexpr std::size_t kOffUserId = 4;
inline constexpr std::size_t kOffDeviceId = 12;
inline constexpr std::size_t kOffSeq = 16;
inline constexpr std::size_t kOffTokenExpiry = 20;

// HEARTBEAT / BYE body.
inline constexpr std::size_t kOffStatus = 24;
inline constexpr std::size_t kOffFlags = 25;
inline constexpr std::size_t kOffIntervalS = 26;
inline constexpr std::size_t kOffEpochSeen = 28;
inline constexpr std::size_t kOffClientMac = 32;

// ACK body.
inline constexpr std::size_t kOffAckEpoch = 24;
inline constexpr std::size_t kOffAckNextInterval = 28;
inline constexpr std::size_t kOffAckReserved = 30;
inline constexpr std::size_t kOffAckMac = 32;

// RECONNECT body.
inline constexpr std::size_t kOffRcEpoch = 24;
inline constexpr std::size_t kOffRcDelayMs = 28;
inline constexpr std::size_t kOffRcReason = 32;
inline constexpr std::size_t kOffRcFamily = 33;
inline constexpr std::size_t kOffRcPort = 34;
inline constexpr std::size_t kOffRcAddress = 36;
inline constexpr std::size_t kOffRcMac = 52;

// Session-key derivation input: "PHK1" || user_id || device_id || token_expiry.
inline constexpr std::size_t kKeyInputSize = 20;

constexpr std::size_t exact_size(PacketType t) {
  return t == PacketType::kReconnect ? kReconnectSize : kHeartbeatSize;
}

}  // namespace presenced::wire
