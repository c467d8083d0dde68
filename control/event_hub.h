// event_hub.h: fan-in of presence events from the data cores.
//
// Owns: one thread that drains every core's event ring (SPSC, core ->
// hub) and hands the events, in batches, to the registered sinks (the JSON
// lines writer of --events-out; the control plane's stream). Per-user
// order is kept: a user's events all come from one core's ring.
//
// The data cores never wait for the hub: when a ring is full the engine
// holds its home work back (events delayed, never lost). Sinks must not
// block for long; the hub thread is the only caller of Sink::deliver().
// Concurrency: start()/stop() from the owning thread; counters from any.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/common/spsc_ring.h"
#include "dataplane/engine/presence_event.h"

namespace presenced::control {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // A batch of events in ring order (called from the hub thread only).
  virtual void deliver(const engine::PresenceEvent* events, std::size_t n) = 0;
  // No more events for a while (end of a drain pass): flush buffers.
  virtual void flush() {}
};

// {"type":"online","user":1,"status":"available","last_seen_ms":...,"seq":...}
std::string event_json(const engine::PresenceEvent& e);

// Writes each event as one JSON line to a file or stdout.
class JsonLinesSink final : public EventSink {
 public:
  // "-" means stdout. Returns nullptr with `error` if the file cannot be opened.
  static std::unique_ptr<JsonLinesSink> open(const std::string& path, std::string* error);
  ~JsonLinesSink() override;
  void deliver(const engine::PresenceEvent* events, std::size_t n) override;
  void flush() override;

 private:
  explicit JsonLinesSink(std::FILE* f, bool owned) : file_(f), owned_(owned) {}
  std::FILE* file_;
  bool owned_;
};

class EventHub {
 public:
  explicit EventHub(std::vector<SpscRing<engine::PresenceEvent>*> rings);
  ~EventHub();

  void add_sink(EventSink* sink);  // before start()
  void start();
  // Stops after a final drain (call after the data cores have stopped).
  void stop();

  uint64_t events_delivered() const { return delivered_.load(std::memory_order_relaxed); }

 private:
  std::size_t drain_once();

  std::vector<SpscRing<engine::PresenceEvent>*> rings_;
  std::vector<EventSink*> sinks_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> delivered_{0};
  std::thread thread_;
  std::vector<engine::PresenceEvent> batch_;
};

}  // namespace presenced::control
