// sim_report.cc: scenario output (sim_report.h).
#include "tests/sim/sim_report.h"

#include <cstdio>
#include <cstdlib>

#include "tests/sim/sim_random.h"
#include "tests/sim/sim_world.h"

namespace presenced::sim {

std::string announce(const std::string& scenario, uint64_t seed) {
  const std::string s = seed_text(seed);
  std::printf("[sim] %s seed=%s (replay: PRESENCED_SIM_SEED=%s)\n", scenario.c_str(), s.c_str(),
              s.c_str());
  std::fflush(stdout);
  return "scenario " + scenario + " seed=" + s + " (replay: PRESENCED_SIM_SEED=" + s + ")";
}

void report_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (const char* path = std::getenv("PRESENCED_SIM_RESULTS"); path != nullptr && *path != '\0') {
    if (std::FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "%s\n", line.c_str());
      std::fclose(f);
    }
  }
}

void report(const std::string& scenario, uint64_t seed, const World& w, double cpu_s,
            const std::string& extra) {
  const TruthCounts& t = w.truth().counts();
  char buf[1024];
  std::snprintf(
      buf, sizeof buf,
      "[sim] %s seed=%s clients=%u sim_s=%.0f false_offlines=%llu events=%llu "
      "(online=%llu status=%llu offline=%llu) order_violations=%llu packets=%llu "
      "cpu=%.2fs",
      scenario.c_str(), seed_text(seed).c_str(), w.clients(),
      static_cast<double>(w.now_ms()) / 1000.0, static_cast<unsigned long long>(t.false_offlines),
      static_cast<unsigned long long>(t.online + t.status + t.offline),
      static_cast<unsigned long long>(t.online), static_cast<unsigned long long>(t.status),
      static_cast<unsigned long long>(t.offline),
      static_cast<unsigned long long>(t.order_violations()),
      static_cast<unsigned long long>(w.up_link().stats().sent + w.down_link().stats().sent),
      cpu_s);
  std::string line = buf;
  line += " | " + w.traffic_summary();
  if (!extra.empty()) line += " | " + extra;
  report_line(line);
}

}  // namespace presenced::sim
