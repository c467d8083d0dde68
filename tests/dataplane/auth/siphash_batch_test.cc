// Differential tests of siphash_batch.h: every path that can run on this CPU
// must produce libsodium's bits exactly, for every length, batch size and
// message placement (unaligned starts, messages ending at the last byte of
// their allocation so ASan reports any over-read).
#include "dataplane/auth/siphash_batch.h"

#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sodium.h>

#include "dataplane/common/byte_order.h"
#include "dataplane/wire/protocol.h"
#include "tests/support/hex.h"
#include "tests/support/spec_vector.h"

namespace presenced::auth {

// Readable parameter values in gtest messages (found by ADL).
void PrintTo(SipHashPath p, std::ostream* os) {
  *os << siphash_path_name(p);
}

namespace {

using testing::from_hex;

constexpr std::size_t kBatchSizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100};
constexpr std::size_t kMaxLen = 100;
constexpr int kRounds = 3;  // passes over every (length, batch size) pair
constexpr uint64_t kCanary = 0x5a5a5a5a5a5a5a5aULL;

// n messages of `len` random bytes. Each has its own heap block and ends at
// the block's last byte; its start is 0..7 bytes into the block (unaligned).
class Messages {
 public:
  Messages(std::mt19937_64& rng, std::size_t len, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t offset = rng() % 8;
      blocks_.push_back(std::make_unique<uint8_t[]>(offset + len));
      uint8_t* p = blocks_.back().get() + offset;
      for (std::size_t b = 0; b < len; ++b) p[b] = static_cast<uint8_t>(rng());
      ptrs_.push_back(p);
    }
  }
  const uint8_t* const* ptrs() const { return ptrs_.data(); }
  const uint8_t* operator[](std::size_t i) const { return ptrs_[i]; }

 private:
  std::vector<std::unique_ptr<uint8_t[]>> blocks_;
  std::vector<const uint8_t*> ptrs_;
};

template <typename Key>
Key random_key(std::mt19937_64& rng) {
  Key k;
  for (auto& b : k.bytes) b = static_cast<uint8_t>(rng());
  return k;
}

uint64_t sodium64(const SessionKey& k, const uint8_t* m, std::size_t len) {
  uint8_t out[crypto_shorthash_siphash24_BYTES];
  crypto_shorthash_siphash24(out, m, len, k.bytes.data());
  return load_le64(out);
}

SessionKey sodium128(const MasterKey& k, const uint8_t* m, std::size_t len) {
  SessionKey out;
  crypto_shorthash_siphashx24(out.bytes.data(), m, len, k.bytes.data());
  return out;
}

std::string key_hex(const SessionKey& k) {
  return to_hex(k.bytes.data(), k.bytes.size());
}

class SipHashBatchTest : public ::testing::TestWithParam<SipHashPath> {
 protected:
  void SetUp() override {
    ensure_sodium_initialized();
    if (!siphash_path_available(GetParam())) {
      GTEST_SKIP() << siphash_path_name(GetParam()) << " cannot run on this CPU";
    }
  }

  // One random batch through siphash64_batch, checked lane by lane.
  void check64(std::mt19937_64& rng, std::size_t len, std::size_t n) {
    const Messages msgs(rng, len, n);
    std::vector<SessionKey> keys(n);
    for (auto& k : keys) k = random_key<SessionKey>(rng);
    std::vector<uint64_t> out(n + 2, kCanary);  // two canaries after the outputs
    siphash64_batch(keys.data(), msgs.ptrs(), len, n, out.data(), GetParam());
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], sodium64(keys[i], msgs[i], len))
          << "len " << len << " n " << n << " i " << i;
    }
    ASSERT_EQ(out[n], kCanary) << "wrote past out[n - 1], len " << len << " n " << n;
    ASSERT_EQ(out[n + 1], kCanary) << "wrote past out[n - 1], len " << len << " n " << n;
    cases_ += n;
  }

  // One random batch through siphash128_batch, checked lane by lane.
  void check128(std::mt19937_64& rng, std::size_t len, std::size_t n) {
    const Messages msgs(rng, len, n);
    const MasterKey key = random_key<MasterKey>(rng);
    SessionKey canary;
    canary.bytes.fill(0x5a);
    std::vector<SessionKey> out(n + 2, canary);
    siphash128_batch(key, msgs.ptrs(), len, n, out.data(), GetParam());
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(key_hex(out[i]), key_hex(sodium128(key, msgs[i], len)))
          << "len " << len << " n " << n << " i " << i;
    }
    ASSERT_EQ(out[n], canary) << "wrote past out[n - 1], len " << len << " n " << n;
    ASSERT_EQ(out[n + 1], canary) << "wrote past out[n - 1], len " << len << " n " << n;
    cases_ += n;
  }

  std::size_t cases_ = 0;
};

