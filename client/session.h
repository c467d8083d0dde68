// session.h: the client side of the presence heartbeat protocol, as a pure
// state machine.
//
// Owns: one (user, device, token) session: its key, seq counter, status,
// FIRST flag, last server epoch, interval, retry/backoff state and the next
// time it needs to run. Nothing else. It does no I/O, reads no clock, takes
// no lock, never allocates, throws or calls through a vtable: time comes in as
// a Now, randomness from the caller's Rng, and a packet to send goes out as an
// Output value. Shared state (the Policy, the AdaptiveIntervalStore) lives
// outside and is passed by reference in an Env, so one process can drive
// millions of sessions (sizeof(Session) == 80) and a simulation replays
// exactly from a seed. udp_client.h wraps one Session with a socket and real
// clocks.
//
// Driving a session:
//   start(now)                   first heartbeat (FIRST)
//   on_wake(now) when now >= next_wake_ms()
//                                 heartbeat / resend / dead / reconnect
//   on_packet(datagram, now)     every datagram from the server
//   set_status / bye / renew / set_network    app events
// Every call that may send returns an Output; send Output::packet to the
// current server if Output::send. Calls are cheap no-ops when nothing is due.
//
// Client rules (PROTOCOL.md "Client rules"), and the decisions taken where
// the spec leaves room:
//   * seq: every packet sent (heartbeat, resend, BYE) uses seq + 1, for the
//     whole token lifetime, across resends, reconnects and redirects. The
//     first packet of a token has seq 1. The last usable seq is 2^32 - 2; after
//     it the session reports kTokenExpired: only a new token restarts seq.
//   * A round is a heartbeat and its resends. No ACK within ack_timeout_ms:
//     resend (seq + 1), up to `retries` times; one more ack_timeout without an
//     ACK and the connection is dead.
//   * Dead: wait uniform[0, min(backoff_cap, backoff_base * 2^n)) ms (full
//     jitter), n = number of reconnect attempts already made since the last
//     accepted ACK; then send one FIRST heartbeat. A reconnect attempt is a
//     single heartbeat: no ACK within ack_timeout and it is the next backoff
//     (n + 1). Rounds started by start(), a RECONNECT, renew() and the
//     interval timer are normal rounds with resends.
//   * An ACK is accepted only while its round is outstanding, and only for a
//     seq in [first seq of the round, last seq sent]. Late ACKs of older
//     rounds and duplicates are verified, then reported as kStale. On accept:
//     interval = max(1, next_interval_s) s (or the adaptive choice below it),
//     epoch_seen = server_epoch, backoff reset, next heartbeat at now +
//     interval.
//   * FIRST is set on the first heartbeat, on every reconnect attempt, after a
//     RECONNECT, after renew(), and when an accepted ACK carries a server_epoch
//     different from the last one seen. It stays set on every heartbeat until
//     an ACK for one of them is accepted. An epoch change seen in the ACK of a
//     FIRST heartbeat does not set it again: that server already got FIRST.
//   * RECONNECT is obeyed (in any running state) if it verifies and its seq
//     is one this session sent that is not older than the last accepted ACK
//     nor than an already obeyed RECONNECT (a replayed RECONNECT cannot hold a
//     session back forever). A server push carries the highest seq the server
//     accepted. The session stops heartbeating, waits delay_ms + jitter (see
//     Policy), then sends a FIRST heartbeat; for family 4/6 that send has
//     Output::switch_target set: the caller resolves the target it got from
//     on_packet with apply_redirect() and sends there from then on. A
//     RECONNECT never carries a new epoch_seen: only ACKs do.
//   * set_status: when the session is idle between heartbeats (kOnline) it
//     sends a heartbeat at once and that heartbeat starts the round (the
//     interval timer restarts from its ACK). While a round is outstanding
//     (kWaitingAck) it sends one extra heartbeat at once, in the same round:
//     the retry count and ack deadline are unchanged, an ACK of any of the
//     round's seqs completes it. In kBackoff / kRedirectWait the status is
//     recorded and the next heartbeat carries it. Same status: nothing.
//   * bye(): sends BYE (seq + 1, flags 0) to the current server and stops
//     heartbeating (kClosing). No ACK within ack_timeout: resend, up to
//     `retries` times, then kClosed anyway. An ACK of the BYE (or a RECONNECT
//     answering it) completes it: kClosed. start() may run the session again
//     (seq continues).
//   * Token: before any send, if unix_s + token_margin_s > token_expiry the
//     session sends nothing and enters kTokenExpired; the app logs in again
//     and calls renew(key, expiry): seq restarts at 0 (first packet 1) and
//     FIRST is set.
//   * Server packets are checked in this order and dropped silently with the
//     first failing reason (PacketResult): parse (magic, version, type, exact
//     size, user_id != 0, family), user_id and device_id, token_expiry, MAC
//     (constant time), then seq and state.
//   * Adaptive mode (Policy::adaptive + Env::adaptive): only rounds sent by
//     the interval timer measure the interval (they follow an idle period of
//     exactly that interval). See adaptive.h for the model.
//
// Concurrency: none. A session is driven by one thread at a time; the Env's
// Rng and store must belong to that thread too.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "client/adaptive.h"
#include "client/endpoint.h"
#include "client/policy.h"
#include "client/rng.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/wire/drop_reason.h"
#include "dataplane/wire/protocol.h"

