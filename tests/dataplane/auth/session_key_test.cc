#include "dataplane/auth/session_key.h"

#include <vector>

#include <gtest/gtest.h>

#include "dataplane/wire/codec.h"
#include "tests/support/hex.h"
#include "tests/support/spec_vector.h"

namespace presenced::auth {
namespace {

using testing::from_hex;

class SessionKeyTest : public ::testing::Test {
 protected:
  void SetUp() override { ensure_sodium_initialized(); }
};

TEST_F(SessionKeyTest, DerivesSpecSessionKey) {
  const SessionKey k = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                          testing::kSpecDevice, testing::kSpecExpiry);
  EXPECT_EQ(to_hex(k.bytes.data(), k.bytes.size()), testing::kSpecSessionKeyHex);
}

TEST_F(SessionKeyTest, SpecHeartbeatMacVerifies) {
  const SessionKey k = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                          testing::kSpecDevice, testing::kSpecExpiry);
  auto hb = from_hex(testing::kSpecHeartbeatHex);
  EXPECT_TRUE(verify_packet(k, hb.data(), hb.size()));
  hb[30] ^= 1;  // epoch_seen: covered by the MAC
  EXPECT_FALSE(verify_packet(k, hb.data(), hb.size()));
}

TEST_F(SessionKeyTest, SignsSpecAckByteForByte) {
  const SessionKey k = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                          testing::kSpecDevice, testing::kSpecExpiry);
  wire::AckPacket a;
  a.h = {wire::PacketType::kAck, testing::kSpecUser, testing::kSpecDevice, testing::kSpecSeq,
         testing::kSpecExpiry};
  a.server_epoch = 0xdeadbeef;
  a.next_interval_s = 45;
  std::array<uint8_t, wire::kAckSize> out{};
  wire::build_ack(a, out);
  sign_packet(k, out.data(), out.size());
  EXPECT_EQ(to_hex(out.data(), out.size()), testing::kSpecAckHex);
}

TEST_F(SessionKeyTest, WrongKeyFailsEveryMacBit) {
  const SessionKey k = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                          testing::kSpecDevice, testing::kSpecExpiry);
  const auto hb = from_hex(testing::kSpecHeartbeatHex);
  for (int bit = 0; bit < 64; ++bit) {
    auto b = hb;
    b[32 + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(verify_packet(k, b.data(), b.size())) << bit;
  }
  // A different device gets a different key.
  const SessionKey k2 = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                           testing::kSpecDevice + 1, testing::kSpecExpiry);
  EXPECT_NE(k, k2);
  EXPECT_FALSE(verify_packet(k2, hb.data(), hb.size()));
}

TEST(TagsEqualTest, ComparesAllBits) {
  EXPECT_TRUE(tags_equal(0, 0));
  EXPECT_TRUE(tags_equal(~0ULL, ~0ULL));
  for (int bit = 0; bit < 64; ++bit) {
    EXPECT_FALSE(tags_equal(0x1234, 0x1234 ^ (1ULL << bit)));
  }
}

TEST(MasterKeyHexTest, ParsesAndRejects) {
  MasterKey k;
  EXPECT_TRUE(parse_master_key_hex("000102030405060708090a0b0c0d0e0f\n", k));
  EXPECT_EQ(k, testing::spec_master_key());
  EXPECT_TRUE(parse_master_key_hex("000102030405060708090A0B0C0D0E0F", k));
  EXPECT_FALSE(parse_master_key_hex("000102030405060708090a0b0c0d0e0", k));    // 31
  EXPECT_FALSE(parse_master_key_hex("000102030405060708090a0b0c0d0e0f0", k));  // 33
  EXPECT_FALSE(parse_master_key_hex("g00102030405060708090a0b0c0d0e0f", k));
  EXPECT_FALSE(parse_master_key_hex("", k));
  EXPECT_EQ(master_key_to_hex(testing::spec_master_key()), "000102030405060708090a0b0c0d0e0f");
}

}  // namespace
}  // namespace presenced::auth
