#include "control/json_codec.h"

#include <charconv>
#include <limits>

#include "dataplane/engine/presence_event.h"
#include "dataplane/wire/names.h"

namespace presenced::control::json_codec {
namespace {

Json address_json(const NetAddr& a) {
  if (a.family == 0) return nullptr;
  return to_string(a);
}

// One numeric key of the configuration: its JSON name, the name
// engine::validate() uses for it, its range and how to store and read it.
// The single list of the keys: PATCH parsing, GET /v1/config and
// config_keys() all walk it.
struct ConfigKey {
  const char* key;
  const char* engine_name;
  uint64_t lo;
  uint64_t hi;
  const char* unit;
  void (*set)(engine::EngineConfig&, uint64_t);
  uint64_t (*get)(const engine::EngineConfig&);
};

using L = engine::ConfigLimits;
using C = engine::EngineConfig;

constexpr ConfigKey kNumericKeys[] = {
    {"interval_s", "interval", L::kIntervalMin, L::kIntervalMax, " seconds",
     [](C& c, uint64_t v) { c.interval_s = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.interval_s; }},
    {"miss_limit", "miss_limit", L::kMissLimitMin, L::kMissLimitMax, "",
     [](C& c, uint64_t v) { c.miss_limit = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.miss_limit; }},
    {"grace_ms", "grace", 0, L::kGraceMax, " ms",
     [](C& c, uint64_t v) { c.grace_ms = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.grace_ms; }},
    {"linger_ms", "linger", 0, L::kLingerMax, " ms",
     [](C& c, uint64_t v) { c.linger_ms = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.linger_ms; }},
    {"min_interval_s", "min_interval", L::kIntervalMin, L::kIntervalMax, " seconds",
     [](C& c, uint64_t v) { c.min_interval_s = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.min_interval_s; }},
    {"max_interval_s", "max_interval", L::kIntervalMin, L::kIntervalMax, " seconds",
     [](C& c, uint64_t v) { c.max_interval_s = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.max_interval_s; }},
    {"heartbeat_budget", "heartbeat_budget", 0, L::kBudgetMax, " heartbeats/s (0: no budget)",
     [](C& c, uint64_t v) { c.heartbeat_budget = v; },
     [](const C& c) -> uint64_t { return c.heartbeat_budget; }},
    {"tick_ms", "tick", L::kTickMin, L::kTickMax, " ms",
     [](C& c, uint64_t v) { c.tick_ms = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.tick_ms; }},
    {"admission_rate", "admission_rate", 0, L::kAdmissionMax, " sessions/s (0: unlimited)",
     [](C& c, uint64_t v) { c.admission_rate = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.admission_rate; }},
    {"source_invalid_budget", "source_invalid_budget", 0, L::kSourceBudgetMax,
     " packets/s (0: off)",
     [](C& c, uint64_t v) { c.source_invalid_budget = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.source_invalid_budget; }},
    {"stall_threshold_ms", "stall_threshold", L::kStallMin, L::kStallMax, " ms",
     [](C& c, uint64_t v) { c.stall_threshold_ms = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.stall_threshold_ms; }},
    {"restart_grace_ms", "restart_grace", 0, L::kRestartGraceMax, " ms",
     [](C& c, uint64_t v) { c.restart_grace_ms = static_cast<uint32_t>(v); },
     [](const C& c) -> uint64_t { return c.restart_grace_ms; }},
};

std::string range_text(uint64_t lo, uint64_t hi) {
  // Appended piece by piece: "[" + std::string trips g++ 12's -Wrestrict.
  std::string t(1, '[');
  t += std::to_string(lo);
  t += ", ";
  t += std::to_string(hi);
  t += ']';
  return t;
}

// Reads an unsigned integer JSON value within [lo, hi]; false for any other
// type (floats included) or range.
bool read_uint(const Json& v, uint64_t lo, uint64_t hi, uint64_t& out) {
  if (v.is_number_unsigned()) {
    out = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    const int64_t s = v.get<int64_t>();
    if (s < 0) return false;
    out = static_cast<uint64_t>(s);
  } else {
    return false;
  }
  return out >= lo && out <= hi;
}

std::string uint_error(std::string_view key, uint64_t lo, uint64_t hi, std::string_view unit) {
  std::string m(key);
  m += " must be an integer in ";
  m += range_text(lo, hi);
  m += unit;
  return m;
}

bool set_error(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

bool read_target(const Json& body, NetAddr& out, std::string* error) {
  out = NetAddr{};
  const auto it = body.find("target");
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string() || !parse_net_addr(it->get<std::string>(), out)) {
    return set_error(error, "target must be a string ADDR:PORT or [ADDR6]:PORT");
  }
  return true;
}

bool read_spread(const Json& body, uint32_t& out, std::string* error) {
  out = 0;
  const auto it = body.find("spread_ms");
  if (it == body.end()) return true;
  uint64_t v = 0;
  if (!read_uint(*it, 0, kMaxSpreadMs, v)) {
    return set_error(error, uint_error("spread_ms", 0, kMaxSpreadMs, " ms"));
  }
  out = static_cast<uint32_t>(v);
  return true;
}

bool check_keys(const Json& body, std::initializer_list<std::string_view> allowed,
                std::string* error) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool known = false;
    for (std::string_view k : allowed) known = known || it.key() == k;
    if (!known) {
      std::string m = "unknown key \"" + it.key() + "\" (accepted:";
      for (std::string_view k : allowed) {
        m += ' ';
        m += k;
      }
      m += ')';
      return set_error(error, std::move(m));
    }
  }
  return true;
}

}  // namespace