namespace presenced::client {

inline constexpr uint64_t kNever = UINT64_MAX;
inline constexpr uint32_t kNoRtt = UINT32_MAX;

// The two clocks a session needs. mono_ms: monotonic milliseconds (any
// origin, never goes back); unix_s: wall clock, only compared with
// token_expiry.
struct Now {
  uint64_t mono_ms = 0;
  uint32_t unix_s = 0;
};

// What the login service hands the app.
struct SessionCredentials {
  uint64_t user_id = 0;  // never 0
  uint32_t device_id = 0;
  uint32_t token_expiry = 0;  // Unix seconds
  auth::SessionKey key;
};

// Shared context of a call: the policy, the thread's Rng and (adaptive mode)
// the thread's store.
struct Env {
  const Policy& policy;
  Rng& rng;
  AdaptiveIntervalStore* adaptive = nullptr;
};

enum class State : uint8_t {
  kNew,           // constructed; start() not called
  kWaitingAck,    // a round is outstanding; wake = its ack deadline
  kOnline,        // last round acknowledged; wake = next heartbeat
  kBackoff,       // connection dead; wake = next reconnect attempt
  kRedirectWait,  // RECONNECT obeyed; wake = FIRST heartbeat to the target
  kClosing,       // BYE outstanding; wake = its ack deadline
  kClosed,        // stopped (BYE done, or bye() when nothing was running)
  kTokenExpired,  // needs renew(); sends nothing
};
std::string_view state_name(State s);

// What a call did (for logs and counters). Every value except kNone, kDead,
// kClosed and kTokenExpired comes with a packet to send.
enum class Action : uint8_t {
  kNone,
  kHeartbeat,         // a heartbeat that is not a resend or reconnect
  kResend,            // no ACK in time: same round, new seq
  kDead,              // retries exhausted or reconnect attempt failed; backoff
  kReconnectAttempt,  // FIRST heartbeat after a backoff wait
  kRedirectResume,    // FIRST heartbeat after a RECONNECT wait
  kBye,
  kByeResend,
  kClosed,        // BYE given up (no ACK after its resends) or no-op close
  kTokenExpired,  // a send was due but the token has expired
};
std::string_view action_name(Action a);

struct Output {
  Action action = Action::kNone;
  bool send = false;
  // Send this packet (and everything after it) to the target of the last
  // obeyed RECONNECT (see on_packet). Only set with send.
  bool switch_target = false;
  bool first = false;  // the packet carries FIRST
  uint32_t seq = 0;    // of the packet sent
  std::array<uint8_t, wire::kHeartbeatSize> packet{};
};

// Why on_packet accepted or dropped a datagram; maps one to one to counters.
enum class PacketResult : uint8_t {
  kAccepted,      // ACK accepted; the round is complete
  kByeAcked,      // ACK (or RECONNECT) for the outstanding BYE; kClosed
  kReconnect,     // RECONNECT obeyed; PacketInfo::target says where to
  kMalformed,     // the parser rejected it (PacketInfo::parse_error)
  kWrongSession,  // user_id or device_id not this session's
  kWrongToken,    // token_expiry not this session's
  kBadMac,        // MAC does not verify under the session key
  kUnknownSeq,    // verified, but a seq this session never sent
  kStale,         // verified, but not outstanding: late or duplicate ACK,
                  // replayed RECONNECT
  kInactive,      // verified, but the session is not running
  kCount
};
inline constexpr std::size_t kPacketResultCount = static_cast<std::size_t>(PacketResult::kCount);
std::string_view packet_result_name(PacketResult r);

// Details of a server packet, filled by on_packet as far as it got.
struct PacketInfo {
  wire::PacketType type = wire::PacketType::kAck;
  wire::DropReason parse_error = wire::DropReason::kNone;
  uint32_t seq = 0;
  uint32_t server_epoch = 0;
  // ACK.
  uint16_t next_interval_s = 0;
  bool epoch_changed = false;  // differs from the previously seen epoch
  uint8_t attempts = 0;        // heartbeats the round had sent (1: no resend)
  uint32_t rtt_ms = kNoRtt;    // if it acknowledges the latest send
  // RECONNECT.
  wire::ReconnectReason reason = wire::ReconnectReason::kOperator;
  uint32_t delay_ms = 0;
  uint64_t resume_at_ms = 0;  // when the FIRST heartbeat will be due
  Endpoint target;            // family kSameServer: stay; see apply_redirect()
};

class Session {
 public:
  Session(const SessionCredentials& credentials, wire::Status initial_status);

