// kernel_iface.h: configures the kernel side of the DPDK backend's
// exception path (the tap interface the backend creates), over rtnetlink:
// link up, and the server's own addresses on it, so that the kernel answers
// ARP, NDP and ping for them and owns every other protocol on them.
//
// Owns: nothing after the call (one short-lived netlink socket per call).
// Needs CAP_NET_ADMIN. Concurrency: thread-safe (no shared state); start-up
// only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/common/net_addr.h"

namespace presenced::io::dpdk {

struct KernelAddress {
  NetAddr addr;            // family 4 or 6; port ignored
  uint8_t prefix_len = 0;  // 0: a host address (/32 or /128)
};

// Sets `ifname` up and adds each address (IPv6 without duplicate address
// detection, so it is usable at once). An address already present is fine.
// Returns "" or a sentence naming the interface, the step and the error.
std::string configure_kernel_iface(const std::string& ifname,
                                   const std::vector<KernelAddress>& addresses);

}  // namespace presenced::io::dpdk
