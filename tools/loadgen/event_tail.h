// event_tail.h: follows the server's presence events and judges them
// against what the load generator did.
//
// Owns:
//   * EventFileTail: an open presenced --events-out file (JSON lines), read
//     from where it ended when the tail was created (events of earlier runs
//     are not ours), handing back complete lines as they appear. The file may
//     not exist yet; it is opened on the first poll that finds it. A file that
//     shrinks (rotated) is re-read from its start.
//   * parse_event_line(): the exception-free parser of one line
//     {"type":"offline","user":42,"status":"available","last_seen_ms":...,...}
//     (keys in any order; an optional "at_ms" is used when a server writes
//     the wall time of its decision).
//   * EventTracker: per user of the run, whether an ONLINE and an OFFLINE
//     were seen (two bitsets, 2 bits per user), and for OFFLINEs of users
//     churn silenced, the detection delay beyond the timeout:
//         delay = observed - last_seen_ms - timeout - linger
//     where observed is the event's at_ms if present, else the wall clock
//     when the line was read (so it includes the server's event hub and
//     file flush, a few ms). A negative delay beyond clock granularity would
//     mean an early OFFLINE and is counted as `early`.
//
// Concurrency: none; the main thread owns both. The timeout comes in per
// call, from the advised interval the workers report.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/loadgen/histogram.h"

namespace presenced::loadgen {

enum class EventKind : uint8_t { kOnline, kStatus, kOffline, kOther };

struct ParsedEvent {
  EventKind kind = EventKind::kOther;
  uint64_t user = 0;
  int64_t last_seen_ms = 0;
  int64_t at_ms = 0;  // 0: the line has none
};

// False for a line that is not a presence event (no type or user).
bool parse_event_line(std::string_view line, ParsedEvent& out);

class EventFileTail {
 public:
  explicit EventFileTail(std::string path);
  ~EventFileTail();
  EventFileTail(const EventFileTail&) = delete;
  EventFileTail& operator=(const EventFileTail&) = delete;

  // Reads what was appended (at most max_bytes) and calls f(line) for every
  // complete line. Returns the number of lines.
  template <typename F>
  std::size_t poll(std::size_t max_bytes, F&& f) {
    if (!read_more(max_bytes)) return 0;
    std::size_t lines = 0;
    std::size_t start = 0;
    for (;;) {
      const std::size_t nl = buffer_.find('\n', start);
      if (nl == std::string::npos) break;
      f(std::string_view(buffer_).substr(start, nl - start));
      ++lines;
      start = nl + 1;
    }
    buffer_.erase(0, start);
    return lines;
  }

  bool opened() const { return fd_ >= 0; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  bool read_more(std::size_t max_bytes);

  std::string path_;
  int fd_ = -1;
  bool first_open_ = true;
  uint64_t offset_ = 0;
  uint64_t bytes_read_ = 0;
  std::string buffer_;
};

class EventTracker {
 public:
  EventTracker(uint64_t user_base, uint64_t users, double churn_fraction, uint64_t seed);

  // `silenced`: churn has silenced its users (offlines of chosen users are
  // expected from then on). `timeout_ms` and `linger_ms` turn an expected
  // OFFLINE into a delay; `now_wall_us` is when the line was read.
  void on_event(const ParsedEvent& e, bool silenced, uint64_t timeout_ms, uint64_t linger_ms,
                int64_t now_wall_us);

  // Users churn silences (computed once, O(users)).
  uint64_t count_silenced();

  uint64_t online_users() const { return online_users_; }          // distinct
  uint64_t offline_expected() const { return offline_expected_; }  // distinct, silenced users
  uint64_t offline_unexpected() const { return offline_unexpected_; }
  uint64_t offline_users() const { return offline_users_; }  // distinct, any
  uint64_t early() const { return early_; }
  uint64_t foreign() const { return foreign_; }
  uint64_t lines() const { return lines_; }
  uint64_t status_events() const { return status_events_; }
  // Delays beyond the timeout, microseconds (negative ones count as 0).
  const Histogram& delay_us() const { return delay_us_; }
  const std::vector<double>& delays_ms() const { return delays_ms_; }
  bool is_silenced(uint64_t u) const;

 private:
  static bool test(const std::vector<uint64_t>& b, uint64_t u) {
    return (b[u >> 6] >> (u & 63)) & 1;
  }
  static void set(std::vector<uint64_t>& b, uint64_t u) { b[u >> 6] |= uint64_t{1} << (u & 63); }

  uint64_t user_base_;
  uint64_t users_;
  double churn_fraction_;
  uint64_t seed_;
  std::vector<uint64_t> online_seen_;
  std::vector<uint64_t> offline_seen_;
  uint64_t online_users_ = 0, offline_expected_ = 0, offline_unexpected_ = 0,
           offline_users_ = 0, early_ = 0, foreign_ = 0, lines_ = 0, status_events_ = 0;
  uint64_t silenced_users_ = UINT64_MAX;  // not counted yet
  Histogram delay_us_;
  std::vector<double> delays_ms_;
};

}  // namespace presenced::loadgen
