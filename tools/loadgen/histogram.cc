#include "tools/loadgen/histogram.h"

#include <algorithm>
#include <cmath>

namespace presenced::loadgen {

uint32_t Histogram::index(uint64_t v) {
  if (v < kLinear) return static_cast<uint32_t>(v);
  const auto e = static_cast<uint32_t>(63 - __builtin_clzll(v));  // >= 6
  const auto mantissa = static_cast<uint32_t>(v >> (e - kSubBits));  // [32, 64)
  return kLinear + (e - 6) * (1u << kSubBits) + (mantissa - (1u << kSubBits));
}

uint64_t Histogram::bucket_low(uint32_t i) {
  if (i < kLinear) return i;
  const uint32_t octave = (i - kLinear) >> kSubBits;  // e - 6
  const uint32_t sub = (i - kLinear) & ((1u << kSubBits) - 1);
  const uint32_t e = octave + 6;
  return uint64_t{(1u << kSubBits) + sub} << (e - kSubBits);
}

uint64_t Histogram::bucket_width(uint32_t i) {
  if (i < kLinear) return 1;
  const uint32_t e = ((i - kLinear) >> kSubBits) + 6;
  return uint64_t{1} << (e - kSubBits);
}

Histogram& Histogram::operator+=(const Histogram& o) {
  for (uint32_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  return *this;
}

uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank-th smallest sample, 1-based (nearest-rank definition).
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  if (rank >= count_) return max_;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = bucket_low(i) + bucket_width(i) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace presenced::loadgen
