// Tests of the adaptive ("smart") heartbeat: AdaptiveIntervalStore on its own
// and driven by Sessions against a fake server.
#include "client/adaptive.h"

#include <vector>

#include <gtest/gtest.h>

#include "client/session.h"
#include "tests/client/fake_server.h"

namespace presenced::client {
namespace {

using testing::credentials;
using testing::FakeServer;
using wire::Status;

constexpr uint32_t kWall0 = 1'800'000'000;

Policy adaptive_policy() {
  Policy p;
  p.adaptive = true;
  p.adaptive_start_ms = 30'000;
  p.adaptive_step_ms = 30'000;
  p.adaptive_min_ms = 10'000;
  p.retries = 2;
  return p;
}

// One simulated app: a session, a clock and a fake server that advises
// `server.next_interval_s`. The store is shared between drivers.
struct Driver {
  Driver(const Policy& p, AdaptiveIntervalStore& st, uint32_t network) : policy(p), store(st) {
    server.next_interval_s = 120;
    s.set_network(network, now(), env());
  }

  Now now() const { return Now{t, kWall0}; }
  Env env() { return Env{policy, rng, &store}; }

  void go_online() {
    const Output o = s.start(now(), env());
    ASSERT_TRUE(o.send);
    t += 5;
    ASSERT_EQ(s.on_packet(server.ack(o.seq), now(), env()), PacketResult::kAccepted);
  }
  Output wake() {
    t = s.next_wake_ms();
    return s.on_wake(now(), env());
  }
  // One round at the current interval, acknowledged on its first attempt.
  // Returns the interval the heartbeat announced, in seconds.
  uint16_t round_ok() {
    const Output o = wake();
    EXPECT_EQ(o.action, Action::kHeartbeat);
    const uint16_t announced = server.receive(o).interval_s;
    t += 5;
    EXPECT_EQ(s.on_packet(server.ack(o.seq), now(), env()), PacketResult::kAccepted);
    return announced;
  }
  // One round whose first attempt is lost; the resend is acknowledged.
  void round_needing_resend() {
    ASSERT_EQ(wake().action, Action::kHeartbeat);
    const Output r = wake();
    ASSERT_EQ(r.action, Action::kResend);
    t += 5;
    ASSERT_EQ(s.on_packet(server.ack(r.seq), now(), env()), PacketResult::kAccepted);
  }
  // One round that gets no ACK at all: dead, then an acknowledged reconnect.
  void round_dead_then_reconnect() {
    ASSERT_EQ(wake().action, Action::kHeartbeat);
    Output o;
    do {
      o = wake();
    } while (o.action == Action::kResend);
    ASSERT_EQ(o.action, Action::kDead);
    const Output r = wake();
    ASSERT_EQ(r.action, Action::kReconnectAttempt);
    t += 5;
    ASSERT_EQ(s.on_packet(server.ack(r.seq), now(), env()), PacketResult::kAccepted);
  }

