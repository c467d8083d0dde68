#include "dataplane/engine/engine.h"

#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "dataplane/common/byte_order.h"
#include "tests/support/engine_harness.h"

namespace presenced::engine {
namespace {

using testing::EngineHarness;
using testing::Packet;
using testing::TestClient;
using wire::DropReason;
using wire::Status;

// Parses and verifies an ACK for `c`; fails the test otherwise.
wire::AckPacket expect_ack(const TxDatagram& tx, const TestClient& c) {
  wire::AckPacket a;
  EXPECT_EQ(tx.len, wire::kAckSize);
  EXPECT_EQ(wire::parse_ack({tx.bytes, tx.len}, a), DropReason::kNone);
  EXPECT_TRUE(auth::verify_packet(c.key(), tx.bytes, tx.len)) << "ACK MAC must verify";
  EXPECT_EQ(a.h.user_id, c.user);
  EXPECT_EQ(a.h.device_id, c.device);
  EXPECT_EQ(a.h.token_expiry, c.expiry);
  EXPECT_EQ(tx.dst, c.addr);
  return a;
}

EngineConfig fast_config() {
  EngineConfig c;
  c.interval_s = 1;
  c.min_interval_s = 1;
  c.max_interval_s = 60;
  c.miss_limit = 2;
  c.grace_ms = 0;
  c.linger_ms = 0;
  return c;
}

TEST(EngineTest, AcceptedHeartbeatGetsVerifyingAckAndGoesOnline) {
  EngineHarness h;
  TestClient c;
  const auto replies = h.send(c.heartbeat());
  ASSERT_EQ(replies.size(), 1u);
  const wire::AckPacket a = expect_ack(replies[0], c);
  EXPECT_EQ(a.h.seq, c.seq);
  EXPECT_EQ(a.server_epoch, 0xdeadbeefu);
  EXPECT_EQ(a.next_interval_s, 30);
  EXPECT_TRUE(h.session_online(c.user, c.device));
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kOnline);
  EXPECT_EQ(h.events()[0].user, c.user);
  EXPECT_EQ(h.events()[0].status, Status::kAvailable);
  EXPECT_EQ(h.stats().heartbeats_accepted, 1u);
  EXPECT_EQ(h.stats().sessions_created, 1u);
}

TEST(EngineTest, Rule1MalformedGetsNoReplyAndItsCounter) {
  EngineHarness h;
  TestClient c;
  Packet p = c.heartbeat();
  p.bytes[wire::kOffStatus] = 4;
  EXPECT_TRUE(h.send(p).empty());
  EXPECT_EQ(h.drops(DropReason::kBadStatus), 1u);
  Packet q = c.heartbeat();
  q.bytes.resize(39);
  EXPECT_TRUE(h.send(q).empty());
  EXPECT_EQ(h.drops(DropReason::kBadLength), 1u);
  EXPECT_TRUE(h.events().empty());
}

TEST(EngineTest, Rule2BadMacDroppedWithoutStateChange) {
  EngineHarness h;
  TestClient c;
  Packet p = c.heartbeat();
  p.bytes[39] ^= 0x01;
  EXPECT_TRUE(h.send(p).empty());
  EXPECT_EQ(h.drops(DropReason::kBadMac), 1u);
  EXPECT_FALSE(h.session_online(c.user, c.device));
  // A forged packet from another master key.
  TestClient forger = c;
  forger.master.bytes[0] ^= 0xff;
  EXPECT_TRUE(h.send(forger.heartbeat()).empty());
  EXPECT_EQ(h.drops(DropReason::kBadMac), 2u);
  EXPECT_TRUE(h.events().empty());
}

TEST(EngineTest, Rule3ExpiredTokenDropped) {
  EngineHarness h;
  TestClient c;
  c.expiry = static_cast<uint32_t>(testing::kWallStartMs / 1000 - 1);
  EXPECT_TRUE(h.send(c.heartbeat()).empty());
  EXPECT_EQ(h.drops(DropReason::kTokenExpired), 1u);
  c.expiry = static_cast<uint32_t>(testing::kWallStartMs / 1000);  // not before: accepted
  EXPECT_EQ(h.send(c.heartbeat()).size(), 1u);
}

TEST(EngineTest, Rule4ReplayEqualAndLowerSeqDroppedHigherAccepted) {
  EngineHarness h;
  TestClient c;
  c.seq = 100;
  const Packet p100 = c.heartbeat();  // seq 101
  ASSERT_EQ(h.send(p100).size(), 1u);
  EXPECT_TRUE(h.send(p100).empty());  // equal
  EXPECT_EQ(h.drops(DropReason::kReplay), 1u);
  EXPECT_TRUE(h.send(c.make(wire::PacketType::kHeartbeat, 50)).empty());  // lower
  EXPECT_EQ(h.drops(DropReason::kReplay), 2u);
  EXPECT_EQ(h.send(c.make(wire::PacketType::kHeartbeat, 102)).size(), 1u);  // higher
}

TEST(EngineTest, ReplayDoesNotRefreshLiveness) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  TestClient c;
  const Packet p = c.heartbeat();
  ASSERT_EQ(h.send(p).size(), 1u);
  // Timeout 2 s. Replaying the captured packet every 500 ms must not keep
  // the session online.
  for (int i = 0; i < 6; ++i) {
    h.run_for(500);
    h.send(p);
  }
  EXPECT_FALSE(h.session_online(c.user, c.device));
  EXPECT_GE(h.drops(DropReason::kReplay), 4u);
}

