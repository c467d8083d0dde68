// engine.cc: construction, configuration and the ingest stages A-E of a
// burst (see engine.h). Home work is in engine_home.cc.
#include "dataplane/engine/engine.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "dataplane/auth/siphash_batch.h"
#include "dataplane/common/byte_order.h"

namespace presenced::engine {

using table::SessionSlot;
using table::SlotState;
namespace bits = table::slot_bits;

struct Engine::Pending {
  wire::ClientPacket pkt;
  table::UserHash uh;
  const RxDatagram* rx = nullptr;
  uint32_t slot = table::kNoSlot;
  wire::DropReason drop = wire::DropReason::kNone;
  uint8_t key_input[wire::kKeyInputSize];
};

namespace {

constexpr uint32_t kSignBatch = 2 * kMaxBurst;

wheel::TimingWheel::Options wheel_options(const EngineShared& shared, uint32_t core,
                                          uint32_t bucket_bits) {
  // Capacity: every slot of every shard homed here could be armed.
  uint64_t slots = 0;
  const table::PresenceTable& t = shared.table();
  for (uint32_t s = 0; s < t.shard_count(); ++s) {
    if (shared.home_core(s) == core) slots += t.shard(s).slot_count;
  }
  wheel::TimingWheel::Options o;
  o.bucket_bits = bucket_bits;
  o.capacity = static_cast<uint32_t>(std::max<uint64_t>(slots, 1));
  return o;
}

std::size_t linger_capacity(const wheel::TimingWheel::Options& w, uint32_t requested) {
  if (requested != 0) return requested;
  // Users going offline within one linger period; an eighth of the sessions
  // at once is a mass disconnect, beyond which linger is skipped (counted).
  return std::clamp<std::size_t>(w.capacity / 8, 1024, 1u << 22);
}

}  // namespace

Engine::Engine(EngineShared& shared, uint32_t core, const EngineConfig& config)
    : Engine(shared, core, config, Options{}) {}

Engine::Engine(EngineShared& shared, uint32_t core, const EngineConfig& config,
               const Options& options)
    : shared_(shared),
      table_(shared.table()),
      stats_(shared.stats(core)),
      core_(core),
      options_(options),
      config_(config),
      wheel_(wheel_options(shared, core, options.wheel_bucket_bits), 0),
      linger_(linger_capacity(wheel_options(shared, core, options.wheel_bucket_bits),
                              options.linger_capacity)),
      pending_(new Pending[kMaxBurst]),
      sign_keys_(new auth::SessionKey[kSignBatch]),
      sign_index_(new uint32_t[kSignBatch]) {
  auth::ensure_sodium_initialized();
  for (uint32_t sh = 0; sh < table_.shard_count(); ++sh) {
    if (shared_.home_core(sh) == core_) home_shards_.push_back(sh);
  }
  rng_state_ = (uint64_t{shared_.epoch()} << 32 | core_) * 0x9e3779b97f4a7c15ULL | 1;
  limiter_.set_budget(config_.source_invalid_budget);
  refresh_advised_interval();
}

Engine::~Engine() = default;

uint64_t Engine::now_ms(const Clock& now) const {
  const uint64_t base = shared_.mono_base_ns();
  return now.mono_ns > base ? (now.mono_ns - base) / 1'000'000 : 0;
}

void Engine::set_config(const EngineConfig& config) {
  limiter_.set_budget(config.source_invalid_budget);
  const bool may_shorten = config.miss_limit < config_.miss_limit ||
                           config.grace_ms < config_.grace_ms ||
                           config.min_interval_s < config_.min_interval_s;
  config_ = config;
  if (may_shorten) revisit_wheel_ = true;
  refresh_advised_interval();
}

void Engine::refresh_advised_interval() {
  advised_interval_s_ = engine::advised_interval_s(config_, shared_.sessions_online());
  stats_.advised_interval_s.set(advised_interval_s_);
}

uint64_t Engine::deadline_of(uint32_t last_seen_ms32, uint32_t interval_s, uint64_t now_ms) const {
  // Serial arithmetic: last_seen is within 24 days of now (either side: a
  // core may have stamped it a moment "after" our clock reading).
  const int32_t delta = static_cast<int32_t>(last_seen_ms32 - static_cast<uint32_t>(now_ms));
  const uint64_t last_seen = now_ms + static_cast<uint64_t>(static_cast<int64_t>(delta));
  return last_seen + timeout_ms(config_, interval_s != 0 ? interval_s : config_.interval_s);
}

uint64_t Engine::min_timeout_ms() const {
  return timeout_ms(config_, config_.min_interval_s);
}

void Engine::process(std::span<const RxDatagram> burst, const Clock& now, ReplyBatch& replies,
                     EventBatch& events) {
  begin_call(now_ms(now));
  for (std::size_t off = 0; off < burst.size(); off += kMaxBurst) {
    ingest(burst.subspan(off, std::min(kMaxBurst, burst.size() - off)), now, replies);
  }
  home_work(now, replies, events);
}

void Engine::tick(const Clock& now, ReplyBatch& replies, EventBatch& events) {
  begin_call(now_ms(now));
  home_work(now, replies, events);
}

void Engine::begin_call(uint64_t now_ms) {
  CoreLiveness& live = shared_.liveness(core_);
  if (last_call_ms_ == 0) {
    start_ms_ = now_ms;
  } else if (now_ms > last_call_ms_ + config_.stall_threshold_ms) {
    // This core did not run for a while: record the gap so that no
    // session's silence counts it (see effective_deadline).
    const uint32_t n = live.stalls.load(std::memory_order_relaxed);
    const uint32_t i = n % CoreLiveness::kStallRing;
    live.stall_start_ms[i].store(last_call_ms_, std::memory_order_relaxed);
    live.stall_end_ms[i].store(now_ms, std::memory_order_relaxed);
    live.stalls.store(n + 1, std::memory_order_release);  // S1: pairs with R1
    stats_.stalls.add();
    stats_.stalled_ms.add(now_ms - last_call_ms_);
  }
  last_call_ms_ = now_ms;
  live.progress_ms.store(now_ms, std::memory_order_release);
}

uint64_t Engine::stall_credit(uint64_t from_ms, uint64_t to_ms) const {
  // The union of every core's recorded stalls, clipped to [from, to].
  uint64_t start[CoreLiveness::kStallRing * 8];
  uint64_t end[CoreLiveness::kStallRing * 8];
  uint32_t n = 0;
  for (uint32_t c = 0;
       c < shared_.cores() && n + CoreLiveness::kStallRing <= 8 * CoreLiveness::kStallRing; ++c) {
    const CoreLiveness& live = shared_.liveness(c);
    const uint32_t count = live.stalls.load(std::memory_order_acquire);  // R1
    const uint32_t k = std::min(count, CoreLiveness::kStallRing);
    for (uint32_t j = 0; j < k; ++j) {
      const uint64_t a = std::max(live.stall_start_ms[j].load(std::memory_order_relaxed), from_ms);
      const uint64_t b = std::min(live.stall_end_ms[j].load(std::memory_order_relaxed), to_ms);
      if (a < b) {
        start[n] = a;
        end[n] = b;
        ++n;
      }
    }
  }
  if (n == 0) return 0;
  // Insertion sort by start (n is tiny), then merge.
  for (uint32_t i = 1; i < n; ++i) {
    for (uint32_t j = i; j > 0 && start[j] < start[j - 1]; --j) {
      std::swap(start[j], start[j - 1]);
      std::swap(end[j], end[j - 1]);
    }
  }
  uint64_t total = 0;
  uint64_t cur_a = start[0];
  uint64_t cur_b = end[0];
  for (uint32_t i = 1; i < n; ++i) {
    if (start[i] <= cur_b) {
      cur_b = std::max(cur_b, end[i]);
    } else {
      total += cur_b - cur_a;
      cur_a = start[i];
      cur_b = end[i];
    }
  }
  return total + (cur_b - cur_a);
}

bool Engine::any_core_stalled(uint64_t now_ms) const {
  for (uint32_t c = 0; c < shared_.cores(); ++c) {
    const uint64_t p = shared_.liveness(c).progress_ms.load(std::memory_order_acquire);
    if (p != 0 && p + config_.stall_threshold_ms < now_ms) return true;
  }
  return false;
}

uint64_t Engine::effective_deadline(const SessionSlot& s, uint64_t now_ms, bool& defer) {
  defer = false;
  const uint32_t last_seen32 = s.last_seen.load(std::memory_order_relaxed);
  const uint64_t d = deadline_of(last_seen32, s.interval_s(), now_ms);
  if (d > now_ms) return d;
  // Nominally due. Time during which a core was stalled does not count as
  // silence (the session's packets may have been waiting in a socket).
  const int32_t age = static_cast<int32_t>(static_cast<uint32_t>(now_ms) - last_seen32);
  const uint64_t last_seen = age > 0 ? now_ms - static_cast<uint64_t>(age) : now_ms;
  const uint64_t extended = d + stall_credit(last_seen, now_ms);
  if (extended > now_ms) return extended;
  // And no verdict at all while some core is stalled right now.
  if (any_core_stalled(now_ms)) {
    defer = true;
    stats_.verdicts_deferred.add();
    return now_ms + std::max<uint64_t>(1, config_.stall_threshold_ms / 4);
  }
  return d;
}

bool Engine::admit(uint64_t now_ms, uint32_t& delay_ms) {
  if (config_.admission_rate == 0) return true;
  const double rate = std::max(1.0, static_cast<double>(config_.admission_rate) / shared_.cores());
  // A shallow bucket (20 ms worth, at least one): admissions over any
  // window W stay within rate x (W + 20 ms), so the limit holds per second.
  const double depth = std::max(1.0, rate / 50.0);
  if (admit_tokens_ < 0) {  // first use: a full bucket
    admit_tokens_ = depth;
    admit_last_ms_ = now_ms;
  }
  if (now_ms > admit_last_ms_) {
    admit_tokens_ = std::min(
        depth, admit_tokens_ + rate * static_cast<double>(now_ms - admit_last_ms_) / 1000.0);
    admit_last_ms_ = now_ms;
  }
  if (admit_tokens_ >= 1) {
    admit_tokens_ -= 1;
    return true;
  }
  // Over the rate: give the session the next free admission slot, so a
  // herd comes back at the rate instead of all at once.
  const double slot = std::max(admit_next_slot_ms_, static_cast<double>(now_ms)) + 1000.0 / rate;
  admit_next_slot_ms_ = slot;
  delay_ms = static_cast<uint32_t>(std::min(slot - static_cast<double>(now_ms), 3'600'000.0));
  stats_.admission_deferred.add();
  return false;
}

void Engine::ingest(std::span<const RxDatagram> burst, const Clock& now, ReplyBatch& replies) {
  const std::size_t n = burst.size();
  stats_.rx_datagrams.add(n);

  // Stage A: per-source budget, parse, hash, prefetch tags, derivation inputs.
  const uint64_t call_ms = now_ms(now);
  uint32_t valid[kMaxBurst];
  uint32_t nv = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Pending& p = pending_[i];
    p.rx = &burst[i];
    p.slot = table::kNoSlot;
    if (limiter_.over_budget(burst[i].src, call_ms)) {
      p.drop = wire::DropReason::kSourceLimited;
      stats_.drop(p.drop);
      continue;
    }
    p.drop = wire::parse_client_packet({burst[i].data, burst[i].len}, p.pkt);
    if (p.drop != wire::DropReason::kNone) {
      stats_.drop(p.drop);
      limiter_.charge(burst[i].src, call_ms);
      continue;
    }
    p.uh = table_.hash_user(p.pkt.h.user_id);
    table_.prefetch_group(p.uh);
    auth::build_key_input(p.pkt.h.user_id, p.pkt.h.device_id, p.pkt.h.token_expiry, p.key_input);
    valid[nv++] = static_cast<uint32_t>(i);
  }
  if (nv == 0) return;

