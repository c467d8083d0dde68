// json_codec.h: the control plane's JSON shapes (docs/OPERATIONS.md), both
// ways, with nlohmann-json.
//
// Owns: the conversion of status snapshots, users, drain progress and the
// engine configuration to JSON, and the validation of request bodies
// (config PATCH, reconnect, drain, batch query) into typed values. Request
// parsers never throw: they return false with a message that names the
// offending key and its accepted range or values, ready for a 400 body.
// Units are in the key names (interval_s, grace_ms, last_seen_ms).
//
// Concurrency: pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/log.h"
#include "control/server.h"
#include "dataplane/engine/engine_config.h"
#include "dataplane/engine/reconnect_directive.h"

namespace presenced::control::json_codec {

using Json = nlohmann::ordered_json;

// Counters of the event stream (control/event_stream.h) shown in status.
struct StreamStatus {
  uint64_t subscribers = 0;
  uint64_t slow_consumers_cut = 0;
  uint64_t backlog = 0;  // events held now
  uint64_t backlog_capacity = 0;
  uint64_t last_event_id = 0;  // 0: none yet
};

// ---- responses ----

// {"core","cpu","packets_in",...}; `with_identity` false for the total
// (no core/cpu).
Json core_json(const CoreStatus& c, bool with_identity);
Json drain_json(const DrainStatus& d);
Json status_json(const StatusSnapshot& s, const StreamStatus& stream);
Json user_json(const UserInfo& u);
Json config_json(const engine::EngineConfig& c, log::Level level);
// {"error": message}
std::string error_body(std::string_view message);

std::string_view reason_name(wire::ReconnectReason r);
bool parse_reason(std::string_view text, wire::ReconnectReason& out);

// ---- requests ----

// The JSON keys of the configuration, in display order.
const std::vector<std::string>& config_keys();

// Applies a PATCH body (an object with any subset of config_keys()) to
// `config` and `level`, then runs engine::validate(). On failure returns
// false with a message naming the key (unknown key, wrong type, out of
// range) and leaves the outputs unspecified.
bool apply_config_patch(const Json& patch, engine::EngineConfig& config, log::Level& level,
                        std::string* error);

// engine::validate()'s message with its field names turned into the JSON
// keys (interval -> interval_s, grace -> grace_ms, ...); the range text is
// kept.
std::string config_message_as_keys(const std::string& message);

// {"user":N} | {"user":N,"device":M} | {"all":true}, with optional
// "target":"ADDR:PORT", "spread_ms", "reason".
bool parse_reconnect(const Json& body, ReconnectRequest& out, std::string* error);

inline constexpr uint32_t kMaxSpreadMs = 3'600'000;

// {"target"?, "spread_ms"?, "rate"?}; `rate` keeps its value (the flag's
// default) when absent. The directive's reason is DRAIN.
bool parse_drain(const Json& body, engine::ReconnectDirective& directive, uint32_t& rate,
                 std::string* error);

inline constexpr std::size_t kMaxBatchUsers = 10'000;

enum class BatchResult { kOk, kBad, kTooMany };
// {"users":[N,...]}: at most kMaxBatchUsers ids, each in [1, 2^64-1].
BatchResult parse_batch(const Json& body, std::vector<uint64_t>& users, std::string* error);

// A user id in a URL path: decimal, in [1, 2^64-1].
bool parse_user_id(std::string_view text, uint64_t& out);

}  // namespace presenced::control::json_codec