TEST_P(SipHashBatchTest, MatchesLibsodiumOnRandomInputs) {
  std::mt19937_64 rng(0x5eed0000u + static_cast<unsigned>(GetParam()));
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t len = 0; len <= kMaxLen; ++len) {
      for (const std::size_t n : kBatchSizes) {
        check64(rng, len, n);
        if (HasFatalFailure()) return;
        check128(rng, len, n);
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GE(cases_, 200000u);
}

TEST_P(SipHashBatchTest, MatchesLibsodiumOnLongMessages) {
  // Several blocks' worth, and lengths >= 256 (only len mod 256 enters the
  // final block, as in the reference).
  std::mt19937_64 rng(0x10e6u);
  for (const std::size_t len : {127, 128, 255, 256, 257, 1000, 1500, 4099}) {
    for (const std::size_t n : {1, 8, 13}) {
      check64(rng, len, n);
      if (HasFatalFailure()) return;
      check128(rng, len, n);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(SipHashBatchTest, OverlappingUnalignedMessagesInOneBuffer) {
  // 33 messages sliding one byte at a time through one buffer; the last one
  // ends at the buffer's last byte.
  std::mt19937_64 rng(0x0b0fu);
  for (const std::size_t len : {20, 32, 52}) {
    const std::size_t n = 33;
    auto buf = std::make_unique<uint8_t[]>(len + n - 1);
    for (std::size_t b = 0; b < len + n - 1; ++b) buf[b] = static_cast<uint8_t>(rng());
    std::vector<const uint8_t*> ptrs(n);
    for (std::size_t i = 0; i < n; ++i) ptrs[i] = buf.get() + i;

    const SessionKey k = random_key<SessionKey>(rng);
    const std::vector<SessionKey> keys(n, k);
    std::vector<uint64_t> macs(n);
    siphash64_batch(keys.data(), ptrs.data(), len, n, macs.data(), GetParam());
    const MasterKey mk = random_key<MasterKey>(rng);
    std::vector<SessionKey> derived(n);
    siphash128_batch(mk, ptrs.data(), len, n, derived.data(), GetParam());
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(macs[i], sodium64(k, ptrs[i], len)) << len << " " << i;
      EXPECT_EQ(derived[i], sodium128(mk, ptrs[i], len)) << len << " " << i;
    }
  }
}

TEST_P(SipHashBatchTest, DerivesSpecSessionKeyInEveryLane) {
  uint8_t input[wire::kKeyInputSize];
  build_key_input(testing::kSpecUser, testing::kSpecDevice, testing::kSpecExpiry, input);

  SessionKey one;
  const uint8_t* p = input;
  siphash128_batch(testing::spec_master_key(), &p, sizeof input, 1, &one, GetParam());
  EXPECT_EQ(key_hex(one), testing::kSpecSessionKeyHex);

  // Lane placement: the spec input at every position of a 33-message batch
  // whose other lanes hash a different message.
  uint8_t other[wire::kKeyInputSize];
  build_key_input(testing::kSpecUser + 1, testing::kSpecDevice, testing::kSpecExpiry, other);
  const SessionKey other_key = sodium128(testing::spec_master_key(), other, sizeof other);
  for (std::size_t pos = 0; pos < 33; ++pos) {
    std::vector<const uint8_t*> ptrs(33, other);
    ptrs[pos] = input;
    std::vector<SessionKey> out(33);
    siphash128_batch(testing::spec_master_key(), ptrs.data(), sizeof input, 33, out.data(),
                     GetParam());
    for (std::size_t i = 0; i < 33; ++i) {
      EXPECT_EQ(key_hex(out[i]),
                i == pos ? std::string(testing::kSpecSessionKeyHex) : key_hex(other_key))
          << pos << " " << i;
    }
  }
}

TEST_P(SipHashBatchTest, MacsSpecHeartbeatAndAck) {
  const SessionKey k = derive_session_key(testing::spec_master_key(), testing::kSpecUser,
                                          testing::kSpecDevice, testing::kSpecExpiry);
  const auto hb = from_hex(testing::kSpecHeartbeatHex);
  const auto ack = from_hex(testing::kSpecAckHex);
  ASSERT_EQ(hb.size(), wire::kHeartbeatSize);
  ASSERT_EQ(ack.size(), wire::kAckSize);
  const std::size_t len = hb.size() - wire::kMacSize;
  const uint64_t hb_mac = load_le64(hb.data() + len);
  const uint64_t ack_mac = load_le64(ack.data() + len);

  uint64_t mac = 0;
  const uint8_t* p = hb.data();
  siphash64_batch(&k, &p, len, 1, &mac, GetParam());
  EXPECT_EQ(mac, hb_mac);

  // Heartbeats and ACKs alternating in one batch, with a wrong key in lane 5.
  const std::size_t n = 17;
  std::vector<const uint8_t*> ptrs(n);
  std::vector<SessionKey> keys(n, k);
  keys[5].bytes[0] ^= 1;
  for (std::size_t i = 0; i < n; ++i) ptrs[i] = i % 2 == 0 ? hb.data() : ack.data();
  std::vector<uint64_t> macs(n);
  siphash64_batch(keys.data(), ptrs.data(), len, n, macs.data(), GetParam());
  for (std::size_t i = 0; i < n; ++i) {
    const uint64_t want = i % 2 == 0 ? hb_mac : ack_mac;
    if (i == 5) {
      EXPECT_NE(macs[i], want);
    } else {
      EXPECT_EQ(macs[i], want) << i;
    }
  }
}

std::string path_test_name(const ::testing::TestParamInfo<SipHashPath>& info) {
  return siphash_path_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Paths, SipHashBatchTest,
                         ::testing::Values(SipHashPath::kLibsodium, SipHashPath::kScalar,
                                           SipHashPath::kAvx2),
                         path_test_name);

TEST(SipHashPathTest, BestPathIsAvailableAndStable) {
  const SipHashPath best = best_siphash_path();
  EXPECT_TRUE(siphash_path_available(best));
  EXPECT_NE(best, SipHashPath::kLibsodium);
  EXPECT_EQ(best, best_siphash_path());
  EXPECT_EQ(best == SipHashPath::kAvx2, siphash_path_available(SipHashPath::kAvx2));
  EXPECT_TRUE(siphash_path_available(SipHashPath::kLibsodium));
  EXPECT_TRUE(siphash_path_available(SipHashPath::kScalar));
}

TEST(SipHashPathTest, Names) {
  EXPECT_STREQ(siphash_path_name(SipHashPath::kLibsodium), "libsodium");
  EXPECT_STREQ(siphash_path_name(SipHashPath::kScalar), "scalar");
  EXPECT_STREQ(siphash_path_name(SipHashPath::kAvx2), "avx2");
}

TEST(SipHashPathTest, DefaultPathMatchesReference) {
  ensure_sodium_initialized();
  std::mt19937_64 rng(7);
  const Messages msgs(rng, 32, 32);
  std::vector<SessionKey> keys(32);
  for (auto& k : keys) k = random_key<SessionKey>(rng);
  std::vector<uint64_t> out(32);
  siphash64_batch(keys.data(), msgs.ptrs(), 32, 32, out.data());  // default path
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ(out[i], compute_mac(keys[i], msgs[i], 32)) << i;
}

TEST(SipHashPathTest, ZeroMessagesTouchNothing) {
  for (const SipHashPath p : {SipHashPath::kLibsodium, SipHashPath::kScalar, SipHashPath::kAvx2}) {
    siphash64_batch(nullptr, nullptr, 32, 0, nullptr, p);
    siphash128_batch(MasterKey{}, nullptr, 20, 0, nullptr, p);
  }
}

}  // namespace
}  // namespace presenced::auth
