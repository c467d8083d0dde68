// daemon_fixture.h: a real presenced process on 127.0.0.1 port 0 for
// integration tests, with its events file and helpers to talk to it. Its
// control plane listens on 127.0.0.1 port 0 too (extra flags may override
// --control: the last one wins); control() is its address, read from the
// `control on ADDR:PORT` line.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/io/io_backend.h"
#include "dataplane/wire/codec.h"
#include "tests/support/daemon_process.h"
#include "tests/support/test_client.h"
#include "tests/support/udp_peer.h"

namespace presenced::testing {

using namespace std::chrono_literals;

class Daemon {
 public:
  // Starts presenced with `backend` and extra flags; waits for its
  // `listening on` and `control on` lines (bounded).
  Daemon(const std::string& backend, std::vector<std::string> extra) {
    write_file(dir_.file("key"), "000102030405060708090a0b0c0d0e0f\n");
    std::vector<std::string> args = {
        "--backend",         backend,          "--listen",     "127.0.0.1:0",
        "--master-key-file", dir_.file("key"), "--events-out", dir_.file("events.jsonl"),
        "--max-sessions",    "10000",          "--cores",      "0",
        "--control",         "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    bool control_on = true;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--control") control_on = args[i + 1] != "off";
    }
    process_ = std::make_unique<Process>(binary_path("PRESENCED_BIN"), args, dir_.file("stderr"));
    const auto line = process_->read_line(20s);
    if (!line || line->rfind("listening on ", 0) != 0 ||
        !parse_net_addr(line->substr(13), address_)) {
      ADD_FAILURE() << "presenced did not start: " << line.value_or("(no output)") << "\n"
                    << read_file(dir_.file("stderr"));
      return;
    }
    if (control_on) {
      const auto cline = process_->read_line(20s);
      if (!cline || cline->rfind("control on ", 0) != 0 ||
          !parse_net_addr(cline->substr(11), control_)) {
        ADD_FAILURE() << "presenced printed no `control on` line: " << cline.value_or("(no output)")
                      << "\n"
                      << read_file(dir_.file("stderr"));
        address_ = NetAddr{};
        return;
      }
    }
  }

  bool ok() const { return address_.port != 0; }
  const NetAddr& address() const { return address_; }
  // The control plane's address (port 0 when it is off).
  const NetAddr& control() const { return control_; }
  const std::string& master_key_file() const { return key_file_; }
  Process& process() { return *process_; }
  std::string events() const { return read_file(dir_.file("events.jsonl")); }
  std::string stderr_text() const { return read_file(dir_.file("stderr")); }
  const TempDir& dir() const { return dir_; }

  // Lines of the events file that contain `needle`.
  std::vector<std::string> event_lines(const std::string& needle) const {
    std::vector<std::string> out;
    std::stringstream ss(events());
    std::string line;
    while (std::getline(ss, line)) {
      if (line.find(needle) != std::string::npos) out.push_back(line);
    }
    return out;
  }

  // Waits (bounded) until `count` event lines contain `needle`.
  bool wait_for_events(const std::string& needle, std::size_t count,
                       std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (event_lines(needle).size() >= count) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

 private:
  TempDir dir_;
  std::string key_file_ = dir_.file("key");
  std::unique_ptr<Process> process_;
  NetAddr address_;
  NetAddr control_;
};

// The wall clock `now` the tests' tokens are checked against.
inline uint32_t unix_now() {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// Parses and verifies an ACK for `c`.
inline ::testing::AssertionResult is_valid_ack(const std::vector<uint8_t>& d, const TestClient& c,
                                               uint32_t seq) {
  wire::AckPacket a;
  if (d.size() != wire::kAckSize) return ::testing::AssertionFailure() << "size " << d.size();
  if (wire::parse_ack(d, a) != wire::DropReason::kNone) {
    return ::testing::AssertionFailure() << "not an ACK";
  }
  if (!auth::verify_packet(c.key(), d.data(), d.size())) {
    return ::testing::AssertionFailure() << "MAC does not verify";
  }
  if (a.h.seq != seq || a.h.token_expiry != c.expiry || a.h.user_id != c.user ||
      a.h.device_id != c.device) {
    return ::testing::AssertionFailure() << "header not echoed: seq " << a.h.seq;
  }
  if (a.server_epoch == 0) return ::testing::AssertionFailure() << "epoch 0";
  return ::testing::AssertionSuccess();
}

// Backends to run the integration tests with: socket always, uring when
// built.
inline std::vector<std::string> test_backends() {
  std::vector<std::string> b = {"socket"};
  if (io::backend_available(io::BackendKind::kUring, nullptr)) b.push_back("uring");
  return b;
}

}  // namespace presenced::testing
