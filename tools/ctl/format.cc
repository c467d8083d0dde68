#include "tools/ctl/format.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>

namespace presenced::ctl {
namespace {

std::string percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", ratio * 100.0);
  return buf;
}

std::string rate(double v) {
  return format_count(v) + "/s";
}

double field_double(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<double>();
}

bool get_bool(const Json& j, const char* key) {
  if (!j.is_object()) return false;
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

int64_t get_i64(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  const auto it = j.find(key);
  if (it == j.end() || !(it->is_number_integer() || it->is_number_unsigned())) return 0;
  return it->get<int64_t>();
}

const Json& member(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string yes_no(const Json& j, const char* key) {
  if (!j.is_object()) return "-";
  const auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return "-";
  return it->get<bool>() ? "yes" : "no";
}

std::string ago(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) return "-";
  if (now_ms <= then_ms) return "now";
  return format_duration_ms(static_cast<uint64_t>(now_ms - then_ms)) + " ago";
}

}  // namespace

Table::Table(std::vector<std::string> headers, std::vector<bool> right_aligned)
    : headers_(std::move(headers)), right_(std::move(right_aligned)) {
  right_.resize(headers_.size(), false);
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string Table::render() const {
  std::vector<std::size_t> width(headers_.size());
  for (std::size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      const std::size_t pad = width[c] - row[c].size();
      if (right_[c]) line.append(pad, ' ');
      line += row[c];
      if (!right_[c] && c + 1 < row.size()) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string format_time_ms(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  const time_t secs = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[64];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), buf,
                static_cast<int>(unix_ms % 1000));
  return out;
}

std::string format_duration_ms(uint64_t ms) {
  const uint64_t s = ms / 1000;
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 ".%01" PRIu64 "s", s, (ms % 1000) / 100);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, (s % 86400) / 3600);
  }
  return buf;
}

std::string format_count(double v) {
  char buf[32];
  if (v < 10'000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (v < 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else if (v < 10'000'000'000.0) {
    std::snprintf(buf, sizeof buf, "%.1fM", v / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fG", v / 1e9);
  }
  return buf;
}

std::string field(const Json& j, const char* key) {
  if (!j.is_object()) return "-";
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "true" : "false";
  return it->dump();
}

uint64_t field_u64(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned()) return 0;
  return it->get<uint64_t>();
}

std::string render_status(const Json& s) {
  std::string out;
  const Json& total = member(s, "total");
  out += "presenced " + field(s, "version") + "  backend " + field(s, "backend") + "  epoch " +
         field(s, "epoch") + "  up " + format_duration_ms(field_u64(s, "uptime_ms")) + "  listen " +
         field(s, "listen") + "\n";
  out += "sessions online " + field(total, "sessions_online") + "  users online " +
         field(total, "users_online") + "  table " + field(total, "table_used") + "/" +
         field(total, "table_capacity") + " (" + percent(field_double(total, "table_load")) +
         ")  advised interval " + field(total, "advised_interval_s") + "s\n";
  if (s.contains("stream")) {
    const Json& st = s["stream"];
    out += "events delivered " + field(s, "events_delivered") +
           "  stream: " + field(st, "subscribers") + " subscriber(s), " +
           field(st, "slow_consumers_cut") + " slow consumer(s) cut, backlog " +
           field(st, "backlog") + "/" + field(st, "backlog_capacity") + ", last id " +
           field(st, "last_event_id") + "\n";
  }
  if (s.contains("drain")) out += render_drain(s["drain"]);
  out += "\n";
  Table t({"CORE", "CPU", "PACKETS_IN", "PACKETS_OUT", "HEARTBEATS", "BYES", "DROPS", "SESSIONS",
           "USERS", "LOAD", "WHEEL", "EVENTS", "INTERVAL"},
          {true, true, true, true, true, true, true, true, true, true, true, true, true});
  auto row = [&](const std::string& core, const std::string& cpu, const Json& c) {
    t.add({core, cpu, field(c, "packets_in"), field(c, "packets_out"),
           field(c, "heartbeats_accepted"), field(c, "byes_accepted"), field(c, "drops_total"),
           field(c, "sessions_online"), field(c, "users_online"),
           percent(field_double(c, "table_load")), field(c, "wheel_entries"),
           field(c, "events_published"), field(c, "advised_interval_s") + "s"});
  };
  if (s.contains("cores") && s["cores"].is_array()) {
    for (const Json& c : s["cores"]) row(field(c, "core"), field(c, "cpu"), c);
  }
  row("total", "", total);
  out += t.render();
  if (total.contains("drops") && total["drops"].is_object()) {
    std::string drops;
    for (auto it = total["drops"].begin(); it != total["drops"].end(); ++it) {
      if (it->is_number() && it->get<uint64_t>() > 0) {
        drops += (drops.empty() ? "" : ", ") + it.key() + " " + it->dump();
      }
    }
    out += "drops by reason: " + (drops.empty() ? std::string("none") : drops) + "\n";
  }
  return out;
}

