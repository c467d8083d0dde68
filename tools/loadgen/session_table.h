// session_table.h: every session the load generator drives, contiguous.
//
// Owns: one client::Session (80 bytes) per (user, device), plus, in parallel
// arrays indexed the same way, the few bytes the driver needs beside the
// state machine:
//   sent_us   4 B  microsecond clock of the last send (ACK latency)
//   armed_ms  4 B  when the session's one authoritative wheel entry is due
//                  (ms since the worker's start; worker.h explains the
//                  protocol); kUnarmed when none
//   flags     1 B  up / ever up / silenced / storm-pending
//   route     1 B  current and pending server (redirect targets)
// That is 90 bytes per session (plus the timing wheel's ~4-9 bytes).
//
// Addressing is arithmetic: users are user_base + u for u in [0, users),
// devices 1..devices, and session index = u * devices + (device - 1), so an
// ACK is routed to its session without a lookup.
//
// Keys: create() derives every session key under the master key with the
// batched SipHash (auth::siphash128_batch, AVX2 when available): 10 M keys in
// well under a second, where one libsodium call each takes several.
//
// Concurrency: the table is built on the main thread before the workers
// start; then each worker owns the index range it was given and is the only
// thread that touches those entries. Nothing is shared between ranges.
#pragma once

#include <cstdint>
#include <memory>

#include "client/session.h"
#include "dataplane/auth/session_key.h"

namespace presenced::loadgen {

enum SessionFlag : uint8_t {
  kUp = 1 << 0,            // acknowledged, and not declared dead since
  kEverUp = 1 << 1,        // acknowledged at least once
  kSilenced = 1 << 2,      // churn: never driven again
  kStormPending = 1 << 3,  // storm: restarted, not acknowledged yet
};

inline constexpr uint32_t kUnarmed = UINT32_MAX;

class SessionTable {
 public:
  struct Layout {
    uint64_t sessions = 0;
    uint32_t devices = 1;
    uint64_t user_base = 1;
  };

  // Allocates and constructs every session (state kNew) with keys for
  // `token_expiry`. nullptr with `error` when memory is short.
  static std::unique_ptr<SessionTable> create(const Layout& layout, const auth::MasterKey& master,
                                              uint32_t token_expiry, wire::Status status,
                                              std::string* error);

  uint64_t size() const { return layout_.sessions; }
  uint64_t users() const { return layout_.sessions / layout_.devices; }
  uint32_t devices() const { return layout_.devices; }
  uint64_t user_base() const { return layout_.user_base; }

  uint64_t user_of(uint64_t index) const { return layout_.user_base + index / layout_.devices; }
  uint32_t device_of(uint64_t index) const {
    return static_cast<uint32_t>(index % layout_.devices) + 1;
  }
  // Index of (user, device), or UINT64_MAX if it is not one of ours.
  uint64_t index_of(uint64_t user, uint32_t device) const {
    if (user < layout_.user_base || device == 0 || device > layout_.devices) return UINT64_MAX;
    const uint64_t u = user - layout_.user_base;
    if (u >= users()) return UINT64_MAX;
    return u * layout_.devices + (device - 1);
  }

  // Replaces sessions [begin, end) with fresh ones (state kNew) under a new
  // token, keys derived in batches. Used by the storm (a restart with a new
  // login) by the worker that owns the range.
  void reset_range(uint64_t begin, uint64_t end, const auth::MasterKey& master,
                   uint32_t token_expiry, wire::Status status);

  client::Session& session(uint64_t i) { return sessions_[i]; }
  const client::Session& session(uint64_t i) const { return sessions_[i]; }
  uint32_t& sent_us(uint64_t i) { return sent_us_[i]; }
  uint32_t& armed_ms(uint64_t i) { return armed_ms_[i]; }
  uint8_t& flags(uint64_t i) { return flags_[i]; }
  uint8_t& route(uint64_t i) { return route_[i]; }

  // Bytes held per session by the table (the arrays above).
  static constexpr std::size_t kBytesPerSession =
      sizeof(client::Session) + sizeof(uint32_t) * 2 + sizeof(uint8_t) * 2;

 private:
  explicit SessionTable(const Layout& layout) : layout_(layout) {}
  void fill(uint64_t begin, uint64_t end, const auth::MasterKey& master, uint32_t token_expiry,
            wire::Status status, bool construct);

  Layout layout_;
  // Raw storage: Session has no default constructor; fill() placement-news
  // every element before anything reads it.
  struct Free {
    void operator()(void* p) const;
  };
  std::unique_ptr<client::Session, Free> sessions_storage_;
  client::Session* sessions_ = nullptr;
  std::unique_ptr<uint32_t[]> sent_us_;
  std::unique_ptr<uint32_t[]> armed_ms_;
  std::unique_ptr<uint8_t[]> flags_;
  std::unique_ptr<uint8_t[]> route_;
};

}  // namespace presenced::loadgen
