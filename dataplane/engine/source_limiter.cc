#include "dataplane/engine/source_limiter.h"

#include <algorithm>
#include <cstring>

namespace presenced::engine {

SourceLimiter::SourceLimiter(uint32_t sets_pow2)
    : entries_(static_cast<std::size_t>(sets_pow2) * kWays), set_mask_(sets_pow2 - 1) {}

uint64_t SourceLimiter::prefix_key(const NetAddr& a) {
  uint64_t k = 0;
  if (a.family == 6) {
    std::memcpy(&k, a.ip.data(), 8);  // the /64
    k ^= 0x6000000000000000ULL;
  } else {
    uint32_t v4;
    std::memcpy(&v4, a.ip.data(), 4);
    k = 0x4000000000000000ULL | v4;
  }
  // Mix, and never 0 (the free marker).
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k | 1;
}

SourceLimiter::Entry* SourceLimiter::find(uint64_t key) {
  Entry* set = &entries_[(key >> 8 & set_mask_) * kWays];
  for (uint32_t w = 0; w < kWays; ++w) {
    if (set[w].key == key) return &set[w];
  }
  return nullptr;
}

void SourceLimiter::refill(Entry& e, uint64_t now_ms) const {
  const uint32_t now32 = static_cast<uint32_t>(now_ms);
  const uint32_t elapsed = now32 - e.last_ms;
  const float cap = static_cast<float>(budget_);
  e.tokens = std::min(cap, e.tokens + cap * static_cast<float>(elapsed) / 1000.0f);
  e.last_ms = now32;
}

bool SourceLimiter::over_budget_slow(const NetAddr& src, uint64_t now_ms) {
  Entry* e = find(prefix_key(src));
  if (e == nullptr) return false;
  refill(*e, now_ms);
  return e->tokens < 1.0f;
}

void SourceLimiter::charge(const NetAddr& src, uint64_t now_ms) {
  if (budget_ == 0) return;
  const uint64_t key = prefix_key(src);
  Entry* e = find(key);
  if (e == nullptr) {
    // Take a free way, else the way with the most tokens left.
    Entry* set = &entries_[(key >> 8 & set_mask_) * kWays];
    Entry* victim = nullptr;
    for (uint32_t w = 0; w < kWays; ++w) {
      if (set[w].key == 0) {
        victim = &set[w];
        ++occupied_;
        break;
      }
      refill(set[w], now_ms);
      if (victim == nullptr || set[w].tokens > victim->tokens) victim = &set[w];
    }
    victim->key = key;
    victim->tokens = static_cast<float>(budget_);
    victim->last_ms = static_cast<uint32_t>(now_ms);
    e = victim;
  } else {
    refill(*e, now_ms);
  }
  e->tokens = std::max(e->tokens - 1.0f, -1.0f);
}

}  // namespace presenced::engine