TEST(EngineTest, Rule4NewTokenAcceptsAnySeqOlderTokenIsStale) {
  EngineHarness h;
  TestClient c;
  c.seq = 1000;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  TestClient renewed = c;
  renewed.expiry = c.expiry + 3600;
  renewed.seq = 0;
  ASSERT_EQ(h.send(renewed.heartbeat()).size(), 1u) << "new token starts its own seq";
  EXPECT_TRUE(h.send(c.heartbeat()).empty()) << "older token is stale now";
  EXPECT_EQ(h.drops(DropReason::kStaleToken), 1u);
  EXPECT_TRUE(h.send(renewed.make(wire::PacketType::kHeartbeat, 1)).empty());
  EXPECT_EQ(h.drops(DropReason::kReplay), 1u);
}

TEST(EngineTest, Rule5NatRebindingFollowsAuthenticatedPacketsOnly) {
  EngineHarness h;
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  const Packet old_port_stale = c.heartbeat();  // captured, delivered late
  TestClient moved = c;
  moved.addr = NetAddr::v4_bytes(10, 0, 0, 1, 50000);
  moved.seq = c.seq;
  const auto r = h.send(moved.heartbeat());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dst.port, 50000);
  // The reordered old-port packet (lower seq) is dropped and does not move it back.
  EXPECT_TRUE(h.send(old_port_stale).empty());
  table::SessionView v[2];
  ASSERT_EQ(h.table().read_user(c.user, v, 2), 1u);
  EXPECT_EQ(v[0].addr.port, 50000);
  // A forged packet from a third address moves nothing either.
  Packet forged = moved.heartbeat();
  forged.bytes[36] ^= 0xff;
  forged.src = NetAddr::v4_bytes(6, 6, 6, 6, 666);
  EXPECT_TRUE(h.send(forged).empty());
  ASSERT_EQ(h.table().read_user(c.user, v, 2), 1u);
  EXPECT_EQ(v[0].addr, moved.addr);
}

TEST(EngineTest, Ipv6SourcesAreStoredAndAnswered) {
  EngineHarness h;
  TestClient c;
  const uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  c.addr = NetAddr::v6(ip, 1234);
  const auto r = h.send(c.heartbeat());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dst, c.addr);
  table::SessionView v[2];
  ASSERT_EQ(h.table().read_user(c.user, v, 2), 1u);
  EXPECT_EQ(v[0].addr, c.addr);
}

