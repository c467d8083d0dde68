// engine_home.cc: the home work of a data core (see engine.h): lane
// messages, session creation, publishing user presence, the timing wheel
// and the linger queue.
#include <algorithm>
#include <climits>
#include <cstring>

#include "dataplane/engine/engine.h"
#include "dataplane/table/user_presence.h"

namespace presenced::engine {

using table::SessionSlot;
using table::SlotState;
using table::UserPresence;
using table::UserPresenceFold;
namespace bits = table::slot_bits;

namespace {

// Lane messages handled per lane and call, so one busy lane cannot starve
// the wheel or the others.
constexpr int kLaneQuota = 4 * static_cast<int>(kMaxBurst);

}  // namespace

void Engine::claim_home(SessionSlot& s, uint32_t& word_before) {
  // Data cores hold a claim for nanoseconds and never wait while holding
  // one; the home core may wait (only a preempted data core makes it long).
  while (!table::try_claim(s, word_before, 1 << 16)) {
  }
}

void Engine::home_work(const Clock& now, ReplyBatch& replies, EventBatch& events) {
  const uint64_t now_ms = this->now_ms(now);
  if (now_ms >= last_tick_ms_ + config_.tick_ms) {
    last_tick_ms_ = now_ms;
    refresh_advised_interval();
  }

  // Lane messages, from every core (this one included).
  for (uint32_t from = 0; from < shared_.cores(); ++from) {
    SpscRing<LaneMessage>& lane = shared_.lane(from, core_);
    for (int n = 0; n < kLaneQuota; ++n) {
      if (events.room() == 0 || replies.room() == 0) {
        if (lane.size_approx() != 0) stats_.events_deferred.add();
        break;
      }
      LaneMessage m;
      if (!lane.try_pop(m)) break;
      stats_.lane_messages.add();
      handle_lane_message(m, now, replies, events);
    }
  }
  sign_queued_replies(replies);

  // The wheel. A config change that may shorten timeouts first revisits
  // every entry with the new timeouts.
  auto visitor = [&](uint32_t slot, uint64_t at_ms) -> uint64_t {
    return wheel_visit(slot, at_ms, now, events);
  };
  if (revisit_wheel_) {
    revisit_wheel_ = false;
    wheel_.revisit_all(now_ms, visitor);
  }
  wheel_.advance(now_ms, visitor);
  stats_.wheel_entries.set(wheel_.size());

  drain_linger(now, events);

  if (mark_scan_.active) run_mark_scan();
  if (drain_scan_.active) {
    run_drain_scan(now_ms, replies);
    sign_queued_replies(replies);
  }
}

bool Engine::handle_lane_message(const LaneMessage& m, const Clock& now, ReplyBatch& replies,
                                 EventBatch& events) {
  if (m.kind == LaneMessage::Kind::kCreate) {
    create_session(m, now, replies, events);
    return true;
  }
  SessionSlot& s = table_.slot(m.slot);
  uint32_t before = 0;
  claim_home(s, before);
  reconcile_claimed(m.slot, before, SlotState{before}, now, events);
  return true;
}

void Engine::create_session(const LaneMessage& m, const Clock& now, ReplyBatch& replies,
                            EventBatch& events) {
  wire::ClientPacket p;
  p.h = {m.type, m.user, m.device, m.seq, m.token_expiry};
  p.status = m.status;
  p.flags = m.flags;
  p.epoch_seen = m.epoch_seen;
  const uint64_t now_ms = this->now_ms(now);
  const uint32_t now_ceil = static_cast<uint32_t>(now_ms + 1);

  const table::UserHash uh = table_.hash_user(m.user);
  const uint32_t existing = table_.find(uh, m.user, m.device);
  if (existing != table::kNoSlot) {
    // Created meanwhile (an earlier packet of the same burst, or another
    // core's): an ordinary update.
    const ApplyResult r = apply(existing, p, m.src, now_ceil, INT_MAX);
    if (r.drop != wire::DropReason::kNone) {
      stats_.drop(r.drop);
      return;
    }
    queue_reply(replies, r.reply, p.h, m.key, r.next_interval_s, m.src, m.local, m.l2_hint, now_ms,
                r.refusal);
    return;
  }
  if (m.type == wire::PacketType::kBye) {
    // Authenticated goodbye from a session we do not hold (e.g. after a
    // restart): nothing to take offline; acknowledge so the client stops.
    stats_.byes_accepted.add();
    queue_reply(replies, ReplyKind::kAck, p.h, m.key, static_cast<uint16_t>(advised_interval_s_),
                m.src, m.local, m.l2_hint, now_ms);
    return;
  }
  Refusal refusal;
  if (draining_) {
    refusal.kind = Refusal::Kind::kDrain;  // sent where the drain points
  } else if (!admit(now_ms, refusal.delay_ms)) {
    refusal.kind = Refusal::Kind::kOverload;  // come back at its admission slot
  }
  if (refusal.kind != Refusal::Kind::kNone) {
    queue_reply(replies, ReplyKind::kReconnect, p.h, m.key, 0, m.src, m.local, m.l2_hint, now_ms,
                refusal);
    return;
  }
  // Back after a server restart (it saw another epoch) within the grace
  // window: its user was published online by the previous process.
  const bool resumed = m.epoch_seen != 0 && m.epoch_seen != shared_.epoch() &&
                       now_ms < start_ms_ + config_.restart_grace_ms;

  uint32_t before = 0;
  table::PresenceTable::InsertOutcome outcome;
  const uint32_t idx = table_.insert_claimed(uh, m.user, m.device, before, outcome);
  if (idx == table::kNoSlot) {
    stats_.drop(wire::DropReason::kTableFull);
    return;
  }
  SessionSlot& s = table_.slot(idx);
  s.seq.store(m.seq, std::memory_order_relaxed);
  s.token_expiry.store(m.token_expiry, std::memory_order_relaxed);
  s.last_seen.store(now_ceil, std::memory_order_relaxed);
  // A reused tombstone starts from a clean state (only the counter stays).
  SlotState st{before & ~bits::kStateMask};
  write_address(idx, st, m.src);
  const uint16_t interval = static_cast<uint16_t>(advised_interval_s_);
  s.set_port_interval(m.src.port, interval);
  st.set(bits::kLiveOnline, true);
  st.set_live_status(m.status);
  stats_.sessions_created.add();
  stats_.heartbeats_accepted.add();
  reconcile_claimed(idx, before, st, now, events, resumed);
  queue_reply(replies, ReplyKind::kAck, p.h, m.key, interval, m.src, m.local, m.l2_hint, now_ms);
}

void Engine::arm(uint32_t slot_index, SlotState& st, uint64_t now_ms) {
  const SessionSlot& s = table_.slot(slot_index);
  const uint64_t deadline =
      deadline_of(s.last_seen.load(std::memory_order_relaxed), s.interval_s(), now_ms);
  // Never later than the shortest timeout from now: a heartbeat that
  // shortens this session's timeout is caught without a second entry.
  if (wheel_.schedule(slot_index, std::min(deadline, now_ms + min_timeout_ms()))) {
    st.set(bits::kArmed, true);
  }
}

void Engine::reconcile_claimed(uint32_t idx, uint32_t word_before, SlotState st, const Clock& now,
                               EventBatch& events, bool resumed) {
  SessionSlot& s = table_.slot(idx);
  const uint64_t now_ms = this->now_ms(now);
  st.set(bits::kNotePending, false);
  const bool live_on = st.live_online();
  const wire::Status live_status = st.live_status();
  const bool pub_changed =
      st.pub_online() != live_on || (live_on && st.pub_status() != live_status);
  if (!pub_changed) {
    if (live_on && !st.armed()) arm(idx, st, now_ms);
    table::release_modified(s, word_before, st.word);
    return;
  }

  const uint64_t user = s.user();
  const table::UserHash uh = table_.hash_user(user);
  table::ShardCounters& counters = table_.shard(uh.shard).counters;

  // What events have published for the user so far (lingering counts).
  UserPresenceFold before_fold;
  bool lingering = false;
  const SlotState old = st;
  table_.for_each_user_slot(uh, user, [&](uint32_t j, SessionSlot& other) {
    const SlotState w = j == idx ? old : SlotState{other.word.load(std::memory_order_relaxed)};
    if (w.pub_online() || w.linger()) before_fold.add(true, w.pub_status());
    lingering = lingering || w.linger();
  });
  const UserPresence before = before_fold.result();

  // Publish this session.
  if (st.pub_online() != live_on) {
    if (live_on) {
      counters.sessions_online.add();
    } else {
      counters.sessions_online.sub();
    }
  }
  st.set(bits::kPubOnline, live_on);
  if (live_on) st.set_pub_status(live_status);
  if (live_on && !st.armed()) arm(idx, st, now_ms);

  // What the user really is now (lingering does not count).
  UserPresenceFold after_fold;
  table_.for_each_user_slot(uh, user, [&](uint32_t j, SessionSlot& other) {
    const SlotState w = j == idx ? st : SlotState{other.word.load(std::memory_order_relaxed)};
    after_fold.add(w.pub_online(), w.pub_status());
  });
  const UserPresence after = after_fold.result();

  const uint32_t last_seen32 = s.last_seen.load(std::memory_order_relaxed);
  if (after.online) {
    if (lingering) {
      st.set(bits::kLinger, false);
      table_.for_each_user_slot(uh, user, [&](uint32_t j, SessionSlot& other) {
        if (j == idx || !SlotState{other.word.load(std::memory_order_relaxed)}.linger()) return;
        uint32_t ob = 0;
        claim_home(other, ob);
        SlotState os{ob};
        os.set(bits::kLinger, false);
        table::release_modified(other, ob, os.word);
      });
      stats_.linger_cancelled.add();
    }
    if (!before.online) {
      counters.users_online.add();
      if (resumed) {
        stats_.sessions_resumed.add();  // published by the previous process
      } else {
        emit(events, EventType::kOnline, user, after.status, user_last_seen(uh, user, last_seen32),
             now);
      }
    } else if (before.status != after.status) {
      emit(events, EventType::kStatus, user, after.status, user_last_seen(uh, user, last_seen32),
           now);
    }
  } else if (before.online && !lingering) {
    const bool queue_full = linger_size_ == linger_.size();
    if (config_.linger_ms == 0 || queue_full) {
      if (queue_full && config_.linger_ms != 0) stats_.linger_overflow.add();
      counters.users_online.sub();
      emit(events, EventType::kOffline, user, before.status, user_last_seen(uh, user, last_seen32),
           now);
    } else {
      // The user stays published (with its status) on this slot until the
      // linger entry comes due.
      st.set(bits::kLinger, true);
      st.set_pub_status(before.status);
      LingerEntry& e = linger_[(linger_head_ + linger_size_) % linger_.size()];
      ++linger_size_;
      e.slot = idx;
      e.deadline_ms = static_cast<uint32_t>(now_ms + config_.linger_ms);
      e.last_seen_ms = last_seen32;
      stats_.linger_started.add();
    }
  }
  table::release_modified(s, word_before, st.word);
}

uint64_t Engine::wheel_visit(uint32_t idx, uint64_t now_ms, const Clock& now, EventBatch& events) {
  stats_.wheel_visits.add();
  SessionSlot& s = table_.slot(idx);
  SlotState st{s.word.load(std::memory_order_relaxed)};
  if (st.live_online()) {
    bool defer = false;
    const uint64_t d = effective_deadline(s, now_ms, defer);
    if (d > now_ms) return std::min(d, now_ms + min_timeout_ms());
    if (events.room() == 0) {  // the offline event would not fit: next ms
      stats_.events_deferred.add();
      return now_ms + 1;
    }
  }
  uint32_t before = 0;
  claim_home(s, before);
  st = SlotState{before};
  if (st.live_online()) {
    bool defer = false;
    const uint64_t d = effective_deadline(s, now_ms, defer);
    if (d > now_ms) {  // a heartbeat raced us, or stalled time is being accounted
      table::release_unchanged(s, before);
      return std::min(d, now_ms + min_timeout_ms());
    }
    // Timed out: declare the session offline.
    st.set(bits::kLiveOnline, false);
    st.set(bits::kArmed, false);
    stats_.wheel_expired.add();
    reconcile_claimed(idx, before, st, now, events);
    return wheel::TimingWheel::kDone;
  }
  // Offline already (BYE): the entry is no longer needed. A pending note
  // re-arms the session if it comes back.
  st.set(bits::kArmed, false);
  table::release_modified(s, before, st.word);
  return wheel::TimingWheel::kDone;
}

void Engine::drain_linger(const Clock& now, EventBatch& events) {
  const uint32_t now32 = static_cast<uint32_t>(now_ms(now));
  while (linger_size_ > 0) {
    const LingerEntry e = linger_[linger_head_];
    if (static_cast<int32_t>(e.deadline_ms - now32) > 0) break;
    if (events.room() == 0) {
      stats_.events_deferred.add();
      break;
    }
    linger_head_ = (linger_head_ + 1) % linger_.size();
    --linger_size_;

    SessionSlot& s = table_.slot(e.slot);
    uint32_t before = 0;
    claim_home(s, before);
    SlotState st{before};
    const uint32_t last_seen32 = s.last_seen.load(std::memory_order_relaxed);
    if (!st.linger() || last_seen32 != e.last_seen_ms) {  // the user came back
      table::release_unchanged(s, before);
      continue;
    }
    st.set(bits::kLinger, false);
    const uint64_t user = s.user();
    const table::UserHash uh = table_.hash_user(user);
    UserPresenceFold fold;
    table_.for_each_user_slot(uh, user, [&](uint32_t j, SessionSlot& other) {
      const SlotState w = j == e.slot ? st : SlotState{other.word.load(std::memory_order_relaxed)};
      fold.add(w.pub_online(), w.pub_status());
    });
    if (!fold.result().online) {
      table_.shard(uh.shard).counters.users_online.sub();
      emit(events, EventType::kOffline, user, st.pub_status(),
           user_last_seen(uh, user, last_seen32), now);
    }
    table::release_modified(s, before, st.word);
  }
}

bool Engine::add_reconnect_directive(ReconnectScope scope, uint64_t user, uint32_t device,
                                     const ReconnectDirective& d, const Clock& now) {
  // Long enough for every marked session to heartbeat once more (the
  // longest timeout) and for the spread to play out.
  const uint64_t ttl = d.spread_ms + timeout_ms(config_, config_.max_interval_s) + 60'000;
  if (book_.put(scope, user, device, d, now_ms(now), ttl)) return true;
  stats_.reconnect_directive_overflow.add();
  return false;
}

uint64_t Engine::mark_reconnect(ReconnectScope scope, uint64_t user, uint32_t device) {
  if (scope == ReconnectScope::kAll) {
    if (!home_shards_.empty()) mark_scan_ = SlotScan{.active = true};
    return 0;
  }
  const table::UserHash uh = table_.hash_user(user);
  if (shared_.home_core(uh.shard) != core_) return 0;
  uint64_t marked = 0;
  table_.for_each_user_slot(uh, user, [&](uint32_t, SessionSlot& s) {
    if (scope == ReconnectScope::kDevice && s.device.load(std::memory_order_relaxed) != device) {
      return;
    }
    uint32_t before = 0;
    claim_home(s, before);
    SlotState st{before};
    st.set(bits::kReconnect, true);
    table::release_modified(s, before, st.word);
    ++marked;
  });
  stats_.reconnects_marked.add(marked);
  return marked;
}

void Engine::start_drain(const ReconnectDirective& d, uint32_t rate_per_s, const Clock& now) {
  draining_ = true;
  drain_directive_ = d;
  drain_rate_ = rate_per_s;
  if (!home_shards_.empty()) drain_scan_ = SlotScan{.active = true, .last_ms = now_ms(now)};
}

void Engine::run_mark_scan() {
  // A bounded number of slots per iteration keeps the core responsive.
  constexpr uint32_t kSlotsPerCall = 1 << 16;
  uint32_t visited = 0;
  while (mark_scan_.active && visited < kSlotsPerCall) {
    table::Shard& sh = table_.shard(home_shards_[mark_scan_.shard]);
    for (; mark_scan_.slot < sh.slot_count && visited < kSlotsPerCall; ++mark_scan_.slot) {
      ++visited;
      if ((sh.tags[mark_scan_.slot].load(std::memory_order_relaxed) & 0x80) == 0) continue;
      SessionSlot& s = sh.slots[mark_scan_.slot];
      const SlotState seen{s.word.load(std::memory_order_relaxed)};
      if (!seen.pub_online() && !seen.live_online()) continue;
      uint32_t before = 0;
      claim_home(s, before);
      SlotState st{before};
      st.set(bits::kReconnect, true);
      table::release_modified(s, before, st.word);
      stats_.reconnects_marked.add();
    }
    if (mark_scan_.slot >= sh.slot_count) {
      mark_scan_.slot = 0;
      if (++mark_scan_.shard == home_shards_.size()) mark_scan_.active = false;
    }
  }
}

NetAddr Engine::slot_address(uint32_t slot_index, const SlotState& st) const {
  const SessionSlot& s = table_.slot(slot_index);
  NetAddr a;
  a.port = s.port();
  if (st.ipv6()) {
    a.family = 6;
    const table::V6Addr& v6 = const_cast<table::PresenceTable&>(table_).v6(slot_index);
    for (int w = 0; w < 4; ++w) {
      const uint32_t word = v6.w[w].load(std::memory_order_relaxed);
      std::memcpy(a.ip.data() + 4 * w, &word, 4);
    }
  } else {
    a.family = 4;
    const uint32_t v4 = s.addr.load(std::memory_order_relaxed);
    std::memcpy(a.ip.data(), &v4, 4);
  }
  return a;
}

void Engine::run_drain_scan(uint64_t now_ms, ReplyBatch& replies) {
  // Pace: rate per second, accumulated per elapsed ms, at most one second's
  // worth banked (a stalled core does not burst).
  if (drain_rate_ == 0) {  // unpaced
    drain_scan_.budget = 1e18;
  } else {
    const double rate = drain_rate_;
    drain_scan_.budget += rate * static_cast<double>(now_ms - drain_scan_.last_ms) / 1000.0;
    if (drain_scan_.budget > rate) drain_scan_.budget = rate;
  }
  drain_scan_.last_ms = now_ms;
  constexpr uint32_t kSlotsPerCall = 1 << 16;
  uint32_t visited = 0;
  while (drain_scan_.active && drain_scan_.budget >= 1 && replies.room() > 0 &&
         visited < kSlotsPerCall) {
    table::Shard& sh = table_.shard(home_shards_[drain_scan_.shard]);
    for (; drain_scan_.slot < sh.slot_count && drain_scan_.budget >= 1 && replies.room() > 0 &&
           visited < kSlotsPerCall;
         ++drain_scan_.slot) {
      ++visited;
      if ((sh.tags[drain_scan_.slot].load(std::memory_order_relaxed) & 0x80) == 0) continue;
      SessionSlot& s = sh.slots[drain_scan_.slot];
      if (!SlotState{s.word.load(std::memory_order_relaxed)}.pub_online()) continue;
      const uint32_t idx = sh.base + drain_scan_.slot;
      uint32_t before = 0;
      claim_home(s, before);
      SlotState st{before};
      if (!st.pub_online()) {
        table::release_unchanged(s, before);
        continue;
      }
      // Also marked: if the push is lost, the next heartbeat is answered
      // with the same RECONNECT.
      st.set(bits::kReconnect, true);
      const wire::Header h{
          wire::PacketType::kReconnect, s.user(), s.device.load(std::memory_order_relaxed),
          s.seq.load(std::memory_order_relaxed), s.token_expiry.load(std::memory_order_relaxed)};
      const NetAddr dst = slot_address(idx, st);
      table::release_modified(s, before, st.word);

      TxDatagram& tx = replies.push();
      tx.dst = dst;
      tx.local = NetAddr{};
      tx.l2_hint = 0;
      build_reconnect(tx, h, drain_directive_);
      const auth::SessionKey key =
          auth::derive_session_key(shared_.master_key(), h.user_id, h.device_id, h.token_expiry);
      auth::sign_packet(key, tx.bytes, tx.len);
      drain_scan_.budget -= 1;
      stats_.drain_pushed.add();
    }
    if (drain_scan_.slot >= sh.slot_count) {
      drain_scan_.slot = 0;
      if (++drain_scan_.shard == home_shards_.size()) drain_scan_.active = false;
    }
  }
}

uint32_t Engine::user_last_seen(const table::UserHash& u, uint64_t user, uint32_t fallback) {
  uint32_t latest = fallback;
  table_.for_each_user_slot(u, user, [&](uint32_t, SessionSlot& s) {
    const uint32_t v = s.last_seen.load(std::memory_order_relaxed);
    if (static_cast<int32_t>(v - latest) > 0) latest = v;
  });
  return latest;
}

void Engine::emit(EventBatch& events, EventType type, uint64_t user, wire::Status status,
                  uint32_t last_seen_ms32, const Clock& now) {
  const uint64_t now_ms = this->now_ms(now);
  const int32_t age = static_cast<int32_t>(static_cast<uint32_t>(now_ms) - last_seen_ms32);
  PresenceEvent& ev = events.push();  // callers checked room()
  ev.user = user;
  ev.seq = ++event_seq_;
  ev.last_seen_wall_ms = now.wall_ms - age;
  ev.at_mono_ms = now_ms;
  ev.type = type;
  ev.status = status;
  ev.core = static_cast<uint16_t>(core_);
  switch (type) {
    case EventType::kOnline:
      stats_.events_online.add();
      break;
    case EventType::kStatus:
      stats_.events_status.add();
      break;
    case EventType::kOffline:
      stats_.events_offline.add();
      break;
  }
}

}  // namespace presenced::engine
