// engine.h: the per-core presence pipeline.
//
// Owns, for one data core: the processing of received bursts (parse, derive
// keys, verify MACs, apply to the table, build and sign replies) and the home
// work for the shards homed on this core (creating sessions, publishing
// user-level events, the timing wheel and the linger queue). It does no I/O
// and reads no clock: bursts and time come in, replies and events go out, so
// tests and simulations drive it deterministically.
//
// Server rules (PROTOCOL.md) and where they are enforced:
//   0 sources over their invalid-packet budget -> dropped before parsing
//   1 malformed -> parse_client_packet, counted by DropReason, no reply
//   2 bad MAC -> stage B, constant-time compare
//   3 expired token -> stage B, wall clock
//   4 replay / stale token -> apply(), under the slot claim
//   5 accepted HEARTBEAT -> last_seen, address, status, advised interval; ACK
//   6 accepted BYE -> session offline at once; ACK
//   7 marked for reconnect -> RECONNECT instead of ACK
//   8 replies go only to the source of an authenticated packet and are
//     40 bytes (ACK) or 60 (RECONNECT) for a 40-byte request: <= 1.5x
//
// Burst stages (prefetching so table misses overlap the crypto):
//   A  parse; hash the user; prefetch its tag group; build the 20-byte
//      key-derivation input
//   B1 derive all session keys in one SipHash batch
//   C  match each user's tag group (now in cache); prefetch candidate slots
//   B2 verify all MACs in a second SipHash batch; check token expiry
//   D  apply each packet to its slot under the claim protocol; unknown
//      sessions go to their shard's home core (through its lane)
//   E  build the replies and sign them in one SipHash batch
//
// Home work (the shards with shard % cores == this core):
//   * lane messages: kCreate inserts a session (or applies to one created
//     meanwhile) and replies; kSlotChanged reconciles a slot's live state
//     (what data cores accepted) with its published state (what events have
//     said), emitting ONLINE / STATUS and starting linger or OFFLINE.
//   * the timing wheel holds one entry per online session (kArmed). An entry
//     is visited at the earliest of the session's deadline and now + the
//     shortest possible timeout, so a heartbeat that shrinks a session's
//     timeout (shorter advised interval) is still caught in time without a
//     second entry. A config change that shortens timeouts revisits all.
//   * the linger queue delays OFFLINE by `linger`; a user back in time
//     cancels it (no OFFLINE, no new ONLINE). Entries are (slot, deadline,
//     last_seen): a stale entry is recognised because the slot's last_seen
//     moved or its kLinger bit is clear.
//   * when the caller's event buffer is full the home work stops and resumes
//     on the next call (lanes keep their messages, wheel entries are re-armed
//     1 ms later): events are delayed, never lost.
//
// Concurrency: one Engine per data core, used only by that core's thread.
// It shares the table (slot claim protocol) and EngineShared (lanes, stats).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dataplane/auth/session_key.h"
#include "dataplane/engine/datagram.h"
#include "dataplane/engine/engine_config.h"
#include "dataplane/engine/engine_shared.h"
#include "dataplane/engine/presence_event.h"
#include "dataplane/engine/reconnect_book.h"
#include "dataplane/engine/reconnect_directive.h"
#include "dataplane/engine/source_limiter.h"
#include "dataplane/wheel/timing_wheel.h"
#include "dataplane/wire/codec.h"

namespace presenced::engine {

using EventBatch = OutBatch<PresenceEvent>;

// Time as the engine sees it: monotonic for liveness, wall for tokens and
// for the last_seen reported in events.
struct Clock {
  uint64_t mono_ns = 0;
  int64_t wall_ms = 0;
};

// Why a session was not admitted (answered with RECONNECT instead).
struct Refusal {
  enum class Kind : uint8_t { kNone, kDrain, kOverload };
  Kind kind = Kind::kNone;
  uint32_t delay_ms = 0;  // kOverload: the admission slot it is given
};

class Engine {
 public:
  struct Options {
    uint32_t wheel_bucket_bits = 16;
    uint32_t linger_capacity = 0;  // 0: sized from the shards homed here
    int data_claim_spins = 256;    // before a packet is dropped as kContended
  };

