// sim_storm_test.cc: scenario 6, a reconnect storm under admission control.
//
// 10,000 "veteran" clients are online. Then 1,000,000 clients start within
// one second (a whole region reconnecting at once), each with a FIRST
// heartbeat, against a server whose admission limit is 100,000 new sessions
// per second over all cores. Sessions over the limit are answered with
// RECONNECT(OVERLOAD, delay_ms = their admission slot) and come back then.
//
// Asserted:
//   * admission never above the limit: in every window of W seconds at most
//     limit x W + limit sessions go online (the token bucket holds one
//     second's worth; the worst 1 s window is reported);
//   * 99% of the storm is online within N / limit + 30% (and everyone by the
//     end);
//   * the veterans are never shed: every one of their heartbeats is
//     acknowledged on the first try (lossless path) and none goes offline;
//   * memory: the engine allocates nothing in any process()/tick() call
//     (counted by sim_alloc_probe.cc); RSS is reported.
#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/sim/sim_features.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

TEST(SimStormTest, ReconnectStormUnderAdmissionLimit) {
  if constexpr (!kHasAdmission<>) {
    GTEST_SKIP() << "needs admission control (EngineConfig::admission_rate)";
  }
  const uint64_t seed = scenario_seed(0x5707);
  SCOPED_TRACE(announce("reconnect_storm", seed));
  const uint32_t veterans = 10'000;
  const uint32_t storm = 1'000'000;
  const uint32_t limit = 100'000;
  const uint64_t storm_at = 60'000;

  WorldOptions o;
  o.seed = seed;
  o.clients = veterans + storm;
  o.cores = 2;
  o.shards = 16;
  o.autostart = false;
  o.up.loss = o.down.loss = 0;
  o.up.jitter_ms = o.down.jitter_ms = 20;
  o.rx_per_ms = 2000;
  set_admission_rate(o.config, limit);

  // Probe check: the allocation counter of sim_alloc_probe.cc is linked in.
  g_engine_call = true;
  void* volatile probe = ::operator new(16);  // a direct call is never elided
  ::operator delete(probe);
  g_engine_call = false;
  ASSERT_EQ(g_engine_allocations, 1u) << "sim_alloc_probe.cc not linked";
  g_engine_allocations = 0;

  const double cpu0 = cpu_seconds();
  World w(o);
  Random plan(seed, Stream::kScenario);
  for (uint32_t i = 0; i < veterans; ++i) {
    w.at(plan.below(20'000), [&w, i] { w.start_client(i); });
  }
  for (uint32_t i = veterans; i < o.clients; ++i) {
    w.at(storm_at + plan.below(1000), [&w, i] { w.start_client(i); });
  }

  std::vector<uint64_t> online_per_s(4096, 0);
  std::vector<uint32_t> time_to_online(storm, UINT32_MAX);
  uint64_t veteran_resends = 0;
  uint64_t veteran_reconnects = 0;
  w.hooks().on_event = [&](const engine::PresenceEvent& ev, uint64_t t) {
    if (ev.type != engine::EventType::kOnline) return;
    ++online_per_s[std::min<uint64_t>(t / 1000, online_per_s.size() - 1)];
    const uint64_t i = ev.user - w.user_of(0);
    if (i >= veterans && time_to_online[i - veterans] == UINT32_MAX) {
      time_to_online[i - veterans] = static_cast<uint32_t>(t - storm_at);
    }
  };
  w.hooks().on_send = [&](uint32_t i, const client::Output& out, const NetAddr&) {
    if (i < veterans && w.now_ms() >= storm_at && out.action != client::Action::kHeartbeat) {
      ++veteran_resends;
    }
  };
  w.hooks().on_client_packet = [&](uint32_t i, client::PacketResult r, const client::PacketInfo&) {
    if (i < veterans && r == client::PacketResult::kReconnect) ++veteran_reconnects;
  };

  w.run_until(storm_at - 1);
  const uint64_t rss_before = rss_bytes();
  const uint64_t allocs_before = g_engine_allocations;
  const uint64_t implied_ms = uint64_t{storm} * 1000 / limit;
  const uint64_t end_ms = storm_at + 2 * implied_ms + 60'000;
  w.run_until(end_ms);
  const uint64_t rss_after = rss_bytes();
  const double cpu = cpu_seconds() - cpu0;

  // Admission: the worst window of each length.
  uint64_t worst_1s = 0;
  uint64_t bucket_violations = 0;
  const std::size_t last_s = end_ms / 1000;
  for (std::size_t a = storm_at / 1000; a <= last_s; ++a) {
    uint64_t sum = 0;
    for (std::size_t b = a; b <= last_s; ++b) {
      sum += online_per_s[b];
      const uint64_t W = b - a + 1;
      if (W == 1) worst_1s = std::max(worst_1s, sum);
      if (sum > limit * W + limit) ++bucket_violations;
    }
  }
  std::vector<uint32_t> sorted = time_to_online;
  std::sort(sorted.begin(), sorted.end());
  const uint32_t p50 = sorted[storm / 2];
  const uint32_t p99 = sorted[storm / 100 * 99];
  const uint32_t p100 = sorted[storm - 1];
  uint64_t veteran_offlines = 0;
  for (uint32_t i = 0; i < veterans; ++i) veteran_offlines += w.truth().offlines_of(i);
  const engine::CoreStatsSnapshot s = w.server_stats();

  char extra[768];
  std::snprintf(
      extra, sizeof extra,
      "limit=%u/s storm=%u implied=%llums online_ms p50=%u p99=%u max=%u worst_1s=%llu "
      "admission_deferred=%llu overload_reconnects=%llu veteran_resends=%llu "
      "veteran_reconnects=%llu veteran_offlines=%llu engine_allocations=%llu rss=%lluMB->%lluMB "
      "table_inserts=%llu",
      limit, storm, static_cast<unsigned long long>(implied_ms), p50, p99, p100,
      static_cast<unsigned long long>(worst_1s),
      static_cast<unsigned long long>(admission_deferred(s)),
      static_cast<unsigned long long>(w.client_counters().overload_reconnects),
      static_cast<unsigned long long>(veteran_resends),
      static_cast<unsigned long long>(veteran_reconnects),
      static_cast<unsigned long long>(veteran_offlines),
      static_cast<unsigned long long>(g_engine_allocations - allocs_before),
      static_cast<unsigned long long>(rss_before >> 20),
      static_cast<unsigned long long>(rss_after >> 20),
      static_cast<unsigned long long>(s.sessions_created));
  report("reconnect_storm", seed, w, cpu, extra);

  EXPECT_EQ(bucket_violations, 0u) << "admissions above limit x W + one second's worth";
  EXPECT_LE(p99, implied_ms * 13 / 10) << "99% online within N / limit + 30%";
  EXPECT_NE(p100, UINT32_MAX) << "everyone online by the end";
  EXPECT_GT(admission_deferred(s), 0u);
  EXPECT_EQ(s.sessions_created, o.clients) << "a deferred session must not take a slot";
  EXPECT_EQ(veteran_resends, 0u) << "a veteran's heartbeat went unanswered";
  EXPECT_EQ(veteran_reconnects, 0u) << "a veteran was sent away";
  EXPECT_EQ(veteran_offlines, 0u);
  EXPECT_EQ(g_engine_allocations - allocs_before, 0u) << "the engine allocated during the storm";
  EXPECT_EQ(w.truth().counts().false_offlines, 0u);
  EXPECT_EQ(w.truth().counts().order_violations(), 0u);
  EXPECT_EQ(w.net_counters().socket_dropped, 0u);
}

}  // namespace
}  // namespace presenced::sim
