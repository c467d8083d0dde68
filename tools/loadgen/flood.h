// flood.h: a stream of invalid datagrams aimed at the server, from its own
// socket, while the valid sessions keep heartbeating.
//
// Owns: one thread, one UDP socket (its own source port) and the flood's
// counters. Two kinds of datagram, mixed by `bad_mac_share`:
//   * bad MAC: a well-formed 40-byte HEARTBEAT for one of the run's real
//     (user, device) pairs with the run's token expiry and a random seq and
//     MAC: it parses and fails authentication (the server's bad_mac);
//   * garbage: 0..80 random bytes, half of them starting with a valid
//     magic, version and type so they reach the later parser checks.
// They are sent from `source` when given (the server budgets invalid
// packets per source address: a flood from the valid sessions' own address
// would get them limited too, which is the server's documented trade-off,
// not what this mode measures).
// The server must answer none of them: every datagram arriving on the
// flood socket is counted as `replies` (the run's flood check wants 0).
// Rate: `rate` datagrams/s paced per millisecond in sendmmsg bursts; 0 sends
// as fast as the socket takes them.
//
// Concurrency: start() launches the thread, stop() joins it; counters are
// single-writer and readable from the main thread at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "client/endpoint.h"
#include "dataplane/common/counter.h"

namespace presenced::loadgen {

class Flooder {
 public:
  struct Config {
    client::Endpoint server;
    client::Endpoint source;  // family kSameServer: let the kernel choose
    double rate = 100'000;
    double bad_mac_share = 0.5;
    uint64_t user_base = 1;
    uint64_t users = 1;
    uint32_t devices = 1;
    uint32_t token_expiry = 0;
    uint64_t seed = 1;
  };

  explicit Flooder(const Config& config) : config_(config) {}
  ~Flooder();
  Flooder(const Flooder&) = delete;
  Flooder& operator=(const Flooder&) = delete;

  bool start(std::string* error);
  void stop();

  uint64_t sent() const { return sent_.get(); }
  uint64_t bad_mac_sent() const { return bad_mac_.get(); }
  uint64_t replies() const { return replies_.get(); }
  uint64_t send_errors() const { return errors_.get(); }

 private:
  void run();

  Config config_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  SingleWriterCounter sent_;
  SingleWriterCounter bad_mac_;
  SingleWriterCounter replies_;
  SingleWriterCounter errors_;
};

}  // namespace presenced::loadgen
