#include "tools/loadgen/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <arpa/inet.h>

#include "client/udp_client.h"
#include "dataplane/common/duration.h"

namespace presenced::loadgen {

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kSteady:
      return "steady";
    case Mode::kRamp:
      return "ramp";
    case Mode::kStorm:
      return "storm";
    case Mode::kChurn:
      return "churn";
    case Mode::kFlood:
      return "flood";
  }
  return "?";
}

bool dpdk_transport_built() {
#if PRESENCED_LOADGEN_DPDK
  return true;
#else
  return false;
#endif
}

namespace {

// "02:00:00:00:00:01" (or with '-'); false when malformed.
bool parse_mac(const std::string& text, uint8_t* mac) {
  if (text.size() != 17) return false;
  for (int i = 0; i < 6; ++i) {
    const std::size_t at = static_cast<std::size_t>(i) * 3;
    if (i > 0 && text[at - 1] != ':' && text[at - 1] != '-') return false;
    if (!std::isxdigit(static_cast<unsigned char>(text[at])) ||
        !std::isxdigit(static_cast<unsigned char>(text[at + 1]))) {
      return false;
    }
    mac[i] = static_cast<uint8_t>(std::stoul(text.substr(at, 2), nullptr, 16));
  }
  return true;
}

}  // namespace

bool parse_duration(const std::string& text, uint64_t& ms) {
  uint64_t v = 0;
  if (!parse_duration_ms(text, 1000, v) || v > 1'000'000'000'000ULL) return false;
  ms = v;
  return true;
}

bool churn_selected(uint64_t u, double fraction, uint64_t seed) {
  if (fraction <= 0) return false;
  if (fraction >= 1) return true;
  // splitmix64 finaliser: a well-mixed, deterministic choice per user.
  uint64_t z = u + seed * 0x9e3779b97f4a7c15ULL + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) < fraction * 9007199254740992.0;  // 2^53
}

