#include "dataplane/engine/reconnect_book.h"

namespace presenced::engine {

ReconnectBook::ReconnectBook(uint32_t capacity_pow2)
    : entries_(capacity_pow2), mask_(capacity_pow2 - 1) {}

uint32_t ReconnectBook::slot_of(ReconnectScope scope, uint64_t user, uint32_t device) const {
  uint64_t x =
      user * 0x9e3779b97f4a7c15ULL ^ (uint64_t{device} << 8) ^ static_cast<uint64_t>(scope);
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return static_cast<uint32_t>(x) & mask_;
}

bool ReconnectBook::put(ReconnectScope scope, uint64_t user, uint32_t device,
                        const ReconnectDirective& d, uint64_t now_ms, uint64_t ttl_ms) {
  const uint64_t expires_ms = now_ms + ttl_ms;
  if (scope == ReconnectScope::kAll) {
    all_set_ = true;
    all_ = d;
    all_expires_ms_ = expires_ms;
    return true;
  }
  if (scope == ReconnectScope::kUser) device = 0;
  const uint32_t home = slot_of(scope, user, device);
  Entry* free_entry = nullptr;
  for (uint32_t i = 0; i < kProbe && i <= mask_; ++i) {
    Entry& e = entries_[(home + i) & mask_];
    if (e.used && e.scope == scope && e.user == user && e.device == device) {
      free_entry = &e;  // replace
      break;
    }
    if (free_entry == nullptr && (!e.used || e.expires_ms <= now_ms)) {
      free_entry = &e;
    }
  }
  if (free_entry == nullptr) return false;
  free_entry->used = true;
  free_entry->scope = scope;
  free_entry->user = user;
  free_entry->device = device;
  free_entry->expires_ms = expires_ms;
  free_entry->directive = d;
  return true;
}

const ReconnectBook::Entry* ReconnectBook::lookup(ReconnectScope scope, uint64_t user,
                                                  uint32_t device, uint64_t now_ms) const {
  const uint32_t home = slot_of(scope, user, device);
  for (uint32_t i = 0; i < kProbe && i <= mask_; ++i) {
    const Entry& e = entries_[(home + i) & mask_];
    if (e.used && e.scope == scope && e.user == user && e.device == device) {
      return e.expires_ms > now_ms ? &e : nullptr;
    }
  }
  return nullptr;
}

const ReconnectDirective* ReconnectBook::find(uint64_t user, uint32_t device,
                                              uint64_t now_ms) const {
  if (const Entry* e = lookup(ReconnectScope::kDevice, user, device, now_ms)) return &e->directive;
  if (const Entry* e = lookup(ReconnectScope::kUser, user, 0, now_ms)) return &e->directive;
  if (all_set_ && all_expires_ms_ > now_ms) return &all_;
  return nullptr;
}

}  // namespace presenced::engine
