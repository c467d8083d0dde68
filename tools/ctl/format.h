// format.h: presencectl's human-readable output: aligned tables and the
// renderings of status, users, config, drain and events.
//
// Owns: layout only. Every function takes the server's JSON (the shapes of
// docs/OPERATIONS.md) and returns text; missing keys print as "-", so a
// newer or older server never makes presencectl fail. Concurrency: pure
// functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/ctl/client.h"

namespace presenced::ctl {

class Table {
 public:
  // Columns whose header is in `right` are right-aligned (numbers).
  Table(std::vector<std::string> headers, std::vector<bool> right_aligned);
  void add(std::vector<std::string> row);
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// 1795824479118 -> "2026-11-28T00:07:59.118Z"; 0 -> "-".
std::string format_time_ms(int64_t unix_ms);
// 83000 -> "1m23s".
std::string format_duration_ms(uint64_t ms);
// 1234567 -> "1.23M"; small numbers as they are.
std::string format_count(double v);

std::string render_status(const Json& status);
// Per-core rates between two status snapshots `seconds` apart (top).
std::string render_top(const Json& now, const Json* before, double seconds);
std::string render_user(const Json& user, int64_t now_ms);
// One row per requested id, in request order (unknown ones marked).
std::string render_users(const std::vector<uint64_t>& requested, const Json& found, int64_t now_ms);
std::string render_config(const Json& config);
std::string render_drain(const Json& drain);
// One line per event: "ID TYPE user=U status=S last_seen=T seq=N".
std::string render_event(const std::string& id, const std::string& type, const Json& data);
std::string render_reset(const Json& data);

// Reads a JSON value as a display string ("-" when absent or null).
std::string field(const Json& j, const char* key);
uint64_t field_u64(const Json& j, const char* key);

}  // namespace presenced::ctl