TEST(EngineTest, Rule6ByeTakesSessionOfflineAtOnceAndIsAcked) {
  EngineHarness h;  // default linger 5 s
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  const auto r = h.send(c.bye());
  ASSERT_EQ(r.size(), 1u);
  expect_ack(r[0], c);
  EXPECT_FALSE(h.session_online(c.user, c.device));
  h.take_events();
  h.run_for(4900, 100);
  EXPECT_TRUE(h.events().empty()) << "OFFLINE waits for linger";
  h.run_for(200, 100);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kOffline);
}

TEST(EngineTest, Rule7MarkedSessionGetsReconnectInsteadOfAck) {
  EngineHarness h;
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  const uint32_t idx = h.table().find(h.table().hash_user(c.user), c.user, c.device);
  uint32_t before = 0;
  ASSERT_TRUE(table::try_claim(h.table().slot(idx), before, 1));
  table::release_modified(h.table().slot(idx), before, before | table::slot_bits::kReconnect);
  const Packet hb = c.heartbeat();
  const auto r = h.send(hb);
  ASSERT_EQ(r.size(), 1u);
  wire::ReconnectPacket rc;
  ASSERT_EQ(wire::parse_reconnect({r[0].bytes, r[0].len}, rc), DropReason::kNone);
  EXPECT_TRUE(auth::verify_packet(c.key(), r[0].bytes, r[0].len));
  EXPECT_EQ(rc.h.seq, c.seq);
  // Rule 8: never more than 1.5x the request.
  EXPECT_LE(r[0].len * 2, hb.bytes.size() * 3);
}

TEST(EngineTest, Rule8NoReplyToUnauthenticatedAndRandomDatagrams) {
  EngineHarness h;
  std::mt19937_64 rng(5);
  std::vector<Packet> junk;
  for (int i = 0; i < 10000; ++i) {
    Packet p;
    p.bytes.resize(rng() % 100);
    for (auto& b : p.bytes) b = static_cast<uint8_t>(rng());
    if (p.bytes.size() >= 4 && (i % 2) != 0) {
      p.bytes[0] = 0x50;
      p.bytes[1] = 0x48;
      p.bytes[2] = 1;
      p.bytes[3] = static_cast<uint8_t>(1 + rng() % 3);
    }
    if ((i % 4) == 1) p.bytes.resize(40);
    p.src = NetAddr::v4_bytes(9, 9, 9, static_cast<uint8_t>(i), 9);
    junk.push_back(std::move(p));
  }
  EXPECT_TRUE(h.send(junk).empty());
  EXPECT_TRUE(h.events().empty());
  EXPECT_EQ(h.stats().drops_total(), 10000u);
  // Still serving.
  TestClient c;
  EXPECT_EQ(h.send(c.heartbeat()).size(), 1u);
}

TEST(EngineTest, OfflineNoEarlierThanTimeoutNoLaterThanOneTick) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  const uint64_t accepted_ms = h.now_ms();
  h.take_events();
  // timeout = 2 x 1 s + 0 = 2000 ms. Tick in 1 ms steps.
  while (h.events().empty() && h.now_ms() < accepted_ms + 5000) h.run_for(1);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kOffline);
  const uint64_t declared = h.now_ms();
  EXPECT_GE(declared, accepted_ms + 2000);
  // last_seen is rounded up to the next ms, then one tick.
  EXPECT_LE(declared, accepted_ms + 2000 + 1 + h.engine().config().tick_ms);
  // last_seen in the event is the heartbeat's wall time.
  EXPECT_NEAR(static_cast<double>(h.events()[0].last_seen_wall_ms),
              static_cast<double>(testing::kWallStartMs), 2.0);
}

