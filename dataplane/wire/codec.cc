#include "dataplane/wire/codec.h"

#include "dataplane/common/byte_order.h"

namespace presenced::wire {
namespace {

// Magic, version, type and exact length; shared by both directions.
DropReason check_envelope(std::span<const uint8_t> d, PacketType& type) {
  if (d.size() < 4) return DropReason::kBadLength;
  if (d[kOffMagic] != kMagic0 || d[kOffMagic + 1] != kMagic1) return DropReason::kBadMagic;
  if (d[kOffVersion] != kVersion) return DropReason::kBadVersion;
  const uint8_t t = d[kOffType];
  if (t < 1 || t > 4) return DropReason::kUnknownType;
  type = static_cast<PacketType>(t);
  if (d.size() != exact_size(type)) return DropReason::kBadLength;
  return DropReason::kNone;
}

Header read_header(const uint8_t* p, PacketType type) {
  Header h;
  h.type = type;
  h.user_id = load_be<uint64_t>(p + kOffUserId);
  h.device_id = load_be<uint32_t>(p + kOffDeviceId);
  h.seq = load_be<uint32_t>(p + kOffSeq);
  h.token_expiry = load_be<uint32_t>(p + kOffTokenExpiry);
  return h;
}

}  // namespace

DropReason parse_client_packet(std::span<const uint8_t> d, ClientPacket& out) {
  PacketType type;
  if (const DropReason r = check_envelope(d, type); r != DropReason::kNone) return r;
  if (type != PacketType::kHeartbeat && type != PacketType::kBye) {
    return DropReason::kWrongDirection;
  }
  const uint8_t* p = d.data();
  out.h = read_header(p, type);
  if (out.h.user_id == 0) return DropReason::kZeroUser;
  const uint8_t status = p[kOffStatus];
  if (status > kMaxStatus) return DropReason::kBadStatus;
  out.flags = p[kOffFlags];
  if ((out.flags & kReservedFlagMask) != 0) return DropReason::kReservedFlags;
  out.status = static_cast<Status>(status);
  out.interval_s = load_be<uint16_t>(p + kOffIntervalS);
  out.epoch_seen = load_be<uint32_t>(p + kOffEpochSeen);
  out.mac = load_le64(p + kOffClientMac);
  return DropReason::kNone;
}

DropReason peek_server_packet(std::span<const uint8_t> d, PacketType& type) {
  if (const DropReason r = check_envelope(d, type); r != DropReason::kNone) return r;
  if (type != PacketType::kAck && type != PacketType::kReconnect) {
    return DropReason::kWrongDirection;
  }
  if (load_be<uint64_t>(d.data() + kOffUserId) == 0) return DropReason::kZeroUser;
  if (type == PacketType::kReconnect) {
    const uint8_t f = d[kOffRcFamily];
    if (f != 0 && f != 4 && f != 6) return DropReason::kBadFamily;
  }
  return DropReason::kNone;
}

DropReason parse_ack(std::span<const uint8_t> d, AckPacket& out) {
  PacketType type;
  if (const DropReason r = peek_server_packet(d, type); r != DropReason::kNone) return r;
  if (type != PacketType::kAck) return DropReason::kUnknownType;
  const uint8_t* p = d.data();
  out.h = read_header(p, type);
  out.server_epoch = load_be<uint32_t>(p + kOffAckEpoch);
  out.next_interval_s = load_be<uint16_t>(p + kOffAckNextInterval);
  out.reserved = load_be<uint16_t>(p + kOffAckReserved);
  out.mac = load_le64(p + kOffAckMac);
  return DropReason::kNone;
}

DropReason parse_reconnect(std::span<const uint8_t> d, ReconnectPacket& out) {
  PacketType type;
  if (const DropReason r = peek_server_packet(d, type); r != DropReason::kNone) return r;
  if (type != PacketType::kReconnect) return DropReason::kUnknownType;
  const uint8_t* p = d.data();
  out.h = read_header(p, type);
  out.server_epoch = load_be<uint32_t>(p + kOffRcEpoch);
  out.delay_ms = load_be<uint32_t>(p + kOffRcDelayMs);
  out.reason = static_cast<ReconnectReason>(p[kOffRcReason]);
  out.family = static_cast<TargetFamily>(p[kOffRcFamily]);
  out.port = load_be<uint16_t>(p + kOffRcPort);
  for (std::size_t i = 0; i < out.address.size(); ++i) out.address[i] = p[kOffRcAddress + i];
  out.mac = load_le64(p + kOffRcMac);
  return DropReason::kNone;
}

void build_header(const Header& h, uint8_t* out) {
  out[kOffMagic] = kMagic0;
  out[kOffMagic + 1] = kMagic1;
  out[kOffVersion] = kVersion;
  out[kOffType] = static_cast<uint8_t>(h.type);
  store_be<uint64_t>(out + kOffUserId, h.user_id);
  store_be<uint32_t>(out + kOffDeviceId, h.device_id);
  store_be<uint32_t>(out + kOffSeq, h.seq);
  store_be<uint32_t>(out + kOffTokenExpiry, h.token_expiry);
}

void build_client_packet(const ClientPacket& p, std::span<uint8_t, kHeartbeatSize> out) {
  uint8_t* o = out.data();
  build_header(p.h, o);
  o[kOffStatus] = static_cast<uint8_t>(p.status);
  o[kOffFlags] = p.flags;
  store_be<uint16_t>(o + kOffIntervalS, p.interval_s);
  store_be<uint32_t>(o + kOffEpochSeen, p.epoch_seen);
  store_le64(o + kOffClientMac, p.mac);
}

void build_ack(const AckPacket& p, std::span<uint8_t, kAckSize> out) {
  uint8_t* o = out.data();
  build_header(p.h, o);
  store_be<uint32_t>(o + kOffAckEpoch, p.server_epoch);
  store_be<uint16_t>(o + kOffAckNextInterval, p.next_interval_s);
  store_be<uint16_t>(o + kOffAckReserved, p.reserved);
  store_le64(o + kOffAckMac, p.mac);
}

void build_reconnect(const ReconnectPacket& p, std::span<uint8_t, kReconnectSize> out) {
  uint8_t* o = out.data();
  build_header(p.h, o);
  store_be<uint32_t>(o + kOffRcEpoch, p.server_epoch);
  store_be<uint32_t>(o + kOffRcDelayMs, p.delay_ms);
  o[kOffRcReason] = static_cast<uint8_t>(p.reason);
  o[kOffRcFamily] = static_cast<uint8_t>(p.family);
  store_be<uint16_t>(o + kOffRcPort, p.port);
  for (std::size_t i = 0; i < p.address.size(); ++i) o[kOffRcAddress + i] = p.address[i];
  store_le64(o + kOffRcMac, p.mac);
}

uint64_t read_mac(const uint8_t* packet, std::size_t size) {
  return load_le64(packet + size - kMacSize);
}

void write_mac(uint8_t* packet, std::size_t size, uint64_t mac) {
  store_le64(packet + size - kMacSize, mac);
}

}  // namespace presenced::wire
