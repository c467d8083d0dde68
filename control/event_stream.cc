#include "control/event_stream.h"

#include <algorithm>

namespace presenced::control {

EventStream::EventStream(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {
  // Grown on demand (push_back) up to capacity_: a large --event-backlog
  // costs memory only once that many events have been published.
  ring_.reserve(std::min<std::size_t>(capacity_, 4096));
}

void EventStream::deliver(const engine::PresenceEvent* events, std::size_t n) {
  if (n == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < n; ++i) {
      const uint64_t id = next_id_++;
      const std::size_t slot = static_cast<std::size_t>((id - 1) % capacity_);
      if (slot < ring_.size()) {
        ring_[slot] = events[i];
      } else {
        ring_.push_back(events[i]);  // slot == ring_.size() while growing
      }
      if (size_ < capacity_) ++size_;
    }
  }
  cv_.notify_all();
}

EventStream::Start EventStream::subscribe(std::optional<uint64_t> last_event_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++subscribers_;
  Start s;
  const uint64_t first = first_id_locked();
  if (!last_event_id) {
    s.next_id = next_id_;
  } else if (*last_event_id >= next_id_) {
    // Never issued by this stream (a client of an earlier process, or a
    // made-up id): the client cannot know what it missed.
    s.reset = true;
    s.reason = "unknown_id";
    s.missed_from = *last_event_id + 1;
    s.next_id = first;
  } else if (*last_event_id + 1 < first) {
    s.reset = true;
    s.reason = "backlog";
    s.missed_from = *last_event_id + 1;
    s.next_id = first;
  } else {
    s.next_id = *last_event_id + 1;
  }
  s.resume_at = s.next_id;
  return s;
}

void EventStream::unsubscribe() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (subscribers_ > 0) --subscribers_;
}

EventStream::ReadResult EventStream::read(uint64_t& next_id, std::vector<Item>& out,
                                          std::size_t max, std::chrono::milliseconds timeout) {
  out.clear();
  std::unique_lock<std::mutex> lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return closed_ || next_id < next_id_; })) {
    return ReadResult::kTimeout;
  }
  if (closed_) return ReadResult::kClosed;
  if (next_id < first_id_locked()) {
    ++slow_cut_;
    return ReadResult::kSlow;
  }
  const uint64_t end = std::min<uint64_t>(next_id_, next_id + std::max<std::size_t>(max, 1));
  out.reserve(static_cast<std::size_t>(end - next_id));
  for (uint64_t id = next_id; id < end; ++id) {
    out.push_back(Item{id, ring_[static_cast<std::size_t>((id - 1) % capacity_)]});
  }
  next_id = end;
  return ReadResult::kEvents;
}

void EventStream::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool EventStream::closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

EventStream::Stats EventStream::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Stats s;
  s.subscribers = subscribers_;
  s.slow_consumers_cut = slow_cut_;
  s.backlog = size_;
  s.backlog_capacity = capacity_;
  s.last_id = next_id_ - 1;
  return s;
}

void append_sse_event(std::string& out, uint64_t id, const engine::PresenceEvent& e) {
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += engine::event_type_name(e.type);
  out += "\ndata: ";
  out += event_json(e);
  out += "\n\n";
}

void append_sse_reset(std::string& out, const EventStream::Start& start) {
  out += "event: reset\ndata: {\"reason\":\"";
  out += start.reason;
  out += "\",\"missed_from\":";
  out += std::to_string(start.missed_from);
  out += ",\"resume_at\":";
  out += std::to_string(start.resume_at);
  out += "}\n\n";
}

}  // namespace presenced::control
