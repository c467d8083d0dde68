#include "tools/loadgen/event_tail.h"

#include <cerrno>
#include <charconv>

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include "tools/loadgen/options.h"

namespace presenced::loadgen {

namespace {

// The value after "key": in `line`, as an integer; false if absent or bad.
template <typename T>
bool find_int(std::string_view line, std::string_view key, T& out) {
  const std::size_t k = line.find(key);
  if (k == std::string_view::npos) return false;
  std::size_t p = k + key.size();
  while (p < line.size() && line[p] == ' ') ++p;
  const char* b = line.data() + p;
  const char* e = line.data() + line.size();
  const auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr != b;
}

}  // namespace

bool parse_event_line(std::string_view line, ParsedEvent& out) {
  out = ParsedEvent{};
  constexpr std::string_view kType = "\"type\":\"";
  const std::size_t t = line.find(kType);
  if (t == std::string_view::npos) return false;
  const std::string_view rest = line.substr(t + kType.size());
  if (rest.starts_with("online\"")) {
    out.kind = EventKind::kOnline;
  } else if (rest.starts_with("offline\"")) {
    out.kind = EventKind::kOffline;
  } else if (rest.starts_with("status\"")) {
    out.kind = EventKind::kStatus;
  } else {
    out.kind = EventKind::kOther;
  }
  if (!find_int(line, "\"user\":", out.user)) return false;
  find_int(line, "\"last_seen_ms\":", out.last_seen_ms);
  find_int(line, "\"at_ms\":", out.at_ms);
  return true;
}

EventFileTail::EventFileTail(std::string path) : path_(std::move(path)) {}

EventFileTail::~EventFileTail() {
  if (fd_ >= 0) ::close(fd_);
}

bool EventFileTail::read_more(std::size_t max_bytes) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      first_open_ = false;  // created later: everything in it is ours
      return false;
    }
    struct stat st {};
    // Existing content when the tail starts belongs to earlier runs.
    if (first_open_ && ::fstat(fd_, &st) == 0) offset_ = static_cast<uint64_t>(st.st_size);
    first_open_ = false;
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_) {
    offset_ = 0;  // truncated or replaced: start over
    buffer_.clear();
  }
  std::size_t got = 0;
  char chunk[65536];
  while (got < max_bytes) {
    const ssize_t n = ::pread(fd_, chunk, sizeof chunk, static_cast<off_t>(offset_));
    if (n <= 0) break;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    offset_ += static_cast<uint64_t>(n);
    got += static_cast<std::size_t>(n);
  }
  bytes_read_ += got;
  return got > 0;
}

EventTracker::EventTracker(uint64_t user_base, uint64_t users, double churn_fraction,
                           uint64_t seed)
    : user_base_(user_base),
      users_(users),
      churn_fraction_(churn_fraction),
      seed_(seed),
      online_seen_((users + 63) / 64),
      offline_seen_((users + 63) / 64) {}

bool EventTracker::is_silenced(uint64_t u) const {
  return churn_selected(u, churn_fraction_, seed_);
}

void EventTracker::on_event(const ParsedEvent& e, bool silenced, uint64_t timeout_ms,
                            uint64_t linger_ms, int64_t now_wall_us) {
  ++lines_;
  if (e.user < user_base_ || e.user - user_base_ >= users_) {
    ++foreign_;
    return;
  }
  const uint64_t u = e.user - user_base_;
  switch (e.kind) {
    case EventKind::kOnline:
      if (!test(online_seen_, u)) {
        set(online_seen_, u);
        ++online_users_;
      }
      return;
    case EventKind::kStatus:
      ++status_events_;
      return;
    case EventKind::kOther:
      return;
    case EventKind::kOffline:
      break;
  }
  const bool first = !test(offline_seen_, u);
  if (first) {
    set(offline_seen_, u);
    ++offline_users_;
  }
  if (!silenced || !is_silenced(u)) {
    ++offline_unexpected_;
    return;
  }
  if (!first) return;
  ++offline_expected_;
  const int64_t observed_us = e.at_ms != 0 ? e.at_ms * 1000 : now_wall_us;
  const int64_t delay_us =
      observed_us -
      (e.last_seen_ms + static_cast<int64_t>(timeout_ms) + static_cast<int64_t>(linger_ms)) * 1000;
  // The server stamps last_seen rounded up to the next ms and keeps ms
  // clocks: allow 2 ms before calling an OFFLINE early.
  if (delay_us < -2000) ++early_;
  delay_us_.record(delay_us > 0 ? static_cast<uint64_t>(delay_us) : 0);
  delays_ms_.push_back(static_cast<double>(delay_us) / 1000.0);
}

uint64_t EventTracker::count_silenced() {
  if (silenced_users_ == UINT64_MAX) {
    silenced_users_ = 0;
    for (uint64_t u = 0; u < users_; ++u) silenced_users_ += is_silenced(u) ? 1 : 0;
  }
  return silenced_users_;
}

}  // namespace presenced::loadgen
