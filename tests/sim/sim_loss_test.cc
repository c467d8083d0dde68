// sim_loss_test.cc: scenario 1, false offlines under packet loss.
//
// Clients heartbeat with the default client::Policy (ack timeout 5 s, 3
// resends, full-jitter reconnect backoff 1 s .. 60 s) against the server
// defaults (interval 30 s, miss_limit 3, grace 2 s: timeout 92 s; linger
// 5 s) for a simulated hour, losing the same fraction of datagrams in each
// direction. No client ever stops, so every OFFLINE is a false offline.
// Asserted: none at 5, 10 and 20% loss, every user online at the end, events
// in order. At 30% the rate is measured and reported, not asserted.
//
// Size: 20,000 clients by default (CI); PRESENCED_SIM_FULL=1 runs 100,000.
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

struct LossCase {
  int percent;
  bool assert_zero;
};

class SimLossTest : public ::testing::TestWithParam<LossCase> {};

TEST_P(SimLossTest, FalseOfflinesWithDefaultRetryPolicy) {
  const LossCase lc = GetParam();
  const bool full = full_runs();
  const uint64_t seed = scenario_seed(0x10550000 + static_cast<uint64_t>(lc.percent));
  const std::string name = "loss_" + std::to_string(lc.percent) + "pct";
  SCOPED_TRACE(announce(name, seed));

  WorldOptions o;
  o.seed = seed;
  o.clients = full ? 100'000 : 20'000;
  o.cores = 2;
  o.shards = 8;
  o.up.loss = lc.percent / 100.0;
  o.down.loss = lc.percent / 100.0;
  o.up.delay_ms = o.down.delay_ms = 20;
  o.up.jitter_ms = o.down.jitter_ms = 30;
  const uint64_t hour_ms = 3'600'000;

  const double cpu0 = cpu_seconds();
  World w(o);
  w.run_until(hour_ms);
  const double cpu = cpu_seconds() - cpu0;

  const TruthCounts& t = w.truth().counts();
  uint64_t online_at_end = 0;
  for (uint32_t i = 0; i < w.clients(); ++i) online_at_end += w.truth().published(i) ? 1 : 0;
  const ClientCounters& cc = w.client_counters();
  const double client_hours = static_cast<double>(w.clients());
  char extra[512];
  std::snprintf(extra, sizeof extra,
                "loss=%d%% false_offline_rate=%.3g per client-hour (%.3g per 1e6 heartbeat "
                "rounds) retries=%llu client_dead=%llu reconnect_attempts=%llu online_at_end=%llu",
                lc.percent, static_cast<double>(t.false_offlines) / client_hours,
                static_cast<double>(t.false_offlines) * 1e6 /
                    static_cast<double>(cc.action(client::Action::kHeartbeat) + 1),
                static_cast<unsigned long long>(cc.action(client::Action::kResend)),
                static_cast<unsigned long long>(cc.action(client::Action::kDead)),
                static_cast<unsigned long long>(cc.action(client::Action::kReconnectAttempt)),
                static_cast<unsigned long long>(online_at_end));
  report(name, seed, w, cpu, extra);

  EXPECT_EQ(t.order_violations(), 0u);
  for (const std::string& p : w.truth().problems()) ADD_FAILURE() << p;
  if (lc.assert_zero) {
    EXPECT_EQ(t.false_offlines, 0u)
        << "false offlines at " << lc.percent << "% loss; first: "
        << (w.truth().false_offline_examples().empty() ? ""
                                                       : w.truth().false_offline_examples()[0]);
    EXPECT_EQ(online_at_end, w.clients());
    EXPECT_EQ(t.online, w.clients()) << "each user exactly one ONLINE";
  }
}

INSTANTIATE_TEST_SUITE_P(Loss, SimLossTest,
                         ::testing::Values(LossCase{5, true}, LossCase{10, true},
                                           LossCase{20, true}, LossCase{30, false}),
                         [](const ::testing::TestParamInfo<LossCase>& i) {
                           return std::to_string(i.param.percent) + "pct";
                         });

}  // namespace
}  // namespace presenced::sim
