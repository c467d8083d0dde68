// dpdk_eal.h: the one DPDK Environment Abstraction Layer initialisation of
// a process. No DPDK type appears here.
//
// Owns: the process-wide EAL state. rte_eal_init may run only once per
// process (a second call fails with EALREADY, and a failed call cannot be
// retried), so every user (the backend factory, the test helper, the
// benchmark) goes through ensure_eal(): the first call initialises with its
// arguments, later calls return the first call's outcome and ignore theirs.
// If someone else already called rte_eal_init, that counts as success.
//
// What ensure_eal adds to the operator's arguments (theirs come last, so
// they win where EAL lets a later option override an earlier one):
//   - argv[0] "presenced";
//   - `-l C`, with C the first CPU this thread may run on, when none of
//     -l/-c/--lcores is given: the EAL's main lcore. presenced's data cores
//     are its own pinned threads (registered with rte_thread_register on
//     first use), so the EAL needs no worker lcores;
//   - `--log-level=notice` (EAL's default, info, prints a page at start).
// EAL logs go to stderr, not stdout and syslog (stdout carries presenced's
// `listening on` line). The calling thread's CPU affinity, which
// rte_eal_init pins to the main lcore, is restored afterwards, so threads
// created later (event hub, control plane) are not all squeezed onto one
// CPU. rte_eal_cleanup runs at process exit (atexit).
//
// Concurrency: thread-safe (a mutex); meant for start-up.
#pragma once

#include <string>
#include <vector>

namespace presenced::io::dpdk {

// Returns true when the EAL is initialised; otherwise false with `error` (a
// sentence naming rte_eal_init, its error and a hint).
bool ensure_eal(const std::string& args, std::string* error);

// Splits EAL arguments on blanks; "double quotes" group (no escapes).
std::vector<std::string> split_eal_args(const std::string& args);

// Registers the calling thread with the EAL (rte_thread_register) unless it
// already has an lcore id, so per-lcore mempool caches work for it. Cheap
// after the first call on a thread. False when the EAL refused (too many
// threads for RTE_MAX_LCORE): the thread still works, without caches.
bool register_current_thread();

}  // namespace presenced::io::dpdk
