// histogram.h: a log-linear histogram of non-negative integers (latencies in
// microseconds, delays in microseconds), for percentiles over millions of
// samples in fixed memory.
//
// Owns: 1,920 bucket counters (15 KiB), the exact count, sum, min and max.
// Values below 64 have their own bucket; above, each power of two is split
// into 32 buckets, so a reported percentile is within 1/64 (1.6 %) of the
// true sample (the bucket's midpoint is reported, clamped to [min, max]).
// record() is O(1), no allocation.
//
// Concurrency: none. One thread records; another may read only after it has
// stopped (e.g. after join()). Per-thread histograms are merged with +=.
#pragma once

#include <array>
#include <cstdint>

namespace presenced::loadgen {

class Histogram {
 public:
  static constexpr uint32_t kSubBits = 5;                      // 32 buckets per octave
  static constexpr uint32_t kLinear = 2u << kSubBits;          // 64 exact values
  static constexpr uint32_t kBuckets = kLinear + (64 - 6) * (1u << kSubBits);

  void record(uint64_t v) {
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }

  Histogram& operator+=(const Histogram& o);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }

  // The value at quantile q in [0, 1] (0 if empty).
  uint64_t quantile(double q) const;

  static uint32_t index(uint64_t v);
  // Lowest value and width of bucket i.
  static uint64_t bucket_low(uint32_t i);
  static uint64_t bucket_width(uint32_t i);
  uint64_t bucket_count(uint32_t i) const { return counts_[i]; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace presenced::loadgen
