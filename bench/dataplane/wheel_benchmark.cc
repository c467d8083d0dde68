// wheel_benchmark.cc: the per-core timing wheel (dataplane/wheel/).
//
//   BM_Schedule          schedule() of N entries at random deadlines over the span
//   BM_AdvanceSweep      1 ms advances across a whole span holding N entries; the
//                        visitor reads each session's deadline from a table (a
//                        random access, like the engine's) and re-arms half of
//                        them, drops the other half; /1 uses the prefetch hook
//   BM_IdleTick          advance by 1 ms over empty buckets
//   BM_CatchUpDay        one advance across a day holding N entries (re-arm half)
//
// Rates are per second of the timed part; set-up (refilling the wheel) is paused.
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "dataplane/wheel/timing_wheel.h"

namespace presenced::wheel {
namespace {

constexpr uint64_t kStart = 1'000'000;
constexpr uint64_t kDayMs = 86'400'000;
constexpr uint64_t kTimeoutMs = 92'000;  // 3 x 30 s + 2 s, beyond the span: parked

using Options = TimingWheel::Options;

constexpr uint64_t drop_all(uint32_t, uint64_t) {
  return TimingWheel::kDone;
}

// Empties the wheel (one catch-up), then schedules ids 0..n-1 spread evenly at
// random over the span. Returns the offsets used (deadline = start + offset).
void refill(TimingWheel& w, uint32_t n, std::vector<uint64_t>& offset, std::mt19937_64& rng) {
  w.advance(w.current_ms() + kDayMs, drop_all);
  const uint64_t cur = w.current_ms();
  offset.resize(n);
  for (uint32_t id = 0; id < n; ++id) {
    offset[id] = 1 + rng() % (w.span_ms() - 1);
    w.schedule(id, cur + offset[id]);
  }
}

void BM_Schedule(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  TimingWheel w(Options{.bucket_bits = 16, .capacity = n}, kStart);
  std::mt19937_64 rng(1);
  std::vector<uint64_t> offset(n);
  for (auto& o : offset) o = 1 + rng() % (w.span_ms() - 1);
  // Touch the pool once so the timed loop measures the wheel, not page faults.
  for (uint32_t id = 0; id < n; ++id) w.schedule(id, w.current_ms() + offset[id]);
  for (auto _ : state) {
    state.PauseTiming();
    w.advance(w.current_ms() + kDayMs, drop_all);
    const uint64_t cur = w.current_ms();
    state.ResumeTiming();
    for (uint32_t id = 0; id < n; ++id) w.schedule(id, cur + offset[id]);
    benchmark::DoNotOptimize(w.size());
  }
  state.counters["schedules"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * n, benchmark::Counter::kIsRate);
  state.counters["bytes_per_entry"] = static_cast<double>(w.memory_bytes()) / n;
}
BENCHMARK(BM_Schedule)->Arg(1 << 20)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

// The engine's visitor in miniature: deadline[id] is last_seen + timeout.
struct TableVisitor {
  const uint64_t* deadline;
  uint64_t operator()(uint32_t id, uint64_t now) const {
    const uint64_t d = deadline[id];
    return now >= d ? TimingWheel::kDone : d;
  }
};
struct PrefetchingTableVisitor : TableVisitor {
  void prefetch(uint32_t id) const { prefetch_read(&deadline[id]); }
};

template <typename Visitor>
void sweep(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  TimingWheel w(Options{.bucket_bits = 16, .capacity = n}, kStart);
  std::mt19937_64 rng(2);
  std::vector<uint64_t> offset;
  std::vector<uint64_t> deadline(n);
  const Visitor visitor{{deadline.data()}};
  uint64_t visits = 0;
  uint64_t rearms = 0;
  for (auto _ : state) {
    state.PauseTiming();
    refill(w, n, offset, rng);
    const uint64_t cur = w.current_ms();
    // Odd sessions heartbeated since they were scheduled: re-armed, parked
    // beyond this sweep. Even ones went silent: declared offline.
    for (uint32_t id = 0; id < n; ++id) {
      deadline[id] = cur + offset[id] + (id & 1 ? kTimeoutMs : 0);
    }
    const uint64_t rearmed_before = w.stats().rearmed;
    state.ResumeTiming();
    const uint64_t end = cur + w.span_ms() - 1;
    for (uint64_t t = cur + 1; t <= end; ++t) visits += w.advance(t, visitor);
    state.PauseTiming();
    rearms += w.stats().rearmed - rearmed_before;
    state.ResumeTiming();
  }
  state.counters["visits"] =
      benchmark::Counter(static_cast<double>(visits), benchmark::Counter::kIsRate);
  state.counters["rearm_share"] = visits ? static_cast<double>(rearms) / visits : 0.0;
  state.counters["bytes_per_entry"] = static_cast<double>(w.memory_bytes()) / n;
}

void BM_AdvanceSweep(benchmark::State& state) {
  sweep<TableVisitor>(state);
}
void BM_AdvanceSweepPrefetch(benchmark::State& state) {
  sweep<PrefetchingTableVisitor>(state);
}
BENCHMARK(BM_AdvanceSweep)->Arg(1 << 20)->Arg(10'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AdvanceSweepPrefetch)->Arg(1 << 20)->Arg(10'000'000)->Unit(benchmark::kMillisecond);

void BM_IdleTick(benchmark::State& state) {
  // One session parked far away keeps the wheel non-empty (an empty wheel
  // takes a shortcut); every other bucket the ticks cross is empty.
  TimingWheel w(Options{.bucket_bits = 16, .capacity = 1 << 20}, kStart);
  w.schedule(0, kStart + kTimeoutMs);
  uint64_t now = kStart;
  const auto rearm = [](uint32_t, uint64_t t) { return t + kTimeoutMs; };
  for (auto _ : state) {
    benchmark::DoNotOptimize(w.advance(++now, rearm));
  }
  state.counters["ticks"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_IdleTick);

void BM_CatchUpDay(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  TimingWheel w(Options{.bucket_bits = 16, .capacity = n}, kStart);
  std::mt19937_64 rng(3);
  std::vector<uint64_t> offset;
  const auto half = [](uint32_t id, uint64_t now) {
    return id & 1 ? now + kTimeoutMs : TimingWheel::kDone;
  };
  uint64_t visits = 0;
  for (auto _ : state) {
    state.PauseTiming();
    refill(w, n, offset, rng);
    const uint64_t cur = w.current_ms();
    state.ResumeTiming();
    visits += w.advance(cur + kDayMs, half);
  }
  state.counters["visits"] =
      benchmark::Counter(static_cast<double>(visits), benchmark::Counter::kIsRate);
  state.counters["catch_ups"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CatchUpDay)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace presenced::wheel

BENCHMARK_MAIN();
