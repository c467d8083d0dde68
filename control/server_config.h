// server_config.h: everything an operator sets when starting presenced.
//
// Owns: the option set, its defaults, parsing from the command line and an
// optional TOML file (--config; the same keys as the long flags, `-` or `_`
// both accepted; flags win), and validation with messages that name the flag
// and its accepted range (including the control-plane rule: a control
// address off loopback needs --control-token-file).
// Concurrency: a value built once at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/log.h"
#include "dataplane/common/duration.h"
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

  // DPDK backend (dataplane/io/dpdk/, docs/OPERATIONS.md "Running with DPDK").
  std::string dpdk_args;                      // --dpdk-args: EAL arguments
  uint16_t dpdk_port = 0;                     // --port: DPDK port id
  std::vector<NetAddr> dpdk_ips;              // --ip: own addresses on the port
  std::vector<uint8_t> dpdk_ip_prefixes;      // their prefix lengths (0: host address)
  std::string dpdk_exception = "presenced0";  // --dpdk-exception: tap name, port:N or off

  // Control plane (control/http_api.h).
  bool control_enabled = true;                              // --control off: false
  NetAddr control = NetAddr::v4_bytes(127, 0, 0, 1, 7461);  // HTTP listen address
  std::string control_token_file;                           // bearer token; required off loopback
  uint64_t event_backlog = 100'000;  // events kept for SSE resume (Last-Event-ID)
  uint32_t drain_rate = 50'000;      // default RECONNECT pushes/s of POST /v1/drain
};

// Accepted ranges of the control-plane flags (inclusive).
struct ControlLimits {
  static constexpr uint64_t kEventBacklogMin = 1, kEventBacklogMax = 10'000'000;
  static constexpr uint32_t kDrainRateMin = 1, kDrainRateMax = 10'000'000;
};

// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104: addresses only this
// host can reach, where the control plane may run without a token.
bool is_loopback(const NetAddr& a);

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
using presenced::parse_duration_ms;  // dataplane/common/duration.h

}  // namespace presenced::control
