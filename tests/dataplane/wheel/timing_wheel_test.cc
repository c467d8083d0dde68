#include "dataplane/wheel/timing_wheel.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

namespace presenced::wheel {
namespace {

using Options = TimingWheel::Options;
constexpr uint64_t kDone = TimingWheel::kDone;
constexpr uint64_t kStart = 1'000'000;  // engine clocks do not start at 0
constexpr uint64_t kDayMs = 86'400'000;

// A step of the fake clock: mostly single ticks, some small and large gaps,
// a few catch-ups (>= span) when `catch_ups` is set.
uint64_t random_step(std::mt19937_64& rng, uint64_t span, bool catch_ups) {
  const uint64_t r = rng() % 100;
  if (r < 45) return 1;
  if (r < 70) return 2 + rng() % 19;
  if (r < 92 || !catch_ups) return 21 + rng() % (span > 22 ? span - 22 : 1);
  if (r < 98) return span + rng() % (2 * span);
  return span * (100 + rng() % 900);
}

// ---------------------------------------------------------------------------
// Exact firing bounds: an entry with deadline D (within the span) is visited
// by the first advance() whose now >= D, and by no earlier one.

TEST(TimingWheelTest, VisitsAtDeadlineNotOneMillisecondBefore) {
  std::mt19937_64 rng(1);
  TimingWheel w(Options{}, kStart);
  for (int round = 0; round < 2000; ++round) {
    // Random idle gap first, so D lands anywhere on the ring.
    w.advance(w.current_ms() + 1 + rng() % 5000, [](uint32_t, uint64_t) { return kDone; });
    const uint64_t d = w.current_ms() + 1 + rng() % (w.span_ms() - 1);
    ASSERT_TRUE(w.schedule(42, d));
    int visits = 0;
    auto visitor = [&](uint32_t id, uint64_t now) {
      EXPECT_EQ(id, 42u);
      EXPECT_EQ(now, d);
      ++visits;
      return kDone;
    };
    EXPECT_EQ(w.advance(d - 1, visitor), 0u);  // a no-op when d - 1 == current
    EXPECT_EQ(visits, 0) << "visited before its deadline, d=" << d;
    EXPECT_EQ(w.advance(d, visitor), 1u);
    EXPECT_EQ(visits, 1) << "not visited at its deadline, d=" << d;
    EXPECT_EQ(w.size(), 0u);
  }
}

TEST(TimingWheelTest, ExactFiringBoundsUnderRandomSteps) {
  for (const uint32_t bits : {6u, 10u, 16u}) {
    SCOPED_TRACE(bits);
    std::mt19937_64 rng(bits);
    TimingWheel w(Options{.bucket_bits = bits, .capacity = 1 << 16}, kStart);
    const uint64_t span = w.span_ms();
    std::vector<uint64_t> deadline;
    std::multimap<uint64_t, uint32_t> pending;  // deadline -> id
    auto add = [&](int n) {
      for (int i = 0; i < n; ++i) {
        const auto id = static_cast<uint32_t>(deadline.size());
        const uint64_t d = w.current_ms() + 1 + rng() % (span - 1);
        deadline.push_back(d);
        pending.emplace(d, id);
        ASSERT_TRUE(w.schedule(id, d));
      }
    };
    add(5000);
    std::vector<int> visits;
    for (int step = 0; step < 20000 && deadline.size() < 60000; ++step) {
      const uint64_t prev = w.current_ms();
      const uint64_t now = prev + random_step(rng, span, /*catch_ups=*/true);
      visits.assign(deadline.size(), 0);
      const std::size_t n = w.advance(now, [&](uint32_t id, uint64_t t) {
        EXPECT_EQ(t, now);
        EXPECT_LE(deadline[id], now) << "early";
        EXPECT_GT(deadline[id], prev) << "late: a previous advance passed its deadline";
        ++visits[id];
        return kDone;
      });
      std::size_t due = 0;
      while (!pending.empty() && pending.begin()->first <= now) {
        EXPECT_EQ(visits[pending.begin()->second], 1) << "id " << pending.begin()->second;
        pending.erase(pending.begin());
        ++due;
      }
      ASSERT_EQ(n, due);
      ASSERT_EQ(w.size(), pending.size());
      if (step % 4 == 0) add(static_cast<int>(rng() % 20));
    }
  }
}

// ---------------------------------------------------------------------------
// Lazy re-arm: heartbeats move the real deadline without touching the wheel;
// the entry is re-armed each time it comes due and fires at the final one.

TEST(TimingWheelTest, LazyRearmFiresOnlyAtFinalDeadline) {
  TimingWheel w(Options{.bucket_bits = 12, .capacity = 16}, kStart);
  const uint64_t timeout = 500;
  uint64_t real = kStart + timeout;  // last_seen + timeout
  ASSERT_TRUE(w.schedule(7, real));
  uint64_t armed_at = real;  // where the wheel should hold the entry
  std::vector<uint64_t> visit_times;
  uint64_t fired_at = 0;
  int heartbeats = 0;
  for (uint64_t now = kStart + 1; now <= kStart + 4000; ++now) {
    // A heartbeat every 100 ms until +2000, then silence. No wheel call.
    if ((now - kStart) % 100 == 0 && now <= kStart + 2000) {
      real = now + timeout;
      ++heartbeats;
    }
    w.advance(now, [&](uint32_t id, uint64_t t) {
      EXPECT_EQ(id, 7u);
      visit_times.push_back(t);
      EXPECT_EQ(t, armed_at) << "visited away from where it was armed";
      if (t >= real) {
        fired_at = t;
        return kDone;
      }
      armed_at = real;
      return real;
    });
  }
  EXPECT_EQ(fired_at, kStart + 2000 + timeout);
  // 20 heartbeats, 5 visits: at each visit the deadline is now + 500.
  EXPECT_EQ(heartbeats, 20);
  EXPECT_EQ(visit_times, (std::vector<uint64_t>{kStart + 500, kStart + 1000, kStart + 1500,
                                                kStart + 2000, kStart + 2500}));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.stats().rearmed, 4u);
  EXPECT_EQ(w.stats().expired, 1u);
}

// ---------------------------------------------------------------------------
// Timeouts longer than the span are parked and re-armed; they never fire
// early and fire exactly at the first advance past their deadline.

void run_long_timeouts(bool one_ms_steps) {
  TimingWheel w(Options{.bucket_bits = 16, .capacity = 1024}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(one_ms_steps ? 3 : 4);
  std::vector<uint64_t> deadline;
  for (uint32_t id = 0; id < 100; ++id) {
    deadline.push_back(kStart + 10 * span + rng() % span);  // 10..11 spans away
    ASSERT_TRUE(w.schedule(id, deadline.back()));
  }
  deadline.push_back(kStart + 10 * span);  // exactly 10 spans
  ASSERT_TRUE(w.schedule(100, deadline.back()));
  std::vector<uint64_t> fired(deadline.size(), 0);
  std::vector<int> visits(deadline.size(), 0);
  std::size_t left = deadline.size();
  while (left > 0) {
    const uint64_t prev = w.current_ms();
    const uint64_t now = prev + (one_ms_steps ? 1 : random_step(rng, span, true) % (4 * span) + 1);
    w.advance(now, [&](uint32_t id, uint64_t t) {
      ++visits[id];
      EXPECT_EQ(fired[id], 0u) << "visited after firing";
      if (t >= deadline[id]) {
        EXPECT_LT(prev, deadline[id]) << "fired late";
        fired[id] = t;
        --left;
        return kDone;
      }
      return deadline[id];
    });
    ASSERT_LE(now, kStart + 100 * span) << "long timeouts never fired";
  }
  for (std::size_t id = 0; id < deadline.size(); ++id) {
    if (one_ms_steps) {
      EXPECT_EQ(fired[id], deadline[id]) << id;
    }
    EXPECT_GE(fired[id], deadline[id]) << id;
    // Parked once per span at most: the visits are bounded, not per tick.
    EXPECT_LE(visits[id], 12) << id;
    EXPECT_GE(visits[id], one_ms_steps ? 11 : 1) << id;
  }
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimingWheelTest, LongTimeoutsOneMillisecondSteps) {
  run_long_timeouts(true);
}
TEST(TimingWheelTest, LongTimeoutsBigSteps) {
  run_long_timeouts(false);
}

// ---------------------------------------------------------------------------
// Catch-up: a forward jump of a day sweeps each bucket once.

TEST(TimingWheelTest, DayJumpVisitsEveryEntryOnceInOneSweep) {
  constexpr uint32_t kN = 100'000;
  TimingWheel w(Options{.bucket_bits = 16, .capacity = kN}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(5);
  // A few ordinary advances first so the ring does not start at slot 0.
  w.advance(kStart + 12345, [](uint32_t, uint64_t) { return kDone; });
  std::vector<uint64_t> deadline(kN);
  for (uint32_t id = 0; id < kN; ++id) {
    deadline[id] = w.current_ms() + 1 + rng() % (3 * span);  // some parked
    ASSERT_TRUE(w.schedule(id, deadline[id]));
  }
  const uint64_t now = w.current_ms() + kDayMs;
  const TimingWheel::Stats before = w.stats();
  std::vector<int> visits(kN, 0);
  std::vector<uint64_t> rearmed(kN, 0);
  const std::size_t n = w.advance(now, [&](uint32_t id, uint64_t t) {
    ++visits[id];
    if (id % 2 == 0) return kDone;
    rearmed[id] = t + 1 + (id * 7919ULL) % (2 * span);
    return rearmed[id];
  });
  EXPECT_EQ(n, kN);
  for (uint32_t id = 0; id < kN; ++id) ASSERT_EQ(visits[id], 1) << id;
  EXPECT_EQ(w.size(), kN / 2);
  EXPECT_EQ(w.current_ms(), now);
  // O(buckets), not O(86,400,000 ms).
  EXPECT_LE(w.stats().buckets_swept - before.buckets_swept, span);
  EXPECT_EQ(w.stats().catch_ups - before.catch_ups, 1u);
  EXPECT_EQ(w.stats().visited - before.visited, kN);

  // The re-armed half then fires exactly at its deadlines.
  std::size_t fired = 0;
  while (w.size() > 0) {
    const uint64_t t = w.current_ms() + 1;
    w.advance(t, [&](uint32_t id, uint64_t tt) {
      EXPECT_EQ(id % 2, 1u);
      if (tt >= rearmed[id]) {
        EXPECT_EQ(tt, rearmed[id]);
        ++fired;
        return kDone;
      }
      return rearmed[id];
    });
    ASSERT_LE(t, now + 3 * span);
  }
  EXPECT_EQ(fired, kN / 2);
}

// ---------------------------------------------------------------------------
// No double firing: one advance visits an entry at most once even when the
// visitor re-arms it into a bucket the same sweep has not reached yet.

TEST(TimingWheelTest, CatchUpRearmingEverythingVisitsEachOnce) {
  constexpr uint32_t kN = 20'000;
  TimingWheel w(Options{.bucket_bits = 10, .capacity = kN}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(6);
  for (uint32_t id = 0; id < kN; ++id) ASSERT_TRUE(w.schedule(id, kStart + 1 + rng() % span));
  for (int round = 0; round < 5; ++round) {
    std::vector<int> visits(kN, 0);
    const uint64_t now = w.current_ms() + span + rng() % (10 * span);
    // Each re-armed deadline maps to a random slot, most not yet swept.
    const std::size_t n = w.advance(now, [&](uint32_t id, uint64_t t) {
      ++visits[id];
      return t + 1 + rng() % (2 * span);
    });
    EXPECT_EQ(n, kN);
    for (uint32_t id = 0; id < kN; ++id) ASSERT_EQ(visits[id], 1) << id;
    EXPECT_EQ(w.size(), kN);
  }
  EXPECT_EQ(w.stats().rearm_failures, 0u);
}

TEST(TimingWheelTest, NormalSweepRearmingBehindItselfVisitsEachOnce) {
  constexpr uint32_t kN = 20'000;
  TimingWheel w(Options{.bucket_bits = 10, .capacity = kN}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(7);
  for (uint32_t id = 0; id < kN; ++id) ASSERT_TRUE(w.schedule(id, kStart + 1 + rng() % span));
  for (int round = 0; round < 5; ++round) {  // the last round is case 1
    std::vector<int> visits(kN, 0);
    const uint64_t now = w.current_ms() + span - 1;  // largest normal sweep
    const std::size_t n = w.advance(now, [&](uint32_t id, uint64_t t) {
      ++visits[id];
      switch (round % 3) {
        case 0:
          return t + 1;  // the very next tick
        case 1:
          return t - rng() % 100;  // contract broken: already past
        default:
          return t + 1 + rng() % span;  // anywhere ahead
      }
    });
    EXPECT_EQ(n, kN);
    for (uint32_t id = 0; id < kN; ++id) ASSERT_EQ(visits[id], 1) << id;
    EXPECT_EQ(w.size(), kN);
  }
  // A deadline <= now was treated as now + 1: every entry is due next tick.
  std::vector<int> visits(kN, 0);
  w.advance(w.current_ms() + 1, [&](uint32_t id, uint64_t) {
    ++visits[id];
    return kDone;
  });
  EXPECT_EQ(std::count(visits.begin(), visits.end(), 1), std::ptrdiff_t{kN});
  EXPECT_EQ(w.size(), 0u);
}

// Steps of span - 1 (the largest normal sweep), span (the smallest catch-up)
// and span + 1, with every entry re-armed to the next tick or parked.
TEST(TimingWheelTest, StepsAroundTheSpanVisitEachEntryOnce) {
  constexpr uint32_t kN = 3000;
  for (const uint64_t delta : {uint64_t{0}, uint64_t{1}, uint64_t{2}}) {
    for (const bool park : {false, true}) {
      SCOPED_TRACE(testing::Message() << "step span-1+" << delta << " park " << park);
      TimingWheel w(Options{.bucket_bits = 8, .capacity = kN}, kStart);
      const uint64_t span = w.span_ms();
      std::mt19937_64 rng(delta * 2 + park);
      for (uint32_t id = 0; id < kN; ++id) ASSERT_TRUE(w.schedule(id, kStart + 1 + rng() % span));
      for (int round = 0; round < 4; ++round) {
        std::vector<int> visits(kN, 0);
        const uint64_t now = w.current_ms() + span - 1 + delta;
        EXPECT_EQ(w.advance(now,
                            [&](uint32_t id, uint64_t t) {
                              ++visits[id];
                              return park ? t + 10 * span : t + 1;
                            }),
                  kN);
        for (uint32_t id = 0; id < kN; ++id) ASSERT_EQ(visits[id], 1) << id;
      }
    }
  }
}

// revisit_all(): every entry once, due or not; re-armed at the returned
// deadline, which may be EARLIER than where the entry was (a shorter timeout).
TEST(TimingWheelTest, RevisitAllVisitsEveryEntryOnceAndRearmsEarlier) {
  constexpr uint32_t kN = 5000;
  TimingWheel w(Options{.bucket_bits = 10, .capacity = kN}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(8);
  std::vector<uint64_t> real(kN);
  for (uint32_t id = 0; id < kN; ++id) {
    real[id] = kStart + 1 + rng() % (4 * span);  // a quarter within the span
    ASSERT_TRUE(w.schedule(id, real[id]));
  }
  w.advance(kStart + 100,
            [&](uint32_t id, uint64_t t) { return t >= real[id] ? kDone : real[id]; });
  const std::size_t held = w.size();
  // The timeout shrinks: every live deadline moves 3/4 of the way closer.
  const uint64_t now = kStart + 150;
  std::vector<int> visits(kN, 0);
  std::size_t dropped = 0;
  const std::size_t n = w.revisit_all(now, [&](uint32_t id, uint64_t t) {
    EXPECT_EQ(t, now);
    ++visits[id];
    if (real[id] > now) real[id] = now + (real[id] - now) / 4;
    if (t >= real[id]) {
      ++dropped;
      return kDone;
    }
    return real[id];
  });
  EXPECT_EQ(n, held);
  EXPECT_EQ(std::count(visits.begin(), visits.end(), 1), std::ptrdiff_t(held));
  EXPECT_EQ(std::count(visits.begin(), visits.end(), 0), std::ptrdiff_t(kN - held));
  EXPECT_EQ(w.current_ms(), now);
  EXPECT_EQ(w.size(), held - dropped);
  // Each then fires exactly at its new, earlier deadline.
  std::size_t fired = 0;
  for (uint64_t t = now + 1; w.size() > 0 && t < now + 4 * span; ++t) {
    w.advance(t, [&](uint32_t id, uint64_t tt) {
      if (tt >= real[id]) {
        EXPECT_EQ(tt, real[id]) << id;
        ++fired;
        return kDone;
      }
      return real[id];
    });
  }
  EXPECT_EQ(fired, held - dropped);
  // Time going backwards: visits at current_ms(), the wheel does not move.
  ASSERT_TRUE(w.schedule(1, w.current_ms() + 5));
  const uint64_t cur = w.current_ms();
  EXPECT_EQ(w.revisit_all(cur - 10,
                          [&](uint32_t, uint64_t t) {
                            EXPECT_EQ(t, cur);
                            return kDone;
                          }),
            1u);
  EXPECT_EQ(w.current_ms(), cur);
  EXPECT_EQ(w.size(), 0u);
}

// ---------------------------------------------------------------------------
// Capacity: the pool holds `capacity` entries in any distribution.

TEST(TimingWheelTest, CapacityOneEntryPerBucket) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 255}, kStart);
  for (uint32_t i = 0; i < 255; ++i) {
    ASSERT_TRUE(w.schedule(i, kStart + 1 + i)) << i;  // 255 distinct buckets
    ASSERT_EQ(w.size(), i + 1);
  }
  EXPECT_FALSE(w.schedule(255, kStart + 10));
  EXPECT_EQ(w.size(), 255u);
  EXPECT_EQ(w.stats().schedule_failures, 1u);
  std::size_t n = w.advance(kStart + 255, [](uint32_t, uint64_t) { return kDone; });
  EXPECT_EQ(n, 255u);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_TRUE(w.schedule(255, kStart + 300));
}

TEST(TimingWheelTest, CapacityAllInOneBucket) {
  constexpr uint32_t kN = 10'000;
  TimingWheel w(Options{.bucket_bits = 8, .capacity = kN}, kStart);
  for (uint32_t i = 0; i < kN; ++i) ASSERT_TRUE(w.schedule(i, kStart + 17));
  EXPECT_EQ(w.size(), kN);
  EXPECT_FALSE(w.schedule(kN, kStart + 17));
  EXPECT_FALSE(w.schedule(kN, kStart + 18));
  EXPECT_EQ(w.size(), kN);
  EXPECT_EQ(w.advance(kStart + 16, [](uint32_t, uint64_t) { return kDone; }), 0u);
  std::vector<int> visits(kN, 0);
  EXPECT_EQ(w.advance(kStart + 17,
                      [&](uint32_t id, uint64_t) {
                        ++visits[id];
                        return kDone;
                      }),
            kN);
  EXPECT_EQ(std::count(visits.begin(), visits.end(), 1), kN);
  EXPECT_EQ(w.size(), 0u);
}

// The worst case for chunks: a partly filled head in every bucket, the rest
// in full chunks; then churn through advances that re-arm everywhere (normal
// and catch-up) and refills, which must never run the pool dry.
TEST(TimingWheelTest, CapacityWorstCaseSpreadAndChurn) {
  for (const uint32_t bits : {1u, 2u, 4u, 8u}) {
    for (const uint32_t cap : {1u, 3u, 14u, 15u, 16u, 255u, 256u, 1000u, 4097u}) {
      SCOPED_TRACE(testing::Message() << "bits " << bits << " cap " << cap);
      TimingWheel w(Options{.bucket_bits = bits, .capacity = cap}, kStart);
      const uint64_t span = w.span_ms();
      std::mt19937_64 rng(bits * 7919 + cap);
      uint32_t next_id = 0;
      auto fill = [&]() {
        // One per bucket first (max partial heads), then groups of 15 so the
        // heads stay partial, then random.
        const uint64_t cur = w.current_ms();
        for (uint64_t b = 1; b < span && w.size() < cap; ++b)
          ASSERT_TRUE(w.schedule(next_id++, cur + b));
        for (uint64_t b = 1; w.size() + 15 <= cap; b = b % (span - 1) + 1)
          for (int i = 0; i < 15; ++i) ASSERT_TRUE(w.schedule(next_id++, cur + b));
        while (w.size() < cap) ASSERT_TRUE(w.schedule(next_id++, cur + rng() % (2 * span)));
        ASSERT_FALSE(w.schedule(next_id, cur + 1));
      };
      fill();
      for (int round = 0; round < 200; ++round) {
        const uint64_t now = w.current_ms() + random_step(rng, span, true);
        const std::size_t before = w.size();
        std::size_t dropped = 0;
        const std::size_t n = w.advance(now, [&](uint32_t, uint64_t t) -> uint64_t {
          const uint64_t r = rng() % 10;
          if (r == 0) {
            ++dropped;
            return kDone;
          }
          if (r < 4) return t + 1;
          return t + 1 + rng() % (3 * span);
        });
        ASSERT_LE(n, before);
        ASSERT_EQ(w.size(), before - dropped);
        ASSERT_EQ(w.stats().rearm_failures, 0u);
        if (round % 10 == 0) fill();
      }
      EXPECT_EQ(w.stats().rearm_failures, 0u);
    }
  }
}

TEST(TimingWheelTest, ZeroCapacityRejectsEverything) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 0}, kStart);
  EXPECT_TRUE(w.ok());
  EXPECT_FALSE(w.schedule(1, kStart + 5));
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.advance(kStart + kDayMs, [](uint32_t, uint64_t) { return kDone; }), 0u);
  EXPECT_EQ(w.current_ms(), kStart + kDayMs);
}

