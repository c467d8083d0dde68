#include "tools/loadgen/report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace presenced::loadgen {

namespace {

using Json = nlohmann::ordered_json;

std::string si(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  return buf;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

uint64_t stale(const StatsSnapshot& s) {
  return s.rx_result[static_cast<std::size_t>(client::PacketResult::kStale)];
}

uint64_t answered(const StatsSnapshot& s) {
  return s.acks + stale(s) +
         s.rx_result[static_cast<std::size_t>(client::PacketResult::kReconnect)] +
         s.rx_result[static_cast<std::size_t>(client::PacketResult::kByeAcked)];
}

Json latency_json(const Histogram& h, double scale) {
  Json j;
  j["count"] = h.count();
  j["p50"] = static_cast<double>(h.quantile(0.50)) * scale;
  j["p90"] = static_cast<double>(h.quantile(0.90)) * scale;
  j["p99"] = static_cast<double>(h.quantile(0.99)) * scale;
  j["p999"] = static_cast<double>(h.quantile(0.999)) * scale;
  j["max"] = static_cast<double>(h.max()) * scale;
  j["mean"] = h.mean() * scale;
  return j;
}

std::string ms_text(const Histogram& us) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms",
                us.quantile(0.5) / 1000.0, us.quantile(0.9) / 1000.0, us.quantile(0.99) / 1000.0,
                static_cast<double>(us.max()) / 1000.0);
  return buf;
}

// Appends one printf-formatted line.
__attribute__((format(printf, 2, 3))) void line(std::string& s, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
  s += '\n';
}

}  // namespace

WindowFigures window_figures(const Results& r) {
  WindowFigures w;
  if (r.steady_from_s < 0 || r.samples.size() < 2) return w;
  std::vector<double> acked, sent, server, self;
  const Sample* first = nullptr;
  const Sample* last = nullptr;
  for (std::size_t i = 1; i < r.samples.size(); ++i) {
    const Sample& b = r.samples[i - 1];
    const Sample& a = r.samples[i];
    if (b.t_s + 1e-9 < r.steady_from_s) continue;
    const double dt = a.t_s - b.t_s;
    if (dt <= 0.2) continue;  // a short tail sample at the end
    if (first == nullptr) first = &b;
    last = &a;
    acked.push_back(static_cast<double>(a.stats.acks - b.stats.acks) / dt);
    sent.push_back(static_cast<double>(a.stats.sent - b.stats.sent) / dt);
    self.push_back((a.self_cpu_s - b.self_cpu_s) / dt);
    if (a.server_cpu_s >= 0 && b.server_cpu_s >= 0) {
      server.push_back((a.server_cpu_s - b.server_cpu_s) / dt);
    }
  }
  if (first == nullptr) return w;
  w.seconds = last->t_s - first->t_s;
  w.acked_pps_median = median(acked);
  w.sent_pps_median = median(sent);
  w.acked_pps_mean = static_cast<double>(last->stats.acks - first->stats.acks) / w.seconds;
  w.self_cores_median = median(self);
  const uint64_t acks = last->stats.acks - first->stats.acks;
  if (!server.empty()) {
    w.server_cores_median = median(server);
    const double cpu = last->server_cpu_s - first->server_cpu_s;
    const double user = last->server_user_s - first->server_user_s;
    if (cpu > 0) {
      w.acks_per_server_core = static_cast<double>(acks) / cpu;
      w.server_user_share = user / cpu;
    }
    if (user > 0) w.acks_per_server_user_core = static_cast<double>(acks) / user;
  }
  const uint64_t sent_n = last->stats.sent - first->stats.sent;
  const uint64_t ans = answered(last->stats) - answered(first->stats);
  w.unanswered_ratio = sent_n == 0 ? 0.0
                                   : static_cast<double>(sent_n > ans ? sent_n - ans : 0) /
                                         static_cast<double>(sent_n);
  w.resends = last->stats.resends - first->stats.resends;
  return w;
}

