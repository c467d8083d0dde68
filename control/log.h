// log.h: the server's log, one line per message on stderr.
//
// Owns: the level filter and the output lock. Only the control plane and
// start-up code log; data cores never log per packet (they count).
// Concurrency: thread-safe (a mutex around each line).
#pragma once

#include <string>
#include <string_view>

namespace presenced::log {

enum class Level : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug"; false for anything else.
bool parse_level(std::string_view s, Level& out);
const char* level_name(Level l);

void set_level(Level l);
Level level();

void write(Level l, const std::string& message);
inline void error(const std::string& m) {
  write(Level::kError, m);
}
inline void warn(const std::string& m) {
  write(Level::kWarn, m);
}
inline void info(const std::string& m) {
  write(Level::kInfo, m);
}
inline void debug(const std::string& m) {
  write(Level::kDebug, m);
}

}  // namespace presenced::log
