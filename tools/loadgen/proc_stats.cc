#include "tools/loadgen/proc_stats.h"

#include <cstdio>
#include <cstring>
#include <string>

#include <unistd.h>

namespace presenced::loadgen {

std::optional<ProcSample> sample_process(int64_t pid) {
  const std::string base = pid == 0 ? "/proc/self" : "/proc/" + std::to_string(pid);
  ProcSample s;
  {
    std::FILE* f = std::fopen((base + "/stat").c_str(), "r");
    if (f == nullptr) return std::nullopt;
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state(3) ... utime(14) stime(15).
    const char* p = std::strrchr(buf, ')');
    if (p == nullptr) return std::nullopt;
    unsigned long long utime = 0, stime = 0;
    if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                    &stime) != 2) {
      return std::nullopt;
    }
    const long hz = sysconf(_SC_CLK_TCK);
    const double ticks = static_cast<double>(hz > 0 ? hz : 100);
    s.cpu_s = static_cast<double>(utime + stime) / ticks;
    s.user_s = static_cast<double>(utime) / ticks;
  }
  {
    std::FILE* f = std::fopen((base + "/status").c_str(), "r");
    if (f == nullptr) return std::nullopt;
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      unsigned long long kb = 0;
      if (std::sscanf(line, "VmRSS: %llu kB", &kb) == 1) {
        s.rss_bytes = kb * 1024;
        break;
      }
    }
    std::fclose(f);
  }
  return s;
}

}  // namespace presenced::loadgen
