// presence-loadgen: drives up to tens of millions of presence sessions
// against a presenced server and judges the run (steady, ramp, storm,
// churn, flood; see --help).
//
// Owns: the process: flag parsing (tools/loadgen/options.h), signal
// handling, and the outputs (progress on stderr, summary, --json,
// --delays-out). The run itself is tools/loadgen/runner.h; every session is
// a client::Session (client/session.h), the same state machine apps use.
// Datagrams go through kernel UDP sockets, or with --transport dpdk (builds
// with DPDK) through a DPDK port such as a net_memif client
// (tools/loadgen/dpdk_fleet.h).
//
// Exit codes: 0 the mode's check passed; 1 it failed, or a runtime error
// (memory, sockets); 2 usage error, with a message naming the flag.
//
// Concurrency: the main thread runs the Runner; worker threads drive the
// sessions; SIGINT/SIGTERM only set a flag that the main thread polls.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>

#include "tools/loadgen/options.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/runner.h"

namespace {

std::atomic<bool> g_interrupt{false};

extern "C" void on_signal(int) {
  g_interrupt.store(true, std::memory_order_relaxed);
}

bool write_text(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

int run(int argc, char** argv) {
  using namespace presenced::loadgen;
  Options options;
  const ParseOutcome parsed = parse_options(argc, argv, options);
  if (parsed.exit_code >= 0) {
    std::fprintf(parsed.exit_code == 0 ? stdout : stderr, "%s\n", parsed.message.c_str());
    return parsed.exit_code;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  Runner runner(options);
  std::string error;
  if (!options.quiet) {
    std::fprintf(stderr,
                 "presence-loadgen: %s, %llu sessions against %s, %u thread(s), %u %s, "
                 "at most %.0f s\n",
                 mode_name(options.mode), static_cast<unsigned long long>(options.sessions),
                 options.server_text.c_str(), options.threads, options.sockets,
                 options.transport == Transport::kDpdk ? "DPDK source port(s)" : "socket(s)",
                 static_cast<double>(options.duration_ms) / 1000.0);
  }
  if (!runner.prepare(&error)) {
    std::fprintf(stderr, "presence-loadgen: %s\n", error.c_str());
    return 1;
  }
  const Results& r = runner.run(g_interrupt);

  std::fprintf(stderr, "%s", summary_text(r).c_str());
  if (!options.json_out.empty() && !write_text(options.json_out, results_json(r))) {
    std::fprintf(stderr, "presence-loadgen: cannot write --json %s\n", options.json_out.c_str());
    return 1;
  }
  if (!options.delays_out.empty()) {
    std::string text;
    char buf[32];
    for (const double d : r.delays_ms) {
      const int n = std::snprintf(buf, sizeof buf, "%.3f\n", d);
      text.append(buf, static_cast<std::size_t>(n));
    }
    if (!write_text(options.delays_out, text)) {
      std::fprintf(stderr, "presence-loadgen: cannot write --delays-out %s\n",
                   options.delays_out.c_str());
      return 1;
    }
  }
  return r.pass ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "presence-loadgen: %s\n", e.what());
    return 1;
  }
}
