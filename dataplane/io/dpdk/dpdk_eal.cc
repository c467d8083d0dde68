#include "dataplane/io/dpdk/dpdk_eal.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <pthread.h>
#include <sched.h>

#include "dataplane/io/dpdk/rte.h"

namespace presenced::io::dpdk {
namespace {

struct EalState {
  std::mutex mu;
  bool tried = false;
  bool ok = false;
  std::string error;
};

EalState& state() {
  static EalState s;
  return s;
}

bool has_lcore_option(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-l" || a == "-c" || a == "--lcores" || a.rfind("--lcores=", 0) == 0) return true;
    if ((a.rfind("-l", 0) == 0 || a.rfind("-c", 0) == 0) && a.size() > 2 && a[1] != '-') {
      return true;
    }
  }
  return false;
}

int first_allowed_cpu(const cpu_set_t& set) {
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) return c;
  }
  return 0;
}

std::string hint_for(int err, const std::string& args) {
  if (args.find("--no-huge") == std::string::npos) {
    return " (no hugepages reserved? see docs/OPERATIONS.md, or run with --no-huge for tests)";
  }
  if (err == EACCES || err == EPERM) return " (DPDK needs root or CAP_SYS_ADMIN/CAP_NET_ADMIN)";
  if (args.find("--file-prefix") == std::string::npos) {
    return " (another DPDK process with the default --file-prefix running?)";
  }
  return "";
}

}  // namespace

std::vector<std::string> split_eal_args(const std::string& args) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  bool quoted = false;
  for (char ch : args) {
    if (ch == '"') {
      quoted = !quoted;
      in_word = true;
    } else if (!quoted && (ch == ' ' || ch == '\t' || ch == '\n')) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(ch);
      in_word = true;
    }
  }
  if (in_word) out.push_back(cur);
  return out;
}

bool ensure_eal(const std::string& args, std::string* error) {
  EalState& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.tried) {
    if (!s.ok && error != nullptr) *error = s.error;
    return s.ok;
  }
  s.tried = true;

  const std::vector<std::string> user = split_eal_args(args);
  cpu_set_t affinity;
  CPU_ZERO(&affinity);
  const bool have_affinity =
      pthread_getaffinity_np(pthread_self(), sizeof affinity, &affinity) == 0;

  std::vector<std::string> argv_s = {"presenced", "--log-level=notice"};
  if (!has_lcore_option(user)) {
    argv_s.push_back("-l");
    argv_s.push_back(std::to_string(have_affinity ? first_allowed_cpu(affinity) : 0));
  }
  argv_s.insert(argv_s.end(), user.begin(), user.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Before init: EAL would otherwise log to stdout and syslog.
  rte_openlog_stream(stderr);
  const int r = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
  const int err = rte_errno;
  if (have_affinity) pthread_setaffinity_np(pthread_self(), sizeof affinity, &affinity);
  if (r < 0 && err != EALREADY) {
    s.error = std::string("rte_eal_init failed: ") + rte_strerror(err) + hint_for(err, args) +
              "; EAL arguments: \"" + args + "\"";
    if (error != nullptr) *error = s.error;
    return false;
  }
  if (r >= 0) std::atexit([] { rte_eal_cleanup(); });
  s.ok = true;
  return true;
}

bool register_current_thread() {
  thread_local int registered = -1;  // -1 unknown, 0 failed, 1 has an lcore id
  if (registered >= 0) return registered == 1;
  if (rte_lcore_id() != LCORE_ID_ANY) {
    registered = 1;  // an EAL thread (e.g. the main lcore)
  } else {
    registered = rte_thread_register() == 0 ? 1 : 0;
  }
  return registered == 1;
}

}  // namespace presenced::io::dpdk
