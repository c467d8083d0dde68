#include "control/event_hub.h"

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstring>

namespace presenced::control {

std::string event_json(const engine::PresenceEvent& e) {
  char buf[192];
  const int n =
      std::snprintf(buf, sizeof buf,
                    "{\"type\":\"%s\",\"user\":%" PRIu64
                    ",\"status\":\"%s\",\"last_seen_ms\":%" PRId64 ",\"seq\":%" PRIu64 "}",
                    engine::event_type_name(e.type).data(), e.user,
                    engine::status_name(e.status).data(), e.last_seen_wall_ms, e.seq);
  return std::string(buf, static_cast<std::size_t>(n));
}

std::unique_ptr<JsonLinesSink> JsonLinesSink::open(const std::string& path, std::string* error) {
  if (path == "-") return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(stdout, false));
  std::FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) {
    if (error != nullptr) *error = "cannot open --events-out " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::unique_ptr<JsonLinesSink>(new JsonLinesSink(f, true));
}

JsonLinesSink::~JsonLinesSink() {
  std::fflush(file_);
  if (owned_) std::fclose(file_);
}

void JsonLinesSink::deliver(const engine::PresenceEvent* events, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::string line = event_json(events[i]);
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fputc('\n', file_);
  }
}

void JsonLinesSink::flush() {
  std::fflush(file_);
}

EventHub::EventHub(std::vector<SpscRing<engine::PresenceEvent>*> rings)
    : rings_(std::move(rings)), batch_(4096) {}

EventHub::~EventHub() {
  stop();
}

void EventHub::add_sink(EventSink* sink) {
  sinks_.push_back(sink);
}

std::size_t EventHub::drain_once() {
  std::size_t total = 0;
  for (auto* ring : rings_) {
    for (;;) {
      const std::size_t n = ring->pop_burst(batch_.data(), batch_.size());
      if (n == 0) break;
      for (EventSink* s : sinks_) s->deliver(batch_.data(), n);
      total += n;
      if (n < batch_.size()) break;
    }
  }
  if (total > 0) {
    delivered_.fetch_add(total, std::memory_order_relaxed);
    for (EventSink* s : sinks_) s->flush();
  }
  return total;
}

void EventHub::start() {
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_acquire)) {
      if (drain_once() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    drain_once();  // what the cores published before they stopped
  });
}

void EventHub::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  thread_.join();
}

}  // namespace presenced::control