std::string render_top(const Json& now, const Json* before, double seconds) {
  std::string out;
  const Json& total = member(now, "total");
  out += "presenced " + field(now, "version") + " (" + field(now, "backend") + ")  up " +
         format_duration_ms(field_u64(now, "uptime_ms")) + "  sessions " +
         field(total, "sessions_online") + "  users " + field(total, "users_online") +
         "  interval " + field(total, "advised_interval_s") + "s";
  if (now.contains("drain") && get_bool(now["drain"], "active")) {
    out += "  DRAINING " + field(now["drain"], "pushed") + "/" + field(now["drain"], "total");
  }
  out += "\n\n";
  // Rates need the previous snapshot of the same core.
  std::map<uint64_t, const Json*> prev;
  if (before != nullptr && before->contains("cores") && (*before)["cores"].is_array()) {
    for (const Json& c : (*before)["cores"]) prev[field_u64(c, "core")] = &c;
  }
  auto per_s = [&](const Json& c, const Json* p, const char* key) {
    if (p == nullptr || seconds <= 0) return std::string("-");
    const uint64_t a = field_u64(c, key);
    const uint64_t b = field_u64(*p, key);
    return rate(a >= b ? static_cast<double>(a - b) / seconds : 0.0);
  };
  Table t({"CORE", "CPU", "IN", "OUT", "HEARTBEATS", "DROPS", "EVENTS", "SESSIONS", "USERS", "LOAD",
           "WHEEL", "INTERVAL"},
          {true, true, true, true, true, true, true, true, true, true, true, true});
  if (now.contains("cores") && now["cores"].is_array()) {
    for (const Json& c : now["cores"]) {
      const auto it = prev.find(field_u64(c, "core"));
      const Json* p = it == prev.end() ? nullptr : it->second;
      t.add({field(c, "core"), field(c, "cpu"), per_s(c, p, "packets_in"),
             per_s(c, p, "packets_out"), per_s(c, p, "heartbeats_accepted"),
             per_s(c, p, "drops_total"), per_s(c, p, "events_published"),
             field(c, "sessions_online"), field(c, "users_online"),
             percent(field_double(c, "table_load")), field(c, "wheel_entries"),
             field(c, "advised_interval_s") + "s"});
    }
  }
  out += t.render();
  return out;
}

std::string render_user(const Json& u, int64_t now_ms) {
  std::string out;
  const bool online = get_bool(u, "online");
  const int64_t seen = get_i64(u, "last_seen_ms");
  out += "user " + field(u, "user") + ": " +
         (online ? "online (" + field(u, "status") + ")" : std::string("offline")) +
         (get_bool(u, "lingering") ? ", lingering" : "") + ", last seen " + format_time_ms(seen) +
         " (" + ago(seen, now_ms) + ")\n";
  Table t({"DEVICE", "ONLINE", "STATUS", "LAST_SEEN", "ADDRESS", "INTERVAL", "RECONNECT"},
          {true, false, false, false, false, true, false});
  if (u.contains("devices") && u["devices"].is_array()) {
    for (const Json& d : u["devices"]) {
      t.add({field(d, "device"), yes_no(d, "online"), field(d, "status"),
             format_time_ms(get_i64(d, "last_seen_ms")), field(d, "address"),
             field(d, "interval_s") + "s", get_bool(d, "reconnect_pending") ? "pending" : "-"});
    }
  }
  out += t.render();
  return out;
}

std::string render_users(const std::vector<uint64_t>& requested, const Json& found,
                         int64_t now_ms) {
  std::map<uint64_t, const Json*> by_id;
  if (found.is_array()) {
    for (const Json& u : found) by_id[field_u64(u, "user")] = &u;
  }
  Table t({"USER", "ONLINE", "STATUS", "LAST_SEEN", "AGO", "DEVICES"},
          {true, false, false, false, true, true});
  for (uint64_t id : requested) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) {
      t.add({std::to_string(id), "unknown", "-", "-", "-", "0"});
      continue;
    }
    const Json& u = *it->second;
    const int64_t seen = get_i64(u, "last_seen_ms");
    const std::size_t devices = u.contains("devices") ? u["devices"].size() : 0;
    t.add({std::to_string(id), yes_no(u, "online"), field(u, "status"), format_time_ms(seen),
           ago(seen, now_ms), std::to_string(devices)});
  }
  return t.render();
}

std::string render_config(const Json& c) {
  Table t({"KEY", "VALUE"}, {false, true});
  if (c.is_object()) {
    for (auto it = c.begin(); it != c.end(); ++it) {
      t.add({it.key(), it->is_string() ? it->get<std::string>() : it->dump()});
    }
  }
  return t.render();
}

std::string render_drain(const Json& d) {
  if (!get_bool(d, "active")) return "drain: not draining\n";
  const uint64_t total = field_u64(d, "total");
  const uint64_t pushed = field_u64(d, "pushed");
  const double done = total == 0 ? 1.0 : static_cast<double>(pushed) / static_cast<double>(total);
  return "drain: active since " + format_time_ms(get_i64(d, "started_ms")) + ", pushed " +
         std::to_string(pushed) + "/" + std::to_string(total) + " (" +
         percent(std::min(done, 1.0)) + ") at " + field(d, "rate") + "/s, target " +
         (d.contains("target") && !d["target"].is_null() ? field(d, "target")
                                                         : std::string("same server")) +
         ", spread " + field(d, "spread_ms") + " ms\n";
}

std::string render_event(const std::string& id, const std::string& type, const Json& data) {
  std::string line = id + " " + type + " user=" + field(data, "user");
  if (type != "offline") line += " status=" + field(data, "status");
  line += " last_seen=" + format_time_ms(get_i64(data, "last_seen_ms")) +
          " seq=" + field(data, "seq") + "\n";
  return line;
}

std::string render_reset(const Json& data) {
  return "reset reason=" + field(data, "reason") + " missed_from=" + field(data, "missed_from") +
         " resume_at=" + field(data, "resume_at") + "\n";
}

}  // namespace presenced::ctl
