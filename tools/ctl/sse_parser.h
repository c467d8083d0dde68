// sse_parser.h: an incremental parser of a text/event-stream body (the
// WHATWG Server-Sent Events format), for `presencectl watch`.
//
// Owns: the partial line and the event being assembled. Bytes arrive in
// arbitrary pieces (TCP reads); feed() calls back once per complete event
// (a blank line after at least one data line). Lines may end in LF, CRLF
// or CR; comment lines (":keepalive") are ignored; "retry" is ignored; an
// `id:` line sets the event's id. Concurrency: one instance per stream,
// single-threaded.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace presenced::ctl {

struct SseEvent {
  std::string type = "message";   // the `event:` field
  std::string data;               // `data:` lines joined with '\n'
  std::optional<std::string> id;  // the `id:` field of this event, if any
};

class SseParser {
 public:
  using Callback = std::function<void(const SseEvent&)>;

  // Parses `bytes`; calls `on_event` for every event they complete.
  void feed(std::string_view bytes, const Callback& on_event);

 private:
  void line(std::string_view text, const Callback& on_event);

  std::string line_;
  bool after_cr_ = false;  // the previous byte was CR (a following LF is part of it)
  SseEvent event_;
  bool has_data_ = false;
};

}  // namespace presenced::ctl