  Engine(EngineShared& shared, uint32_t core, const EngineConfig& config);
  Engine(EngineShared& shared, uint32_t core, const EngineConfig& config, const Options& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Processes one burst (any size; handled in chunks of kMaxBurst), then
  // does the home work. Replies are appended while `replies` has room (a
  // reply that does not fit is counted as dropped, never overflowed); size
  // it at least burst + kMaxBurst.
  void process(std::span<const RxDatagram> burst, const Clock& now, ReplyBatch& replies,
               EventBatch& events);

  // Home work only, for loop iterations without traffic.
  void tick(const Clock& now, ReplyBatch& replies, EventBatch& events);

  // Takes effect for the next packet; a change that can shorten timeouts
  // makes the next tick revisit every wheel entry.
  void set_config(const EngineConfig& config);

  // Reconnect signalling (commands from the control plane; every core gets
  // each of them). First the directive, on every core, so that whichever
  // core answers a marked session knows where to send it; false (and
  // counted) when this core's book is full.
  bool add_reconnect_directive(ReconnectScope scope, uint64_t user, uint32_t device,
                               const ReconnectDirective& d, const Clock& now);
  // Then the marks: the home core of the matching sessions sets their
  // kReconnect bit (kAll: an incremental scan of this core's shards over the
  // next iterations). Returns the sessions marked at once.
  uint64_t mark_reconnect(ReconnectScope scope, uint64_t user, uint32_t device);
  // Draining: new sessions get RECONNECT(d) instead of being admitted, and
  // this core pushes one RECONNECT(d) to every online session of its shards,
  // at most `rate_per_s` per second.
  void start_drain(const ReconnectDirective& d, uint32_t rate_per_s, const Clock& now);
  bool draining() const { return draining_; }
  bool drain_scan_done() const { return !drain_scan_.active; }
  const EngineConfig& config() const { return config_; }

  uint32_t core() const { return core_; }
  uint32_t advised_interval_s() const { return advised_interval_s_; }
  std::size_t wheel_entries() const { return wheel_.size(); }
  std::size_t wheel_memory_bytes() const { return wheel_.memory_bytes(); }
  const wheel::TimingWheel::Stats& wheel_stats() const { return wheel_.stats(); }
  // Engine milliseconds for a clock reading (shared time base).
  uint64_t now_ms(const Clock& now) const;

 private:
  struct Pending;  // per-packet state across the stages
  struct LingerEntry {
    uint32_t slot;
    uint32_t deadline_ms;   // low 32 bits of engine ms
    uint32_t last_seen_ms;  // the slot's last_seen when lingering started
  };
  enum class ReplyKind : uint8_t { kNone, kAck, kReconnect };
  // An incremental walk over the slots of the shards homed on this core.
  struct SlotScan {
    bool active = false;
    uint32_t shard = 0;  // index into home_shards_
    uint32_t slot = 0;   // next slot within that shard
    double budget = 0;   // slots (mark) or pushes (drain) allowed so far
    uint64_t last_ms = 0;
  };

  // Ingest.
  void ingest(std::span<const RxDatagram> burst, const Clock& now, ReplyBatch& replies);
  struct ApplyResult {
    wire::DropReason drop = wire::DropReason::kNone;
    ReplyKind reply = ReplyKind::kNone;
    uint16_t next_interval_s = 0;
    bool key_mismatch = false;  // slot was reused for another key: look again
    Refusal refusal;            // not admitted: answered with RECONNECT (drain/overload)
  };
  ApplyResult apply(uint32_t slot_index, const wire::ClientPacket& p, const NetAddr& src,
                    uint32_t now_ms_ceil, int claim_spins);
  void write_address(uint32_t slot_index, table::SlotState& st, const NetAddr& src);
  void queue_reply(ReplyBatch& replies, ReplyKind kind, const wire::Header& h,
                   const auth::SessionKey& key, uint16_t next_interval_s, const NetAddr& src,
                   const NetAddr& local, uint64_t l2_hint, uint64_t now_ms, Refusal refusal = {},
                   const uint8_t* request = nullptr);
  // The directive a RECONNECT to this session carries.
  ReconnectDirective directive_for(uint64_t user, uint32_t device, uint64_t now_ms,
                                   const Refusal& refusal) const;
  // delay_ms < 0: drawn uniformly from [0, d.spread_ms].
  void build_reconnect(TxDatagram& tx, const wire::Header& h, const ReconnectDirective& d,
                       int64_t delay_ms = -1);
  // Admission control for sessions going online (new or back from
  // offline): a per-core token bucket at admission_rate / cores; a refused
  // session gets the next free admission slot as its delay.
  bool admit(uint64_t now_ms, uint32_t& delay_ms);
  // Stalls: records this core's progress and any gap as a stall.
  void begin_call(uint64_t now_ms);
  // Milliseconds of (any core's) stall within [from_ms, to_ms].
  uint64_t stall_credit(uint64_t from_ms, uint64_t to_ms) const;
  bool any_core_stalled(uint64_t now_ms) const;
  // Deadline of a live session with stalled time not counted; `defer` is
  // set when no verdict may be given now (a core is stalled).
  uint64_t effective_deadline(const table::SessionSlot& s, uint64_t now_ms, bool& defer);
  void run_mark_scan();
  void run_drain_scan(uint64_t now_ms, ReplyBatch& replies);
  NetAddr slot_address(uint32_t slot_index, const table::SlotState& st) const;
  uint64_t next_random();
  void sign_queued_replies(ReplyBatch& replies);

  // Home work.
  void home_work(const Clock& now, ReplyBatch& replies, EventBatch& events);
  bool handle_lane_message(const LaneMessage& m, const Clock& now, ReplyBatch& replies,
                           EventBatch& events);
  void create_session(const LaneMessage& m, const Clock& now, ReplyBatch& replies,
                      EventBatch& events);
  // Publishes a claimed slot's live state; releases the claim.
  void reconcile_claimed(uint32_t slot_index, uint32_t word_before, table::SlotState st,
                         const Clock& now, EventBatch& events, bool resumed = false);
  void arm(uint32_t slot_index, table::SlotState& st, uint64_t now_ms);
  uint64_t wheel_visit(uint32_t slot_index, uint64_t now_ms, const Clock& now, EventBatch& events);
  void drain_linger(const Clock& now, EventBatch& events);
  void emit(EventBatch& events, EventType type, uint64_t user, wire::Status status,
            uint32_t last_seen_ms, const Clock& now);
  uint32_t user_last_seen(const table::UserHash& u, uint64_t user, uint32_t fallback);
  void claim_home(table::SessionSlot& s, uint32_t& word_before);
  void refresh_advised_interval();

  uint64_t deadline_of(uint32_t last_seen_ms32, uint32_t interval_s, uint64_t now_ms) const;
  uint64_t min_timeout_ms() const;

  EngineShared& shared_;
  table::PresenceTable& table_;
  CoreStats& stats_;
  const uint32_t core_;
  const Options options_;
  EngineConfig config_;
  uint32_t advised_interval_s_ = 30;
  uint64_t event_seq_ = 0;
  bool revisit_wheel_ = false;
  uint64_t last_tick_ms_ = 0;

  wheel::TimingWheel wheel_;
  std::vector<LingerEntry> linger_;  // ring buffer, allocated once
  std::size_t linger_head_ = 0;
  std::size_t linger_size_ = 0;

  std::vector<uint32_t> home_shards_;  // shards homed on this core
  ReconnectBook book_;
  SourceLimiter limiter_;
  bool draining_ = false;
  ReconnectDirective drain_directive_;
  uint32_t drain_rate_ = 0;
  SlotScan mark_scan_;
  SlotScan drain_scan_;
  uint64_t rng_state_ = 0;
  // Admission.
  double admit_tokens_ = -1;  // < 0: not started (starts with one second's worth)
  uint64_t admit_last_ms_ = 0;
  double admit_next_slot_ms_ = 0;
  // Stalls and restarts.
  uint64_t last_call_ms_ = 0;  // 0: no call yet
  uint64_t start_ms_ = 0;      // engine ms of the first call

  std::unique_ptr<Pending[]> pending_;
  // Reply signing batch (indices into the reply batch and their keys).
  std::unique_ptr<auth::SessionKey[]> sign_keys_;
  std::unique_ptr<uint32_t[]> sign_index_;
  uint32_t sign_count_ = 0;
};

}  // namespace presenced::engine
