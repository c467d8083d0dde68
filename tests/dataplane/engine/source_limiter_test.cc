#include "dataplane/engine/source_limiter.h"

#include <gtest/gtest.h>

#include "tests/support/engine_harness.h"

namespace presenced::engine {
namespace {

NetAddr v4(uint32_t i) {
  return NetAddr::v4_bytes(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                           static_cast<uint8_t>(i), 1000);
}

TEST(SourceLimiterTest, OverBudgetAfterBudgetInvalidPacketsThenRefills) {
  SourceLimiter l(64);
  l.set_budget(10);
  const NetAddr a = v4(1);
  EXPECT_FALSE(l.over_budget(a, 1000));
  for (int i = 0; i < 10; ++i) l.charge(a, 1000);
  EXPECT_TRUE(l.over_budget(a, 1000));
  EXPECT_FALSE(l.over_budget(v4(2), 1000)) << "other sources are unaffected";
  EXPECT_TRUE(l.over_budget(a, 1050));   // 0.5 token back: still under 1
  EXPECT_FALSE(l.over_budget(a, 1250));  // refilled at 10/s
}

TEST(SourceLimiterTest, Ipv6SourcesShareTheirSlash64) {
  SourceLimiter l(64);
  l.set_budget(3);
  uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  for (int i = 0; i < 3; ++i) {
    ip[15] = static_cast<uint8_t>(i);  // different hosts in one /64
    l.charge(NetAddr::v6(ip, 1), 0);
  }
  ip[15] = 99;
  EXPECT_TRUE(l.over_budget(NetAddr::v6(ip, 1), 0));
  ip[7] = 2;  // another /64
  EXPECT_FALSE(l.over_budget(NetAddr::v6(ip, 1), 0));
}

TEST(SourceLimiterTest, TableIsBoundedUnderASpreadOfSources) {
  SourceLimiter l(16);  // 64 entries
  l.set_budget(5);
  for (uint32_t i = 0; i < 100000; ++i) l.charge(v4(i), i / 100);
  EXPECT_LE(l.tracked(), l.capacity());
  EXPECT_EQ(l.capacity(), 64u);
}

TEST(SourceLimiterTest, ZeroBudgetDisablesLimiting) {
  SourceLimiter l(16);
  l.set_budget(0);
  for (int i = 0; i < 1000; ++i) l.charge(v4(1), 0);
  EXPECT_FALSE(l.over_budget(v4(1), 0));
  EXPECT_EQ(l.tracked(), 0u);
}

TEST(SourceLimiterEngineTest, FloodFromOneSourceIsCutBeforeMacWorkAndOthersAreServed) {
  EngineConfig cfg;
  cfg.source_invalid_budget = 50;
  testing::EngineHarness h(testing::EngineHarness::Options{.config = cfg});
  testing::TestClient good;
  good.user = 1;
  good.addr = NetAddr::v4_bytes(10, 0, 0, 1, 1000);
  testing::TestClient victim;  // the attacker forges this user's packets
  victim.user = 2;
  std::vector<testing::Packet> flood;
  for (int i = 0; i < 1000; ++i) {
    testing::Packet p = victim.heartbeat();
    p.bytes[35] ^= 0x5a;  // bad MAC
    p.src = NetAddr::v4_bytes(66, 66, 66, 66, static_cast<uint16_t>(1000 + i));
    flood.push_back(p);
  }
  h.send(flood);
  const uint64_t bad_mac = h.drops(wire::DropReason::kBadMac);
  const uint64_t limited = h.drops(wire::DropReason::kSourceLimited);
  // MAC work stops at the budget; the check runs per burst (stage A), so
  // one burst may pass before the charges of stage B take effect.
  EXPECT_GE(bad_mac, 50u);
  EXPECT_LE(bad_mac, 50u + kMaxBurst);
  EXPECT_EQ(bad_mac + limited, 1000u);
  EXPECT_EQ(h.send(good.heartbeat()).size(), 1u) << "another source is served";
  EXPECT_TRUE(h.events().size() == 1 && h.events()[0].user == good.user);
}

}  // namespace
}  // namespace presenced::engine
