// proc_stats.h: CPU time and resident memory of a process, from /proc.
//
// Owns: reading /proc/PID/stat (utime + stime, in clock ticks) and
// /proc/PID/status (VmRSS) of the server under test and of the load
// generator itself, so a run reports how many cores each side used and how
// many bytes per session each holds, measured rather than estimated.
//
// Concurrency: pure functions reading the file system; thread-safe.
#pragma once

#include <cstdint>
#include <optional>

namespace presenced::loadgen {

struct ProcSample {
  double cpu_s = 0;        // user + system CPU seconds since the process started
  double user_s = 0;       // of which in user space (the rest is the kernel's,
                           // e.g. its UDP/TCP stack working for the process)
  uint64_t rss_bytes = 0;  // VmRSS
};

// pid 0: this process. nullopt if the process is gone or /proc unreadable.
std::optional<ProcSample> sample_process(int64_t pid);

}  // namespace presenced::loadgen