  // Stage B1: derive all session keys in one SipHash batch (the tag-group
  // prefetches of stage A land meanwhile).
  const uint8_t* msgs[kMaxBurst];
  auth::SessionKey keys[kMaxBurst];
  uint64_t macs[kMaxBurst];
  for (uint32_t k = 0; k < nv; ++k) msgs[k] = pending_[valid[k]].key_input;
  auth::siphash128_batch(shared_.master_key(), msgs, wire::kKeyInputSize, nv, keys);

  // Stage C: match tags, prefetch candidate slots (they land during B2).
  for (uint32_t k = 0; k < nv; ++k) table_.prefetch_candidates(pending_[valid[k]].uh);

  // Stage B2: verify all MACs in a second batch; token expiry.
  for (uint32_t k = 0; k < nv; ++k) msgs[k] = pending_[valid[k]].rx->data;
  auth::siphash64_batch(keys, msgs, wire::kHeartbeatSize - wire::kMacSize, nv, macs);
  const int64_t wall_s = now.wall_ms / 1000;
  uint32_t nok = 0;
  for (uint32_t k = 0; k < nv; ++k) {
    Pending& p = pending_[valid[k]];
    if (!auth::tags_equal(macs[k], p.pkt.mac)) {
      p.drop = wire::DropReason::kBadMac;
      limiter_.charge(p.rx->src, call_ms);
    } else if (static_cast<int64_t>(p.pkt.h.token_expiry) < wall_s) {
      p.drop = wire::DropReason::kTokenExpired;
    } else {
      keys[nok] = keys[k];  // compact: keys[j] belongs to valid[j]
      valid[nok++] = valid[k];
      continue;
    }
    stats_.drop(p.drop);
  }