std::string error_body(std::string_view message) {
  Json j;
  j["error"] = message;
  return j.dump();
}

std::string_view reason_name(wire::ReconnectReason r) { return wire::reconnect_reason_name(r); }

bool parse_reason(std::string_view text, wire::ReconnectReason& out) {
  return wire::parse_reconnect_reason(text, out);
}

Json core_json(const CoreStatus& c, bool with_identity) {
  Json j;
  if (with_identity) {
    j["core"] = c.core;
    j["cpu"] = c.cpu;
  }
  const engine::CoreStatsSnapshot& e = c.engine;
  j["packets_in"] = c.io.rx_datagrams;
  j["packets_out"] = c.io.tx_datagrams;
  j["bytes_in"] = c.io.rx_bytes;
  j["bytes_out"] = c.io.tx_bytes;
  j["rx_errors"] = c.io.rx_errors;
  j["rx_dropped"] = c.io.rx_dropped;
  j["tx_errors"] = c.io.tx_errors;
  j["heartbeats_accepted"] = e.heartbeats_accepted;
  j["byes_accepted"] = e.byes_accepted;
  Json drops = Json::object();
  for (std::size_t r = 1; r < wire::kDropReasonCount; ++r) {
    drops[std::string(wire::drop_reason_name(static_cast<wire::DropReason>(r)))] = e.drops[r];
  }
  j["drops"] = std::move(drops);
  j["drops_total"] = e.drops_total();
  j["sessions_online"] = c.sessions_online;
  j["users_online"] = c.users_online;
  j["table_used"] = c.table_used;
  j["table_capacity"] = c.table_capacity;
  j["table_load"] = c.table_capacity == 0
                        ? 0.0
                        : static_cast<double>(c.table_used) / static_cast<double>(c.table_capacity);
  j["wheel_entries"] = e.wheel_entries;
  j["events_published"] = e.events_online + e.events_status + e.events_offline;
  j["advised_interval_s"] = e.advised_interval_s;
  j["loop_iterations"] = c.loop_iterations;
  j["loop_sleeps"] = c.loop_sleeps;
  // Every engine counter under its own name (core_stats.h), so a counter
  // added there shows up here without a change.
  Json counters = Json::object();
#define PRESENCED_COUNTER_JSON(name, help) counters[#name] = e.name;
  PRESENCED_CORE_COUNTERS(PRESENCED_COUNTER_JSON)
#undef PRESENCED_COUNTER_JSON
  j["counters"] = std::move(counters);
  return j;
}

Json drain_json(const DrainStatus& d) {
  Json j;
  j["active"] = d.active;
  j["started_ms"] = d.started_ms;
  j["total"] = d.total;
  j["pushed"] = d.pushed;
  j["remaining"] = d.total > d.pushed ? d.total - d.pushed : 0;
  j["rate"] = d.rate;
  j["target"] = address_json(d.directive.target);
  j["spread_ms"] = d.directive.spread_ms;
  j["reason"] = reason_name(d.directive.reason);
  return j;
}