ParseOutcome parse_options(int argc, const char* const* argv, Options& out) {
  CLI::App app{
      "presence-loadgen: drives many presence sessions (client/session.h, one state machine\n"
      "per session) from a few UDP sockets against a presenced server, and judges the run.\n"
      "There is no login service in a benchmark: session keys are derived from the\n"
      "server's master key (--master-key-file), as the login service would.",
      "presence-loadgen"};
  app.footer(
      "Modes:\n"
      "  steady  all sessions heartbeat (advised interval, or --rate) until --duration\n"
      "  ramp    sessions start at --start-rate; done when all are online\n"
      "  storm   all online, then every session restarts (new token, FIRST) within\n"
      "          --storm-window; reports the time until 99% are back\n"
      "  churn   all online, then --churn-fraction of the users go silent; matches each\n"
      "          OFFLINE event of --events-file to the timeout (detection delay)\n"
      "  flood   steady plus bad-MAC heartbeats and garbage at --flood-rate; every valid\n"
      "          session must stay online\n"
      "Exit codes: 0 the mode's check passed; 1 it failed (or a runtime error);\n"
      "2 usage error.");
  app.get_formatter()->column_width(34);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string mode = "steady";
  std::string status = "available";
  std::string duration = "60s", timeout, grace = "2s", linger = "5s", settle = "1s",
              window = "5s", measure = "0";
  uint32_t ack_timeout_ms = 0;
  int retries = -1;

  app.add_option("--mode", mode, "steady, ramp, storm, churn or flood")->capture_default_str();
  app.add_option("--server", out.server_text, "presenced address, ADDR:PORT or [ADDR6]:PORT")
      ->required();
  app.add_option("--master-key-file", out.master_key_file,
                 "the server's master key (32 hex characters); session keys are derived from it")
      ->required();
  app.add_option("--sessions", out.sessions, "sessions to drive (users x devices)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  app.add_option("--devices", out.devices, "devices per user")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--user-base", out.user_base, "first user id (users are consecutive)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 62));
  app.add_option("--status", status, "available, away or busy")->capture_default_str();
  app.add_option("--token-ttl", out.token_ttl_s, "token lifetime, s")
      ->capture_default_str()
      ->check(CLI::Range(60u, 100'000'000u));
  app.add_option("--threads", out.threads, "worker threads, each with its own sockets")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  app.add_option("--sockets", out.sockets, "UDP sockets in total (source ports)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  app.add_option("--socket-buffer", out.socket_buffer_bytes,
                 "SO_RCVBUF/SO_SNDBUF request, bytes (as root beyond net.core.*mem_max)")
      ->capture_default_str()
      ->check(CLI::Range(65536u, 1u << 30));
  app.add_option("--batch", out.batch, "datagrams per sendmmsg/recvmmsg")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  std::string transport = "udp";
  app.add_option("--transport", transport,
                 "udp (kernel sockets) or dpdk (a DPDK port, e.g. a net_memif client; "
                 "needs --dpdk-args and --threads 1)")
      ->capture_default_str();
  app.add_option("--dpdk-args", out.dpdk_args,
                 "--transport dpdk: EAL arguments, e.g. \"--no-huge --no-pci -m 512 "
                 "--file-prefix lg1 --vdev=net_memif0,role=client,socket=/tmp/m.sock,rsize=14\"");
  app.add_option("--dpdk-port", out.dpdk_port, "--transport dpdk: the DPDK port id")
      ->capture_default_str();
  app.add_option("--dpdk-ip", out.dpdk_ip_text,
                 "--transport dpdk: the generator's IPv4 address (source ports from 20000)")
      ->capture_default_str();
  app.add_option("--dpdk-server-mac", out.dpdk_server_mac_text,
                 "--transport dpdk: the server port's MAC (default: broadcast until the "
                 "first reply, then the reply's source MAC)");
  app.add_option("--duration", duration,
                 "upper bound of the run (e.g. 60s, 2m); the run always stops by then")
      ->capture_default_str();
  app.add_option("--start-rate,--ramp-rate", out.start_rate,
                 "sessions started per second during bring-up (ramp: the ramp's rate)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  app.add_option("--rate", out.rate,
                 "forced heartbeats/s over all sessions (each session heartbeats every "
                 "sessions/rate s, never less often than the server advises); 0: the "
                 "advised interval")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--ack-timeout-ms", ack_timeout_ms,
                 "resend when no ACK within this (default 5000, or the forced interval "
                 "if shorter, at least 200)");
  app.add_option("--retries", retries, "resends before a connection is dead (default 3)");
  app.add_option("--timeout", timeout,
                 "the server's offline timeout (default: --miss-limit x advised interval + "
                 "--grace)");
  app.add_option("--miss-limit", out.miss_limit, "the server's --miss-limit")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10u));
  app.add_option("--grace", grace, "the server's --grace")->capture_default_str();
  app.add_option("--linger", linger, "the server's --linger (subtracted from offline delays)")
      ->capture_default_str();
  app.add_option("--settle", settle, "wait after all sessions are online before churn/storm/flood")
      ->capture_default_str();
  app.add_option("--measure", measure,
                 "steady/flood: end the run this long after --settle (the measurement "
                 "window); 0: run until --duration")
      ->capture_default_str();
  app.add_option("--churn-fraction", out.churn_fraction, "share of users that go silent")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--storm-window", window, "storm: every session restarts within this window")
      ->capture_default_str();
  app.add_option("--flood-rate", out.flood_rate, "flood: invalid datagrams/s; 0: full speed")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e9));
  app.add_option("--flood-bad-mac", out.flood_bad_mac_share,
                 "flood: share of well-formed heartbeats with a bad MAC (the rest: garbage)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--flood-source", out.flood_source_text,
                 "flood: source address to send from (default: 127.0.0.2 for a loopback "
                 "IPv4 server, else the host's; the server limits invalid packets per source)");
  app.add_option("--events-file", out.events_file,
                 "presenced --events-out file to follow (online/offline per user)");
  app.add_option("--server-pid", out.server_pid, "sample this process's CPU time and RSS")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--json", out.json_out, "write the results as JSON to FILE, or - for stdout");
  app.add_option("--delays-out", out.delays_out,
                 "churn: write each detection delay beyond the timeout (ms) to FILE");
  app.add_option("--seed", out.seed, "seed of the jitter and the churn choice")
      ->capture_default_str();
  app.add_flag("--quiet,-q", out.quiet, "no progress line every second");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {0, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return {0, app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::ParseError& e) {
    return {2, "presence-loadgen: " + std::string(e.what()) + "\nRun with --help for more."};
  }
  auto fail = [](const std::string& m) { return ParseOutcome{2, "presence-loadgen: " + m}; };

  const std::map<std::string, Mode> modes{{"steady", Mode::kSteady},
                                          {"ramp", Mode::kRamp},
                                          {"storm", Mode::kStorm},
                                          {"churn", Mode::kChurn},
                                          {"flood", Mode::kFlood}};
  const auto m = modes.find(mode);
  if (m == modes.end()) {
    return fail("--mode must be one of steady, ramp, storm, churn, flood (got \"" + mode + "\")");
  }
  out.mode = m->second;

  const std::map<std::string, wire::Status> statuses{{"available", wire::Status::kAvailable},
                                                     {"away", wire::Status::kAway},
                                                     {"busy", wire::Status::kBusy}};
  const auto st = statuses.find(status);
  if (st == statuses.end()) {
    return fail("--status must be available, away or busy (got \"" + status +
                "\"; invisible users never come online)");
  }
  out.status = st->second;

  std::string error;
  if (!client::resolve_endpoint(out.server_text, wire::kDefaultPort, out.server, error)) {
    return fail("--server: " + error);
  }
  {
    std::ifstream in(out.master_key_file);
    if (!in) return fail("--master-key-file: cannot read '" + out.master_key_file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    if (!auth::parse_master_key_hex(ss.str(), out.master)) {
      return fail("--master-key-file: '" + out.master_key_file +
                  "' does not hold 32 hex characters");
    }
  }

  out.flood_source.family = wire::TargetFamily::kSameServer;
  if (!out.flood_source_text.empty()) {
    if (!client::parse_endpoint(out.flood_source_text, 0, out.flood_source) ||
        ((out.flood_source.family == wire::TargetFamily::kIpv6) !=
         (out.server.family == wire::TargetFamily::kIpv6))) {
      return fail("--flood-source must be an address literal of the server's family (got \"" +
                  out.flood_source_text + "\")");
    }
  } else if (out.server.family == wire::TargetFamily::kIpv4 && out.server.address[0] == 127) {
    out.flood_source.family = wire::TargetFamily::kIpv4;
    out.flood_source.address = {127, 0, 0, 2};
    out.flood_source.port = 0;
  }
  if (!parse_duration(duration, out.duration_ms) || out.duration_ms < 100 ||
      out.duration_ms > 7 * 86'400'000ULL) {
    return fail("--duration must be a duration in [100ms, 7d] like 60s (got \"" + duration + "\")");
  }
  if (!timeout.empty() && (!parse_duration(timeout, out.timeout_ms) || out.timeout_ms == 0)) {
    return fail("--timeout must be a positive duration like 21s (got \"" + timeout + "\")");
  }
  if (!parse_duration(grace, out.grace_ms) || out.grace_ms > 600'000) {
    return fail("--grace must be a duration in [0, 600s] (got \"" + grace + "\")");
  }
  if (!parse_duration(linger, out.linger_ms) || out.linger_ms > 60'000) {
    return fail("--linger must be a duration in [0, 60s] (got \"" + linger + "\")");
  }
  if (!parse_duration(settle, out.settle_ms) || out.settle_ms > 3'600'000) {
    return fail("--settle must be a duration in [0, 1h] (got \"" + settle + "\")");
  }
  if (!parse_duration(measure, out.measure_ms)) {
    return fail("--measure must be a duration like 30s (got \"" + measure + "\")");
  }
  if (!parse_duration(window, out.storm_window_ms) || out.storm_window_ms == 0 ||
      out.storm_window_ms > 3'600'000) {
    return fail("--storm-window must be a duration in (0, 1h] (got \"" + window + "\")");
  }
  if (out.sessions % out.devices != 0) {
    return fail("--sessions (" + std::to_string(out.sessions) + ") must be a multiple of --devices (" +
                std::to_string(out.devices) + ")");
  }
  const uint64_t users = out.sessions / out.devices;
  if (out.threads > users) {
    return fail("--threads (" + std::to_string(out.threads) + ") must not exceed the users (" +
                std::to_string(users) + ")");
  }
  if (out.sockets < out.threads) {
    return fail("--sockets (" + std::to_string(out.sockets) +
                ") must be at least --threads (each thread owns its sockets)");
  }
  if (app.count("--retries") != 0 && (retries < 0 || retries > 255)) {
    return fail("--retries must be in [0, 255]");
  }
  if (retries >= 0) out.policy.retries = static_cast<uint8_t>(retries);

  if (out.rate > 0) {
    const double interval = static_cast<double>(out.sessions) * 1000.0 / out.rate;
    if (interval < 1.0 || interval > 3'600'000.0) {
      return fail("--rate gives each session an interval of " + std::to_string(interval) +
                  " ms; it must be in [1 ms, 1 h] (sessions / rate)");
    }
    out.forced_interval_ms = static_cast<uint32_t>(std::llround(interval));
  }
  if (app.count("--ack-timeout-ms") != 0) {
    if (ack_timeout_ms == 0 || ack_timeout_ms > 600'000) {
      return fail("--ack-timeout-ms must be in [1, 600000]");
    }
    out.policy.ack_timeout_ms = ack_timeout_ms;
  } else if (out.forced_interval_ms != 0) {
    out.policy.ack_timeout_ms = std::clamp<uint32_t>(out.forced_interval_ms, 200, 5000);
  }
  if (out.forced_interval_ms != 0) {
    // The forced interval rides on the library's adaptive mode: start and
    // floor at the interval, and the workers pin the store's ceiling just
    // above it, so sessions never probe longer (worker.h).
    out.policy.adaptive = true;
    out.policy.adaptive_start_ms = out.forced_interval_ms;
    out.policy.adaptive_min_ms = out.forced_interval_ms;
    out.policy.adaptive_step_ms = 1;
    out.policy.default_interval_ms = out.forced_interval_ms;
  }
  if (const std::string_view why = client::validate(out.policy); !why.empty()) {
    return fail("invalid client policy: " + std::string(why));
  }
  if (transport == "dpdk") {
    out.transport = Transport::kDpdk;
  } else if (transport != "udp") {
    return fail("--transport must be udp or dpdk (got \"" + transport + "\")");
  }
  const bool dpdk_flags = app.count("--dpdk-args") + app.count("--dpdk-port") +
                              app.count("--dpdk-ip") + app.count("--dpdk-server-mac") !=
                          0;
  if (out.transport == Transport::kUdp && dpdk_flags) {
    return fail("--dpdk-args, --dpdk-port, --dpdk-ip and --dpdk-server-mac need --transport dpdk");
  }
  if (out.transport == Transport::kDpdk) {
    if (!dpdk_transport_built()) {
      return fail("--transport dpdk: this presence-loadgen was built without DPDK "
                  "(DPDK was off at build time: -Ddpdk, or libdpdk-dev missing)");
    }
    if (out.dpdk_args.empty()) {
      return fail("--transport dpdk needs --dpdk-args (EAL arguments, e.g. \"--no-huge "
                  "--no-pci --file-prefix lg1 --vdev=net_memif0,role=client,socket=PATH\")");
    }
    if (out.server.family != wire::TargetFamily::kIpv4) {
      return fail("--server must be an IPv4 address with --transport dpdk");
    }
    if (out.threads != 1) {
      return fail("--threads must be 1 with --transport dpdk (one worker drives the port's "
                  "one queue pair)");
    }
    if (out.sockets > 45'000) {
      return fail("--sockets must be at most 45000 with --transport dpdk (source ports "
                  "20000..64999)");
    }
    if (out.mode == Mode::kFlood) {
      return fail("--mode flood does not work with --transport dpdk (the flood sends through "
                  "kernel sockets)");
    }
    in_addr a{};
    if (inet_pton(AF_INET, out.dpdk_ip_text.c_str(), &a) != 1) {
      return fail("--dpdk-ip must be an IPv4 address (got \"" + out.dpdk_ip_text + "\")");
    }
    std::memcpy(out.dpdk_ip, &a, 4);
    if (!out.dpdk_server_mac_text.empty() &&
        !parse_mac(out.dpdk_server_mac_text, out.dpdk_server_mac)) {
      return fail("--dpdk-server-mac must be a MAC like 02:00:00:00:00:01 (got \"" +
                  out.dpdk_server_mac_text + "\")");
    }
  }
  if (out.mode == Mode::kChurn && out.events_file.empty()) {
    return fail("--mode churn needs --events-file (the server's --events-out file)");
  }
  if (out.mode == Mode::kChurn && out.churn_fraction <= 0) {
    return fail("--churn-fraction must be > 0 in churn mode");
  }
  return {};
}

}  // namespace presenced::loadgen
