// event_stream.h: presence events for GET /v1/events (Server-Sent Events),
// with ids and a bounded backlog for clients that resume.
//
// Owns: the id sequence (1, 2, 3, ... in hub delivery order, so per-user
// order is kept) and a ring of the latest `capacity` events. The hub thread
// appends (deliver()); each SSE client is a Cursor that reads the events
// after the last id it sent.
//
//   - A new client starts at the next event (live), or, with Last-Event-ID
//     N, at N + 1. If N + 1 has already left the backlog, subscribe() says
//     so (Start::reset: the client gets an explicit `reset` event with the
//     first id it missed and the id it resumes at) and the cursor starts at
//     the oldest event still held. An id the stream never issued (a client
//     of an earlier process) is a reset too, reason "unknown_id".
//   - A client that falls behind while streaming, i.e. whose next id has
//     been overwritten, is a slow consumer: read() returns kSlow, the
//     handler ends the response and slow_consumers_cut counts it. It can
//     reconnect with its Last-Event-ID and gets the reset.
//
// The data cores are never involved: they hand events to the hub through
// their rings and never wait for it. The hub never waits for a client
// either: deliver() copies the batch into the ring under the mutex and
// notifies; formatting and socket writes happen on the clients' HTTP
// threads, outside the lock.
//
// Concurrency: one mutex guards the ring and the counters; it is held for
// a batch copy by deliver() (hub thread) and for a bounded copy (at most
// `max` events) by read() (HTTP threads). close() wakes every waiting
// reader; after it read() returns kClosed at once. deliver() may be called
// after close() (the hub drains after the control plane stops).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "control/event_hub.h"
#include "dataplane/engine/presence_event.h"

namespace presenced::control {

class EventStream final : public EventSink {
 public:
  struct Item {
    uint64_t id = 0;
    engine::PresenceEvent event;
  };

  // Where a subscriber starts.
  struct Start {
    uint64_t next_id = 1;      // first id the client will be sent
    bool reset = false;        // the client asked for events no longer held
    const char* reason = "";   // "backlog" or "unknown_id" when reset
    uint64_t missed_from = 0;  // first id the client asked for
    uint64_t resume_at = 0;    // == next_id
  };

  enum class ReadResult {
    kEvents,   // `out` holds at least one event
    kTimeout,  // nothing new within the timeout (send a keepalive)
    kSlow,     // the cursor fell behind the backlog: cut the client off
    kClosed,   // the stream is closing: end the response
  };

  struct Stats {
    uint64_t subscribers = 0;
    uint64_t slow_consumers_cut = 0;
    uint64_t backlog = 0;
    uint64_t backlog_capacity = 0;
    uint64_t last_id = 0;
  };

  // `capacity`: events kept (>= 1).
  explicit EventStream(std::size_t capacity);
  ~EventStream() override = default;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // EventSink (hub thread).
  void deliver(const engine::PresenceEvent* events, std::size_t n) override;

  // Registers a subscriber; `last_event_id` as the client sent it (nullopt:
  // start live). Pair with unsubscribe().
  Start subscribe(std::optional<uint64_t> last_event_id);
  void unsubscribe();

  // Waits up to `timeout` for the events from `next_id` on and copies up to
  // `max` of them into `out` (cleared first), advancing `next_id`.
  ReadResult read(uint64_t& next_id, std::vector<Item>& out, std::size_t max,
                  std::chrono::milliseconds timeout);

  // Ends every stream (readers return kClosed); irreversible.
  void close();
  bool closed() const;

  Stats stats() const;

 private:
  // Oldest id held; next_id_ when empty. Requires mutex_.
  uint64_t first_id_locked() const { return next_id_ - size_; }

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<engine::PresenceEvent> ring_;  // grows to capacity_, then wraps
  uint64_t next_id_ = 1;                     // id of the next event delivered
  std::size_t size_ = 0;                     // events held
  uint64_t subscribers_ = 0;
  uint64_t slow_cut_ = 0;
  bool closed_ = false;
};

// The SSE text of one event: "id: N\nevent: TYPE\ndata: {...}\n\n" (data is
// event_json()).
void append_sse_event(std::string& out, uint64_t id, const engine::PresenceEvent& e);
// "event: reset\ndata: {"reason":...,"missed_from":N,"resume_at":N}\n\n".
void append_sse_reset(std::string& out, const EventStream::Start& start);

}  // namespace presenced::control
