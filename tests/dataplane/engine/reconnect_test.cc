// Reconnect signalling in the engine: directives, marks (rule 7) and drain.
#include <set>

#include <gtest/gtest.h>

#include "dataplane/engine/engine.h"
#include "dataplane/engine/reconnect_book.h"
#include "tests/support/engine_harness.h"

namespace presenced::engine {
namespace {

using testing::EngineHarness;
using testing::TestClient;

// Parses a RECONNECT for `c` and checks its MAC.
wire::ReconnectPacket expect_reconnect(const TxDatagram& tx, const TestClient& c) {
  wire::ReconnectPacket rc;
  EXPECT_EQ(tx.len, wire::kReconnectSize);
  EXPECT_EQ(wire::parse_reconnect({tx.bytes, tx.len}, rc), wire::DropReason::kNone);
  EXPECT_TRUE(auth::verify_packet(c.key(), tx.bytes, tx.len)) << "RECONNECT MAC must verify";
  EXPECT_EQ(rc.h.user_id, c.user);
  EXPECT_EQ(rc.h.device_id, c.device);
  EXPECT_EQ(rc.h.token_expiry, c.expiry);
  EXPECT_EQ(rc.server_epoch, 0xdeadbeefu);
  return rc;
}

ReconnectDirective to_target(uint32_t spread_ms) {
  ReconnectDirective d;
  d.target = NetAddr::v4_bytes(10, 9, 9, 9, 7000);
  d.spread_ms = spread_ms;
  d.reason = wire::ReconnectReason::kRebalance;
  return d;
}

void send_directive(EngineHarness& h, uint32_t cores, ReconnectScope scope, uint64_t user,
                    uint32_t device, const ReconnectDirective& d) {
  for (uint32_t c = 0; c < cores; ++c) {
    ASSERT_TRUE(h.engine(c).add_reconnect_directive(scope, user, device, d, h.now()));
  }
  for (uint32_t c = 0; c < cores; ++c) h.engine(c).mark_reconnect(scope, user, device);
}

TEST(ReconnectTest, MarkedUserGetsOneReconnectWithTargetThenAcks) {
  EngineHarness h;
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  send_directive(h, 1, ReconnectScope::kUser, c.user, 0, to_target(1000));
  const auto r = h.send(c.heartbeat());
  ASSERT_EQ(r.size(), 1u);
  const wire::ReconnectPacket rc = expect_reconnect(r[0], c);
  EXPECT_EQ(rc.h.seq, c.seq);
  EXPECT_EQ(rc.family, wire::TargetFamily::kIpv4);
  EXPECT_EQ(rc.address[0], 10);
  EXPECT_EQ(rc.address[3], 9);
  EXPECT_EQ(rc.port, 7000);
  EXPECT_EQ(rc.reason, wire::ReconnectReason::kRebalance);
  EXPECT_LE(rc.delay_ms, 1000u);
  EXPECT_EQ(r[0].dst, c.addr);
  // One-shot: the next heartbeat (e.g. the client back after reconnecting
  // to the same server) gets an ACK again.
  const auto next = h.send(c.heartbeat());
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].len, wire::kAckSize);
}

TEST(ReconnectTest, DeviceScopeMarksOnlyThatDevice) {
  EngineHarness h;
  TestClient a;
  TestClient b = a;
  b.device = 2;
  h.send(a.heartbeat());
  h.send(b.heartbeat());
  send_directive(h, 1, ReconnectScope::kDevice, a.user, 2, to_target(0));
  EXPECT_EQ(h.send(a.heartbeat())[0].len, wire::kAckSize);
  const auto rb = h.send(b.heartbeat());
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(expect_reconnect(rb[0], b).delay_ms, 0u);
}

TEST(ReconnectTest, AllScopeMarksEveryOnlineSessionWithDelaysWithinTheSpread) {
  EngineHarness::Options o;
  o.cores = 2;
  o.shards = 4;
  EngineHarness h(o);
  std::vector<TestClient> clients(300);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 100 + i;
    ASSERT_EQ(h.send(clients[i].heartbeat(), static_cast<uint32_t>(i % 2)).size(), 1u);
  }
  send_directive(h, 2, ReconnectScope::kAll, 0, 0, to_target(5000));
  h.tick();  // the incremental mark scans run in the home work
  std::set<uint32_t> delays;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto r = h.send(clients[i].heartbeat(), static_cast<uint32_t>((i + 1) % 2));
    ASSERT_EQ(r.size(), 1u);
    const wire::ReconnectPacket rc = expect_reconnect(r[0], clients[i]);
    EXPECT_LE(rc.delay_ms, 5000u);
    delays.insert(rc.delay_ms);
  }
  EXPECT_GT(delays.size(), 250u) << "delays are spread, not all equal";
  EXPECT_EQ(h.stats().reconnects_marked, clients.size());
}