TEST(TimingWheelTest, MemoryIsSizedFromOptions) {
  const Options small{.bucket_bits = 8, .capacity = 1000};
  // 256 heads x 8 bytes; chunks = 256 + (1000 - 256) / 15 = 305.
  EXPECT_EQ(TimingWheel::pool_chunks_for(small), 305u);
  EXPECT_EQ(TimingWheel::memory_bytes_for(small), 256u * 8 + 305u * 64);
  TimingWheel w(small, kStart);
  EXPECT_EQ(w.memory_bytes(), TimingWheel::memory_bytes_for(small));
  // Large wheels approach 64 / 15 = 4.27 bytes per entry.
  const Options big{.bucket_bits = 16, .capacity = 40'000'000};
  const double per_entry = static_cast<double>(TimingWheel::memory_bytes_for(big)) / big.capacity;
  EXPECT_LT(per_entry, 4.4);
  EXPECT_GT(per_entry, 64.0 / 15);
}

// ---------------------------------------------------------------------------
// Smaller contracts.

TEST(TimingWheelTest, TimeGoingBackwardsDoesNothing) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 8}, kStart);
  ASSERT_TRUE(w.schedule(1, kStart + 10));
  int visits = 0;
  auto v = [&](uint32_t, uint64_t) {
    ++visits;
    return kDone;
  };
  EXPECT_EQ(w.advance(kStart + 5, v), 0u);
  EXPECT_EQ(w.advance(kStart + 2, v), 0u);
  EXPECT_EQ(w.advance(kStart + 5, v), 0u);
  EXPECT_EQ(w.current_ms(), kStart + 5);
  EXPECT_EQ(w.advance(0, v), 0u);
  EXPECT_EQ(w.current_ms(), kStart + 5);
  EXPECT_EQ(w.advance(kStart + 10, v), 1u);
  EXPECT_EQ(visits, 1);
}

