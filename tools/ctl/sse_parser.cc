#include "tools/ctl/sse_parser.h"

namespace presenced::ctl {

void SseParser::feed(std::string_view bytes, const Callback& on_event) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // CRLF: the CR ended the line already
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(line_, on_event);
      line_.clear();
    } else {
      line_ += c;
    }
  }
}

void SseParser::line(std::string_view text, const Callback& on_event) {
  if (text.empty()) {  // blank line: dispatch
    if (has_data_) on_event(event_);
    event_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // comment
  std::string_view field = text;
  std::string_view value;
  if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    field = text.substr(0, colon);
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.type = std::string(value);
  } else if (field == "id") {
    event_.id = std::string(value);
  }
}

}  // namespace presenced::ctl