std::string progress_line(const Results& r, const Sample& now, const Sample& before) {
  const double dt = std::max(1e-3, now.t_s - before.t_s);
  const double sent = static_cast<double>(now.stats.sent - before.stats.sent) / dt;
  const double acked = static_cast<double>(now.stats.acks - before.stats.acks) / dt;
  const double resends = static_cast<double>(now.stats.resends - before.stats.resends) / dt;
  const uint64_t sent_d = now.stats.sent - before.stats.sent;
  const uint64_t ans_d = answered(now.stats) - answered(before.stats);
  const double loss = sent_d == 0 ? 0.0
                                  : std::max(0.0, 1.0 - static_cast<double>(ans_d) /
                                                            static_cast<double>(sent_d));
  char buf[512];
  int n = std::snprintf(
      buf, sizeof buf,
      "[%6.1fs] %s | up %" PRIu64 "/%" PRIu64 " | sent %s/s acked %s/s loss %.2f%% | resends %s/s "
      "dead %" PRIu64,
      now.t_s, mode_name(r.options->mode), now.stats.up, r.options->sessions, si(sent).c_str(),
      si(acked).c_str(), loss * 100.0, si(resends).c_str(), now.stats.dead);
  std::string out(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
  if (r.events) {
    n = std::snprintf(buf, sizeof buf, " | events online %" PRIu64 " offline %" PRIu64,
                      now.online_users, now.offline_users);
    out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
  }
  if (now.server_cpu_s >= 0 && before.server_cpu_s >= 0) {
    n = std::snprintf(buf, sizeof buf, " | server cpu %.2f rss %.0f MB",
                      (now.server_cpu_s - before.server_cpu_s) / dt,
                      static_cast<double>(now.server_rss) / 1e6);
    out.append(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
  }
  if (now.flood_sent > 0) {
    out += " | flood " + si(static_cast<double>(now.flood_sent - before.flood_sent) / dt) + "/s";
  }
  return out;
}

std::string summary_text(const Results& r) {
  const Options& o = *r.options;
  const StatsSnapshot& t = r.totals;
  const WindowFigures w = window_figures(r);
  std::string s;
  line(s, "presence-loadgen %s: %s (%s)", mode_name(o.mode), r.pass ? "PASS" : "FAIL",
       r.verdict.c_str());
  line(s, "  sessions %" PRIu64 " (%" PRIu64 " users x %u devices) on %u thread(s), %u socket(s); "
       "ran %.1f s%s",
       o.sessions, r.users, o.devices, o.threads, o.sockets, r.elapsed_s,
       r.interrupted ? " (interrupted)" : "");
  if (r.all_up_s >= 0) {
    line(s, "  all sessions online after %.2f s (%.0f sessions/s)", r.all_up_s,
         static_cast<double>(o.sessions) / std::max(r.all_up_s, 1e-3));
  } else {
    line(s, "  online: %" PRIu64 " of %" PRIu64 " sessions acknowledged at least once", t.ever_up,
         o.sessions);
  }
  line(s, "  sent %" PRIu64 " (heartbeats %" PRIu64 ", resends %" PRIu64 ", reconnects %" PRIu64
       "), acked %" PRIu64 ", dead %" PRIu64,
       t.sent, t.heartbeats, t.resends, t.reconnect_attempts + t.redirect_resumes, t.acks, t.dead);
  if (w.seconds > 0) {
    line(s, "  steady window %.0f s: acked %s/s median (sent %s/s), %.2f%% unanswered, %" PRIu64
         " resends",
         w.seconds, si(w.acked_pps_median).c_str(), si(w.sent_pps_median).c_str(),
         100.0 * w.unanswered_ratio, w.resends);
    if (w.server_cores_median >= 0) {
      line(s, "  server: %.2f cores busy (median, %.0f%% of it in user space), %s heartbeats per "
           "server core-second (%s per user-space core-second)",
           w.server_cores_median, 100.0 * w.server_user_share, si(w.acks_per_server_core).c_str(),
           si(w.acks_per_server_user_core).c_str());
    }
    line(s, "  load generator: %.2f cores busy (median)", w.self_cores_median);
  }
  if (r.ack_latency_us.count() > 0) {
    line(s, "  ACK latency: %s", ms_text(r.ack_latency_us).c_str());
  }
  const Sample* last = r.samples.empty() ? nullptr : &r.samples.back();
  if (last != nullptr) {
    line(s, "  memory: load generator %.1f MB (%.1f B/session)",
         static_cast<double>(last->self_rss) / 1e6,
         static_cast<double>(last->self_rss) / static_cast<double>(o.sessions));
    if (last->server_cpu_s >= 0) {
      line(s, "  memory: server RSS %.1f MB (%.1f B/session)",
           static_cast<double>(last->server_rss) / 1e6,
           static_cast<double>(last->server_rss) / static_cast<double>(o.sessions));
    }
  }
  if (r.events) {
    line(s, "  server events: %" PRIu64 " users online, %" PRIu64 " offline (%" PRIu64
         " unexpected)",
         r.online_users, r.offline_users, r.offline_unexpected);
  }
  if (o.mode == Mode::kChurn) {
    line(s, "  churn: %" PRIu64 " of %" PRIu64 " silenced users detected offline, %" PRIu64
         " early; timeout %" PRIu64 " ms",
         r.detected, r.silenced_users, r.early, r.timeout_ms);
    if (r.delay_us.count() > 0) line(s, "  detection delay beyond the timeout: %s", ms_text(r.delay_us).c_str());
  }
  if (o.mode == Mode::kStorm && r.storm_back_ms.count() > 0) {
    line(s, "  storm: %" PRIu64 " of %" PRIu64 " back; 50%% after %" PRIu64 " ms, 99%% after %" PRIu64
         " ms, all after %" PRIu64 " ms (window %" PRIu64 " ms); OVERLOAD reconnects %" PRIu64,
         t.storm_back, t.storm_restarted, r.storm_back_ms.quantile(0.5),
         r.storm_back_ms.quantile(0.99), r.storm_back_ms.max(), o.storm_window_ms,
         t.reconnect_reason[static_cast<std::size_t>(wire::ReconnectReason::kOverload)]);
  }
  if (o.mode == Mode::kFlood) {
    line(s, "  flood: %" PRIu64 " invalid datagrams (%" PRIu64 " bad-MAC heartbeats), %" PRIu64
         " replies to them",
         r.flood_sent, r.flood_bad_mac, r.flood_replies);
  }
  return s;
}

std::string results_json(const Results& r) {
  const Options& o = *r.options;
  const StatsSnapshot& t = r.totals;
  const WindowFigures w = window_figures(r);
  Json j;
  j["tool"] = "presence-loadgen";
  j["mode"] = mode_name(o.mode);
  j["pass"] = r.pass;
  j["verdict"] = r.verdict;
  j["interrupted"] = r.interrupted;
  Json& c = j["config"];
  c["server"] = o.server_text;
  c["sessions"] = o.sessions;
  c["users"] = r.users;
  c["devices"] = o.devices;
  c["user_base"] = o.user_base;
  c["threads"] = o.threads;
  c["sockets"] = o.sockets;
  c["transport"] = o.transport == Transport::kDpdk ? "dpdk" : "udp";
  c["batch"] = o.batch;
  c["duration_s"] = static_cast<double>(o.duration_ms) / 1000.0;
  c["start_rate"] = o.start_rate;
  c["rate"] = o.rate;
  c["forced_interval_ms"] = o.forced_interval_ms;
  c["ack_timeout_ms"] = o.policy.ack_timeout_ms;
  c["retries"] = o.policy.retries;
  c["miss_limit"] = o.miss_limit;
  c["grace_ms"] = o.grace_ms;
  c["linger_ms"] = o.linger_ms;
  c["churn_fraction"] = o.churn_fraction;
  c["storm_window_ms"] = o.storm_window_ms;
  c["flood_rate"] = o.flood_rate;
  j["elapsed_s"] = r.elapsed_s;
  j["all_up_s"] = r.all_up_s;
  j["act_s"] = r.act_s;
  j["steady_from_s"] = r.steady_from_s;

  Json& tj = j["totals"];
  tj["started"] = t.started;
  tj["sent"] = t.sent;
  tj["heartbeats"] = t.heartbeats;
  tj["resends"] = t.resends;
  tj["reconnect_attempts"] = t.reconnect_attempts;
  tj["redirect_resumes"] = t.redirect_resumes;
  tj["dead"] = t.dead;
  tj["token_renewals"] = t.token_renewals;
  tj["acks"] = t.acks;
  tj["rx"] = t.rx;
  tj["rx_foreign"] = t.rx_foreign;
  tj["rx_silenced"] = t.rx_silenced;
  Json results = Json::object();
  for (std::size_t i = 0; i < client::kPacketResultCount; ++i) {
    results[std::string(client::packet_result_name(static_cast<client::PacketResult>(i)))] =
        t.rx_result[i];
  }
  tj["rx_results"] = results;
  tj["reconnects"] = {{"drain", t.reconnect_reason[1]},
                      {"operator", t.reconnect_reason[2]},
                      {"rebalance", t.reconnect_reason[3]},
                      {"overload", t.reconnect_reason[4]},
                      {"other", t.reconnect_reason[0]},
                      {"unsupported_target", t.redirect_unsupported}};
  tj["tx_dropped"] = t.tx_dropped;
  tj["tx_eagain_waits"] = t.tx_eagain_waits;
  tj["wheel_schedule_failures"] = t.wheel_schedule_failures;
  tj["sessions_up"] = t.up;
  tj["sessions_ever_up"] = t.ever_up;

  Json& rates = j["rates"];
  rates["sent_pps"] = r.elapsed_s > 0 ? static_cast<double>(t.sent) / r.elapsed_s : 0.0;
  rates["acked_pps"] = r.elapsed_s > 0 ? static_cast<double>(t.acks) / r.elapsed_s : 0.0;
  rates["window_s"] = w.seconds;
  rates["window_acked_pps_median"] = w.acked_pps_median;
  rates["window_acked_pps_mean"] = w.acked_pps_mean;
  rates["window_sent_pps_median"] = w.sent_pps_median;
  rates["window_unanswered_ratio"] = w.unanswered_ratio;
  rates["window_resends"] = w.resends;

  const uint64_t ans = answered(t);
  j["loss"] = {{"unanswered", t.sent > ans ? t.sent - ans : 0},
               {"unanswered_ratio",
                t.sent == 0 ? 0.0
                            : static_cast<double>(t.sent > ans ? t.sent - ans : 0) /
                                  static_cast<double>(t.sent)},
               {"resend_ratio",
                t.sent == 0 ? 0.0 : static_cast<double>(t.resends) / static_cast<double>(t.sent)},
               {"stale_acks", stale(t)}};
  j["ack_latency_us"] = latency_json(r.ack_latency_us, 1.0);

  const Sample* last = r.samples.empty() ? nullptr : &r.samples.back();
  Json& srv = j["server"];
  srv["pid"] = o.server_pid;
  srv["cores_median"] = w.server_cores_median;
  srv["acks_per_core_s"] = w.acks_per_server_core;
  srv["user_share"] = w.server_user_share;
  srv["acks_per_user_core_s"] = w.acks_per_server_user_core;
  srv["rss_bytes"] = last != nullptr ? last->server_rss : 0;
  srv["rss_bytes_per_session"] =
      last != nullptr ? static_cast<double>(last->server_rss) / static_cast<double>(o.sessions)
                      : 0.0;
  Json& lg = j["loadgen"];
  lg["cores_median"] = w.self_cores_median;
  lg["rss_bytes"] = last != nullptr ? last->self_rss : 0;
  lg["rss_bytes_per_session"] =
      last != nullptr ? static_cast<double>(last->self_rss) / static_cast<double>(o.sessions) : 0.0;
  lg["table_bytes_per_session"] = SessionTable::kBytesPerSession;
  lg["wheel_bytes_reserved"] = r.wheel_bytes;

  if (r.events) {
    j["events"] = {{"lines", r.event_lines},
                   {"online_users", r.online_users},
                   {"offline_users", r.offline_users},
                   {"offline_unexpected", r.offline_unexpected}};
  }
  if (o.mode == Mode::kChurn) {
    Json ch;
    ch["silenced_users"] = r.silenced_users;
    ch["detected"] = r.detected;
    ch["missing"] = r.silenced_users > r.detected ? r.silenced_users - r.detected : 0;
    ch["early"] = r.early;
    ch["timeout_ms"] = r.timeout_ms;
    ch["advised_interval_s"] = {{"min", r.advised_min_s}, {"max", r.advised_max_s}};
    ch["delay_ms"] = latency_json(r.delay_us, 0.001);
    j["churn"] = ch;
  }
  if (o.mode == Mode::kStorm) {
    Json st;
    st["restarted"] = t.storm_restarted;
    st["back"] = t.storm_back;
    st["window_ms"] = o.storm_window_ms;
    st["back_ms"] = latency_json(r.storm_back_ms, 1.0);
    st["overload_reconnects"] = t.reconnect_reason[4];
    j["storm"] = st;
  }
  if (o.mode == Mode::kFlood) {
    const double act = r.act_s >= 0 ? r.elapsed_s - r.act_s : 0;
    j["flood"] = {{"sent", r.flood_sent},
                  {"pps", act > 0 ? static_cast<double>(r.flood_sent) / act : 0.0},
                  {"bad_mac", r.flood_bad_mac},
                  {"replies", r.flood_replies},
                  {"send_errors", r.flood_errors}};
  }
  Json samples = Json::array();
  for (const Sample& s : r.samples) {
    samples.push_back({{"t", s.t_s},
                       {"up", s.stats.up},
                       {"sent", s.stats.sent},
                       {"acks", s.stats.acks},
                       {"resends", s.stats.resends},
                       {"dead", s.stats.dead},
                       {"server_cpu_s", s.server_cpu_s},
                       {"server_user_s", s.server_user_s},
                       {"server_rss", s.server_rss},
                       {"self_cpu_s", s.self_cpu_s},
                       {"online_users", s.online_users},
                       {"offline_users", s.offline_users}});
  }
  j["samples"] = samples;
  return j.dump(2) + "\n";
}

}  // namespace presenced::loadgen