TEST(TimingWheelTest, ScheduleClampsToTheSpan) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 8}, kStart);
  ASSERT_TRUE(w.schedule(1, 0));             // past: next tick
  ASSERT_TRUE(w.schedule(2, kStart));        // now: next tick
  ASSERT_TRUE(w.schedule(3, kDone));         // "never": parked
  ASSERT_TRUE(w.schedule(4, kStart + 255));  // last slot of the span
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  auto v = [&](uint32_t id, uint64_t t) {
    seen.emplace_back(id, t);
    return kDone;
  };
  for (uint64_t t = kStart + 1; t <= kStart + 300; ++t) w.advance(t, v);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::pair<uint32_t, uint64_t>>{
                      {1, kStart + 1}, {2, kStart + 1}, {3, kStart + 255}, {4, kStart + 255}}));
}

TEST(TimingWheelTest, DuplicateIdsAreIndependentEntries) {
  // The engine schedules a second entry when a timeout gets shorter.
  TimingWheel w(Options{.bucket_bits = 10, .capacity = 8}, kStart);
  ASSERT_TRUE(w.schedule(9, kStart + 900));
  ASSERT_TRUE(w.schedule(9, kStart + 100));
  EXPECT_EQ(w.size(), 2u);
  std::vector<uint64_t> times;
  for (uint64_t t = kStart + 1; t <= kStart + 1000; ++t) {
    w.advance(t, [&](uint32_t, uint64_t now) {
      times.push_back(now);
      return kDone;
    });
  }
  EXPECT_EQ(times, (std::vector<uint64_t>{kStart + 100, kStart + 900}));
}

