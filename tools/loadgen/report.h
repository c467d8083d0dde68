// report.h: what a load-generator run measured, and how it is shown.
//
// Owns: the Results value (totals, per-second samples, latency and delay
// histograms, the mode's figures and its verdict), the one-line progress
// text, the human summary and the --json document. Formatting only: nothing
// here measures or decides.
//
// Concurrency: pure functions of their arguments, called from the main
// thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/loadgen/histogram.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/worker.h"

namespace presenced::loadgen {

// Cumulative values at one moment of the run (one per second).
struct Sample {
  double t_s = 0;  // since the start
  StatsSnapshot stats;
  double server_cpu_s = -1;  // -1: no --server-pid
  double server_user_s = -1;  // of which user space
  uint64_t server_rss = 0;
  double self_cpu_s = 0;
  uint64_t self_rss = 0;
  uint64_t online_users = 0;  // from the events
  uint64_t offline_users = 0;
  uint64_t flood_sent = 0;
};

struct Results {
  const Options* options = nullptr;
  uint64_t users = 0;
  double elapsed_s = 0;
  bool interrupted = false;
  double all_up_s = -1;  // when every session had been acknowledged; -1: never
  double act_s = -1;     // when churn/storm/flood acted
  double steady_from_s = -1;  // start of the measurement window
  StatsSnapshot totals;
  std::vector<Sample> samples;
  Histogram ack_latency_us;
  std::size_t wheel_bytes = 0;
  std::size_t table_bytes = 0;

  // Events (when --events-file).
  bool events = false;
  uint64_t online_users = 0;
  uint64_t offline_users = 0;
  uint64_t offline_unexpected = 0;
  uint64_t event_lines = 0;

  // churn
  uint64_t silenced_users = 0;
  uint64_t detected = 0;
  uint64_t early = 0;
  uint64_t timeout_ms = 0;
  uint64_t advised_min_s = 0, advised_max_s = 0;
  Histogram delay_us;
  std::vector<double> delays_ms;  // every delay, for --delays-out

  // storm
  Histogram storm_back_ms;

  // flood
  uint64_t flood_sent = 0;
  uint64_t flood_bad_mac = 0;
  uint64_t flood_replies = 0;
  uint64_t flood_errors = 0;

  bool pass = false;
  std::string verdict;  // one line: why it passed or failed
};

// "[ 12.0s] steady | up 1000000/1000000 | sent 498.2k/s acked ..."
std::string progress_line(const Results& r, const Sample& now, const Sample& before);

// Several lines for a human at the end of the run.
std::string summary_text(const Results& r);

// The --json document.
std::string results_json(const Results& r);

// Figures over the measurement window (samples from steady_from_s on).
struct WindowFigures {
  double seconds = 0;
  double acked_pps_median = 0;
  double sent_pps_median = 0;
  double acked_pps_mean = 0;
  double server_cores_median = -1;   // -1: no --server-pid
  double acks_per_server_core = -1;  // window acks / window server CPU seconds
  double server_user_share = -1;     // user-space share of the server's CPU time
  double acks_per_server_user_core = -1;  // window acks / window server user seconds
  double self_cores_median = 0;
  double unanswered_ratio = 0;  // datagrams sent in the window without a reply
  uint64_t resends = 0;         // in the window
};
WindowFigures window_figures(const Results& r);

}  // namespace presenced::loadgen