Json status_json(const StatusSnapshot& s, const StreamStatus& stream) {
  Json j;
  j["version"] = s.version;
  j["backend"] = s.backend;
  j["epoch"] = s.epoch;
  j["uptime_ms"] = s.uptime_ms;
  j["listen"] = to_string(s.listen);
  j["max_sessions"] = s.max_sessions;
  j["events_delivered"] = s.events_delivered;
  Json cores = Json::array();
  for (const CoreStatus& c : s.cores) cores.push_back(core_json(c, true));
  j["cores"] = std::move(cores);
  j["total"] = core_json(s.total, false);
  j["drain"] = drain_json(s.drain);
  Json st;
  st["subscribers"] = stream.subscribers;
  st["slow_consumers_cut"] = stream.slow_consumers_cut;
  st["backlog"] = stream.backlog;
  st["backlog_capacity"] = stream.backlog_capacity;
  st["last_event_id"] = stream.last_event_id;
  j["stream"] = std::move(st);
  return j;
}

Json user_json(const UserInfo& u) {
  Json j;
  j["user"] = u.user;
  j["online"] = u.online;
  j["lingering"] = u.lingering;
  j["status"] = engine::status_name(u.status);
  j["last_seen_ms"] = u.last_seen_ms;
  Json devices = Json::array();
  for (const DeviceInfo& d : u.devices) {
    Json dj;
    dj["device"] = d.device;
    dj["online"] = d.online;
    dj["status"] = engine::status_name(d.status);
    dj["last_seen_ms"] = d.last_seen_ms;
    dj["address"] = address_json(d.address);
    dj["interval_s"] = d.interval_s;
    dj["reconnect_pending"] = d.reconnect_pending;
    dj["seq"] = d.seq;
    dj["token_expiry"] = d.token_expiry;
    devices.push_back(std::move(dj));
  }
  j["devices"] = std::move(devices);
  return j;
}

Json config_json(const engine::EngineConfig& c, log::Level level) {
  Json j;
  for (const ConfigKey& k : kNumericKeys) j[k.key] = k.get(c);
  j["log_level"] = log::level_name(level);
  return j;
}

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const ConfigKey& c : kNumericKeys) k.emplace_back(c.key);
    k.emplace_back("log_level");
    return k;
  }();
  return keys;
}

std::string config_message_as_keys(const std::string& message) {
  std::string out;
  out.reserve(message.size() + 16);
  std::size_t i = 0;
  while (i < message.size()) {
    // Copy one word (identifier characters) or one other character.
    const auto is_word = [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '_';
    };
    if (!is_word(message[i])) {
      out += message[i++];
      continue;
    }
    std::size_t end = i;
    while (end < message.size() && is_word(message[end])) ++end;
    const std::string_view word(message.data() + i, end - i);
    bool replaced = false;
    for (const ConfigKey& k : kNumericKeys) {
      if (word == k.engine_name) {
        out += k.key;
        replaced = true;
        break;
      }
    }
    if (!replaced) out.append(word);
    i = end;
  }
  return out;
}

bool apply_config_patch(const Json& patch, engine::EngineConfig& config, log::Level& level,
                        std::string* error) {
  if (!patch.is_object()) return set_error(error, "the body must be a JSON object");
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& key = it.key();
    if (key == "log_level") {
      if (!it->is_string() || !log::parse_level(it->get<std::string>(), level)) {
        return set_error(error, "log_level must be one of error, warn, info, debug");
      }
      continue;
    }
    const ConfigKey* k = nullptr;
    for (const ConfigKey& c : kNumericKeys) {
      if (key == c.key) k = &c;
    }
    if (k == nullptr) {
      std::string m = "unknown key \"" + key + "\" (accepted:";
      for (const std::string& name : config_keys()) m += " " + name;
      m += ")";
      return set_error(error, std::move(m));
    }
    uint64_t v = 0;
    if (!read_uint(*it, k->lo, k->hi, v)) {
      return set_error(error, uint_error(key, k->lo, k->hi, k->unit));
    }
    k->set(config, v);
  }
  if (const auto err = engine::validate(config)) {
    return set_error(error, config_message_as_keys(*err));
  }
  return true;
}

