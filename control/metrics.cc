#include "control/metrics.h"

#include <cinttypes>
#include <cstdio>
#include <functional>
#include <string_view>

#include "dataplane/engine/core_stats.h"
#include "dataplane/wire/drop_reason.h"

namespace presenced::control {
namespace {

// Appends families to one string; each family is HELP, TYPE, then samples.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (char c : help) {  // HELP escapes backslash and newline
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // name{labels} value; `labels` is preformatted (k="v",...) or empty.
  void sample(std::string_view name, std::string_view labels, uint64_t value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%" PRIu64, value);
    line(name, labels, buf);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    line(name, labels, buf);
  }

 private:
  void line(std::string_view name, std::string_view labels, const char* value) {
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string& out_;
};

std::string core_label(const CoreStatus& c) {
  return "core=\"" + std::to_string(c.core) + "\"";
}

// One family with one sample per core.
void per_core(Writer& w, const StatusSnapshot& s, std::string_view name, std::string_view type,
              std::string_view help, const std::function<uint64_t(const CoreStatus&)>& get) {
  w.family(name, type, help);
  for (const CoreStatus& c : s.cores) w.sample(name, core_label(c), get(c));
}

// Engine counters that get a family of their own (with labels) instead of
// the generic presenced_<name>_total.
bool has_own_family(std::string_view counter) {
  return counter == "events_online" || counter == "events_status" || counter == "events_offline" ||
         counter == "rx_datagrams";
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A counter in milliseconds (name ending in _ms) is exported in seconds.
bool in_milliseconds(std::string_view counter) {
  return ends_with(counter, "_ms");
}

// One engine counter's family: per core, in its unit.
void engine_counter(Writer& w, const StatusSnapshot& s, std::string_view counter,
                    std::string_view help, uint64_t (*get)(const CoreStatus&)) {
  const std::string name = counter_metric_name(counter);
  w.family(name, "counter", help);
  for (const CoreStatus& c : s.cores) {
    if (in_milliseconds(counter)) {
      w.sample(name, core_label(c), static_cast<double>(get(c)) / 1000.0);
    } else {
      w.sample(name, core_label(c), get(c));
    }
  }
}

}  // namespace

std::string counter_metric_name(std::string_view counter) {
  std::string n = "presenced_";
  if (in_milliseconds(counter)) {
    n += counter.substr(0, counter.size() - 3);
    n += "_seconds_total";
    return n;
  }
  n += counter;
  if (!ends_with(counter, "_total")) n += "_total";
  return n;
}

std::string render_metrics(const StatusSnapshot& s, const json_codec::StreamStatus& stream) {
  std::string out;
  out.reserve(16384);
  Writer w(out);

  w.family("presenced_build_info", "gauge",
           "Always 1; labels carry the version, the I/O backend and the server epoch");
  w.sample("presenced_build_info",
           "version=\"" + s.version + "\",backend=\"" + s.backend + "\",epoch=\"" +
               std::to_string(s.epoch) + "\"",
           uint64_t{1});
  w.family("presenced_uptime_seconds", "gauge", "Seconds since the server started");
  w.sample("presenced_uptime_seconds", "", static_cast<double>(s.uptime_ms) / 1000.0);
  w.family("presenced_max_sessions", "gauge", "Sessions the presence table can hold");
  w.sample("presenced_max_sessions", "", s.max_sessions);
  w.family("presenced_data_cores", "gauge", "Data cores serving packets");
  w.sample("presenced_data_cores", "", static_cast<uint64_t>(s.cores.size()));

  // Packet I/O (the backends).
  per_core(w, s, "presenced_packets_received_total", "counter",
           "Datagrams received by the I/O backend",
           [](const CoreStatus& c) { return c.io.rx_datagrams; });
  per_core(w, s, "presenced_packets_sent_total", "counter", "Datagrams sent by the I/O backend",
           [](const CoreStatus& c) { return c.io.tx_datagrams; });
  per_core(w, s, "presenced_received_bytes_total", "counter", "Bytes received (UDP payload)",
           [](const CoreStatus& c) { return c.io.rx_bytes; });
  per_core(w, s, "presenced_sent_bytes_total", "counter", "Bytes sent (UDP payload)",
           [](const CoreStatus& c) { return c.io.tx_bytes; });
  per_core(w, s, "presenced_receive_errors_total", "counter",
           "Receive errors and truncated datagrams",
           [](const CoreStatus& c) { return c.io.rx_errors; });
  per_core(w, s, "presenced_receive_dropped_total", "counter",
           "Datagrams dropped by the kernel or NIC before the server saw them",
           [](const CoreStatus& c) { return c.io.rx_dropped; });
  per_core(w, s, "presenced_send_errors_total", "counter", "Replies lost because sending failed",
           [](const CoreStatus& c) { return c.io.tx_errors; });
  per_core(w, s, "presenced_engine_datagrams_total", "counter", "Datagrams handed to the engine",
           [](const CoreStatus& c) { return c.engine.rx_datagrams; });

  // Engine counters, names and help texts from core_stats.h.
#define PRESENCED_COUNTER_METRIC(name, help)                                              \
  if (!has_own_family(#name)) {                                                           \
    engine_counter(w, s, #name, help, [](const CoreStatus& c) { return c.engine.name; }); \
  }
  PRESENCED_CORE_COUNTERS(PRESENCED_COUNTER_METRIC)
#undef PRESENCED_COUNTER_METRIC

  w.family("presenced_events_published_total", "counter",
           "Presence events published by the home cores, by type");
  for (const CoreStatus& c : s.cores) {
    const std::string core = core_label(c);
    w.sample("presenced_events_published_total", core + ",type=\"online\"", c.engine.events_online);
    w.sample("presenced_events_published_total", core + ",type=\"status\"", c.engine.events_status);
    w.sample("presenced_events_published_total", core + ",type=\"offline\"",
             c.engine.events_offline);
  }

  w.family("presenced_drops_total", "counter",
           "Datagrams dropped without a reply, by reason (dataplane/wire/drop_reason.h)");
  for (const CoreStatus& c : s.cores) {
    const std::string core = core_label(c);
    for (std::size_t r = 1; r < wire::kDropReasonCount; ++r) {
      const std::string_view reason = wire::drop_reason_name(static_cast<wire::DropReason>(r));
      w.sample("presenced_drops_total", core + ",reason=\"" + std::string(reason) + "\"",
               c.engine.drops[r]);
    }
  }

  // Gauges.
  per_core(w, s, "presenced_sessions_online", "gauge",
           "Online sessions in the shards this core homes",
           [](const CoreStatus& c) { return c.sessions_online; });
  per_core(w, s, "presenced_users_online", "gauge", "Online users in the shards this core homes",
           [](const CoreStatus& c) { return c.users_online; });
  per_core(w, s, "presenced_table_used_slots", "gauge",
           "Table slots holding a session (offline ones included) in this core's shards",
           [](const CoreStatus& c) { return c.table_used; });
  per_core(w, s, "presenced_table_capacity_slots", "gauge", "Table slots in this core's shards",
           [](const CoreStatus& c) { return c.table_capacity; });
  w.family("presenced_table_load_ratio", "gauge", "Used over capacity of this core's shards");
  for (const CoreStatus& c : s.cores) {
    const double load = c.table_capacity == 0 ? 0.0
                                              : static_cast<double>(c.table_used) /
                                                    static_cast<double>(c.table_capacity);
    w.sample("presenced_table_load_ratio", core_label(c), load);
  }
  per_core(w, s, "presenced_wheel_entries", "gauge", "Entries in this core's timing wheel",
           [](const CoreStatus& c) { return c.engine.wheel_entries; });
  per_core(w, s, "presenced_advised_interval_seconds", "gauge",
           "Heartbeat interval this core advises in its ACKs",
           [](const CoreStatus& c) { return c.engine.advised_interval_s; });
  per_core(w, s, "presenced_loop_iterations_total", "counter", "Core loop iterations",
           [](const CoreStatus& c) { return c.loop_iterations; });
  per_core(w, s, "presenced_loop_sleeps_total", "counter",
           "Times the core slept in the backend while idle",
           [](const CoreStatus& c) { return c.loop_sleeps; });

  // Events and the control plane's stream.
  w.family("presenced_events_delivered_total", "counter",
           "Events the hub handed to the sinks (events file, control stream)");
  w.sample("presenced_events_delivered_total", "", s.events_delivered);
  w.family("presenced_event_stream_subscribers", "gauge", "Clients following GET /v1/events");
  w.sample("presenced_event_stream_subscribers", "", stream.subscribers);
  w.family("presenced_slow_consumers_cut_total", "counter",
           "Event stream clients cut off because they fell behind the backlog");
  w.sample("presenced_slow_consumers_cut_total", "", stream.slow_consumers_cut);
  w.family("presenced_event_backlog_events", "gauge",
           "Events held for clients resuming with Last-Event-ID");
  w.sample("presenced_event_backlog_events", "", stream.backlog);
  w.family("presenced_event_backlog_capacity_events", "gauge",
           "Events the backlog holds at most (--event-backlog)");
  w.sample("presenced_event_backlog_capacity_events", "", stream.backlog_capacity);
  w.family("presenced_event_stream_last_id", "gauge", "Id of the latest event in the stream");
  w.sample("presenced_event_stream_last_id", "", stream.last_event_id);

  // Drain.
  w.family("presenced_drain_active", "gauge", "1 while the server drains");
  w.sample("presenced_drain_active", "", uint64_t{s.drain.active ? 1u : 0u});
  w.family("presenced_drain_sessions", "gauge", "Sessions online when the drain started");
  w.sample("presenced_drain_sessions", "", s.drain.total);
  w.family("presenced_drain_pushed_sessions", "gauge",
           "Sessions sent their RECONNECT by the current drain");
  w.sample("presenced_drain_pushed_sessions", "", s.drain.pushed);
  w.family("presenced_drain_rate", "gauge", "RECONNECT pushes per second of the current drain");
  w.sample("presenced_drain_rate", "", uint64_t{s.drain.rate});
  return out;
}

}  // namespace presenced::control
