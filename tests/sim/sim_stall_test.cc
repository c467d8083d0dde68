// sim_stall_test.cc: scenario 5, a data core stalled for 20 s.
//
// Core 1 is not called for 20 simulated seconds. Datagrams for it (SO_REUSEPORT
// sends each client to one core by a hash of its address) wait in its socket
// buffer, or are dropped when the buffer is full, and are processed when the
// core resumes. Shortly before the stall a twentieth of the clients went
// silent so that their timeouts fall inside the stall.
//
// The engine's stall rule: time during which a core was stalled does not
// count as any session's silence, and no core declares sessions offline
// while one is stalled. Asserted (buffer large enough): no false offlines,
// every silent client exactly one OFFLINE, late by at most the stall.
// Variants: the default timeouts (92 s), tight timeouts (interval 10 s,
// miss_limit 2, grace 2 s: 22 s, shorter than stall + interval, so without
// the rule the stalled core's clients would be offlined), and a buffer that
// overflows (reported; the order and silent-client checks still hold).
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/sim/sim_features.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

struct StallCase {
  const char* name;
  bool tight;
  uint32_t socket_buffer;
  bool overflow_expected;
};

class SimStallTest : public ::testing::TestWithParam<StallCase> {};

TEST_P(SimStallTest, NoMassOffliningAfterAStall) {
  if constexpr (!kHasStallRule<>) {
    GTEST_SKIP() << "needs the stall rule (EngineConfig::stall_threshold_ms)";
  }
  const StallCase sc = GetParam();
  const uint64_t seed = scenario_seed(0x57a11);
  const std::string name = std::string("stall_") + sc.name;
  SCOPED_TRACE(announce(name, seed));

  WorldOptions o;
  o.seed = seed;
  o.clients = full_runs() ? 100'000 : 20'000;
  o.cores = 2;
  o.up.loss = o.down.loss = 0.01;
  o.socket_buffer = sc.socket_buffer;
  o.rx_per_ms = 2000;  // about 2 Mpps per core
  if (sc.tight) {
    o.config.interval_s = 10;
    o.config.min_interval_s = 10;
    o.config.miss_limit = 2;
    o.config.grace_ms = 2000;
    o.start_spread_ms = 10'000;
  }
  const uint64_t interval_ms = uint64_t{o.config.interval_s} * 1000;
  const uint64_t timeout = engine::timeout_ms(o.config, o.config.interval_s);
  const uint64_t stall_ms = 20'000;
  const uint64_t stall_at = sc.tight ? 120'000 : 240'000;
  // Silent from here: their deadlines (last_seen + timeout, last_seen within
  // one interval before the stop) fall into the stall.
  const uint64_t stop_at = stall_at + 2'000 - (timeout - interval_ms);
  const uint32_t stalled_core = 1;

  const double cpu0 = cpu_seconds();
  World w(o);
  w.truth().limits().allowance_ms = stall_ms;  // late by at most the stall
  const uint32_t silent = w.clients() / 20;
  w.at(stop_at, [&w, silent] {
    for (uint32_t i = 0; i < silent; ++i) w.stop_client(i);
  });
  w.at(stall_at, [&] { w.stall_core(stalled_core, stall_ms); });
  uint64_t queued_at_resume = 0;
  w.at(stall_at + stall_ms, [&] { queued_at_resume = w.socket(stalled_core).size(); });
  const uint64_t end_ms = stall_at + stall_ms + timeout + o.config.linger_ms + 60'000;
  w.run_until(end_ms);

  uint64_t silent_once = 0;
  uint64_t live_offlines = 0;
  uint64_t live_offlines_on_stalled = 0;
  for (uint32_t i = 0; i < w.clients(); ++i) {
    if (i < silent) {
      silent_once += w.truth().offlines_of(i) == 1 ? 1 : 0;
    } else {
      live_offlines += w.truth().offlines_of(i);
      if (w.core_of(w.address_of(i)) == stalled_core) {
        live_offlines_on_stalled += w.truth().offlines_of(i);
      }
    }
  }
  const engine::CoreStatsSnapshot s = w.server_stats();
  const TruthCounts& t = w.truth().counts();
  char extra[512];
  std::snprintf(
      extra, sizeof extra,
      "timeout=%llums stall=%llums silent=%u silent_offline_once=%llu live_offlines=%llu "
      "(on stalled core %llu) socket_capacity=%u queued_at_resume=%llu socket_drops=%llu "
      "stalls=%llu stalled_ms=%llu offline_after_stop=[%llu,%llu]ms client_dead=%llu",
      static_cast<unsigned long long>(timeout), static_cast<unsigned long long>(stall_ms), silent,
      static_cast<unsigned long long>(silent_once), static_cast<unsigned long long>(live_offlines),
      static_cast<unsigned long long>(live_offlines_on_stalled), sc.socket_buffer,
      static_cast<unsigned long long>(queued_at_resume),
      static_cast<unsigned long long>(w.socket(stalled_core).dropped()),
      static_cast<unsigned long long>(stalls(s)), static_cast<unsigned long long>(stalled_ms(s)),
      static_cast<unsigned long long>(t.min_offline_after_stop_ms),
      static_cast<unsigned long long>(t.max_offline_after_stop_ms),
      static_cast<unsigned long long>(w.client_counters().action(client::Action::kDead)));
  report(name, seed, w, cpu_seconds() - cpu0, extra);

  EXPECT_GE(stalls(s), 1u);
  EXPECT_EQ(silent_once, silent) << "each silent client exactly one OFFLINE";
  EXPECT_EQ(t.order_violations(), 0u);
  EXPECT_EQ(t.late_offlines, 0u) << "late by more than the stall";
  EXPECT_EQ(w.truth().missed_offlines(w.now_ms()), 0u);
  for (const std::string& p : w.truth().problems()) ADD_FAILURE() << p;
  if (sc.overflow_expected) {
    EXPECT_GT(w.socket(stalled_core).dropped(), 0u) << "the variant must overflow";
  } else {
    EXPECT_EQ(w.socket(stalled_core).dropped(), 0u) << "buffer sized not to overflow";
    EXPECT_EQ(t.false_offlines, 0u);
    EXPECT_EQ(live_offlines, 0u);
    for (const std::string& e : w.truth().false_offline_examples()) ADD_FAILURE() << e;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Stall, SimStallTest,
    ::testing::Values(StallCase{"default_timeouts", false, 1u << 17, false},
                      StallCase{"tight_timeouts", true, 1u << 17, false},
                      StallCase{"tight_timeouts_overflow", true, 2048, true},
                      StallCase{"default_timeouts_overflow", false, 2048, true}),
    [](const ::testing::TestParamInfo<StallCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace presenced::sim
