// sim_clock_test.cc: scenario 4, clock steps.
//
// WallClockSteps: the wall clock of the whole world (clients, login service,
// server) steps by +3 days, -3 days, +1 day and +5 days during an hour.
// Tokens are issued relative to it by the simulated login service, so a
// forward step expires every token at once: each client finds its token
// expired at its next send, logs in again and renews (a FIRST heartbeat with
// a later token). Liveness must not notice: after the initial ONLINE, no
// event at all.
//
// MonotonicJump: the server's monotonic clock jumps a day forward between two
// loop iterations, 30 s after a tenth of the clients went silent. The jump
// must cost O(buckets) in the timing wheel (buckets_swept bounded, not one
// per elapsed millisecond), nobody alive is taken offline (with the stall
// rule, time the server did not run does not count as silence), and every
// silent user gets exactly one OFFLINE, no later than without the jump.
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/sim/sim_features.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

constexpr int64_t kDayMs = 86'400'000;

TEST(SimClockTest, WallClockStepsLeaveLivenessAlone) {
  const uint64_t seed = scenario_seed(0xc10c);
  SCOPED_TRACE(announce("wall_clock_steps", seed));
  WorldOptions o;
  o.seed = seed;
  o.clients = full_runs() ? 100'000 : 20'000;
  o.up.loss = o.down.loss = 0.01;
  o.token_lifetime_s = 12 * 3600;
  const double cpu0 = cpu_seconds();
  World w(o);
  w.at(10 * 60'000, [&w] { w.jump_wall(3 * kDayMs); });
  w.at(25 * 60'000, [&w] { w.jump_wall(-3 * kDayMs); });
  w.at(40 * 60'000, [&w] { w.jump_wall(1 * kDayMs); });
  w.at(50 * 60'000, [&w] { w.jump_wall(5 * kDayMs); });
  w.run_until(60 * 60'000);

  const TruthCounts& t = w.truth().counts();
  const engine::CoreStatsSnapshot s = w.server_stats();
  const uint64_t expired = s.drops[static_cast<std::size_t>(wire::DropReason::kTokenExpired)];
  const uint64_t stale = s.drops[static_cast<std::size_t>(wire::DropReason::kStaleToken)];
  report("wall_clock_steps", seed, w, cpu_seconds() - cpu0,
         "token_expired_drops=" + std::to_string(expired) +
             " stale_token_drops=" + std::to_string(stale) + " client_token_expired=" +
             std::to_string(w.client_counters().action(client::Action::kTokenExpired)));

  // The +3 d and the +5 d steps each expire every token (the +1 d step
  // stays within the tokens issued after +3 d; -3 d only extends them).
  EXPECT_EQ(w.client_counters().renewals, 2ull * w.clients());
  EXPECT_EQ(t.online, w.clients()) << "each user exactly one ONLINE, at start";
  EXPECT_EQ(t.offline, 0u);
  EXPECT_EQ(t.status, 0u);
  EXPECT_EQ(t.order_violations(), 0u);
  for (const std::string& p : w.truth().problems()) ADD_FAILURE() << p;
}

TEST(SimClockTest, MonotonicJumpOfADay) {
  if constexpr (!kHasStallRule<>) {
    GTEST_SKIP() << "needs the stall rule (EngineConfig::stall_threshold_ms)";
  }
  const uint64_t seed = scenario_seed(0x3010);
  SCOPED_TRACE(announce("monotonic_jump", seed));
  WorldOptions o;
  o.seed = seed;
  o.clients = full_runs() ? 100'000 : 20'000;
  o.up.loss = o.down.loss = 0.01;
  const double cpu0 = cpu_seconds();
  World w(o);
  const uint64_t stop_ms = 4 * 60'000;
  const uint64_t jump_ms = stop_ms + 30'000;
  const uint32_t silent = w.clients() / 10;
  w.at(stop_ms, [&w, silent] {
    for (uint32_t i = 0; i < silent; ++i) w.stop_client(i);
  });
  std::vector<wheel::TimingWheel::Stats> before(w.cores());
  std::vector<wheel::TimingWheel::Stats> after(w.cores());
  w.at(jump_ms, [&] {
    for (uint32_t c = 0; c < w.cores(); ++c) before[c] = w.wheel_stats(c);
    w.jump_server_mono(kDayMs);
  });
  w.at(jump_ms + 1, [&] {
    for (uint32_t c = 0; c < w.cores(); ++c) after[c] = w.wheel_stats(c);
  });
  const uint64_t end_ms = 8 * 60'000;
  w.run_until(end_ms);

  uint64_t silent_offline_once = 0;
  uint64_t live_offlines = 0;
  for (uint32_t i = 0; i < w.clients(); ++i) {
    if (i < silent) {
      silent_offline_once += w.truth().offlines_of(i) == 1 ? 1 : 0;
    } else {
      live_offlines += w.truth().offlines_of(i);
    }
  }
  const engine::CoreStatsSnapshot s = w.server_stats();
  uint64_t jump_swept = 0;
  uint64_t total_swept = 0;
  for (uint32_t c = 0; c < w.cores(); ++c) {
    jump_swept = std::max(jump_swept, after[c].buckets_swept - before[c].buckets_swept);
    total_swept = std::max(total_swept, w.wheel_stats(c).buckets_swept);
  }
  const uint64_t span = w.engine(0).wheel_stats().buckets_swept == 0 ? 0 : 65'536;
  const TruthCounts& t = w.truth().counts();
  char extra[256];
  std::snprintf(
      extra, sizeof extra,
      "silent=%u silent_offline_once=%llu live_offlines=%llu jump_buckets_swept=%llu "
      "total_buckets_swept=%llu stalls=%llu offline_after_stop=[%llu,%llu] ms",
      silent, static_cast<unsigned long long>(silent_offline_once),
      static_cast<unsigned long long>(live_offlines), static_cast<unsigned long long>(jump_swept),
      static_cast<unsigned long long>(total_swept), static_cast<unsigned long long>(stalls(s)),
      static_cast<unsigned long long>(t.min_offline_after_stop_ms),
      static_cast<unsigned long long>(t.max_offline_after_stop_ms));
  report("monotonic_jump", seed, w, cpu_seconds() - cpu0, extra);

  EXPECT_EQ(silent_offline_once, silent) << "each silent user exactly one OFFLINE";
  EXPECT_EQ(live_offlines, 0u);
  EXPECT_EQ(t.false_offlines, 0u);
  EXPECT_EQ(t.late_offlines, 0u);
  EXPECT_EQ(t.order_violations(), 0u);
  EXPECT_EQ(w.truth().missed_offlines(w.now_ms()), 0u);
  // O(buckets): the jump costs at most a couple of sweeps of the wheel, and
  // the whole run far less than one bucket per elapsed (engine) millisecond.
  EXPECT_LE(jump_swept, 2 * span + 1000);
  EXPECT_LE(total_swept, end_ms + 4 * span);
  EXPECT_GE(stalls(s), w.cores()) << "each core saw the jump as a stall";
  for (const std::string& p : w.truth().problems()) ADD_FAILURE() << p;
}

}  // namespace
}  // namespace presenced::sim