TEST(TimingWheelTest, VisitorMayScheduleOtherIds) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 64}, kStart);
  ASSERT_TRUE(w.schedule(0, kStart + 10));
  std::vector<std::pair<uint32_t, uint64_t>> seen;
  for (uint64_t t = kStart + 1; t <= kStart + 200; t += 7) {
    w.advance(t, [&](uint32_t id, uint64_t now) {
      seen.emplace_back(id, now);
      if (id < 5) {
        EXPECT_TRUE(w.schedule(id + 1, now + 20));
      }
      return kDone;
    });
  }
  ASSERT_EQ(seen.size(), 6u);
  for (uint32_t i = 0; i < 6; ++i) EXPECT_EQ(seen[i].first, i);
  EXPECT_EQ(w.size(), 0u);
}

struct PrefetchingVisitor {
  std::vector<uint32_t>* prefetched;
  std::vector<uint32_t>* visited;
  void prefetch(uint32_t id) { prefetched->push_back(id); }
  uint64_t operator()(uint32_t id, uint64_t) {
    // Every id of the chunk was prefetched before the first visit of it.
    EXPECT_NE(std::find(prefetched->begin(), prefetched->end(), id), prefetched->end());
    visited->push_back(id);
    return kDone;
  }
};

TEST(TimingWheelTest, PrefetchHookSeesEachChunkBeforeItsVisits) {
  TimingWheel w(Options{.bucket_bits = 8, .capacity = 64}, kStart);
  for (uint32_t i = 0; i < 40; ++i) ASSERT_TRUE(w.schedule(i, kStart + 3));
  std::vector<uint32_t> prefetched, visited;
  EXPECT_EQ(w.advance(kStart + 3, PrefetchingVisitor{&prefetched, &visited}), 40u);
  std::sort(prefetched.begin(), prefetched.end());
  std::sort(visited.begin(), visited.end());
  EXPECT_EQ(prefetched, visited);
  EXPECT_EQ(visited.size(), 40u);
}

