#include "dataplane/wire/codec.h"

#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/hex.h"
#include "tests/support/spec_vector.h"

namespace presenced::wire {
namespace {

using testing::from_hex;

std::vector<uint8_t> spec_heartbeat() {
  return from_hex(testing::kSpecHeartbeatHex);
}

TEST(CodecTest, ParsesSpecHeartbeat) {
  const auto bytes = spec_heartbeat();
  ClientPacket p;
  ASSERT_EQ(parse_client_packet(bytes, p), DropReason::kNone);
  EXPECT_EQ(p.h.type, PacketType::kHeartbeat);
  EXPECT_EQ(p.h.user_id, testing::kSpecUser);
  EXPECT_EQ(p.h.device_id, testing::kSpecDevice);
  EXPECT_EQ(p.h.seq, testing::kSpecSeq);
  EXPECT_EQ(p.h.token_expiry, testing::kSpecExpiry);
  EXPECT_EQ(p.status, Status::kAway);
  EXPECT_TRUE(p.first());
  EXPECT_EQ(p.interval_s, 30);
  EXPECT_EQ(p.epoch_seen, 0u);
}

TEST(CodecTest, BuildsSpecHeartbeatByteForByte) {
  const auto bytes = spec_heartbeat();
  ClientPacket p;
  ASSERT_EQ(parse_client_packet(bytes, p), DropReason::kNone);
  std::array<uint8_t, kHeartbeatSize> out{};
  build_client_packet(p, out);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end()), bytes);
}

TEST(CodecTest, ParsesAndBuildsSpecAck) {
  const auto bytes = from_hex(testing::kSpecAckHex);
  AckPacket a;
  ASSERT_EQ(parse_ack(bytes, a), DropReason::kNone);
  EXPECT_EQ(a.h.type, PacketType::kAck);
  EXPECT_EQ(a.server_epoch, 0xdeadbeefu);
  EXPECT_EQ(a.next_interval_s, 45);
  EXPECT_EQ(a.reserved, 0);
  std::array<uint8_t, kAckSize> out{};
  build_ack(a, out);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.end()), bytes);
}

TEST(CodecTest, ByeParses) {
  auto bytes = spec_heartbeat();
  bytes[kOffType] = 3;
  ClientPacket p;
  ASSERT_EQ(parse_client_packet(bytes, p), DropReason::kNone);
  EXPECT_EQ(p.h.type, PacketType::kBye);
}

struct MalformedCase {
  const char* name;
  std::vector<uint8_t> (*make)();
  DropReason expected;
};

std::vector<uint8_t> resized(std::size_t n) {
  auto b = spec_heartbeat();
  b.resize(n, 0);
  return b;
}
std::vector<uint8_t> with_byte(std::size_t off, uint8_t v) {
  auto b = spec_heartbeat();
  b[off] = v;
  return b;
}

const MalformedCase kMalformed[] = {
    {"len39", [] { return resized(39); }, DropReason::kBadLength},
    {"len41", [] { return resized(41); }, DropReason::kBadLength},
    {"len0", [] { return resized(0); }, DropReason::kBadLength},
    {"len1", [] { return resized(1); }, DropReason::kBadLength},
    {"len1500", [] { return resized(1500); }, DropReason::kBadLength},
    {"len60", [] { return resized(60); }, DropReason::kBadLength},
    {"magic0", [] { return with_byte(0, 0x51); }, DropReason::kBadMagic},
    {"magic1", [] { return with_byte(1, 0x00); }, DropReason::kBadMagic},
    {"version0", [] { return with_byte(2, 0); }, DropReason::kBadVersion},
    {"version2", [] { return with_byte(2, 2); }, DropReason::kBadVersion},
    {"type0", [] { return with_byte(3, 0); }, DropReason::kUnknownType},
    {"type5", [] { return with_byte(3, 5); }, DropReason::kUnknownType},
    {"type255", [] { return with_byte(3, 255); }, DropReason::kUnknownType},
    {"ack_to_server", [] { return with_byte(3, 2); }, DropReason::kWrongDirection},
    {"reconnect_to_server",
     [] {
       auto b = with_byte(3, 4);
       b.resize(60, 0);
       return b;
     },
     DropReason::kWrongDirection},
    {"user0",
     [] {
       auto b = spec_heartbeat();
       for (int i = 4; i < 12; ++i) b[i] = 0;
       return b;
     },
     DropReason::kZeroUser},
    {"status4", [] { return with_byte(kOffStatus, 4); }, DropReason::kBadStatus},
    {"status255", [] { return with_byte(kOffStatus, 255); }, DropReason::kBadStatus},
    {"flag_bit1", [] { return with_byte(kOffFlags, 0x02); }, DropReason::kReservedFlags},
    {"flag_bit7", [] { return with_byte(kOffFlags, 0x81); }, DropReason::kReservedFlags},
};

class MalformedTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedTest, ReturnsItsOwnReason) {
  const auto bytes = GetParam().make();
  ClientPacket p;
  EXPECT_EQ(parse_client_packet(bytes, p), GetParam().expected)
      << drop_reason_name(parse_client_packet(bytes, p));
}

INSTANTIATE_TEST_SUITE_P(AllClasses, MalformedTest, ::testing::ValuesIn(kMalformed),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(CodecTest, EveryParseReasonHasADistinctName) {
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    names.insert(drop_reason_name(static_cast<DropReason>(i)));
  }
  EXPECT_EQ(names.size(), kDropReasonCount);
  EXPECT_EQ(names.count("invalid"), 0u);
}

ClientPacket random_client_packet(std::mt19937_64& rng) {
  ClientPacket p;
  p.h.type = (rng() & 1) ? PacketType::kHeartbeat : PacketType::kBye;
  do p.h.user_id = rng();
  while (p.h.user_id == 0);
  p.h.device_id = static_cast<uint32_t>(rng());
  p.h.seq = static_cast<uint32_t>(rng());
  p.h.token_expiry = static_cast<uint32_t>(rng());
  p.status = static_cast<Status>(rng() % 4);
  p.flags = static_cast<uint8_t>(rng() & kFlagFirst);
  p.interval_s = static_cast<uint16_t>(rng());
  p.epoch_seen = static_cast<uint32_t>(rng());
  p.mac = rng();
  return p;
}

TEST(CodecTest, ClientPacketRoundTripProperty) {
  std::mt19937_64 rng(20261127);
  for (int i = 0; i < 100000; ++i) {
    const ClientPacket p = random_client_packet(rng);
    std::array<uint8_t, kHeartbeatSize> bytes{};
    build_client_packet(p, bytes);
    ClientPacket q;
    ASSERT_EQ(parse_client_packet(bytes, q), DropReason::kNone);
    ASSERT_EQ(p, q);
  }
}

TEST(CodecTest, ServerPacketRoundTripProperty) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    AckPacket a;
    a.h = random_client_packet(rng).h;
    a.h.type = PacketType::kAck;
    a.server_epoch = static_cast<uint32_t>(rng());
    a.next_interval_s = static_cast<uint16_t>(rng());
    a.reserved = static_cast<uint16_t>(rng());
    a.mac = rng();
    std::array<uint8_t, kAckSize> ab{};
    build_ack(a, ab);
    AckPacket a2;
    ASSERT_EQ(parse_ack(ab, a2), DropReason::kNone);
    ASSERT_EQ(a, a2);

    ReconnectPacket r;
    r.h = a.h;
    r.h.type = PacketType::kReconnect;
    r.server_epoch = static_cast<uint32_t>(rng());
    r.delay_ms = static_cast<uint32_t>(rng());
    r.reason = static_cast<ReconnectReason>(1 + rng() % 4);
    const TargetFamily fams[] = {TargetFamily::kSameServer, TargetFamily::kIpv4,
                                 TargetFamily::kIpv6};
    r.family = fams[rng() % 3];
    r.port = static_cast<uint16_t>(rng());
    for (auto& b : r.address) b = static_cast<uint8_t>(rng());
    r.mac = rng();
    std::array<uint8_t, kReconnectSize> rb{};
    build_reconnect(r, rb);
    ReconnectPacket r2;
    ASSERT_EQ(parse_reconnect(rb, r2), DropReason::kNone);
    ASSERT_EQ(r, r2);
  }
}

TEST(CodecTest, ServerParserRejectsClientTypesAndBadFamily) {
  const auto hb = spec_heartbeat();
  PacketType t;
  EXPECT_EQ(peek_server_packet(hb, t), DropReason::kWrongDirection);
  auto rc = std::vector<uint8_t>(60, 0);
  std::copy(hb.begin(), hb.begin() + 24, rc.begin());
  rc[kOffType] = 4;
  rc[kOffRcFamily] = 5;
  EXPECT_EQ(peek_server_packet(rc, t), DropReason::kBadFamily);
  rc[kOffRcFamily] = 6;
  EXPECT_EQ(peek_server_packet(rc, t), DropReason::kNone);
  EXPECT_EQ(t, PacketType::kReconnect);
}

TEST(CodecTest, RandomBytesNeverParseUnlessWellFormed) {
  std::mt19937_64 rng(99);
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> b(rng() % 80);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (rng() % 2 && b.size() >= 4) {
      b[0] = kMagic0;
      b[1] = kMagic1;
      b[2] = kVersion;
    }
    ClientPacket p;
    if (parse_client_packet(b, p) == DropReason::kNone) {
      ++accepted;
      ASSERT_EQ(b.size(), kHeartbeatSize);
      ASSERT_NE(p.h.user_id, 0u);
      ASSERT_LE(static_cast<int>(p.status), 3);
    }
  }
  // With magic forced half the time, a handful of 40-byte frames get through.
  EXPECT_LT(accepted, 2000);
}

}  // namespace
}  // namespace presenced::wire
