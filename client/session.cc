#include "client/session.h"

#include <algorithm>
#include <cassert>

#include "dataplane/wire/codec.h"

namespace presenced::client {

std::string_view validate(const Policy& p) {
  if (p.default_interval_ms == 0) return "default_interval_ms must be > 0";
  if (p.ack_timeout_ms == 0) return "ack_timeout_ms must be > 0";
  if (p.backoff_base_ms == 0) return "backoff_base_ms must be > 0";
  if (p.backoff_cap_ms < p.backoff_base_ms) return "backoff_cap_ms must be >= backoff_base_ms";
  if (p.redirect_jitter_percent > 100) return "redirect_jitter_percent must be <= 100";
  if (p.adaptive) {
    if (p.adaptive_start_ms == 0) return "adaptive_start_ms must be > 0";
    if (p.adaptive_step_ms == 0) return "adaptive_step_ms must be > 0";
    if (p.adaptive_min_ms == 0) return "adaptive_min_ms must be > 0";
    if (p.adaptive_min_ms > p.adaptive_start_ms)
      return "adaptive_min_ms must be <= adaptive_start_ms";
  }
  return {};
}

std::string_view state_name(State s) {
  switch (s) {
    case State::kNew:
      return "new";
    case State::kWaitingAck:
      return "waiting_ack";
    case State::kOnline:
      return "online";
    case State::kBackoff:
      return "backoff";
    case State::kRedirectWait:
      return "redirect_wait";
    case State::kClosing:
      return "closing";
    case State::kClosed:
      return "closed";
    case State::kTokenExpired:
      return "token_expired";
  }
  return "invalid";
}

std::string_view action_name(Action a) {
  switch (a) {
    case Action::kNone:
      return "none";
    case Action::kHeartbeat:
      return "heartbeat";
    case Action::kResend:
      return "resend";
    case Action::kDead:
      return "dead";
    case Action::kReconnectAttempt:
      return "reconnect_attempt";
    case Action::kRedirectResume:
      return "redirect_resume";
    case Action::kBye:
      return "bye";
    case Action::kByeResend:
      return "bye_resend";
    case Action::kClosed:
      return "closed";
    case Action::kTokenExpired:
      return "token_expired";
  }
  return "invalid";
}

std::string_view packet_result_name(PacketResult r) {
  switch (r) {
    case PacketResult::kAccepted:
      return "accepted";
    case PacketResult::kByeAcked:
      return "bye_acked";
    case PacketResult::kReconnect:
      return "reconnect";
    case PacketResult::kMalformed:
      return "malformed";
    case PacketResult::kWrongSession:
      return "wrong_session";
    case PacketResult::kWrongToken:
      return "wrong_token";
    case PacketResult::kBadMac:
      return "bad_mac";
    case PacketResult::kUnknownSeq:
      return "unknown_seq";
    case PacketResult::kStale:
      return "stale";
    case PacketResult::kInactive:
      return "inactive";
    case PacketResult::kCount:
      break;
  }
  return "invalid";
}

namespace {

// The interval_s field: whole seconds, rounded up so that the client never
// heartbeats less often than it announces; 1..65535.
uint16_t interval_field(uint32_t interval_ms) {
  const uint32_t s = interval_ms / 1000 + (interval_ms % 1000 != 0 ? 1 : 0);
  return static_cast<uint16_t>(std::clamp<uint32_t>(s, 1, 65535));
}

}  // namespace

Session::Session(const SessionCredentials& c, wire::Status initial_status)
    : key_(c.key),
      user_id_(c.user_id),
      device_id_(c.device_id),
      token_expiry_(c.token_expiry),
      status_(initial_status) {
  assert(c.user_id != 0 && "PROTOCOL.md: user_id is never 0");
}

bool Session::running() const {
  return state_ == State::kWaitingAck || state_ == State::kOnline || state_ == State::kBackoff ||
         state_ == State::kRedirectWait;
}

bool Session::token_valid(Now now, const Policy& p) const {
  // The last usable seq is 2^32 - 2, so that floor_seq_ (seq + 1) never wraps.
  return uint64_t{now.unix_s} + p.token_margin_s <= token_expiry_ && seq_ < UINT32_MAX - 1;
}

void Session::expire(Output& out) {
  state_ = State::kTokenExpired;
  next_wake_ms_ = kNever;
  flags_ = static_cast<uint8_t>(flags_ & ~(kMeasured | kReconnecting));
  out.action = Action::kTokenExpired;
}

void Session::emit(wire::PacketType type, uint8_t flags, Now now, Output& out) {
  ++seq_;
  wire::ClientPacket p;
  p.h = wire::Header{type, user_id_, device_id_, seq_, token_expiry_};
  p.status = status_;
  p.flags = flags;
  p.interval_s = interval_field(interval_ms_);
  p.epoch_seen = epoch_;
  wire::build_client_packet(p, out.packet);
  auth::sign_packet(key_, out.packet.data(), out.packet.size());
  out.send = true;
  out.first = (flags & wire::kFlagFirst) != 0;
  out.seq = seq_;
  last_send_ms_ = now.mono_ms;
}

void Session::send_heartbeat(Now now, Output& out) {
  emit(wire::PacketType::kHeartbeat, (flags_ & kNeedFirst) ? wire::kFlagFirst : 0, now, out);
  if (flags_ & kSwitchPending) {
    out.switch_target = true;
    flags_ = static_cast<uint8_t>(flags_ & ~kSwitchPending);
  }
}

void Session::send_bye(Now now, Output& out) {
  // BYE goes to the server the session talks to now, even during a redirect
  // wait (the old server still holds the session), so no switch_target.
  emit(wire::PacketType::kBye, 0, now, out);
}

bool Session::begin_round(RoundKind kind, Now now, const Env& env, Output& out) {
  if (!token_valid(now, env.policy)) {
    expire(out);
    return false;
  }
  flags_ = static_cast<uint8_t>(flags_ & ~(kMeasured | kReconnecting));
  if (kind == RoundKind::kTimer) flags_ |= kMeasured;
  if (kind == RoundKind::kReconnect) flags_ |= kReconnecting;
  attempt_ = 0;
  round_seq_ = seq_ + 1;
  send_heartbeat(now, out);
  state_ = State::kWaitingAck;
  next_wake_ms_ = now.mono_ms + env.policy.ack_timeout_ms;
  return true;
}

uint32_t Session::choose_interval(const Env& env, bool may_probe) const {
  const Policy& p = env.policy;
  const uint32_t max_ms = advised_s_ != 0 ? uint32_t{advised_s_} * 1000 : p.default_interval_ms;
  if (!p.adaptive || env.adaptive == nullptr) return max_ms;
  return env.adaptive->next_interval(network_id_, max_ms, may_probe, p);
}

void Session::declare_dead(Now now, const Env& env, Output& out) {
  const Policy& p = env.policy;
  if ((flags_ & kMeasured) && p.adaptive && env.adaptive != nullptr) {
    env.adaptive->record(network_id_, interval_ms_, /*survived=*/false, p);
  }
  flags_ = static_cast<uint8_t>((flags_ & ~(kMeasured | kReconnecting)) | kNeedFirst);
  interval_ms_ = choose_interval(env, /*may_probe=*/false);
  // Full jitter: uniform[0, min(cap, base * 2^n)). base < 2^32, so for
  // n >= 32 the product exceeds any cap.
  const uint64_t scaled =
      backoff_attempt_ >= 32 ? UINT64_MAX : uint64_t{p.backoff_base_ms} << backoff_attempt_;
  const auto bound = static_cast<uint32_t>(std::min<uint64_t>(p.backoff_cap_ms, scaled));
  const uint32_t wait = env.rng.below(bound);
  if (backoff_attempt_ < UINT8_MAX) ++backoff_attempt_;
  state_ = State::kBackoff;
  next_wake_ms_ = now.mono_ms + wait;
  out.action = Action::kDead;
}

Output Session::start(Now now, const Env& env) {
  Output out;
  if (state_ != State::kNew && state_ != State::kClosed) return out;
  flags_ |= kNeedFirst;
  backoff_attempt_ = 0;
  interval_ms_ = choose_interval(env, /*may_probe=*/false);
  if (begin_round(RoundKind::kFresh, now, env, out)) out.action = Action::kHeartbeat;
  return out;
}

Output Session::on_wake(Now now, const Env& env) {
  Output out;
  if (now.mono_ms < next_wake_ms_) return out;
  const Policy& p = env.policy;
  switch (state_) {
    case State::kOnline:
      if (begin_round(RoundKind::kTimer, now, env, out)) out.action = Action::kHeartbeat;
      break;
    case State::kWaitingAck:
      if ((flags_ & kReconnecting) == 0 && attempt_ < p.retries) {
        if (!token_valid(now, p)) {
          expire(out);
          break;
        }
        ++attempt_;
        send_heartbeat(now, out);
        next_wake_ms_ = now.mono_ms + p.ack_timeout_ms;
        out.action = Action::kResend;
      } else {
        declare_dead(now, env, out);
      }
      break;
    case State::kBackoff:
      if (begin_round(RoundKind::kReconnect, now, env, out)) out.action = Action::kReconnectAttempt;
      break;
    case State::kRedirectWait:
      if (begin_round(RoundKind::kFresh, now, env, out)) out.action = Action::kRedirectResume;
      break;
    case State::kClosing:
      if (attempt_ < p.retries && token_valid(now, p)) {
        ++attempt_;
        send_bye(now, out);
        next_wake_ms_ = now.mono_ms + p.ack_timeout_ms;
        out.action = Action::kByeResend;
      } else {
        state_ = State::kClosed;
        next_wake_ms_ = kNever;
        out.action = Action::kClosed;
      }
      break;
    case State::kNew:
    case State::kClosed:
    case State::kTokenExpired:
      break;
  }
  return out;
}

PacketResult Session::accept_ack(uint32_t ack_seq, uint32_t server_epoch, uint16_t next_interval_s,
                                 Now now, const Env& env, PacketInfo& info) {
  const Policy& p = env.policy;
  const bool survived = attempt_ == 0;  // no resend was needed
  const bool measured = (flags_ & kMeasured) != 0;
  const bool was_first = (flags_ & kNeedFirst) != 0;

  info.attempts = static_cast<uint8_t>(std::min<int>(attempt_ + 1, UINT8_MAX));
  if (ack_seq == seq_) {
    info.rtt_ms =
        static_cast<uint32_t>(std::min<uint64_t>(now.mono_ms - last_send_ms_, kNoRtt - 1));
  }
  info.epoch_changed = epoch_ != 0 && server_epoch != epoch_;

  flags_ = static_cast<uint8_t>(flags_ & ~(kNeedFirst | kMeasured | kReconnecting));
  // The server lost its state: tell it on the next heartbeat, unless the
  // heartbeat it just answered already said FIRST.
  if (info.epoch_changed && !was_first) flags_ |= kNeedFirst;
  epoch_ = server_epoch;
  advised_s_ = std::max<uint16_t>(next_interval_s, 1);

  if (measured && p.adaptive && env.adaptive != nullptr) {
    env.adaptive->record(network_id_, interval_ms_, survived, p);
  }
  interval_ms_ = choose_interval(env, /*may_probe=*/measured && survived);

  floor_seq_ = std::max(floor_seq_, ack_seq);
  backoff_attempt_ = 0;
  attempt_ = 0;
  state_ = State::kOnline;
  next_wake_ms_ = now.mono_ms + interval_ms_;
  return PacketResult::kAccepted;
}

PacketResult Session::on_packet(std::span<const uint8_t> d, Now now, const Env& env,
                                PacketInfo* info_out) {
  PacketInfo local;
  PacketInfo& info = info_out != nullptr ? *info_out : local;
  info = PacketInfo{};

  wire::PacketType type;
  info.parse_error = wire::peek_server_packet(d, type);
  if (info.parse_error != wire::DropReason::kNone) return PacketResult::kMalformed;
  info.type = type;

  wire::Header h;
  wire::AckPacket ack;
  wire::ReconnectPacket rc;
  if (type == wire::PacketType::kAck) {
    info.parse_error = wire::parse_ack(d, ack);
    h = ack.h;
    info.server_epoch = ack.server_epoch;
    info.next_interval_s = ack.next_interval_s;
  } else {
    info.parse_error = wire::parse_reconnect(d, rc);
    h = rc.h;
    info.server_epoch = rc.server_epoch;
    info.reason = rc.reason;
    info.delay_ms = rc.delay_ms;
    info.target.family = rc.family;
    info.target.port = rc.port;
    info.target.address = rc.address;
  }
  if (info.parse_error != wire::DropReason::kNone) return PacketResult::kMalformed;
  info.seq = h.seq;

  if (h.user_id != user_id_ || h.device_id != device_id_) return PacketResult::kWrongSession;
  if (h.token_expiry != token_expiry_) return PacketResult::kWrongToken;
  if (!auth::verify_packet(key_, d.data(), d.size())) return PacketResult::kBadMac;
  if (h.seq == 0 || h.seq > seq_) return PacketResult::kUnknownSeq;

  const bool in_round = h.seq >= round_seq_;
  if (type == wire::PacketType::kAck) {
    switch (state_) {
      case State::kWaitingAck:
        if (!in_round) return PacketResult::kStale;
        return accept_ack(h.seq, ack.server_epoch, ack.next_interval_s, now, env, info);
      case State::kClosing:
        if (!in_round) return PacketResult::kStale;
        state_ = State::kClosed;
        next_wake_ms_ = kNever;
        return PacketResult::kByeAcked;
      default:
        return PacketResult::kStale;
    }
  }

  // RECONNECT.
  switch (state_) {
    case State::kWaitingAck:
    case State::kOnline:
    case State::kBackoff:
    case State::kRedirectWait:
      break;
    case State::kClosing:
      // The server answered our BYE, with RECONNECT instead of ACK.
      if (!in_round) return PacketResult::kInactive;
      state_ = State::kClosed;
      next_wake_ms_ = kNever;
      return PacketResult::kByeAcked;
    case State::kNew:
    case State::kClosed:
    case State::kTokenExpired:
      return PacketResult::kInactive;
  }
  if (h.seq < floor_seq_) return PacketResult::kStale;

  const Policy& p = env.policy;
  const uint64_t proportional = uint64_t{rc.delay_ms} * p.redirect_jitter_percent / 100;
  const auto jitter_bound =
      static_cast<uint32_t>(std::min<uint64_t>(proportional, p.redirect_jitter_max_ms));
  const uint32_t jitter =
      jitter_bound == UINT32_MAX ? env.rng.below(jitter_bound) : env.rng.below(jitter_bound + 1);

  // A redirect interrupts the round: it is neither a survived nor a failed
  // measurement.
  flags_ = static_cast<uint8_t>((flags_ & ~(kMeasured | kReconnecting)) | kNeedFirst);
  if (rc.family != wire::TargetFamily::kSameServer) flags_ |= kSwitchPending;
  floor_seq_ = h.seq + 1;  // h.seq <= seq_ <= 2^32 - 2 (token_valid)
  attempt_ = 0;
  backoff_attempt_ = 0;
  state_ = State::kRedirectWait;
  next_wake_ms_ = now.mono_ms + rc.delay_ms + jitter;
  info.resume_at_ms = next_wake_ms_;
  return PacketResult::kReconnect;
}

Output Session::set_status(wire::Status status, Now now, const Env& env) {
  Output out;
  if (status == status_) return out;
  status_ = status;
  switch (state_) {
    case State::kOnline:
      if (begin_round(RoundKind::kFresh, now, env, out)) out.action = Action::kHeartbeat;
      break;
    case State::kWaitingAck:
      if (!token_valid(now, env.policy)) {
        expire(out);
        break;
      }
      // One extra heartbeat in the same round; the round no longer measures
      // the interval cleanly.
      flags_ = static_cast<uint8_t>(flags_ & ~kMeasured);
      send_heartbeat(now, out);
      out.action = Action::kHeartbeat;
      break;
    default:
      break;  // recorded; the next heartbeat carries it
  }
  return out;
}

Output Session::bye(Now now, const Env& env) {
  Output out;
  if (running()) {
    if (!token_valid(now, env.policy)) {
      // The server would drop it; nothing to tell it.
      state_ = State::kClosed;
      next_wake_ms_ = kNever;
      out.action = Action::kClosed;
      return out;
    }
    flags_ = static_cast<uint8_t>(flags_ & ~(kMeasured | kReconnecting));
    attempt_ = 0;
    round_seq_ = seq_ + 1;
    send_bye(now, out);
    state_ = State::kClosing;
    next_wake_ms_ = now.mono_ms + env.policy.ack_timeout_ms;
    out.action = Action::kBye;
    return out;
  }
  if (state_ == State::kNew || state_ == State::kTokenExpired) {
    state_ = State::kClosed;
    next_wake_ms_ = kNever;
    out.action = Action::kClosed;
  }
  return out;
}

Output Session::renew(const auth::SessionKey& key, uint32_t token_expiry, Now now, const Env& env) {
  assert(token_expiry > token_expiry_ && "renew: the new token must expire later");
  key_ = key;
  token_expiry_ = token_expiry;
  seq_ = 0;
  round_seq_ = 0;
  floor_seq_ = 1;
  attempt_ = 0;
  flags_ = static_cast<uint8_t>((flags_ & ~(kMeasured | kReconnecting)) | kNeedFirst);
  Output out;
  switch (state_) {
    case State::kOnline:
    case State::kWaitingAck:
    case State::kTokenExpired:
      if (begin_round(RoundKind::kFresh, now, env, out)) out.action = Action::kHeartbeat;
      break;
    case State::kClosing:
      state_ = State::kClosed;
      next_wake_ms_ = kNever;
      out.action = Action::kClosed;
      break;
    case State::kBackoff:
    case State::kRedirectWait:
    case State::kNew:
    case State::kClosed:
      break;
  }
  return out;
}

void Session::set_network(uint32_t network_id, Now now, const Env& env) {
  if (network_id == network_id_) return;
  network_id_ = network_id;
  flags_ = static_cast<uint8_t>(flags_ & ~kMeasured);
  if (state_ == State::kOnline && env.policy.adaptive && env.adaptive != nullptr) {
    interval_ms_ = choose_interval(env, /*may_probe=*/false);
    next_wake_ms_ = std::min(next_wake_ms_, now.mono_ms + interval_ms_);
  }
}

}  // namespace presenced::client
