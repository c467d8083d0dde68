#include "control/server_config.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstring>
#include <sstream>

#include <arpa/inet.h>

#include <unistd.h>

#include "control/toml_config.h"

namespace presenced::control {
namespace {

// Validation messages of EngineConfig use config keys ("miss_limit"); on
// the command line the same setting is the flag "--miss-limit".
std::string as_flag_message(const std::string& message) {
  static const char* kKeys[] = {"miss_limit",      "min_interval",          "max_interval",
                                "heartbeat_budget", "admission_rate",        "source_invalid_budget",
                                "stall_threshold",  "restart_grace",         "interval",
                                "grace",            "linger",                "tick"};
  std::string out = message;
  for (const char* key : kKeys) {
    const std::string k(key);
    std::string flag = "--" + k;
    for (char& c : flag) {
      if (c == '_') c = '-';
    }
    if (k == "tick") flag = "--tick-ms";
    std::size_t pos = 0;
    while ((pos = out.find(k, pos)) != std::string::npos) {
      const bool start_ok = pos == 0 || out[pos - 1] == ' ' || out[pos - 1] == '(';
      const std::size_t end = pos + k.size();
      const bool end_ok = end == out.size() || out[end] == ' ' || out[end] == ')';
      if (start_ok && end_ok) {
        out.replace(pos, k.size(), flag);
        pos += flag.size();
      } else {
        pos = end;
      }
    }
  }
  return out;
}

bool parse_cores(const std::string& text, std::vector<int>& out, std::string& error) {
  out.clear();
  const long cpus = sysconf(_SC_NPROCESSORS_CONF);
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto dash = item.find('-');
    try {
      std::size_t used = 0;
      const int lo = std::stoi(item.substr(0, dash), &used);
      if (used != item.substr(0, dash).size()) throw std::invalid_argument(item);
      int hi = lo;
      if (dash != std::string::npos) {
        hi = std::stoi(item.substr(dash + 1), &used);
        if (used != item.substr(dash + 1).size()) throw std::invalid_argument(item);
      }
      if (lo < 0 || hi < lo || hi >= cpus) {
        error = "--cores: CPU " + item + " is not in [0, " + std::to_string(cpus - 1) + "]";
        return false;
      }
      for (int c = lo; c <= hi; ++c) {
        for (int seen : out) {
          if (seen == c) {
            error = "--cores: CPU " + std::to_string(c) + " is listed twice";
            return false;
          }
        }
        out.push_back(c);
      }
    } catch (const std::exception&) {
      error = "--cores: expected a list like 1,2,3 or 1-3, got \"" + text + "\"";
      return false;
    }
  }
  if (out.empty()) {
    error = "--cores: at least one CPU is needed";
    return false;
  }
  return true;
}

// "ADDR" or "ADDR/PREFIX", IPv4 or IPv6 (--ip); prefix 0 when absent.
bool parse_ip_prefix(const std::string& text, NetAddr& addr, uint8_t& prefix) {
  const auto slash = text.find('/');
  const std::string ip = text.substr(0, slash);
  uint8_t bytes[16];
  if (inet_pton(AF_INET, ip.c_str(), bytes) == 1) {
    addr = NetAddr::v4_bytes(bytes[0], bytes[1], bytes[2], bytes[3], 0);
  } else if (inet_pton(AF_INET6, ip.c_str(), bytes) == 1) {
    addr = NetAddr::v6(bytes, 0);
  } else {
    return false;
  }
  prefix = 0;
  if (slash == std::string::npos) return true;
  const std::string p = text.substr(slash + 1);
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  const int v = std::stoi(p);
  if (v < 1 || v > (addr.family == 4 ? 32 : 128)) return false;
  prefix = static_cast<uint8_t>(v);
  return true;
}

}  // namespace

bool is_loopback(const NetAddr& a) {
  if (a.family == 4) return a.ip[0] == 127;
  if (a.family != 6) return false;
  static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.ip.data(), kLoop6, 16) == 0) return true;
  return std::memcmp(a.ip.data(), kMapped, 12) == 0 && a.ip[12] == 127;
}

std::vector<int> default_data_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  std::vector<int> cores;
  for (long c = 1; c < n; ++c) cores.push_back(static_cast<int>(c));
  if (cores.empty()) cores.push_back(0);
  return cores;
}