  // Stage D: apply.
  // last_seen is stamped rounded up (floor + 1 ms), so a deadline computed
  // from it is never before the true one.
  const uint32_t now_ceil = static_cast<uint32_t>(now_ms(now) + 1);
  for (uint32_t k = 0; k < nok; ++k) {
    Pending& p = pending_[valid[k]];
    ApplyResult r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      p.slot = table_.find(p.uh, p.pkt.h.user_id, p.pkt.h.device_id);
      if (p.slot == table::kNoSlot) break;
      r = apply(p.slot, p.pkt, p.rx->src, now_ceil, options_.data_claim_spins);
      if (!r.key_mismatch) break;
      p.slot = table::kNoSlot;
    }
    if (p.slot == table::kNoSlot) {
      // Unknown here: the shard's home core creates it (and replies).
      LaneMessage m;
      m.kind = LaneMessage::Kind::kCreate;
      m.type = p.pkt.h.type;
      m.status = p.pkt.status;
      m.flags = p.pkt.flags;
      m.user = p.pkt.h.user_id;
      m.device = p.pkt.h.device_id;
      m.seq = p.pkt.h.seq;
      m.token_expiry = p.pkt.h.token_expiry;
      m.epoch_seen = p.pkt.epoch_seen;
      m.src = p.rx->src;
      m.local = p.rx->local;
      m.l2_hint = p.rx->l2_hint;
      m.key = keys[k];
      if (shared_.lane(core_, shared_.home_core(p.uh.shard)).try_push(m)) {
        stats_.forwarded.add();
      } else {
        stats_.drop(wire::DropReason::kBackpressure);
      }
      continue;
    }
    if (r.drop != wire::DropReason::kNone) {
      stats_.drop(r.drop);
      continue;
    }
    queue_reply(replies, r.reply, p.pkt.h, keys[k], r.next_interval_s, p.rx->src, p.rx->local,
                p.rx->l2_hint, now_ceil - 1, r.refusal, p.rx->data);
  }

  // Stage E: sign.
  sign_queued_replies(replies);
}

