// rte.h: the one place this folder includes DPDK's headers.
//
// Owns: the instruction-set boundary between presenced and DPDK. presenced
// is built for the x86-64 baseline (SIMD chosen at run time); Debian builds
// DPDK for corei7 (SSE4.2, POPCNT) and rte_eal_init refuses a CPU without
// it. DPDK's static inline helpers (rte_memcpy's SSSE3 path, reached from
// every mbuf free through the mempool) do not compile for the baseline, so
// the functions these headers define are compiled for corei7's ISA through
// a target pragma, and only them: they are `static inline` (internal
// linkage, so no copy is shared with baseline code through the linker), and
// code outside this region stays baseline. A baseline function cannot
// inline a corei7 one, so the compiler calls DPDK's small helpers
// (rte_eth_rx_burst, rte_pktmbuf_alloc, ...) out of line, one call per burst
// or per reply. None of them runs before rte_eal_init checked the CPU.
//
// A function of ours that calls DPDK's always_inline helpers (the ring,
// mempool and mbuf fast paths) must be compiled for the same ISA:
// PRESENCED_DPDK_ISA marks it. Such a function must only run after
// rte_eal_init succeeded and must not be an inline function with external
// linkage (mark only .cc-local functions, members of classes in an anonymous
// namespace, or out-of-line members).
//
// Include this instead of any rte_*.h. Standard headers the DPDK headers
// use are included first, outside the region.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <pthread.h>
#include <sched.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__x86_64__)
#define PRESENCED_DPDK_ISA [[gnu::target("sse4.2,popcnt")]]
#else
#define PRESENCED_DPDK_ISA
#endif

#if defined(__x86_64__)
#include <x86intrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("sse4.2,popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("sse4.2,popcnt")
#endif
#endif

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
