// sse_reader.h: reads a control plane's GET /v1/events (Server-Sent
// Events) on 127.0.0.1 for tests, until a predicate says stop or the server
// ends the stream. Blocking, bounded by the read timeout; one call per
// thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include "tools/ctl/sse_parser.h"

namespace presenced::testing {

// Reads GET /v1/events until `until` is true or the server ends the stream.
struct SseRead {
  std::vector<ctl::SseEvent> events;
  std::string raw;
  int status = 0;
  bool ended_by_server = false;
};

inline SseRead read_sse(uint16_t port, std::optional<uint64_t> last_id,
                        const std::function<bool(const SseRead&)>& until,
                        const std::string& token = "",
                        std::chrono::seconds read_timeout = std::chrono::seconds(15)) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(read_timeout.count(), 0);
  if (!token.empty()) c.set_bearer_token_auth(token);
  httplib::Headers h;
  if (last_id) h.emplace("Last-Event-ID", std::to_string(*last_id));
  SseRead out;
  ctl::SseParser parser;
  bool stopped = false;
  const auto res = c.Get(
      "/v1/events", h,
      [&](const httplib::Response& r) {
        out.status = r.status;
        return true;
      },
      [&](const char* data, std::size_t n) {
        out.raw.append(data, n);
        parser.feed(std::string_view(data, n),
                    [&](const ctl::SseEvent& e) { out.events.push_back(e); });
        if (until(out)) {
          stopped = true;
          return false;
        }
        return true;
      });
  out.ended_by_server = !stopped && static_cast<bool>(res);
  return out;
}

}  // namespace presenced::testing