TEST(EngineTest, HeartbeatsKeepSessionOnline) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  TestClient c;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
    h.run_for(1000, 10);
  }
  ASSERT_EQ(h.events().size(), 1u);  // just the ONLINE
  EXPECT_TRUE(h.session_online(c.user, c.device));
  EXPECT_LE(h.engine().wheel_entries(), 1u);
}

TEST(EngineTest, LingerReturnWithinLingerGivesNoEvents) {
  EngineConfig cfg = fast_config();
  cfg.linger_ms = 3000;
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  h.take_events();
  ASSERT_EQ(h.send(c.bye()).size(), 1u);
  h.run_for(2000, 10);
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);  // back within linger
  for (int i = 0; i < 10; ++i) {                // and stays: heartbeats well within timeout
    h.run_for(500, 10);
    ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  }
  EXPECT_TRUE(h.events().empty()) << "neither OFFLINE nor a new ONLINE";
  EXPECT_EQ(h.stats().linger_cancelled, 1u);
}

TEST(EngineTest, LingerExpiresIntoOfflineAfterTimeout) {
  EngineConfig cfg = fast_config();
  cfg.linger_ms = 3000;
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  const uint64_t t0 = h.now_ms();
  h.take_events();
  while (h.events().empty() && h.now_ms() < t0 + 20000) h.run_for(1);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kOffline);
  EXPECT_GE(h.now_ms(), t0 + 2000 + 3000);
  EXPECT_LE(h.now_ms(), t0 + 2000 + 3000 + 2 + cfg.tick_ms);
}

TEST(EngineTest, LingerStatusChangeOnReturnGivesStatusEvent) {
  EngineConfig cfg = fast_config();
  cfg.linger_ms = 3000;
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient c;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  h.take_events();
  h.send(c.bye());
  h.run_for(1000, 10);
  c.status = Status::kBusy;
  h.send(c.heartbeat());
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kStatus);
  EXPECT_EQ(h.events()[0].status, Status::kBusy);
}

TEST(EngineTest, TwoDevicesGiveOneOnlineAndOneOffline) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  TestClient a;
  TestClient b = a;
  b.device = 2;
  b.addr.port = 40001;
  ASSERT_EQ(h.send(a.heartbeat()).size(), 1u);
  ASSERT_EQ(h.send(b.heartbeat()).size(), 1u);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].type, EventType::kOnline);
  h.send(a.bye());
  EXPECT_EQ(h.events().size(), 1u) << "device b keeps the user online";
  h.run_for(3000, 10);  // b times out
  ASSERT_EQ(h.events().size(), 2u);
  EXPECT_EQ(h.events()[1].type, EventType::kOffline);
  EXPECT_GT(h.events()[1].seq, h.events()[0].seq);
}

TEST(EngineTest, StatusPrecedenceAndInvisibleDriveUserEvents) {
  EngineHarness h;
  TestClient a;
  TestClient b = a;
  b.device = 2;
  a.status = Status::kAway;
  h.send(a.heartbeat());
  b.status = Status::kBusy;
  h.send(b.heartbeat());
  b.status = Status::kInvisible;
  h.send(b.heartbeat());
  a.status = Status::kAvailable;
  h.send(a.heartbeat());
  const auto& ev = h.events();
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].type, EventType::kOnline);
  EXPECT_EQ(ev[0].status, Status::kAway);
  EXPECT_EQ(ev[1].type, EventType::kStatus);
  EXPECT_EQ(ev[1].status, Status::kBusy);
  EXPECT_EQ(ev[2].type, EventType::kStatus);  // busy device went invisible
  EXPECT_EQ(ev[2].status, Status::kAway);
  EXPECT_EQ(ev[3].type, EventType::kStatus);
  EXPECT_EQ(ev[3].status, Status::kAvailable);
  for (std::size_t i = 1; i < ev.size(); ++i) EXPECT_GT(ev[i].seq, ev[i - 1].seq);
}

