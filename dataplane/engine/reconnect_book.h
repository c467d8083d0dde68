// reconnect_book.h: the reconnect directives a data core knows about.
//
// Owns: a fixed-capacity open-addressing map from (scope, user, device) to a
// ReconnectDirective with an expiry time, plus one directive for "all
// sessions" and one for draining. The control plane sends every directive to
// every core (any core may answer a marked session's next heartbeat), so
// each core keeps its own copy and reads it without synchronisation.
// Expired entries are reused; an insert that finds no free or expired place
// in its probe window fails and is counted (the control plane reports it).
// Concurrency: single-threaded (one core owns one book).
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/engine/reconnect_directive.h"

namespace presenced::engine {

class ReconnectBook {
 public:
  explicit ReconnectBook(uint32_t capacity_pow2 = 1u << 14);

  // Stores (or replaces) a directive valid until now_ms + ttl_ms; false
  // when its probe window holds no free or expired place.
  bool put(ReconnectScope scope, uint64_t user, uint32_t device, const ReconnectDirective& d,
           uint64_t now_ms, uint64_t ttl_ms);

  // The directive for a session: its device entry, else its user's, else
  // the one for all sessions, else nullptr. Expired entries do not count.
  const ReconnectDirective* find(uint64_t user, uint32_t device, uint64_t now_ms) const;

 private:
  struct Entry {
    uint64_t user = 0;
    uint32_t device = 0;
    ReconnectScope scope = ReconnectScope::kDevice;
    bool used = false;
    uint64_t expires_ms = 0;
    ReconnectDirective directive;
  };
  static constexpr uint32_t kProbe = 32;

  uint32_t slot_of(ReconnectScope scope, uint64_t user, uint32_t device) const;
  const Entry* lookup(ReconnectScope scope, uint64_t user, uint32_t device, uint64_t now_ms) const;

  std::vector<Entry> entries_;
  uint32_t mask_;
  bool all_set_ = false;
  uint64_t all_expires_ms_ = 0;
  ReconnectDirective all_;
};

}  // namespace presenced::engine