void Engine::write_address(uint32_t slot_index, SlotState& st, const NetAddr& src) {
  SessionSlot& s = table_.slot(slot_index);
  if (src.family == 6) {
    table::V6Addr& v6 = table_.v6(slot_index);
    for (int w = 0; w < 4; ++w) {
      uint32_t word;
      std::memcpy(&word, src.ip.data() + 4 * w, 4);
      v6.w[w].store(word, std::memory_order_relaxed);
    }
    st.set(bits::kIpv6, true);
  } else {
    s.addr.store(src.v4_network_order(), std::memory_order_relaxed);
    st.set(bits::kIpv6, false);
  }
}

Engine::ApplyResult Engine::apply(uint32_t slot_index, const wire::ClientPacket& p,
                                  const NetAddr& src, uint32_t now_ms_ceil, int claim_spins) {
  ApplyResult r;
  SessionSlot& s = table_.slot(slot_index);
  uint32_t before = 0;
  if (!table::try_claim(s, before, claim_spins)) {
    r.drop = wire::DropReason::kContended;
    return r;
  }
  if (!s.has_key(p.h.user_id, p.h.device_id)) {
    table::release_unchanged(s, before);
    r.key_mismatch = true;
    return r;
  }
  // Rule 4: replay state belongs to one token.
  const uint32_t token = s.token_expiry.load(std::memory_order_relaxed);
  if (p.h.token_expiry < token) {
    table::release_unchanged(s, before);
    r.drop = wire::DropReason::kStaleToken;
    return r;
  }
  if (p.h.token_expiry == token && p.h.seq <= s.seq.load(std::memory_order_relaxed)) {
    table::release_unchanged(s, before);
    r.drop = wire::DropReason::kReplay;
    return r;
  }

  SlotState st{before};
  const bool heartbeat = p.h.type == wire::PacketType::kHeartbeat;
  if (heartbeat && !st.pub_online() && !st.live_online()) {
    // A session coming back from offline is an admission: refused while
    // draining or over the admission rate. Its replay state stays current.
    if (draining_) {
      r.refusal.kind = Refusal::Kind::kDrain;
    } else if (!admit(now_ms_ceil - 1, r.refusal.delay_ms)) {
      r.refusal.kind = Refusal::Kind::kOverload;
    }
    if (r.refusal.kind != Refusal::Kind::kNone) {
      s.seq.store(p.h.seq, std::memory_order_relaxed);
      s.token_expiry.store(p.h.token_expiry, std::memory_order_relaxed);
      table::release_modified(s, before, st.word);
      r.reply = ReplyKind::kReconnect;
      return r;
    }
  }
  // Does the home core have to publish something (or arm the wheel)?
  const bool note =
      heartbeat ? (!st.pub_online() || st.pub_status() != p.status || !st.armed() || st.linger())
                : st.pub_online() || st.live_online();
  SpscRing<LaneMessage>* lane = nullptr;
  if (note && !st.note_pending()) {
    lane = &shared_.lane(core_, shared_.home_core(table_.shard_of_slot(slot_index)));
    if (lane->free_space() == 0) {
      table::release_unchanged(s, before);
      r.drop = wire::DropReason::kBackpressure;
      return r;
    }
    st.set(bits::kNotePending, true);
  }
  st.set(bits::kLiveOnline, heartbeat);
  if (heartbeat) st.set_live_status(p.status);

  s.seq.store(p.h.seq, std::memory_order_relaxed);
  s.token_expiry.store(p.h.token_expiry, std::memory_order_relaxed);
  s.last_seen.store(now_ms_ceil, std::memory_order_relaxed);
  // Rule 5: the address follows authenticated packets only (this one is).
  write_address(slot_index, st, src);
  r.next_interval_s = static_cast<uint16_t>(heartbeat ? advised_interval_s_ : s.interval_s());
  if (r.next_interval_s == 0) r.next_interval_s = static_cast<uint16_t>(advised_interval_s_);
  s.set_port_interval(src.port, r.next_interval_s);
  r.reply = st.reconnect() ? ReplyKind::kReconnect : ReplyKind::kAck;
  st.set(bits::kReconnect, false);  // rule 7 is one-shot: the client moves
  table::release_modified(s, before, st.word);

  if (lane != nullptr) {
    LaneMessage m;
    m.kind = LaneMessage::Kind::kSlotChanged;
    m.slot = slot_index;
    lane->try_push(m);  // room was checked under the claim; one producer
    stats_.notes_sent.add();
  }
  if (heartbeat) {
    stats_.heartbeats_accepted.add();
  } else {
    stats_.byes_accepted.add();
  }
  return r;
}

