// runner.h: one load-generator run, from building the sessions to the
// verdict.
//
// Owns: the SessionTable, the workers (each with its fleet: UDP sockets,
// or with --transport dpdk the process's one EAL and DPDK port) and their
// threads, the Flooder, the event tail and tracker, the per-second samples
// and the mode's phase machine. The main thread runs run(): it starts the
// workers, then every millisecond follows the server's events, and every
// second samples the counters (and /proc of the server and of itself) and
// prints the progress line. Phases: bring-up (sessions start at
// --start-rate) until every session has been acknowledged; then, after
// --settle, the mode acts (churn silences its users, storm restarts
// everyone, flood starts the flood); the run ends when the mode is done
// (ramp: all up; churn: every silenced user went offline; storm: everyone
// is back), at --duration, or on SIGINT/SIGTERM. Then it stops the
// workers and judges the run (Results::pass, verdict).
//
// Concurrency: run() on the main thread; it owns the workers' lifetimes and
// talks to them only through Shared and their single-writer counters.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "tools/loadgen/event_tail.h"
#include "tools/loadgen/flood.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/session_table.h"
#include "tools/loadgen/worker.h"

namespace presenced::loadgen {

class Runner {
 public:
  explicit Runner(const Options& options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Builds the sessions and opens the sockets (or the EAL and the DPDK
  // port). False with a message.
  bool prepare(std::string* error);

  // Runs until done; `interrupt` is polled (set by a signal handler).
  // Returns the Results with the verdict filled in.
  const Results& run(const std::atomic<bool>& interrupt);

 private:
  // A worker over the transport of the options, its fleet open.
  std::unique_ptr<WorkerBase> make_worker(const WorkerConfig& wc, std::string* error);
  Sample take_sample(double t_s) const;
  StatsSnapshot totals() const;
  void poll_events(std::size_t max_bytes);
  uint64_t current_timeout_ms(const StatsSnapshot& s) const;
  void judge();

  Options options_;
  uint64_t users_;
  uint32_t token_expiry_ = 0;
  std::unique_ptr<SessionTable> table_;
  Shared shared_;
  std::vector<std::unique_ptr<WorkerBase>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<Flooder> flooder_;
  std::unique_ptr<EventFileTail> tail_;
  std::unique_ptr<EventTracker> tracker_;
  bool silenced_ = false;
  uint64_t t0_ms_ = 0;
  Results results_;
};

}  // namespace presenced::loadgen
