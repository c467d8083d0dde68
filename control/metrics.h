// metrics.h: GET /metrics, the status snapshot in the Prometheus text
// exposition format (version 0.0.4).
//
// Owns: metric names, types, HELP texts and labels. Every family has HELP
// and TYPE lines; counters end in `_total`, units are in the names
// (`_seconds`, `_bytes`, `_ratio`). Per-core series carry `core="N"`; drops
// carry `reason` (every reason, zeros included, so a rate() never starts
// from a missing series); events carry `type`. Engine counter names and
// HELP texts come from the X-macro in dataplane/engine/core_stats.h, so a
// counter added there is exported without a change here (as
// counter_metric_name() names it; a counter in milliseconds, `foo_ms`,
// becomes `presenced_foo_seconds_total` in seconds). Totals are left
// to PromQL (sum by ...). Checked with `promtool check metrics` in
// tests/control/metrics_test.cc.
//
// Concurrency: a pure function of its inputs; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "control/json_codec.h"
#include "control/server.h"

namespace presenced::control {

std::string render_metrics(const StatusSnapshot& s, const json_codec::StreamStatus& stream);

// The family of engine counter `counter` (a core_stats.h name):
// "acks_sent" -> "presenced_acks_sent_total", "drain_total" ->
// "presenced_drain_total", "stalled_ms" -> "presenced_stalled_seconds_total".
std::string counter_metric_name(std::string_view counter);

// The content type to answer /metrics with.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace presenced::control
