#include "client/adaptive.h"

#include <algorithm>

namespace presenced::client {

AdaptiveIntervalStore::Entry& AdaptiveIntervalStore::touch(uint32_t network_id, const Policy& p) {
  Entry* victim = &entries_[0];
  for (Entry& e : entries_) {
    if (e.good_ms != 0 && e.network_id == network_id) {
      e.last_use = ++clock_;
      return e;
    }
    // Prefer a free slot; otherwise the least recently used entry.
    if (victim->good_ms != 0 && (e.good_ms == 0 || e.last_use < victim->last_use)) victim = &e;
  }
  *victim = Entry{network_id, std::max<uint32_t>(p.adaptive_start_ms, 1), 0, ++clock_};
  return *victim;
}

uint32_t AdaptiveIntervalStore::next_interval(uint32_t network_id, uint32_t max_ms, bool may_probe,
                                              const Policy& p) {
  const Entry& e = touch(network_id, p);
  if (may_probe) {
    const uint64_t probe = uint64_t{e.good_ms} + p.adaptive_step_ms;
    if (probe <= max_ms && (e.ceiling_ms == 0 || probe < e.ceiling_ms)) {
      return static_cast<uint32_t>(probe);
    }
  }
  return std::min(e.good_ms, max_ms);
}

void AdaptiveIntervalStore::record(uint32_t network_id, uint32_t interval_ms, bool survived,
                                   const Policy& p) {
  Entry& e = touch(network_id, p);
  if (survived) {
    e.good_ms = std::max(e.good_ms, interval_ms);
    // A survivor at or above the old ceiling means the network changed.
    if (e.ceiling_ms != 0 && e.ceiling_ms <= e.good_ms) e.ceiling_ms = 0;
    return;
  }
  e.ceiling_ms = e.ceiling_ms == 0 ? interval_ms : std::min(e.ceiling_ms, interval_ms);
  if (interval_ms <= e.good_ms) {
    const uint32_t lower = interval_ms > p.adaptive_step_ms ? interval_ms - p.adaptive_step_ms : 0;
    e.good_ms = std::max({lower, p.adaptive_min_ms, uint32_t{1}});
  }
}

const AdaptiveIntervalStore::Entry* AdaptiveIntervalStore::find(uint32_t network_id) const {
  for (const Entry& e : entries_) {
    if (e.good_ms != 0 && e.network_id == network_id) return &e;
  }
  return nullptr;
}

void AdaptiveIntervalStore::forget(uint32_t network_id) {
  for (Entry& e : entries_) {
    if (e.good_ms != 0 && e.network_id == network_id) e = Entry{};
  }
}

std::size_t AdaptiveIntervalStore::size() const {
  return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                [](const Entry& e) { return e.good_ms != 0; }));
}

}  // namespace presenced::client