void Engine::queue_reply(ReplyBatch& replies, ReplyKind kind, const wire::Header& h,
                         const auth::SessionKey& key, uint16_t next_interval_s, const NetAddr& src,
                         const NetAddr& local, uint64_t l2_hint, uint64_t now_ms, Refusal refusal,
                         const uint8_t* request) {
  if (kind == ReplyKind::kNone) return;
  if (replies.room() == 0) {
    stats_.drop(wire::DropReason::kBackpressure);
    return;
  }
  if (sign_count_ == kSignBatch) sign_queued_replies(replies);
  const uint32_t index = replies.size;
  TxDatagram& tx = replies.push();
  tx.dst = src;
  tx.local = local;
  tx.l2_hint = l2_hint;
  if (kind == ReplyKind::kAck) {
    if (request != nullptr) {
      // The ACK's header echoes the request's (rule 5): copy its 24 bytes
      // (validated by the parser) and change the type.
      std::memcpy(tx.bytes, request, wire::kHeaderSize);
      tx.bytes[wire::kOffType] = static_cast<uint8_t>(wire::PacketType::kAck);
      store_be<uint32_t>(tx.bytes + wire::kOffAckEpoch, shared_.epoch());
      store_be<uint16_t>(tx.bytes + wire::kOffAckNextInterval, next_interval_s);
      store_be<uint16_t>(tx.bytes + wire::kOffAckReserved, 0);
    } else {
      wire::AckPacket a;
      a.h = h;
      a.h.type = wire::PacketType::kAck;
      a.server_epoch = shared_.epoch();
      a.next_interval_s = next_interval_s;
      wire::build_ack(a, std::span<uint8_t, wire::kAckSize>(tx.bytes, wire::kAckSize));
    }
    tx.len = wire::kAckSize;
    sign_keys_[sign_count_] = key;
    sign_index_[sign_count_++] = index;
    stats_.acks_sent.add();
  } else {
    build_reconnect(
        tx, h, directive_for(h.user_id, h.device_id, now_ms, refusal),
        refusal.kind == Refusal::Kind::kOverload ? int64_t{refusal.delay_ms} : int64_t{-1});
    auth::sign_packet(key, tx.bytes, tx.len);  // rare: no batching
  }
}

