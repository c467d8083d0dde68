// dpdk_factory.h: creates the DPDK (kernel-bypass) backend: one RX/TX
// queue pair of one DPDK port per data core, RSS on UDP ports, replies built
// in place, and an exception path to the kernel for everything that is not
// presenced's (see dpdk_backend.cc). Exposes no DPDK type.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/io/io_backend.h"

namespace presenced::io {

// Initialises the EAL on first use (options.dpdk_args; once per process),
// sets up port options.dpdk_port, its mempools and the exception path, and
// returns options.instances backends (instance i owns queue i). Needs
// options.dpdk_addresses (the server's own addresses) and a non-zero
// options.listen.port (the UDP port served); options.listen's address is
// not used. On failure returns an empty vector and sets `error`, naming the
// failing step (rte_eal_init, rte_eth_dev_configure, the tap, ...).
std::vector<std::unique_ptr<IoBackend>> create_dpdk_backends(const BackendOptions& options,
                                                             std::string* error);

}  // namespace presenced::io