TEST(EngineTest, InvisibleOnlySessionNeverMakesUserOnline) {
  EngineHarness h;
  TestClient c;
  c.status = Status::kInvisible;
  ASSERT_EQ(h.send(c.heartbeat()).size(), 1u);
  EXPECT_TRUE(h.events().empty());
  EXPECT_TRUE(h.session_online(c.user, c.device));  // the session is, the user is not
  EXPECT_EQ(h.shared().users_online(), 0u);
  EXPECT_EQ(h.shared().sessions_online(), 1u);
}

TEST(EngineTest, DynamicIntervalStretchesOverBudgetAndTimeoutsFollowIt) {
  EngineConfig cfg;
  cfg.interval_s = 10;
  cfg.min_interval_s = 10;
  cfg.max_interval_s = 100;
  cfg.heartbeat_budget = 2;  // 2 heartbeats/s: 40 sessions need 20 s
  cfg.miss_limit = 1;
  cfg.grace_ms = 0;
  cfg.linger_ms = 0;
  EngineHarness h(EngineHarness::Options{.config = cfg});
  std::vector<TestClient> clients(40);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 1000 + i;
    ASSERT_EQ(h.send(clients[i].heartbeat()).size(), 1u);
  }
  h.run_for(20, 10);  // a tick refreshes the advised interval
  EXPECT_EQ(h.engine().advised_interval_s(), 20u);
  const auto r = h.send(clients[0].heartbeat());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(expect_ack(r[0], clients[0]).next_interval_s, 20);
  // clients[0] was advised 20 s (timeout 20 s); the others 10 s.
  h.take_events();
  h.run_for(10500, 50);
  EXPECT_TRUE(h.session_online(clients[0].user, 1));
  EXPECT_FALSE(h.session_online(clients[1].user, 1));
  h.run_for(10000, 50);
  EXPECT_FALSE(h.session_online(clients[0].user, 1));
}

TEST(EngineTest, ShorterAdvisedIntervalIsDetectedInTime) {
  // A session advised 60 s then 10 s must time out 10 s after its last
  // heartbeat, although its wheel entry was scheduled for the longer one.
  EngineConfig cfg;
  cfg.interval_s = 60;
  cfg.min_interval_s = 10;
  cfg.max_interval_s = 60;
  cfg.miss_limit = 1;
  cfg.grace_ms = 0;
  cfg.linger_ms = 0;
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient c;
  h.send(c.heartbeat());
  h.run_for(1000, 10);
  cfg.interval_s = 10;
  h.engine().set_config(cfg);
  h.send(c.heartbeat());
  const uint64_t last = h.now_ms();
  h.take_events();
  while (h.events().empty() && h.now_ms() < last + 70000) h.run_for(5);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_GE(h.now_ms(), last + 10000);
  EXPECT_LE(h.now_ms(), last + 10000 + 1 + cfg.tick_ms);
}

TEST(EngineTest, ConfigChangeShorteningTimeoutsRevisitsTheWheel) {
  EngineConfig cfg = fast_config();
  cfg.miss_limit = 10;  // timeout 10 s
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient c;
  h.send(c.heartbeat());
  const uint64_t last = h.now_ms();
  h.run_for(100, 10);
  cfg.miss_limit = 2;  // now 2 s
  h.engine().set_config(cfg);
  h.take_events();
  while (h.events().empty() && h.now_ms() < last + 20000) h.run_for(5);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_LE(h.now_ms(), last + 2000 + 1 + cfg.tick_ms);
}