TEST(TimingWheelTest, StatsSumAcrossCores) {
  TimingWheel::Stats a, b;
  a.visited = 3;
  a.expired = 1;
  b.visited = 4;
  b.rearmed = 2;
  b.buckets_swept = 9;
  a += b;
  EXPECT_EQ(a.visited, 7u);
  EXPECT_EQ(a.expired, 1u);
  EXPECT_EQ(a.rearmed, 2u);
  EXPECT_EQ(a.buckets_swept, 9u);
}

// ---------------------------------------------------------------------------
// Randomised model test. Sessions with real deadlines (moved forward by
// heartbeats that never touch the wheel) against a std::multimap reference:
// at every advance the wheel's visitor must declare offline exactly the set
// the reference finds due. On top, each entry's wheel position is tracked as
// an interval [lo, hi] (exact, except for parking during a normal sweep,
// which parks relative to the bucket being swept): an entry is never visited
// before lo, always visited once now >= hi, and at most once per advance.

void run_model(uint32_t bits, uint64_t seed, int advances) {
  constexpr uint32_t kIds = 3000;
  TimingWheel w(Options{.bucket_bits = bits, .capacity = kIds}, kStart);
  const uint64_t span = w.span_ms();
  std::mt19937_64 rng(seed);

  struct Session {
    bool live = false;
    uint64_t real = 0;  // last_seen + timeout
    uint64_t lo = 0, hi = 0;
    std::multimap<uint64_t, uint32_t>::iterator ref;
  };
  std::vector<Session> s(kIds);
  std::multimap<uint64_t, uint32_t> reference;  // real deadline -> id
  std::vector<uint32_t> free_ids;
  for (uint32_t i = kIds; i-- > 0;) free_ids.push_back(i);
  std::size_t live = 0;
  auto timeout = [&]() { return 1 + rng() % (rng() % 4 == 0 ? 4 * span : span); };

  std::vector<uint8_t> visited(kIds);
  for (int step = 0; step < advances; ++step) {
    const uint64_t cur = w.current_ms();
    // New sessions.
    for (int k = static_cast<int>(rng() % 8); k > 0 && !free_ids.empty(); --k) {
      const uint32_t id = free_ids.back();
      free_ids.pop_back();
      Session& x = s[id];
      x.live = true;
      x.real = cur + timeout();
      x.lo = x.hi = std::clamp(x.real, cur + 1, cur + span - 1);
      x.ref = reference.emplace(x.real, id);
      ASSERT_TRUE(w.schedule(id, x.real));
      ++live;
    }
    // Heartbeats: the deadline moves forward, the wheel is not told.
    for (int k = static_cast<int>(rng() % 16); k > 0; --k) {
      Session& x = s[rng() % kIds];
      if (!x.live) continue;
      const uint64_t d = cur + timeout();
      if (d <= x.real) continue;
      reference.erase(x.ref);
      x.real = d;
      x.ref = reference.emplace(d, static_cast<uint32_t>(&x - s.data()));
    }
    ASSERT_EQ(w.size(), live);

    const uint64_t now = cur + random_step(rng, span, true);
    const bool catch_up = now - cur >= span;
    std::fill(visited.begin(), visited.end(), 0);
    std::set<uint32_t> declared;
    const std::size_t n = w.advance(now, [&](uint32_t id, uint64_t t) {
      EXPECT_EQ(t, now);
      EXPECT_TRUE(s[id].live) << "visited a dead entry " << id;
      EXPECT_EQ(visited[id], 0) << "visited twice in one advance: " << id;
      EXPECT_LE(s[id].lo, now) << "visited early: " << id;
      visited[id] = 1;
      if (now >= s[id].real) {
        declared.insert(id);
        return kDone;
      }
      return s[id].real;
    });
    std::size_t count = 0;
    for (uint32_t id = 0; id < kIds; ++id) {
      count += visited[id];
      if (s[id].live && s[id].hi <= now) {
        ASSERT_EQ(visited[id], 1) << "due entry not visited: " << id << " step " << step;
      }
    }
    ASSERT_EQ(n, count);
    std::set<uint32_t> expected;
    while (!reference.empty() && reference.begin()->first <= now) {
      expected.insert(reference.begin()->second);
      reference.erase(reference.begin());
    }
    ASSERT_EQ(declared, expected) << "step " << step;
    for (uint32_t id = 0; id < kIds; ++id) {
      Session& x = s[id];
      if (!visited[id]) continue;
      if (declared.count(id) != 0) {
        x.live = false;
        free_ids.push_back(id);
        --live;
        continue;
      }
      const uint64_t e = std::max(x.real, now + 1);
      x.hi = std::min(e, now + span - 1);
      x.lo = catch_up ? x.hi : std::min(e, cur + span);
    }
    ASSERT_EQ(w.size(), live);
  }
  EXPECT_EQ(w.stats().rearm_failures, 0u);
  EXPECT_EQ(w.stats().schedule_failures, 0u);
}

TEST(TimingWheelModelTest, TinyWheel) {
  run_model(3, 11, 20000);
}
TEST(TimingWheelModelTest, SmallWheel) {
  run_model(8, 12, 20000);
}
TEST(TimingWheelModelTest, MediumWheel) {
  run_model(12, 13, 10000);
}

}  // namespace
}  // namespace presenced::wheel