  // kNew or kClosed: sends a FIRST heartbeat and enters kWaitingAck.
  // Otherwise does nothing.
  Output start(Now now, const Env& env);

  // Runs whatever is due at `now` (nothing if now < next_wake_ms()).
  Output on_wake(Now now, const Env& env);

  // Verifies and applies one datagram from the server. Never sends (the
  // result of an ACK or RECONNECT is a new next_wake_ms()). `info`, if given,
  // receives the packet's details.
  PacketResult on_packet(std::span<const uint8_t> datagram, Now now, const Env& env,
                         PacketInfo* info = nullptr);

  // See the header comment for when this sends.
  Output set_status(wire::Status status, Now now, const Env& env);

  // Sends BYE if a session is running (kWaitingAck, kOnline, kBackoff,
  // kRedirectWait); otherwise closes without sending.
  Output bye(Now now, const Env& env);

  // New token from the login service. Precondition: token_expiry is later
  // than the current one (the server drops an earlier one as stale). seq
  // restarts, FIRST is set. Sends a FIRST heartbeat at once from kOnline,
  // kWaitingAck and kTokenExpired; keeps waiting in kBackoff/kRedirectWait;
  // kClosing becomes kClosed; kNew/kClosed stay (start() later).
  Output renew(const auth::SessionKey& key, uint32_t token_expiry, Now now, const Env& env);

  // The app's identifier of the network it is on (adaptive mode memory).
  // The round in flight no longer counts as a measurement; while idle the
  // next heartbeat is pulled in if the new network's interval is shorter.
  void set_network(uint32_t network_id, Now now, const Env& env);

  State state() const { return state_; }
  uint64_t next_wake_ms() const { return next_wake_ms_; }
  bool running() const;  // kWaitingAck, kOnline, kBackoff or kRedirectWait

  uint64_t user_id() const { return user_id_; }
  uint32_t device_id() const { return device_id_; }
  uint32_t token_expiry() const { return token_expiry_; }
  uint32_t seq() const { return seq_; }  // last seq sent; 0: none for this token
  wire::Status status() const { return status_; }
  uint32_t interval_ms() const { return interval_ms_; }
  uint16_t advised_interval_s() const { return advised_s_; }  // 0: no ACK yet
  uint32_t server_epoch() const { return epoch_; }            // 0: no ACK yet
  bool first_pending() const { return (flags_ & kNeedFirst) != 0; }
  uint8_t backoff_attempt() const { return backoff_attempt_; }
  uint32_t network_id() const { return network_id_; }

 private:
  enum Flag : uint8_t {
    kNeedFirst = 1 << 0,      // heartbeats carry FIRST
    kMeasured = 1 << 1,       // round follows an idle period of interval_ms_
    kReconnecting = 1 << 2,   // round is a single-shot reconnect attempt
    kSwitchPending = 1 << 3,  // next heartbeat goes to the redirect target
  };
  enum class RoundKind : uint8_t { kFresh, kTimer, kReconnect };

  bool token_valid(Now now, const Policy& p) const;
  void expire(Output& out);
  bool begin_round(RoundKind kind, Now now, const Env& env, Output& out);
  void send_heartbeat(Now now, Output& out);
  void send_bye(Now now, Output& out);
  void emit(wire::PacketType type, uint8_t flags, Now now, Output& out);
  void declare_dead(Now now, const Env& env, Output& out);
  uint32_t choose_interval(const Env& env, bool may_probe) const;
  PacketResult accept_ack(uint32_t ack_seq, uint32_t server_epoch, uint16_t next_interval_s,
                          Now now, const Env& env, PacketInfo& info);

  auth::SessionKey key_;
  uint64_t user_id_;
  uint64_t next_wake_ms_ = kNever;
  uint64_t last_send_ms_ = 0;
  uint32_t device_id_;
  uint32_t token_expiry_;
  uint32_t seq_ = 0;        // last seq sent
  uint32_t round_seq_ = 0;  // first seq of the outstanding round
  uint32_t floor_seq_ = 1;  // lowest seq a RECONNECT may carry
  uint32_t epoch_ = 0;      // server_epoch of the last accepted ACK
  uint32_t interval_ms_ = 0;
  uint32_t network_id_ = 0;
  uint16_t advised_s_ = 0;
  State state_ = State::kNew;
  wire::Status status_;
  uint8_t flags_ = kNeedFirst;
  uint8_t attempt_ = 0;  // resends in this round
  uint8_t backoff_attempt_ = 0;
};

static_assert(sizeof(Session) <= 96, "Session is per-session memory: keep it small");

}  // namespace presenced::client