ReconnectDirective Engine::directive_for(uint64_t user, uint32_t device, uint64_t now_ms,
                                         const Refusal& refusal) const {
  if (refusal.kind == Refusal::Kind::kDrain) return drain_directive_;
  if (refusal.kind == Refusal::Kind::kOverload) {
    ReconnectDirective d;  // same server, later
    d.reason = wire::ReconnectReason::kOverload;
    return d;
  }
  if (const ReconnectDirective* d = book_.find(user, device, now_ms)) return *d;
  if (draining_) return drain_directive_;
  return ReconnectDirective{};  // same server, at once, OPERATOR
}

void Engine::build_reconnect(TxDatagram& tx, const wire::Header& h, const ReconnectDirective& d,
                             int64_t delay_ms) {
  wire::ReconnectPacket rc;
  rc.h = h;
  rc.h.type = wire::PacketType::kReconnect;
  rc.server_epoch = shared_.epoch();
  if (delay_ms >= 0) {
    rc.delay_ms = static_cast<uint32_t>(delay_ms);
  } else {
    rc.delay_ms =
        d.spread_ms == 0 ? 0 : static_cast<uint32_t>(next_random() % (uint64_t{d.spread_ms} + 1));
  }
  rc.reason = d.reason;
  if (d.target.family == 4) {
    rc.family = wire::TargetFamily::kIpv4;
    for (int i = 0; i < 4; ++i)
      rc.address[static_cast<std::size_t>(i)] = d.target.ip[static_cast<std::size_t>(i)];
  } else if (d.target.family == 6) {
    rc.family = wire::TargetFamily::kIpv6;
    rc.address = d.target.ip;
  } else {
    rc.family = wire::TargetFamily::kSameServer;
  }
  rc.port = d.target.port;
  wire::build_reconnect(rc,
                        std::span<uint8_t, wire::kReconnectSize>(tx.bytes, wire::kReconnectSize));
  tx.len = wire::kReconnectSize;
  stats_.reconnects_sent.add();
}

uint64_t Engine::next_random() {
  // xorshift64*: the spread of reconnect delays, not a secret.
  rng_state_ ^= rng_state_ >> 12;
  rng_state_ ^= rng_state_ << 25;
  rng_state_ ^= rng_state_ >> 27;
  return rng_state_ * 0x2545f4914f6cdd1dULL;
}

void Engine::sign_queued_replies(ReplyBatch& replies) {
  if (sign_count_ == 0) return;
  const uint8_t* msgs[kSignBatch];
  uint64_t macs[kSignBatch];
  for (uint32_t k = 0; k < sign_count_; ++k) msgs[k] = replies.data[sign_index_[k]].bytes;
  auth::siphash64_batch(sign_keys_.get(), msgs, wire::kAckSize - wire::kMacSize, sign_count_, macs);
  for (uint32_t k = 0; k < sign_count_; ++k) {
    store_le64(replies.data[sign_index_[k]].bytes + wire::kOffAckMac, macs[k]);
  }
  sign_count_ = 0;
}

}  // namespace presenced::engine
