// server_config.h: everything an operator sets when starting presenced.
//
// Owns: the option set, its defaults, parsing from the command line and an
// optional TOML file (--config; the same keys as the long flags, `-` or `_`
// both accepted; flags win), and validation with messages that name the flag
// and its accepted range. Concurrency: a value built once at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/log.h"
#include "dataplane/common/net_addr.h"
#include "dataplane/engine/engine_config.h"
#include "dataplane/io/io_backend.h"

namespace presenced::control {

struct ServerConfig {
  io::BackendKind backend = io::BackendKind::kUring;
  NetAddr listen = NetAddr::v4_bytes(0, 0, 0, 0, 7460);
  std::vector<int> cores;  // data cores; empty: all CPUs but the first
  uint64_t max_sessions = 1'000'000;
  uint32_t shards = 0;          // 0: one per data core
  std::string master_key_file;  // empty: state_dir/master.key
  std::string state_dir = "./presenced-state";
  engine::EngineConfig engine;
  std::string events_out;  // path, "-" for stdout, empty for none
  log::Level log_level = log::Level::kInfo;
  bool busy_poll = false;
  uint32_t stats_interval_s = 0;  // status line on stderr every N s; 0 off
  uint32_t burst = 32;
};

struct ParseResult {
  // -1: go on and run; otherwise exit with this code (0 after --help).
  int exit_code = -1;
  std::string message;  // for stderr (or stdout for --help)
};

ParseResult parse_server_config(int argc, const char* const* argv, ServerConfig& out);

// The data cores to use by default: every online CPU but the first, at
// least one.
std::vector<int> default_data_cores();

// "2s", "1500ms", "1.5s", "3m", or a bare number of `default_unit_ms`.
bool parse_duration_ms(const std::string& text, uint64_t default_unit_ms, uint64_t& ms);

}  // namespace presenced::control
