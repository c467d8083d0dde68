#include "tools/loadgen/runner.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "tools/loadgen/proc_stats.h"
#include "tools/loadgen/udp_fleet.h"
#if PRESENCED_LOADGEN_DPDK
#include "dataplane/io/dpdk/dpdk_eal.h"
#include "tools/loadgen/dpdk_fleet.h"
#endif

namespace presenced::loadgen {

#if PRESENCED_LOADGEN_DPDK
extern template class Worker<DpdkFleet>;  // instantiated in worker.cc
#endif

namespace {

uint64_t mono_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Runner::Runner(const Options& options)
    : options_(options), users_(options.sessions / options.devices) {
  results_.options = &options_;
  results_.users = users_;
}

Runner::~Runner() {
  shared_.stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool Runner::prepare(std::string* error) {
  auth::ensure_sodium_initialized();
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const uint64_t expiry = static_cast<uint64_t>(now_s) + options_.token_ttl_s;
  if (expiry >= UINT32_MAX) {
    *error = "--token-ttl: token expiry beyond 2106";
    return false;
  }
  token_expiry_ = static_cast<uint32_t>(expiry);
  SessionTable::Layout layout{options_.sessions, options_.devices, options_.user_base};
  table_ = SessionTable::create(layout, options_.master, token_expiry_, options_.status, error);
  if (!table_) return false;
  results_.table_bytes = SessionTable::kBytesPerSession * options_.sessions;

  t0_ms_ = mono_ms();
  // Split users (not sessions) over the threads and sockets in proportion.
  const uint32_t threads = options_.threads;
  for (uint32_t w = 0; w < threads; ++w) {
    WorkerConfig wc;
    wc.index = w;
    wc.begin = users_ * w / threads * options_.devices;
    wc.end = users_ * (w + 1) / threads * options_.devices;
    wc.sockets = options_.sockets * (w + 1) / threads - options_.sockets * w / threads;
    wc.t0_ms = t0_ms_;
    wc.token_expiry = token_expiry_;
    wc.start_rate = options_.start_rate * static_cast<double>(wc.end - wc.begin) /
                    static_cast<double>(options_.sessions);
    wc.options = &options_;
    std::unique_ptr<WorkerBase> worker = make_worker(wc, error);
    if (!worker || !worker->open(error)) return false;
    results_.wheel_bytes += worker->wheel_memory_bytes();
    workers_.push_back(std::move(worker));
  }
  if (!options_.events_file.empty()) {
    tail_ = std::make_unique<EventFileTail>(options_.events_file);
    tracker_ = std::make_unique<EventTracker>(options_.user_base, users_, options_.churn_fraction,
                                              options_.seed);
    results_.events = true;
    poll_events(0);  // opens the file now: what it already holds is not ours
  }
  if (options_.mode == Mode::kFlood) {
    Flooder::Config fc;
    fc.server = options_.server;
    fc.source = options_.flood_source;
    fc.rate = options_.flood_rate;
    fc.bad_mac_share = options_.flood_bad_mac_share;
    fc.user_base = options_.user_base;
    fc.users = users_;
    fc.devices = options_.devices;
    fc.token_expiry = token_expiry_;
    fc.seed = options_.seed;
    flooder_ = std::make_unique<Flooder>(fc);
  }
  return true;
}

std::unique_ptr<WorkerBase> Runner::make_worker(const WorkerConfig& wc, std::string* error) {
  if (options_.transport == Transport::kDpdk) {
#if PRESENCED_LOADGEN_DPDK
    // One EAL per process (ensure_eal); options.cc allows one worker.
    if (!io::dpdk::ensure_eal(options_.dpdk_args, error)) {
      *error = "--dpdk-args: " + *error;
      return nullptr;
    }
    DpdkFleet::Options fo;
    fo.port = options_.dpdk_port;
    fo.sockets = wc.sockets;
    fo.batch = options_.batch;
    std::memcpy(fo.ip.data(), options_.dpdk_ip, 4);
    if (!options_.dpdk_server_mac_text.empty()) {
      std::memcpy(fo.server_mac.data(), options_.dpdk_server_mac, 6);
      fo.server_mac_set = true;
    }
    auto fleet = DpdkFleet::open(fo, error);
    if (!fleet) {
      *error = "--dpdk-port " + std::to_string(fo.port) + ": " + *error +
               " (the port comes from --dpdk-args, e.g. --vdev=net_memif0,role=client,...)";
      return nullptr;
    }
    return std::make_unique<Worker<DpdkFleet>>(wc, *table_, shared_, std::move(fleet));
#else
    *error = "--transport dpdk: built without DPDK";
    return nullptr;
#endif
  }
  UdpFleet::Options fo;
  fo.sockets = wc.sockets;
  fo.batch = options_.batch;
  fo.buffer_bytes = options_.socket_buffer_bytes;
  fo.family = options_.server.family == wire::TargetFamily::kIpv6 ? AF_INET6 : AF_INET;
  auto fleet = UdpFleet::open(fo, error);
  if (!fleet) return nullptr;
  return std::make_unique<Worker<UdpFleet>>(wc, *table_, shared_, std::move(fleet));
}

StatsSnapshot Runner::totals() const {
  StatsSnapshot s;
  for (const auto& w : workers_) s += w->snapshot();
  return s;
}

Sample Runner::take_sample(double t_s) const {
  Sample s;
  s.t_s = t_s;
  s.stats = totals();
  if (options_.server_pid != 0) {
    if (const auto p = sample_process(options_.server_pid)) {
      s.server_cpu_s = p->cpu_s;
      s.server_user_s = p->user_s;
      s.server_rss = p->rss_bytes;
    }
  }
  if (const auto p = sample_process(0)) {
    s.self_cpu_s = p->cpu_s;
    s.self_rss = p->rss_bytes;
  }
  if (tracker_) {
    s.online_users = tracker_->online_users();
    s.offline_users = tracker_->offline_users();
  }
  if (flooder_) s.flood_sent = flooder_->sent();
  return s;
}

uint64_t Runner::current_timeout_ms(const StatsSnapshot& s) const {
  if (options_.timeout_ms != 0) return options_.timeout_ms;
  const uint64_t interval_s = s.advised_interval_s != 0 ? s.advised_interval_s : 30;
  return options_.miss_limit * interval_s * 1000 + options_.grace_ms;
}

void Runner::poll_events(std::size_t max_bytes) {
  if (!tail_) return;
  const uint64_t timeout = current_timeout_ms(totals());
  const int64_t now_us = wall_us();
  tail_->poll(max_bytes, [&](std::string_view line) {
    ParsedEvent e;
    if (parse_event_line(line, e)) {
      tracker_->on_event(e, silenced_, timeout, options_.linger_ms, now_us);
    }
  });
}

const Results& Runner::run(const std::atomic<bool>& interrupt) {
  for (auto& w : workers_) {
    WorkerBase* p = w.get();
    threads_.emplace_back([p] { p->run(); });
  }
  const uint64_t start = t0_ms_;
  const uint64_t end = start + options_.duration_ms;
  auto since = [&](uint64_t ms) { return static_cast<double>(ms - start) / 1000.0; };

  enum class Phase { kBringUp, kSettle, kActing, kFinishing, kDone };
  Phase phase = Phase::kBringUp;
  uint64_t phase_at = start;
  Sample last = take_sample(0);
  results_.samples.push_back(last);
  uint64_t next_sample = start + 1000;
  std::string flood_error;

  while (phase != Phase::kDone) {
    const uint64_t now = mono_ms();
    if (interrupt.load(std::memory_order_relaxed)) {
      results_.interrupted = true;
      break;
    }
    if (now >= end) break;
    poll_events(4u << 20);

    const StatsSnapshot s = totals();
    switch (phase) {
      case Phase::kBringUp:
        if (s.ever_up == options_.sessions && s.up == options_.sessions) {
          results_.all_up_s = since(now);
          if (options_.mode == Mode::kRamp) {
            phase = Phase::kDone;
          } else {
            phase = Phase::kSettle;
            phase_at = now;
          }
        }
        break;
      case Phase::kSettle:
        if (now - phase_at < options_.settle_ms) break;
        results_.act_s = since(now);
        results_.steady_from_s = since(now);
        phase = Phase::kActing;
        phase_at = now;
        if (options_.mode == Mode::kChurn) {
          silenced_ = true;
          shared_.silence_at_ms.store(now, std::memory_order_release);
        } else if (options_.mode == Mode::kStorm) {
          shared_.storm_at_ms.store(now, std::memory_order_release);
        } else if (options_.mode == Mode::kFlood && flooder_) {
          if (!flooder_->start(&flood_error)) {
            std::fprintf(stderr, "presence-loadgen: %s\n", flood_error.c_str());
          }
        }
        break;
      case Phase::kActing:
        if (options_.mode == Mode::kChurn && tracker_ &&
            tracker_->offline_expected() >= tracker_->count_silenced() && s.silenced > 0) {
          phase = Phase::kFinishing;  // watch a little longer for unexpected offlines
          phase_at = now;
        } else if (options_.mode == Mode::kStorm && s.storm_restarted > 0 &&
                   s.storm_back == s.storm_restarted) {
          phase = Phase::kFinishing;
          phase_at = now;
        } else if ((options_.mode == Mode::kSteady || options_.mode == Mode::kFlood) &&
                   options_.measure_ms > 0 && now - phase_at >= options_.measure_ms) {
          phase = Phase::kDone;
        }
        break;
      case Phase::kFinishing:
        if (now - phase_at >= 500) phase = Phase::kDone;
        break;
      case Phase::kDone:
        break;
    }

    if (now >= next_sample) {
      const Sample cur = take_sample(since(now));
      if (!options_.quiet) {
        std::fprintf(stderr, "%s\n", progress_line(results_, cur, last).c_str());
      }
      results_.samples.push_back(cur);
      last = cur;
      next_sample += 1000;
      if (next_sample <= now) next_sample = now + 1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  const uint64_t stop_at = mono_ms();
  if (flooder_) flooder_->stop();
  shared_.stop.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Events the server had already written for what we saw.
  poll_events(64u << 20);
  results_.elapsed_s = since(stop_at);
  const Sample final_sample = take_sample(results_.elapsed_s);
  if (final_sample.t_s - last.t_s > 0.05) results_.samples.push_back(final_sample);
  if (results_.steady_from_s < 0 && results_.all_up_s >= 0 && options_.mode == Mode::kSteady) {
    results_.steady_from_s = results_.all_up_s;
  }
  results_.totals = totals();
  for (const auto& w : workers_) {
    results_.ack_latency_us += w->ack_latency_us();
    results_.storm_back_ms += w->storm_back_ms();
  }
  judge();
  return results_;
}

void Runner::judge() {
  Results& r = results_;
  const StatsSnapshot& t = r.totals;
  const uint64_t n = options_.sessions;
  r.advised_min_s = t.advised_min_s;
  r.advised_max_s = t.advised_max_s;
  r.timeout_ms = current_timeout_ms(t);
  if (tracker_) {
    r.online_users = tracker_->online_users();
    r.offline_users = tracker_->offline_users();
    r.offline_unexpected = tracker_->offline_unexpected();
    r.event_lines = tracker_->lines();
    r.detected = tracker_->offline_expected();
    r.early = tracker_->early();
    r.delay_us = tracker_->delay_us();
    r.delays_ms = tracker_->delays_ms();
    if (options_.mode == Mode::kChurn) r.silenced_users = tracker_->count_silenced();
  }
  if (flooder_) {
    r.flood_sent = flooder_->sent();
    r.flood_bad_mac = flooder_->bad_mac_sent();
    r.flood_replies = flooder_->replies();
    r.flood_errors = flooder_->send_errors();
  }

  auto fail = [&](const std::string& why) {
    r.pass = false;
    r.verdict = why;
  };
  r.pass = true;
  char buf[256];
  if (t.ever_up < n) {
    std::snprintf(buf, sizeof buf, "only %" PRIu64 " of %" PRIu64 " sessions came online",
                  t.ever_up, n);
    return fail(buf);
  }
  if (r.all_up_s < 0) {
    return fail("the sessions were never all online at the same time");
  }
  if (r.events && r.online_users < users_) {
    std::snprintf(buf, sizeof buf,
                  "the server published ONLINE for %" PRIu64 " of %" PRIu64 " users",
                  r.online_users, users_);
    return fail(buf);
  }
  switch (options_.mode) {
    case Mode::kSteady:
    case Mode::kFlood:
      if (t.up < n) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " of %" PRIu64 " sessions were down at the end",
                      n - t.up, n);
        return fail(buf);
      }
      if (r.events && r.offline_unexpected > 0) {
        std::snprintf(buf, sizeof buf, "the server published OFFLINE for %" PRIu64 " live users",
                      r.offline_unexpected);
        return fail(buf);
      }
      if (options_.mode == Mode::kFlood) {
        if (r.act_s < 0) return fail("the run ended before the flood started");
        if (r.flood_sent == 0) return fail("the flood sent nothing (see the error above)");
        if (t.dead > 0) {
          std::snprintf(buf, sizeof buf, "%" PRIu64 " connections died during the flood", t.dead);
          return fail(buf);
        }
        if (r.flood_replies > 0) {
          std::snprintf(buf, sizeof buf, "the server answered %" PRIu64 " invalid datagrams",
                        r.flood_replies);
          return fail(buf);
        }
        std::snprintf(buf, sizeof buf,
                      "all %" PRIu64 " sessions stayed online through %" PRIu64
                      " invalid datagrams",
                      n, r.flood_sent);
      } else {
        std::snprintf(buf, sizeof buf, "all %" PRIu64 " sessions online", n);
      }
      r.verdict = buf;
      return;
    case Mode::kRamp:
      std::snprintf(buf, sizeof buf, "all %" PRIu64 " sessions online after %.2f s", n,
                    r.all_up_s);
      r.verdict = buf;
      return;
    case Mode::kChurn: {
      if (r.act_s < 0) return fail("the run ended before churn silenced its users");
      if (r.detected < r.silenced_users) {
        std::snprintf(buf, sizeof buf,
                      "%" PRIu64 " of %" PRIu64 " silenced users were not declared offline",
                      r.silenced_users - r.detected, r.silenced_users);
        return fail(buf);
      }
      if (r.offline_unexpected > 0) {
        std::snprintf(buf, sizeof buf, "OFFLINE for %" PRIu64 " users that kept heartbeating",
                      r.offline_unexpected);
        return fail(buf);
      }
      if (r.early > 0) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " users declared offline before the timeout",
                      r.early);
        return fail(buf);
      }
      const uint64_t live = n - t.silenced;
      if (t.up < live) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " live sessions were down at the end",
                      live - t.up);
        return fail(buf);
      }
      std::snprintf(buf, sizeof buf,
                    "every one of %" PRIu64 " silenced users went offline; p99 %.1f ms beyond "
                    "the %" PRIu64 " ms timeout",
                    r.silenced_users, static_cast<double>(r.delay_us.quantile(0.99)) / 1000.0,
                    r.timeout_ms);
      r.verdict = buf;
      return;
    }
    case Mode::kStorm: {
      if (r.act_s < 0) return fail("the run ended before the storm");
      if (t.storm_back < t.storm_restarted) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " of %" PRIu64 " restarted sessions never came back",
                      t.storm_restarted - t.storm_back, t.storm_restarted);
        return fail(buf);
      }
      if (r.events && r.offline_unexpected > 0) {
        std::snprintf(buf, sizeof buf, "the server published OFFLINE for %" PRIu64 " users",
                      r.offline_unexpected);
        return fail(buf);
      }
      std::snprintf(buf, sizeof buf,
                    "all %" PRIu64 " sessions back; 99%% within %" PRIu64 " ms of the storm",
                    t.storm_back, r.storm_back_ms.quantile(0.99));
      r.verdict = buf;
      return;
    }
  }
}

}  // namespace presenced::loadgen
