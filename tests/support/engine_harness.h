// engine_harness.h: drives one or more Engines over a shared table with a
// fake clock, and builds signed client packets, for engine and simulation
// tests. Single-threaded: the cores are stepped in turn.
#pragma once

#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/auth/session_key.h"
#include "dataplane/engine/engine.h"
#include "dataplane/wire/codec.h"
#include "tests/support/spec_vector.h"
#include "tests/support/test_client.h"

namespace presenced::testing {

class EngineHarness {
 public:
  struct Options {
    uint32_t cores = 1;
    uint32_t shards = 1;
    uint64_t max_sessions = 10000;
    engine::EngineConfig config;
    uint32_t epoch = 0xdeadbeef;
  };

  explicit EngineHarness(const Options& o) : options_(o) {
    table::PresenceTable::Options t;
    t.max_sessions = o.max_sessions;
    t.shards = o.shards;
    t.hash_seed = 99;
    t.try_hugetlb = false;
    std::string err;
    table_ = table::PresenceTable::create(t, &err);
    if (!table_) throw std::runtime_error(err);
    engine::EngineShared::Options s;
    s.cores = o.cores;
    s.mono_base_ns = 0;
    s.epoch = o.epoch;
    s.master_key = spec_master_key();
    shared_ = std::make_unique<engine::EngineShared>(*table_, s);
    for (uint32_t c = 0; c < o.cores; ++c) {
      engines_.push_back(std::make_unique<engine::Engine>(*shared_, c, o.config));
    }
    reply_buf_.resize(4096);
    event_buf_.resize(1 << 16);
    now_.mono_ns = 1'000'000'000;  // engine ms 1000
    now_.wall_ms = kWallStartMs;
  }
  EngineHarness() : EngineHarness(Options{}) {}

  engine::Engine& engine(uint32_t core = 0) { return *engines_[core]; }
  engine::EngineShared& shared() { return *shared_; }
  table::PresenceTable& table() { return *table_; }
  const engine::Clock& now() const { return now_; }
  uint64_t now_ms() const { return now_.mono_ns / 1'000'000; }

  void advance_ms(uint64_t ms) {
    now_.mono_ns += ms * 1'000'000;
    now_.wall_ms += static_cast<int64_t>(ms);
  }

  // Delivers packets to `core`, then lets every core do its home work until
  // nothing moves. Returns the replies of this step (all cores).
  std::vector<engine::TxDatagram> send(const std::vector<Packet>& packets, uint32_t core = 0) {
    std::vector<engine::RxDatagram> rx;
    for (const Packet& p : packets) {
      engine::RxDatagram d;
      d.data = p.bytes.data();
      d.len = static_cast<uint16_t>(p.bytes.size());
      d.src = p.src;
      d.l2_hint = p.l2_hint;
      d.local = NetAddr::v4_bytes(127, 0, 0, 1, 7460);
      rx.push_back(d);
    }
    std::vector<engine::TxDatagram> out;
    engine::ReplyBatch replies{reply_buf_.data(), static_cast<uint32_t>(reply_buf_.size()), 0};
    engine::EventBatch events{event_buf_.data(), static_cast<uint32_t>(event_buf_.size()), 0};
    engine(core).process(rx, now_, replies, events);
    collect(replies, events, out);
    settle(out);
    return out;
  }
  std::vector<engine::TxDatagram> send(const Packet& p, uint32_t core = 0) {
    return send(std::vector<Packet>{p}, core);
  }

  // Home work on every core (no traffic).
  std::vector<engine::TxDatagram> tick() {
    std::vector<engine::TxDatagram> out;
    settle(out);
    return out;
  }

  // Advances time in steps of `step_ms`, ticking all cores each step.
  void run_for(uint64_t ms, uint64_t step_ms = 1) {
    for (uint64_t t = 0; t < ms; t += step_ms) {
      advance_ms(step_ms);
      tick();
    }
  }

  std::vector<engine::PresenceEvent>& events() { return events_; }
  std::vector<engine::PresenceEvent> take_events() { return std::exchange(events_, {}); }

  engine::CoreStatsSnapshot stats() const {
    engine::CoreStatsSnapshot total;
    for (uint32_t c = 0; c < options_.cores; ++c) total += shared_->stats(c).snapshot();
    return total;
  }
  uint64_t drops(wire::DropReason r) const { return stats().drops[static_cast<std::size_t>(r)]; }

  bool session_online(uint64_t user, uint32_t device) {
    table::SessionView v[16];
    const std::size_t n = table_->read_user(user, v, 16);
    for (std::size_t i = 0; i < n; ++i) {
      if (v[i].device == device) return v[i].state.pub_online();
    }
    return false;
  }

 private:
  void collect(engine::ReplyBatch& replies, engine::EventBatch& events,
               std::vector<engine::TxDatagram>& out) {
    for (uint32_t i = 0; i < replies.size; ++i) out.push_back(replies.data[i]);
    for (uint32_t i = 0; i < events.size; ++i) events_.push_back(events.data[i]);
    replies.clear();
    events.clear();
  }
  void settle(std::vector<engine::TxDatagram>& out) {
    for (int round = 0; round < 4; ++round) {
      for (uint32_t c = 0; c < options_.cores; ++c) {
        engine::ReplyBatch replies{reply_buf_.data(), static_cast<uint32_t>(reply_buf_.size()), 0};
        engine::EventBatch events{event_buf_.data(), static_cast<uint32_t>(event_buf_.size()), 0};
        engine(c).tick(now_, replies, events);
        collect(replies, events, out);
      }
    }
  }

  Options options_;
  std::unique_ptr<table::PresenceTable> table_;
  std::unique_ptr<engine::EngineShared> shared_;
  std::vector<std::unique_ptr<engine::Engine>> engines_;
  std::vector<engine::TxDatagram> reply_buf_;
  std::vector<engine::PresenceEvent> event_buf_;
  std::vector<engine::PresenceEvent> events_;
  engine::Clock now_;
};

}  // namespace presenced::testing