ParseResult parse_server_config(int argc, const char* const* argv, ServerConfig& out) {
  CLI::App app{
      "presenced: presence server for instant messaging. Clients send authenticated UDP "
      "heartbeats (docs/PROTOCOL.md); data cores answer them and publish online/offline "
      "events.",
      "presenced"};
  app.config_formatter(std::make_shared<TomlConfig>());
  app.set_config("--config", "", "TOML file with the same keys as the long flags (flags win)");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.get_formatter()->column_width(34);
  // A flag given twice: the last one wins, as in most Unix tools.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  ServerConfig c = out;
  std::string backend = io::backend_name(c.backend);
  std::string listen = to_string(c.listen);
  std::string cores;
  std::string grace = "2s";
  std::string linger = "5s";
  std::string stall_threshold = "1s";
  std::string restart_grace = "92s";
  std::string log_level = log::level_name(c.log_level);
  std::string control = to_string(c.control);

  app.add_option("--backend", backend, "Packet I/O: uring (default), socket or dpdk")
      ->capture_default_str();
  app.add_option("--listen", listen,
                 "UDP address to serve, ADDR:PORT or [ADDR6]:PORT; port 0 picks a free port "
                 "(printed as `listening on ADDR:PORT`)")
      ->capture_default_str();
  app.add_option("--cores", cores,
                 "Data cores to pin to, e.g. 1,2,3 or 1-3 (default: all but CPU 0, at least one)");
  app.add_option("--max-sessions", c.max_sessions,
                 "Sessions the table holds (memory is reserved at start)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}));
  app.add_option("--shards", c.shards, "Table shards (0: one per data core)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 4096u));
  app.add_option("--master-key-file", c.master_key_file,
                 "File with the 16-byte master key as 32 hex characters (default: "
                 "STATE_DIR/master.key, created once with mode 0600)");
  app.add_option("--state-dir", c.state_dir, "Directory for state such as the generated key")
      ->capture_default_str();
  app.add_option("--interval", c.engine.interval_s, "Heartbeat interval advised to clients, s")
      ->capture_default_str();
  app.add_option("--miss-limit", c.engine.miss_limit,
                 "Missed intervals before a session is offline")
      ->capture_default_str();
  app.add_option("--grace", grace, "Added to every timeout (e.g. 2s, 500ms)")
      ->capture_default_str();
  app.add_option("--linger", linger, "Delay of OFFLINE events against flapping (e.g. 5s)")
      ->capture_default_str();
  app.add_option("--min-interval", c.engine.min_interval_s, "Shortest advised interval, s")
      ->capture_default_str();
  app.add_option("--max-interval", c.engine.max_interval_s, "Longest advised interval, s")
      ->capture_default_str();
  app.add_option("--heartbeat-budget", c.engine.heartbeat_budget,
                 "Heartbeats/s the server accepts before it advises longer intervals (0: none)")
      ->capture_default_str();
  app.add_option("--tick-ms", c.engine.tick_ms,
                 "Timer tick, ms: offline detection is at most this late")
      ->capture_default_str();
  app.add_option("--admission-rate", c.engine.admission_rate,
                 "New sessions/s admitted over all cores; above it new sessions get RECONNECT "
                 "OVERLOAD with a spread delay (0: unlimited)")
      ->capture_default_str();
  app.add_option("--source-invalid-budget", c.engine.source_invalid_budget,
                 "Invalid packets/s a source (IPv4 /32, IPv6 /64) may send per core before "
                 "its packets are dropped unverified (0: off)")
      ->capture_default_str();
  app.add_option("--stall-threshold", stall_threshold,
                 "A data core silent this long is stalled: its overdue sessions get a fresh "
                 "timeout instead of going offline (e.g. 1s)")
      ->capture_default_str();
  app.add_option("--restart-grace", restart_grace,
                 "After start, sessions resumed from before a restart publish no ONLINE event "
                 "this long (e.g. 92s; 0 to publish them)")
      ->capture_default_str();
  app.add_option("--events-out", c.events_out,
                 "Write presence events as JSON lines to PATH, or - for stdout");
  app.add_option("--log-level", log_level, "error, warn, info or debug")->capture_default_str();
  app.add_flag("--busy-poll", c.busy_poll, "Data cores spin instead of sleeping when idle");
  app.add_option("--stats-interval", c.stats_interval_s,
                 "Print a status line on stderr every N seconds (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0u, 86400u));
  app.add_option("--burst", c.burst, "Datagrams received per burst")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));

  std::vector<std::string> dpdk_ips;
  app.add_option("--dpdk-args", c.dpdk_args,
                 "EAL arguments for --backend dpdk, e.g. \"-a 0000:01:00.0\" or \"--no-huge "
                 "--no-pci --vdev=net_af_packet0,iface=eth1\"");
  app.add_option("--port", c.dpdk_port, "DPDK port id served by --backend dpdk")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--ip", dpdk_ips,
                 "Own address on the DPDK port, ADDR or ADDR/PREFIX, IPv4 or IPv6 (repeatable; "
                 "required with --backend dpdk)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--dpdk-exception", c.dpdk_exception,
                 "Where --backend dpdk sends frames that are not presenced's (ARP, NDP, ping, "
                 "other ports): a tap interface of this name with the --ip addresses, port:N "
                 "(an existing DPDK port) or off")
      ->capture_default_str();

  app.add_option("--control", control,
                 "HTTP control plane address, ADDR:PORT, or off; port 0 picks a free port "
                 "(printed as `control on ADDR:PORT`). Off loopback it needs "
                 "--control-token-file")
      ->capture_default_str();
  app.add_option("--control-token-file", c.control_token_file,
                 "File with the bearer token (one line) every control request must carry "
                 "(Authorization: Bearer TOKEN)");
  app.add_option("--event-backlog", c.event_backlog,
                 "Events kept in memory so that a /v1/events client resuming with "
                 "Last-Event-ID gets what it missed")
      ->capture_default_str()
      ->check(CLI::Range(ControlLimits::kEventBacklogMin, ControlLimits::kEventBacklogMax));
  app.add_option("--drain-rate", c.drain_rate,
                 "RECONNECT packets per second a drain pushes (all cores; POST /v1/drain may "
                 "override)")
      ->capture_default_str()
      ->check(CLI::Range(ControlLimits::kDrainRateMin, ControlLimits::kDrainRateMax));

  ParseResult r;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    r.exit_code = 0;
    r.message = app.help();
    return r;
  } catch (const CLI::ParseError& e) {
    r.exit_code = 2;
    r.message = std::string("presenced: ") + e.what() + "\nRun with --help for the options.";
    return r;
  }

  auto fail = [&](const std::string& msg) {
    r.exit_code = 2;
    r.message = "presenced: " + msg;
    return r;
  };
  if (!io::parse_backend_kind(backend, c.backend)) {
    return fail("--backend must be one of uring, socket, dpdk (got \"" + backend + "\")");
  }
  if (!parse_net_addr(listen, c.listen)) {
    return fail("--listen must be ADDR:PORT or [ADDR6]:PORT with a port in [0, 65535] (got \"" +
                listen + "\")");
  }
  if (!cores.empty()) {
    std::string err;
    if (!parse_cores(cores, c.cores, err)) return fail(err);
  } else {
    c.cores = default_data_cores();
  }
  uint64_t ms = 0;
  if (!parse_duration_ms(grace, 1000, ms) || ms > engine::ConfigLimits::kGraceMax) {
    return fail("--grace must be a duration in [0, 600s] like 2s or 500ms (got \"" + grace + "\")");
  }
  c.engine.grace_ms = static_cast<uint32_t>(ms);
  if (!parse_duration_ms(linger, 1000, ms) || ms > engine::ConfigLimits::kLingerMax) {
    return fail("--linger must be a duration in [0, 60s] like 5s or 500ms (got \"" + linger +
                "\")");
  }
  c.engine.linger_ms = static_cast<uint32_t>(ms);
  if (!parse_duration_ms(stall_threshold, 1000, ms) || ms < engine::ConfigLimits::kStallMin ||
      ms > engine::ConfigLimits::kStallMax) {
    return fail("--stall-threshold must be a duration in [100ms, 600s] like 1s (got \"" +
                stall_threshold + "\")");
  }
  c.engine.stall_threshold_ms = static_cast<uint32_t>(ms);
  if (!parse_duration_ms(restart_grace, 1000, ms) ||
      ms > engine::ConfigLimits::kRestartGraceMax) {
    return fail("--restart-grace must be a duration in [0, 3600s] like 92s (got \"" +
                restart_grace + "\")");
  }
  c.engine.restart_grace_ms = static_cast<uint32_t>(ms);
  if (!log::parse_level(log_level, c.log_level)) {
    return fail("--log-level must be one of error, warn, info, debug (got \"" + log_level + "\")");
  }
  if (const auto err = engine::validate(c.engine)) return fail(as_flag_message(*err));
  if (control == "off") {
    c.control_enabled = false;
  } else if (!parse_net_addr(control, c.control)) {
    return fail("--control must be ADDR:PORT, [ADDR6]:PORT or off (got \"" + control + "\")");
  } else {
    c.control_enabled = true;
    if (!is_loopback(c.control) && c.control_token_file.empty()) {
      return fail("--control " + control +
                  " is not a loopback address: the control plane there needs "
                  "--control-token-file (a file holding the bearer token)");
    }
  }
  c.dpdk_ips.clear();
  c.dpdk_ip_prefixes.clear();
  for (const std::string& text : dpdk_ips) {
    NetAddr a;
    uint8_t prefix = 0;
    if (!parse_ip_prefix(text, a, prefix)) {
      return fail("--ip must be an IPv4 or IPv6 address, optionally with /PREFIX (got \"" + text +
                  "\")");
    }
    c.dpdk_ips.push_back(a);
    c.dpdk_ip_prefixes.push_back(prefix);
  }
  if (c.backend == io::BackendKind::kDpdk && c.dpdk_ips.empty()) {
    return fail(
        "--backend dpdk needs --ip ADDR[/PREFIX]: the server's own addresses on the DPDK port "
        "(repeat --ip for more)");
  }
  out = c;
  return r;
}

}  // namespace presenced::control