TEST(EngineTest, DayLongMonotonicJumpIsAStallAndEachSessionGoesOfflineOnce) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  std::vector<TestClient> clients(500);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 1 + i;
    h.send(clients[i].heartbeat());
  }
  h.take_events();
  // A day without the core running: by the stall rule that day is not
  // silence, so nobody is declared offline the moment the core resumes...
  h.advance_ms(86'400'000);
  h.tick();
  EXPECT_TRUE(h.events().empty());
  EXPECT_EQ(h.stats().stalls, 1u);
  // ...but one timeout (2 s) of real silence later, each exactly once.
  h.run_for(2100, 10);
  EXPECT_EQ(h.events().size(), clients.size());
  std::set<uint64_t> users;
  for (const auto& e : h.events()) {
    EXPECT_EQ(e.type, EventType::kOffline);
    users.insert(e.user);
  }
  EXPECT_EQ(users.size(), clients.size());
  EXPECT_EQ(h.engine().wheel_entries(), 0u);
  // The catch-up swept the wheel's buckets about once, not a day of ms.
  EXPECT_LT(h.engine().wheel_stats().buckets_swept, 3u * 65536u + 100000u);
}

TEST(EngineTest, StalledTimeDoesNotCountAsSilence) {
  EngineConfig cfg = fast_config();  // timeout 2 s
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient alive;
  alive.user = 1;
  TestClient silent;
  silent.user = 2;
  h.send(alive.heartbeat());
  h.send(silent.heartbeat());
  h.run_for(1500, 10);
  h.send(alive.heartbeat());  // alive's last heartbeat before the stall
  h.take_events();
  // The core stalls for 20 s; alive's heartbeats wait in the socket and are
  // processed right when it resumes.
  h.advance_ms(20'000);
  h.send(alive.heartbeat());
  h.run_for(500, 10);
  EXPECT_TRUE(h.events().empty()) << "no verdict counts the stalled 20 s";
  // silent really was silent 1.5 s before the stall: its remaining 0.5 s of
  // timeout runs after the stall.
  h.run_for(600, 10);
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].user, silent.user);
  EXPECT_TRUE(h.session_online(alive.user, 1));
}

TEST(EngineTest, NoVerdictWhileAnotherCoreIsStalled) {
  EngineHarness::Options o;
  o.cores = 2;
  o.shards = 2;
  o.config = fast_config();
  EngineHarness h(o);
  std::vector<TestClient> clients(20);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 100 + i;
    h.send(clients[i].heartbeat(), 0);
  }
  h.take_events();
  // Core 1 stops making progress; core 0 keeps ticking past every timeout.
  ReplyBatch replies;
  EventBatch events;
  std::vector<TxDatagram> rbuf(256);
  std::vector<PresenceEvent> ebuf(256);
  std::size_t published = 0;
  for (int step = 0; step < 500; ++step) {  // 5 s
    h.advance_ms(10);
    replies = {rbuf.data(), 256, 0};
    events = {ebuf.data(), 256, 0};
    h.engine(0).tick(h.now(), replies, events);
    published += events.size;
  }
  EXPECT_EQ(published, 0u) << "core 1 is stalled: its sockets may hold their heartbeats";
  EXPECT_GT(h.stats().verdicts_deferred, 0u);
  // Core 1 resumes (records its stall), the sessions are silent for real.
  h.run_for(2500, 10);
  EXPECT_EQ(h.events().size(), clients.size());
}

TEST(EngineTest, WallClockStepsDoNotAffectLiveness) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  TestClient c;
  h.send(c.heartbeat());
  // Wall clock steps back 3 days and forward 5 days; monotonic time does not.
  engine::Clock& now = const_cast<engine::Clock&>(h.now());
  now.wall_ms -= 3LL * 86'400'000;
  h.run_for(900, 10);
  h.send(c.heartbeat());
  now.wall_ms += 5LL * 86'400'000;
  h.run_for(900, 10);
  EXPECT_TRUE(h.session_online(c.user, c.device));
  EXPECT_EQ(h.events().size(), 1u);
}