TEST(ReconnectTest, DrainPushesOneReconnectPerOnlineSessionAndRefusesNewOnes) {
  EngineHarness h;
  std::vector<TestClient> clients(50);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 500 + i;
    clients[i].addr.port = static_cast<uint16_t>(20000 + i);
    ASSERT_EQ(h.send(clients[i].heartbeat()).size(), 1u);
  }
  ReconnectDirective d = to_target(2000);
  d.reason = wire::ReconnectReason::kDrain;
  h.engine().start_drain(d, 0, h.now());
  const auto pushed = h.tick();
  ASSERT_EQ(pushed.size(), clients.size());
  std::set<uint16_t> ports;
  for (const auto& tx : pushed) {
    const std::size_t i = tx.dst.port - 20000;
    ASSERT_LT(i, clients.size());
    const wire::ReconnectPacket rc = expect_reconnect(tx, clients[i]);
    EXPECT_EQ(rc.reason, wire::ReconnectReason::kDrain);
    EXPECT_EQ(rc.h.seq, clients[i].seq) << "a push carries the highest accepted seq";
    EXPECT_LE(rc.delay_ms, 2000u);
    ports.insert(tx.dst.port);
  }
  EXPECT_EQ(ports.size(), clients.size()) << "one push per session";
  EXPECT_TRUE(h.tick().empty()) << "nothing pushed twice";
  EXPECT_EQ(h.stats().drain_pushed, clients.size());
  // New sessions are not admitted: RECONNECT(DRAIN), no session created.
  TestClient late;
  late.user = 9999;
  const auto r = h.send(late.heartbeat());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(expect_reconnect(r[0], late).reason, wire::ReconnectReason::kDrain);
  EXPECT_EQ(h.stats().sessions_created, clients.size());
}

TEST(ReconnectTest, DrainIsPacedAtItsRate) {
  EngineHarness h;
  std::vector<TestClient> clients(400);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 1 + i;
    h.send(clients[i].heartbeat());
  }
  h.engine().start_drain(to_target(0), 100, h.now());  // 100 pushes/s
  std::size_t pushed = 0;
  for (int step = 0; step < 100; ++step) {  // one second in 10 ms steps
    h.advance_ms(10);
    pushed += h.tick().size();
  }
  EXPECT_GE(pushed, 95u);
  EXPECT_LE(pushed, 101u);
}

TEST(ReconnectBookTest, FindsDeviceThenUserThenAllAndExpires) {
  ReconnectBook book(64);
  ReconnectDirective a;
  a.spread_ms = 1;
  ReconnectDirective b;
  b.spread_ms = 2;
  ReconnectDirective all;
  all.spread_ms = 3;
  EXPECT_EQ(book.find(1, 1, 0), nullptr);
  ASSERT_TRUE(book.put(ReconnectScope::kUser, 1, 0, b, 0, 1000));
  ASSERT_TRUE(book.put(ReconnectScope::kDevice, 1, 1, a, 0, 1000));
  ASSERT_TRUE(book.put(ReconnectScope::kAll, 0, 0, all, 0, 500));
  EXPECT_EQ(book.find(1, 1, 10)->spread_ms, 1u);
  EXPECT_EQ(book.find(1, 2, 10)->spread_ms, 2u);
  EXPECT_EQ(book.find(7, 1, 10)->spread_ms, 3u);
  EXPECT_EQ(book.find(7, 1, 600), nullptr);
  EXPECT_EQ(book.find(1, 1, 2000), nullptr);
}

TEST(ReconnectBookTest, FullBookRefusesUntilEntriesExpire) {
  ReconnectBook book(32);
  ReconnectDirective d;
  int stored = 0;
  for (uint64_t u = 1; u <= 64; ++u) stored += book.put(ReconnectScope::kUser, u, 0, d, 0, 100);
  EXPECT_EQ(stored, 32);
  EXPECT_FALSE(book.put(ReconnectScope::kUser, 1000, 0, d, 50, 100));
  EXPECT_TRUE(book.put(ReconnectScope::kUser, 1000, 0, d, 200, 100)) << "expired places reused";
}

}  // namespace
}  // namespace presenced::engine
