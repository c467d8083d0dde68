// sim_restart_test.cc: scenario 7, a server restart with a new epoch.
//
// 20,000 clients are online when the server process is replaced by a new
// one (empty table, new epoch; datagrams queued in the old sockets are
// lost). Clients keep heartbeating to the same address; the new server
// creates their sessions from their next heartbeats, which carry the old
// epoch in epoch_seen. The restart rule: within restart_grace_ms of start,
// such a session resumes without an ONLINE event (its user was published
// online by the previous process), counted as sessions_resumed.
//
// Asserted: every client sees the epoch change exactly once, every session
// resumes, and the restart causes no ONLINE and no OFFLINE burst. Reported:
// a second run in which 2% of the clients die together with the server;
// the new process never knew them, so nothing publishes their OFFLINE (the
// event consumers must time such users out themselves).
#include <cstdio>

#include <gtest/gtest.h>

#include "tests/sim/sim_features.h"
#include "tests/sim/sim_report.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {
namespace {

struct RestartOutcome {
  uint64_t online_after = 0;
  uint64_t offline_after = 0;
  uint64_t epoch_changes = 0;
  uint64_t resumed = 0;
  uint64_t never_offlined = 0;
  uint64_t order_violations = 0;
  uint64_t false_offlines = 0;
};

RestartOutcome run_restart(uint64_t seed, uint32_t clients, uint32_t dying) {
  const std::string name = dying == 0 ? "restart" : "restart_with_dead_clients";
  WorldOptions o;
  o.seed = seed;
  o.clients = clients;
  o.up.loss = o.down.loss = 0.01;
  const double cpu0 = cpu_seconds();
  World w(o);
  const uint64_t restart_at = 3 * 60'000;
  uint64_t events_before = 0;
  w.at(restart_at, [&] {
    const TruthCounts& t = w.truth().counts();
    events_before = t.online + t.status + t.offline;
    for (uint32_t i = 0; i < dying; ++i) w.stop_client(i);
    w.restart_server(static_cast<uint32_t>(mix64(seed) | 1));
  });
  RestartOutcome r;
  const uint64_t online_before_restart = w.clients();
  w.run_until(restart_at + 4 * 60'000);
  const TruthCounts& t = w.truth().counts();
  r.online_after = t.online - online_before_restart;
  r.offline_after = t.offline;
  r.epoch_changes = w.client_counters().epoch_changes;
  r.resumed = sessions_resumed(w.server_stats());
  r.never_offlined = w.truth().missed_offlines(w.now_ms());
  r.order_violations = t.order_violations();
  r.false_offlines = t.false_offlines;
  char extra[256];
  std::snprintf(extra, sizeof extra,
                "events_before_restart=%llu online_after=%llu offline_after=%llu "
                "epoch_changes=%llu sessions_resumed=%llu dead_with_server=%u never_offlined=%llu",
                static_cast<unsigned long long>(events_before),
                static_cast<unsigned long long>(r.online_after),
                static_cast<unsigned long long>(r.offline_after),
                static_cast<unsigned long long>(r.epoch_changes),
                static_cast<unsigned long long>(r.resumed), dying,
                static_cast<unsigned long long>(r.never_offlined));
  report(name, seed, w, cpu_seconds() - cpu0, extra);
  return r;
}

TEST(SimRestartTest, NewEpochNoOnlineOfflineBurst) {
  if constexpr (!kHasRestartRule<>) {
    GTEST_SKIP() << "needs the restart rule (EngineConfig::restart_grace_ms)";
  }
  const uint64_t seed = scenario_seed(0x4e57a47);
  SCOPED_TRACE(announce("restart", seed));
  const uint32_t clients = full_runs() ? 100'000 : 20'000;
  const RestartOutcome r = run_restart(seed, clients, 0);
  EXPECT_EQ(r.epoch_changes, clients) << "every client sees the new epoch once";
  EXPECT_EQ(r.resumed, clients);
  EXPECT_EQ(r.online_after, 0u) << "ONLINE burst after the restart";
  EXPECT_EQ(r.offline_after, 0u) << "OFFLINE burst after the restart";
  EXPECT_EQ(r.order_violations, 0u);
}

TEST(SimRestartTest, ClientsDyingWithTheServerReport) {
  if constexpr (!kHasRestartRule<>) {
    GTEST_SKIP() << "needs the restart rule (EngineConfig::restart_grace_ms)";
  }
  const uint64_t seed = scenario_seed(0x4e57a48);
  SCOPED_TRACE(announce("restart_with_dead_clients", seed));
  const uint32_t clients = 20'000;
  const RestartOutcome r = run_restart(seed, clients, clients / 50);
  // The survivors resume quietly; the dead are the consumers' problem.
  EXPECT_EQ(r.resumed, clients - clients / 50);
  EXPECT_EQ(r.online_after, 0u);
  EXPECT_EQ(r.false_offlines, 0u);
  EXPECT_EQ(r.order_violations, 0u);
}

}  // namespace
}  // namespace presenced::sim