TEST(EngineTest, CrossCoreSessionsAreCreatedAndPublishedByTheirHomeCore) {
  EngineHarness::Options o;
  o.cores = 2;
  o.shards = 4;
  o.config = fast_config();
  EngineHarness h(o);
  std::vector<TestClient> clients(64);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 7000 + i;
    // Every packet arrives on core 1, whatever the home of its shard.
    const auto r = h.send(clients[i].heartbeat(), 1);
    ASSERT_EQ(r.size(), 1u);
    expect_ack(r[0], clients[i]);
  }
  EXPECT_EQ(h.events().size(), clients.size());
  for (const auto& e : h.events()) {
    const uint32_t shard = h.table().hash_user(e.user).shard;
    EXPECT_EQ(e.core, shard % 2) << "events come from the home core";
  }
  EXPECT_GT(h.stats().forwarded, 0u);
  // Updates from the other core need no forwarding.
  for (auto& c : clients) ASSERT_EQ(h.send(c.heartbeat(), 0).size(), 1u);
  EXPECT_EQ(h.stats().sessions_created, clients.size());
  h.run_for(3000, 10);
  EXPECT_EQ(h.events().size(), 2 * clients.size());
}

TEST(EngineTest, RepliesCarryTheRequestsLinkLayerHintAcrossCores) {
  EngineHarness::Options o;
  o.cores = 2;
  o.shards = 2;
  EngineHarness h(o);
  for (uint64_t user = 1; user <= 40; ++user) {
    TestClient c;
    c.user = user;
    Packet p = c.heartbeat();
    p.l2_hint = 0xa0b0c0d0e0f0 + user;
    const auto r = h.send(p, 1);  // created by either home core
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].l2_hint, p.l2_hint);
    Packet q = c.heartbeat();
    q.l2_hint = 0x111100 + user;
    const auto r2 = h.send(q, 0);  // an update, answered where it arrived
    ASSERT_EQ(r2.size(), 1u);
    EXPECT_EQ(r2[0].l2_hint, q.l2_hint);
  }
}

TEST(EngineTest, FullTableRejectsNewSessionsAndKeepsExistingOnes) {
  EngineHarness::Options o;
  o.max_sessions = 100;
  EngineHarness h(o);
  std::vector<TestClient> clients(100);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 1 + i;
    ASSERT_EQ(h.send(clients[i].heartbeat()).size(), 1u);
  }
  TestClient extra;
  extra.user = 5000;
  EXPECT_TRUE(h.send(extra.heartbeat()).empty());
  EXPECT_EQ(h.drops(DropReason::kTableFull), 1u);
  for (auto& c : clients) EXPECT_EQ(h.send(c.heartbeat()).size(), 1u);
}

TEST(EngineTest, ByeForUnknownSessionIsAckedWithoutState) {
  EngineHarness h;
  TestClient c;
  const auto r = h.send(c.bye());
  ASSERT_EQ(r.size(), 1u);
  expect_ack(r[0], c);
  EXPECT_EQ(h.stats().sessions_created, 0u);
  EXPECT_TRUE(h.events().empty());
}

TEST(EngineTest, FullEventBufferDelaysEventsWithoutLosingThem) {
  EngineHarness h(EngineHarness::Options{.config = fast_config()});
  std::vector<TestClient> clients(200);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i].user = 1 + i;
    h.send(clients[i].heartbeat());
  }
  h.take_events();
  // Tick past the timeout with an event buffer of 7 per call.
  std::vector<PresenceEvent> buf(7);
  std::vector<TxDatagram> rbuf(64);
  std::size_t got = 0;
  for (int i = 0; i < 600 && got < clients.size(); ++i) {
    h.advance_ms(10);
    EventBatch events{buf.data(), 7, 0};
    ReplyBatch replies{rbuf.data(), 64, 0};
    h.engine().tick(h.now(), replies, events);
    got += events.size;
  }
  EXPECT_EQ(got, clients.size());
  EXPECT_GT(h.stats().events_deferred, 0u);
}