  Policy policy;
  AdaptiveIntervalStore& store;
  Rng rng{3};
  FakeServer server;
  Session s{credentials(), Status::kAvailable};
  uint64_t t = 1'000;
};

TEST(AdaptiveSessionTest, OffByDefaultFollowsTheServer) {
  AdaptiveIntervalStore store;
  Driver d(Policy{}, store, 7);
  d.go_online();
  EXPECT_EQ(d.s.interval_ms(), 120'000u);
  d.round_ok();
  EXPECT_EQ(d.s.interval_ms(), 120'000u);
  EXPECT_EQ(store.size(), 0u);
}

TEST(AdaptiveSessionTest, ProbesUpInStepsToTheServersMaximum) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  EXPECT_EQ(d.s.interval_ms(), 30'000u);  // safe start, not yet measured
  std::vector<uint32_t> intervals;
  std::vector<uint16_t> announced;
  for (int i = 0; i < 6; ++i) {
    announced.push_back(d.round_ok());
    intervals.push_back(d.s.interval_ms());
  }
  EXPECT_EQ(intervals, (std::vector<uint32_t>{60'000, 90'000, 120'000, 120'000, 120'000, 120'000}));
  // Each heartbeat announces the interval that preceded it.
  EXPECT_EQ(announced, (std::vector<uint16_t>{30, 60, 90, 120, 120, 120}));
  EXPECT_EQ(store.find(7)->good_ms, 120'000u);
  EXPECT_EQ(d.s.next_wake_ms(), d.t + 120'000);
}

TEST(AdaptiveSessionTest, FailedProbeFallsBackToLastGoodAndIsNotRetried) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  d.round_ok();  // at 30 -> probe 60
  d.round_ok();  // at 60 survived -> probe 90
  ASSERT_EQ(d.s.interval_ms(), 90'000u);
  d.round_needing_resend();  // the probe at 90 failed
  EXPECT_EQ(d.s.interval_ms(), 60'000u);
  EXPECT_EQ(store.find(7)->good_ms, 60'000u);
  EXPECT_EQ(store.find(7)->ceiling_ms, 90'000u);
  for (int i = 0; i < 3; ++i) {
    d.round_ok();
    EXPECT_EQ(d.s.interval_ms(), 60'000u) << i;  // 90 is known to fail here
  }
}

TEST(AdaptiveSessionTest, DeadProbeFallsBackToLastGood) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  d.round_ok();
  d.round_ok();
  ASSERT_EQ(d.s.interval_ms(), 90'000u);
  d.round_dead_then_reconnect();
  EXPECT_EQ(d.s.interval_ms(), 60'000u);
  EXPECT_EQ(store.find(7)->ceiling_ms, 90'000u);
}

TEST(AdaptiveSessionTest, FailureAtTheGoodIntervalStepsDown) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  d.round_ok();
  d.round_ok();
  d.round_needing_resend();  // 90 fails: back to 60
  ASSERT_EQ(d.s.interval_ms(), 60'000u);
  d.round_needing_resend();  // now 60 fails as well
  EXPECT_EQ(d.s.interval_ms(), 30'000u);
  EXPECT_EQ(store.find(7)->good_ms, 30'000u);
}

TEST(AdaptiveSessionTest, LearnedIntervalIsRememberedPerNetwork) {
  AdaptiveIntervalStore store;
  {
    Driver a(adaptive_policy(), store, 7);
    a.go_online();
    a.round_ok();
    a.round_ok();
    a.round_needing_resend();  // network 7: good 60, 90 fails
  }
  Driver b(adaptive_policy(), store, 7);
  b.go_online();
  EXPECT_EQ(b.s.interval_ms(), 60'000u);  // starts from what network 7 taught
  b.round_ok();
  EXPECT_EQ(b.s.interval_ms(), 60'000u);  // and does not probe 90 again

  Driver c(adaptive_policy(), store, 8);
  c.go_online();
  EXPECT_EQ(c.s.interval_ms(), 30'000u);  // a new network starts safe
  c.round_ok();
  EXPECT_EQ(c.s.interval_ms(), 60'000u);
  c.round_ok();
  EXPECT_EQ(c.s.interval_ms(), 90'000u);  // 90 is fine on network 8
}

TEST(AdaptiveSessionTest, ServerAdviceBoundsTheInterval) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  d.round_ok();
  d.round_ok();
  d.round_ok();
  ASSERT_EQ(d.s.interval_ms(), 120'000u);
  d.server.next_interval_s = 45;  // the server now advises less than was learned
  d.round_ok();
  EXPECT_EQ(d.s.interval_ms(), 45'000u);
  EXPECT_EQ(store.find(7)->good_ms, 120'000u);  // what the network allows is kept
  d.server.next_interval_s = 100;
  d.round_ok();
  EXPECT_EQ(d.s.interval_ms(), 100'000u);
}

TEST(AdaptiveSessionTest, BeforeAnyAdviceTheDefaultIntervalIsTheMaximum) {
  AdaptiveIntervalStore store;
  Policy p = adaptive_policy();
  p.adaptive_start_ms = 50'000;
  p.default_interval_ms = 20'000;
  Driver d(p, store, 7);
  const Output o = d.s.start(d.now(), d.env());
  EXPECT_EQ(d.server.receive(o).interval_s, 20);
}

TEST(AdaptiveSessionTest, SetNetworkWhileIdleUsesTheNewNetworksInterval) {
  AdaptiveIntervalStore store;
  Driver d(adaptive_policy(), store, 7);
  d.go_online();
  d.round_ok();
  d.round_ok();
  ASSERT_EQ(d.s.interval_ms(), 90'000u);
  d.t += 1000;
  d.s.set_network(8, d.now(), d.env());
  EXPECT_EQ(d.s.interval_ms(), 30'000u);
  EXPECT_EQ(d.s.next_wake_ms(), d.t + 30'000);
  // The next round measures network 8, not 7.
  d.round_ok();
  EXPECT_EQ(store.find(8)->good_ms, 30'000u);
  EXPECT_EQ(store.find(7)->good_ms, 60'000u);
}

TEST(AdaptiveStoreTest, RecordAndChoose) {
  const Policy p = adaptive_policy();
  AdaptiveIntervalStore st;
  EXPECT_EQ(st.find(1), nullptr);
  EXPECT_EQ(st.next_interval(1, 300'000, false, p), 30'000u);
  EXPECT_EQ(st.next_interval(1, 300'000, true, p), 60'000u);
  EXPECT_EQ(st.next_interval(1, 20'000, true, p), 20'000u);  // probe above max: no
  st.record(1, 60'000, true, p);
  EXPECT_EQ(st.find(1)->good_ms, 60'000u);
  st.record(1, 90'000, false, p);
  EXPECT_EQ(st.find(1)->ceiling_ms, 90'000u);
  EXPECT_EQ(st.next_interval(1, 300'000, true, p), 60'000u);
  st.record(1, 60'000, false, p);
  EXPECT_EQ(st.find(1)->good_ms, 30'000u);
  EXPECT_EQ(st.find(1)->ceiling_ms, 60'000u);
  st.record(1, 30'000, false, p);
  st.record(1, 10'000, false, p);
  EXPECT_EQ(st.find(1)->good_ms, p.adaptive_min_ms);  // never below the minimum
  // A survivor at or above the ceiling means the network changed.
  st.record(1, 70'000, true, p);
  EXPECT_EQ(st.find(1)->good_ms, 70'000u);
  EXPECT_EQ(st.find(1)->ceiling_ms, 0u);
  st.forget(1);
  EXPECT_EQ(st.find(1), nullptr);
  EXPECT_EQ(st.size(), 0u);
}

TEST(AdaptiveStoreTest, BoundedWithLeastRecentlyUsedEviction) {
  const Policy p = adaptive_policy();
  AdaptiveIntervalStore st;
  for (uint32_t n = 1; n <= AdaptiveIntervalStore::kCapacity; ++n) {
    st.record(n, 60'000, true, p);
  }
  EXPECT_EQ(st.size(), AdaptiveIntervalStore::kCapacity);
  st.next_interval(1, 300'000, false, p);  // 1 is now recently used; 2 is the oldest
  st.record(100, 60'000, true, p);
  EXPECT_EQ(st.size(), AdaptiveIntervalStore::kCapacity);
  EXPECT_NE(st.find(1), nullptr);
  EXPECT_EQ(st.find(2), nullptr);
  EXPECT_NE(st.find(3), nullptr);
  EXPECT_EQ(st.find(100)->good_ms, 60'000u);
}

}  // namespace
}  // namespace presenced::client
