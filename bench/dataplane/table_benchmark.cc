// table_benchmark.cc: presence-table updates with random keys, one at a time
// versus in bursts of 32 with the engine's prefetch stages, at 1 M and 10 M
// sessions. An "update" is what an accepted heartbeat does to the table:
// hash the user, find the slot, claim it, write seq/last_seen/address,
// release. Run a release build:
//   build/bench/table_benchmark --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <memory>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "dataplane/table/presence_table.h"

namespace presenced::table {
namespace {

constexpr std::size_t kBurst = 32;
constexpr std::size_t kOrderLen = 1 << 22;  // random visiting order, reused

struct Fixture {
  std::unique_ptr<PresenceTable> table;
  // The users of a random visiting order, laid out sequentially: in the
  // server the user id arrives in the packet, so fetching it must not cost
  // a cache miss here either.
  std::vector<uint64_t> order;
};

// One table per size, built once and kept for all benchmarks of that size.
Fixture& fixture(uint64_t sessions) {
  static std::unique_ptr<Fixture> cached;
  static uint64_t cached_for = 0;
  if (cached && cached_for == sessions) return *cached;
  cached.reset();
  auto f = std::make_unique<Fixture>();
  PresenceTable::Options o;
  o.max_sessions = sessions;
  o.shards = 1;
  std::string err;
  f->table = PresenceTable::create(o, &err);
  if (!f->table) throw std::runtime_error(err);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> users(sessions);
  for (auto& u : users) {
    u = rng() | 1;
    const UserHash h = f->table->hash_user(u);
    uint32_t before = 0;
    PresenceTable::InsertOutcome out;
    const uint32_t idx = f->table->insert_claimed(h, u, 1, before, out);
    if (idx == kNoSlot) throw std::runtime_error("fixture table full");
    release_modified(f->table->slot(idx), before, slot_bits::kLiveOnline);
  }
  f->order.resize(kOrderLen);
  for (auto& u : f->order) u = users[rng() % sessions];
  cached = std::move(f);
  cached_for = sessions;
  return *cached;
}

inline void update(PresenceTable& t, uint32_t idx, uint32_t v) {
  SessionSlot& s = t.slot(idx);
  uint32_t before = 0;
  if (!try_claim(s, before, 64)) return;
  s.seq.store(v, std::memory_order_relaxed);
  s.last_seen.store(v, std::memory_order_relaxed);
  s.addr.store(v, std::memory_order_relaxed);
  release_modified(s, before, before & slot_bits::kStateMask);
}

void BM_TableUpdate_Unbatched(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint64_t>(state.range(0)));
  PresenceTable& t = *f.table;
  std::size_t pos = 0;
  uint32_t v = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < kBurst; ++k) {
      const uint64_t user = f.order[pos++ & (kOrderLen - 1)];
      const uint32_t idx = t.find(t.hash_user(user), user, 1);
      update(t, idx, ++v);
    }
  }
  state.counters["updates/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBurst),
                                                   benchmark::Counter::kIsRate);
}

void BM_TableUpdate_Batched(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint64_t>(state.range(0)));
  PresenceTable& t = *f.table;
  std::size_t pos = 0;
  uint32_t v = 0;
  UserHash hashes[kBurst];
  uint64_t users[kBurst];
  for (auto _ : state) {
    // Stage A: hash and prefetch the tag groups.
    for (std::size_t k = 0; k < kBurst; ++k) {
      users[k] = f.order[pos++ & (kOrderLen - 1)];
      hashes[k] = t.hash_user(users[k]);
      t.prefetch_group(hashes[k]);
    }
    // Stage C: match tags, prefetch candidate slots.
    for (std::size_t k = 0; k < kBurst; ++k) t.prefetch_candidates(hashes[k]);
    // Stage D: find and update.
    for (std::size_t k = 0; k < kBurst; ++k) update(t, t.find(hashes[k], users[k], 1), ++v);
  }
  state.counters["bytes_per_session"] =
      static_cast<double>(t.resident_bytes()) / static_cast<double>(state.range(0));
  state.counters["updates/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBurst),
                                                   benchmark::Counter::kIsRate);
}

// The same stages software-pipelined across consecutive bursts (tags of
// burst k+2 and slots of burst k+1 are prefetched while burst k is
// applied): the memory-level-parallelism ceiling, for comparison. The
// engine cannot hold packets across bursts; it fills the gaps between its
// stages with SipHash work instead.
void BM_TableUpdate_Pipelined(benchmark::State& state) {
  Fixture& f = fixture(static_cast<uint64_t>(state.range(0)));
  PresenceTable& t = *f.table;
  std::size_t pos = 0;
  uint32_t v = 0;
  UserHash hashes[3][kBurst];
  uint64_t users[3][kBurst];
  auto stage_a = [&](int b) {
    for (std::size_t k = 0; k < kBurst; ++k) {
      users[b][k] = f.order[pos++ & (kOrderLen - 1)];
      hashes[b][k] = t.hash_user(users[b][k]);
      t.prefetch_group(hashes[b][k]);
    }
  };
  stage_a(0);
  stage_a(1);
  for (std::size_t k = 0; k < kBurst; ++k) t.prefetch_candidates(hashes[0][k]);
  int cur = 0;
  for (auto _ : state) {
    const int next = (cur + 1) % 3;
    const int after = (cur + 2) % 3;
    stage_a(after);
    for (std::size_t k = 0; k < kBurst; ++k) t.prefetch_candidates(hashes[next][k]);
    for (std::size_t k = 0; k < kBurst; ++k) {
      update(t, t.find(hashes[cur][k], users[cur][k], 1), ++v);
    }
    cur = next;
  }
  state.counters["updates/s"] = benchmark::Counter(static_cast<double>(state.iterations() * kBurst),
                                                   benchmark::Counter::kIsRate);
}

// Grouped by size so each fixture table is built once.
BENCHMARK(BM_TableUpdate_Unbatched)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TableUpdate_Batched)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TableUpdate_Pipelined)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TableUpdate_Unbatched)->Arg(10'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TableUpdate_Batched)->Arg(10'000'000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TableUpdate_Pipelined)->Arg(10'000'000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace presenced::table

BENCHMARK_MAIN();