TEST(EngineTest, AdmissionRateDefersTheHerdToFutureSlotsAndNeverShedsExistingSessions) {
  EngineConfig cfg;
  cfg.admission_rate = 10;  // 10 new sessions per second
  EngineHarness h(EngineHarness::Options{.config = cfg});
  TestClient existing;
  existing.user = 1;
  ASSERT_EQ(h.send(existing.heartbeat())[0].len, wire::kAckSize);
  h.run_for(1000, 100);  // the bucket refills
  std::vector<TestClient> herd(60);
  std::vector<Packet> burst;
  for (std::size_t i = 0; i < herd.size(); ++i) {
    herd[i].user = 100 + i;
    burst.push_back(herd[i].heartbeat());
  }
  const auto replies = h.send(burst);
  ASSERT_EQ(replies.size(), herd.size());
  std::size_t acked = 0;
  std::vector<uint32_t> delays;
  for (const auto& tx : replies) {
    if (tx.len == wire::kAckSize) {
      ++acked;
      continue;
    }
    wire::ReconnectPacket rc;
    ASSERT_EQ(wire::parse_reconnect({tx.bytes, tx.len}, rc), wire::DropReason::kNone);
    EXPECT_EQ(rc.reason, wire::ReconnectReason::kOverload);
    EXPECT_EQ(rc.family, wire::TargetFamily::kSameServer);
    delays.push_back(rc.delay_ms);
  }
  // The bucket is shallow (20 ms worth, at least one session): one is
  // admitted at once, the rest get slots.
  EXPECT_EQ(acked, 1u);
  // Refused sessions get consecutive slots, 100 ms apart.
  std::sort(delays.begin(), delays.end());
  for (std::size_t i = 0; i < delays.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(delays[i]), 100.0 * static_cast<double>(i + 1), 2.0);
  }
  EXPECT_EQ(h.stats().admission_deferred, herd.size() - 1);
  // Existing sessions keep getting ACKs.
  EXPECT_EQ(h.send(existing.heartbeat())[0].len, wire::kAckSize);
  // Coming back at their slots, they are admitted.
  std::size_t admitted = 0;
  for (int step = 0; step < 60; ++step) {
    h.advance_ms(100);
    for (std::size_t i = 0; i < herd.size(); ++i) {
      if (h.session_online(herd[i].user, 1)) continue;
      const auto r = h.send(herd[i].heartbeat());
      if (!r.empty() && r[0].len == wire::kAckSize) ++admitted;
      break;  // one per 100 ms: the rate
    }
  }
  EXPECT_EQ(admitted, herd.size() - 1);
}

TEST(EngineTest, SessionsBackAfterARestartResumeWithoutOnlineEvents) {
  EngineHarness h;  // epoch 0xdeadbeef; restart_grace 92 s by default
  TestClient resumed;
  resumed.user = 1;
  Packet p = resumed.heartbeat();
  // Re-sign with epoch_seen = the previous process's epoch.
  wire::ClientPacket cp;
  ASSERT_EQ(wire::parse_client_packet(p.bytes, cp), wire::DropReason::kNone);
  cp.epoch_seen = 0x12345678;
  wire::build_client_packet(cp, std::span<uint8_t, wire::kHeartbeatSize>(p.bytes.data(), 40));
  auth::sign_packet(resumed.key(), p.bytes.data(), p.bytes.size());
  ASSERT_EQ(h.send(p).size(), 1u);
  EXPECT_TRUE(h.events().empty()) << "published online by the previous process";
  EXPECT_EQ(h.stats().sessions_resumed, 1u);
  EXPECT_EQ(h.shared().users_online(), 1u);
  TestClient fresh;  // epoch_seen 0: a new login, announced
  fresh.user = 2;
  h.send(fresh.heartbeat());
  ASSERT_EQ(h.events().size(), 1u);
  EXPECT_EQ(h.events()[0].user, 2u);
}

}  // namespace
}  // namespace presenced::engine
