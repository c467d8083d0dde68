// options.h: what an operator sets when starting presence-loadgen.
//
// Owns: the option set of the load generator (modes, session counts, the
// transport, pacing, the server settings it needs to judge detection delay,
// outputs), its defaults, parsing from the command line with CLI11 and
// validation with messages that name the flag. Bad flags or values give exit
// status 2; nothing else in the load generator exits with 2.
//
// Concurrency: a value built once on the main thread before any worker
// starts; workers get copies or const references and never change it.
#pragma once

#include <cstdint>
#include <string>

#include "client/endpoint.h"
#include "client/policy.h"
#include "dataplane/auth/session_key.h"
#include "dataplane/wire/protocol.h"

namespace presenced::loadgen {

enum class Mode : uint8_t {
  kSteady,  // all sessions heartbeat until --duration
  kRamp,    // sessions come online at --start-rate; done when all are up
  kStorm,   // all up, then all restart (FIRST, new token) within --storm-window
  kChurn,   // all up, then --churn-fraction of the users go silent; offline delay
  kFlood,   // steady plus invalid datagrams at --flood-rate; all must stay up
};

const char* mode_name(Mode m);

// How the sessions' datagrams travel (see worker.h, "Transports").
enum class Transport : uint8_t {
  kUdp,   // kernel UDP sockets (udp_fleet.h)
  kDpdk,  // a DPDK port, e.g. a net_memif client (dpdk_fleet.h; builds with DPDK)
};

// Whether this build has the DPDK transport.
bool dpdk_transport_built();

struct Options {
  Mode mode = Mode::kSteady;
  client::Endpoint server;
  std::string server_text;
  std::string master_key_file;
  auth::MasterKey master;

  // Sessions: users user_base .. user_base + users - 1, devices 1..devices
  // each; session index = (user - user_base) * devices + (device - 1).
  uint64_t sessions = 10'000;
  uint32_t devices = 1;
  uint64_t user_base = 1;
  wire::Status status = wire::Status::kAvailable;
  uint32_t token_ttl_s = 86'400;

  // Transport and threads.
  uint32_t threads = 1;
  uint32_t sockets = 16;  // in total, split over the threads
  uint32_t socket_buffer_bytes = 8u << 20;
  uint32_t batch = 64;  // datagrams per sendmmsg/recvmmsg (DPDK: per burst, <= 64)
  Transport transport = Transport::kUdp;
  // --transport dpdk: one EAL, one port, one worker thread (--threads 1);
  // "sockets" are UDP source ports 20000.. on dpdk_ip.
  std::string dpdk_args;  // EAL arguments, e.g. --vdev=net_memif0,role=client,...
  uint16_t dpdk_port = 0;
  std::string dpdk_ip_text = "10.1.0.2";
  uint8_t dpdk_ip[4] = {10, 1, 0, 2};
  std::string dpdk_server_mac_text;  // empty: learn it from the first reply
  uint8_t dpdk_server_mac[6] = {};

  // Pacing.
  uint64_t duration_ms = 60'000;
  double start_rate = 100'000;  // sessions started per second (bring-up, ramp)
  double rate = 0;              // forced heartbeats/s over all sessions; 0: advised
  uint32_t forced_interval_ms = 0;  // derived from rate: sessions * 1000 / rate
  client::Policy policy;

  // The server's liveness settings, to turn offline events into a delay
  // beyond the timeout: timeout = miss_limit x advised interval + grace, or
  // timeout_ms if given; linger is subtracted too.
  uint64_t timeout_ms = 0;  // 0: from miss_limit, grace and the advised interval
  uint32_t miss_limit = 3;
  uint64_t grace_ms = 2'000;
  uint64_t linger_ms = 5'000;

  // Modes.
  uint64_t settle_ms = 1'000;  // after all are up, before churn/storm/flood act
  uint64_t measure_ms = 0;     // steady/flood: stop this long after acting; 0: at duration
  double churn_fraction = 0.1;
  uint64_t storm_window_ms = 5'000;
  double flood_rate = 100'000;     // datagrams/s; 0: as fast as possible
  double flood_bad_mac_share = 0.5;  // the rest is garbage
  // Source address of the flood. The server budgets invalid packets per
  // source address (/32, /64), so a flood from the sessions' own address
  // would silence them too; on loopback the flood uses 127.0.0.2.
  std::string flood_source_text;
  client::Endpoint flood_source;  // port 0; family kSameServer: unbound

  // Observation and output.
  std::string events_file;  // presenced --events-out file to tail
  int64_t server_pid = 0;   // sample its CPU and RSS from /proc
  std::string json_out;     // file or "-"
  std::string delays_out;   // one detection delay (ms) per line
  bool quiet = false;       // no progress lines
  uint64_t seed = 1;
};

struct ParseOutcome {
  int exit_code = -1;  // -1: run; otherwise exit with it (0 after --help)
  std::string message;
};

ParseOutcome parse_options(int argc, const char* const* argv, Options& out);

// "60s", "500ms", "1.5s", "2m"; a bare number means seconds.
bool parse_duration(const std::string& text, uint64_t& ms);

// Whether user index `u` (0-based) is one of the users churn silences.
// Deterministic in (u, seed): the main thread and the workers agree.
bool churn_selected(uint64_t u, double fraction, uint64_t seed);

}  // namespace presenced::loadgen