bool parse_reconnect(const Json& body, ReconnectRequest& out, std::string* error) {
  if (!body.is_object()) return set_error(error, "the body must be a JSON object");
  if (!check_keys(body, {"user", "device", "all", "target", "spread_ms", "reason"}, error)) {
    return false;
  }
  out = ReconnectRequest{};
  const bool has_user = body.contains("user");
  const bool has_device = body.contains("device");
  const bool has_all = body.contains("all");
  if (has_all) {
    if (!body["all"].is_boolean() || !body["all"].get<bool>()) {
      return set_error(error, "all must be true (or give user, and optionally device)");
    }
    if (has_user || has_device) {
      return set_error(error, "give either all or user (with an optional device), not both");
    }
    out.scope = engine::ReconnectScope::kAll;
  } else if (has_user) {
    uint64_t u = 0;
    if (!read_uint(body["user"], 1, std::numeric_limits<uint64_t>::max(), u)) {
      return set_error(error, uint_error("user", 1, std::numeric_limits<uint64_t>::max(), ""));
    }
    out.user = u;
    out.scope = engine::ReconnectScope::kUser;
    if (has_device) {
      uint64_t d = 0;
      if (!read_uint(body["device"], 0, std::numeric_limits<uint32_t>::max(), d)) {
        return set_error(error, uint_error("device", 0, std::numeric_limits<uint32_t>::max(), ""));
      }
      out.device = static_cast<uint32_t>(d);
      out.scope = engine::ReconnectScope::kDevice;
    }
  } else if (has_device) {
    return set_error(error, "device needs user");
  } else {
    return set_error(error, "give user (with an optional device) or all: true");
  }
  if (!read_target(body, out.directive.target, error)) return false;
  if (!read_spread(body, out.directive.spread_ms, error)) return false;
  out.directive.reason = wire::ReconnectReason::kOperator;
  if (const auto it = body.find("reason"); it != body.end()) {
    if (!it->is_string() || !parse_reason(it->get<std::string>(), out.directive.reason)) {
      return set_error(error, "reason must be one of drain, operator, rebalance, overload");
    }
  }
  return true;
}

bool parse_drain(const Json& body, engine::ReconnectDirective& directive, uint32_t& rate,
                 std::string* error) {
  if (!body.is_object()) return set_error(error, "the body must be a JSON object");
  if (!check_keys(body, {"target", "spread_ms", "rate"}, error)) return false;
  directive = engine::ReconnectDirective{};
  directive.reason = wire::ReconnectReason::kDrain;
  if (!read_target(body, directive.target, error)) return false;
  if (!read_spread(body, directive.spread_ms, error)) return false;
  if (const auto it = body.find("rate"); it != body.end()) {
    uint64_t r = 0;
    if (!read_uint(*it, ControlLimits::kDrainRateMin, ControlLimits::kDrainRateMax, r)) {
      return set_error(error, uint_error("rate", ControlLimits::kDrainRateMin,
                                         ControlLimits::kDrainRateMax, " sessions/s"));
    }
    rate = static_cast<uint32_t>(r);
  }
  return true;
}

BatchResult parse_batch(const Json& body, std::vector<uint64_t>& users, std::string* error) {
  users.clear();
  if (!body.is_object()) {
    set_error(error, "the body must be a JSON object {\"users\":[...]}");
    return BatchResult::kBad;
  }
  if (!check_keys(body, {"users"}, error)) return BatchResult::kBad;
  const auto it = body.find("users");
  if (it == body.end() || !it->is_array()) {
    set_error(error, "users must be an array of user ids");
    return BatchResult::kBad;
  }
  if (it->size() > kMaxBatchUsers) {
    set_error(error, "users: at most " + std::to_string(kMaxBatchUsers) + " per batch (got " +
                         std::to_string(it->size()) + ")");
    return BatchResult::kTooMany;
  }
  users.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    uint64_t u = 0;
    if (!read_uint((*it)[i], 1, std::numeric_limits<uint64_t>::max(), u)) {
      set_error(error, uint_error("users[" + std::to_string(i) + "]", 1,
                                  std::numeric_limits<uint64_t>::max(), ""));
      return BatchResult::kBad;
    }
    users.push_back(u);
  }
  return BatchResult::kOk;
}

bool parse_user_id(std::string_view text, uint64_t& out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) return false;
  out = v;
  return true;
}

}  // namespace presenced::control::json_codec
