#include "tools/loadgen/dpdk_fleet.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include <netinet/in.h>

#include "dataplane/common/byte_order.h"
#include "dataplane/io/dpdk/dpdk_eal.h"
#include "dataplane/io/dpdk/dpdk_test_port.h"
#include "dataplane/io/dpdk/frame.h"

namespace presenced::loadgen {

namespace {

namespace dp = io::dpdk;

constexpr std::size_t kIp = dp::kEtherHeader;  // offset of the IPv4 header
constexpr std::size_t kUdp = kIp + dp::kIpv4Header;
constexpr std::size_t kPayload = kUdp + dp::kUdpHeader;

void pause_briefly() { std::this_thread::sleep_for(std::chrono::microseconds(50)); }

}  // namespace

DpdkFleet::DpdkFleet(const Options& options) : options_(options) {}

DpdkFleet::~DpdkFleet() = default;

std::unique_ptr<DpdkFleet> DpdkFleet::open(const Options& options, std::string* error) {
  std::unique_ptr<DpdkFleet> f(new DpdkFleet(options));
  Options& o = f->options_;
  o.batch = std::clamp<uint32_t>(o.batch, 1, kMaxBatch);
  if (o.sockets == 0 || uint32_t{o.first_port} + o.sockets > 65536) {
    if (error != nullptr) *error = "dpdk fleet: source ports beyond 65535";
    return nullptr;
  }
  f->port_ = dp::FramePort::attach(o.port, o.descriptors, error);
  if (!f->port_) return nullptr;
  f->port_->mac(f->own_mac_.data());
  if (std::all_of(f->own_mac_.begin(), f->own_mac_.end(), [](uint8_t b) { return b == 0; })) {
    f->own_mac_ = {0x02, 0, 0, 0, 0, 0x02};  // net_ring's MAC is all zeros: a local one
  }
  if (o.server_mac_set) {
    f->dst_mac_ = o.server_mac;
    f->dst_mac_known_ = true;
  } else {
    f->dst_mac_.fill(0xff);
  }
  f->first_port_ = o.first_port;
  f->stage_.assign(std::size_t{o.batch} * kSlotBytes, 0);
  f->stage_len_.assign(o.batch, 0);
  if (!f->wait_for_link(error)) return nullptr;
  return f;
}

// The port takes no frame before its link is up (net_memif: until the
// client has connected to the server's socket), so send one harmless frame
// (a broadcast ARP request for our own address: the server, which knows no
// ARP with its exception path off, drops it) until the device accepts it.
bool DpdkFleet::wait_for_link(std::string* error) {
  uint8_t frame[42] = {};
  std::memset(frame, 0xff, 6);
  std::memcpy(frame + 6, own_mac_.data(), 6);
  store_be<uint16_t>(frame + 12, dp::kEtherTypeArp);
  uint8_t* arp = frame + 14;
  store_be<uint16_t>(arp, 1);        // Ethernet
  store_be<uint16_t>(arp + 2, 0x0800);  // IPv4
  arp[4] = 6;
  arp[5] = 4;
  store_be<uint16_t>(arp + 6, 1);  // request
  std::memcpy(arp + 8, own_mac_.data(), 6);
  std::memcpy(arp + 14, options_.ip.data(), 4);
  std::memcpy(arp + 24, options_.ip.data(), 4);  // gratuitous
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.link_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    uint8_t* f[1];
    if (port_->alloc(f, 1) == 1) {
      std::memcpy(f[0], frame, sizeof frame);
      const uint16_t len = sizeof frame;
      if (port_->send(&len, 1) == 1) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (error != nullptr) {
    *error = "the link did not come up within " + std::to_string(options_.link_timeout_ms / 1000) +
             " s (net_memif: is the server side running on the same socket?)";
  }
  return false;
}

void DpdkFleet::bind_thread() { dp::register_current_thread(); }

void DpdkFleet::send(uint32_t s, const SockTarget& to, const uint8_t* data, std::size_t len) {
  len = std::min(len, kRxBufferBytes);
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&to.addr);
  uint8_t* f = stage_.data() + std::size_t{staged_} * kSlotBytes;
  std::memcpy(f, dst_mac_.data(), 6);
  std::memcpy(f + 6, own_mac_.data(), 6);
  store_be<uint16_t>(f + 12, dp::kEtherTypeIpv4);
  uint8_t* ip = f + kIp;
  const auto udp_len = static_cast<uint16_t>(dp::kUdpHeader + len);
  ip[0] = 0x45;
  ip[1] = 0;
  store_be<uint16_t>(ip + 2, static_cast<uint16_t>(dp::kIpv4Header + udp_len));
  store_be<uint16_t>(ip + 4, 0);
  store_be<uint16_t>(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = dp::kIpProtoUdp;
  std::memset(ip + 10, 0, 2);
  std::memcpy(ip + 12, options_.ip.data(), 4);
  std::memcpy(ip + 16, &sin->sin_addr, 4);
  const auto ip_csum = static_cast<uint16_t>(~dp::csum_fold(dp::csum_add(ip, dp::kIpv4Header, 0)));
  std::memcpy(ip + 10, &ip_csum, 2);
  uint8_t* udp = f + kUdp;
  store_be<uint16_t>(udp, static_cast<uint16_t>(first_port_ + s));
  std::memcpy(udp + 2, &sin->sin_port, 2);  // already network order
  store_be<uint16_t>(udp + 4, udp_len);
  std::memset(udp + 6, 0, 2);
  std::memcpy(f + kPayload, data, len);
  const uint64_t sum =
      dp::udp_pseudo_sum(true, ip + 12, ip + 16, udp_len) + dp::csum_add(udp, udp_len, 0);
  uint16_t c = static_cast<uint16_t>(~dp::csum_fold(sum));
  if (c == 0) c = 0xffff;  // 0 means "no checksum" over IPv4
  std::memcpy(udp + 6, &c, 2);
  stage_len_[staged_] = static_cast<uint16_t>(kPayload + len);
  if (++staged_ == options_.batch) flush_all();
}

void DpdkFleet::flush_all() {
  const uint32_t n = staged_;
  uint32_t done = 0;
  int waits = 0;
  while (done < n) {
    uint8_t* frames[kMaxBatch];
    const uint32_t k = port_->alloc(frames, n - done);
    uint32_t sent = 0;
    if (k != 0) {
      for (uint32_t i = 0; i < k; ++i) {
        std::memcpy(frames[i], stage_.data() + std::size_t{done + i} * kSlotBytes,
                    stage_len_[done + i]);
      }
      sent = port_->send(stage_len_.data() + done, k);
      counters_.tx_calls.add();
      counters_.tx_datagrams.add(sent);
      done += sent;
    }
    if (sent == k && k != 0) continue;
    // The device's ring (or the mempool) is full: give the peer a moment.
    if (waits < 3) {
      ++waits;
      counters_.tx_eagain_waits.add();
      pause_briefly();
      continue;
    }
    counters_.tx_dropped.add(n - done);
    break;
  }
  staged_ = 0;
}

uint32_t DpdkFleet::receive_burst() {
  counters_.rx_calls.add();
  return port_->receive(rx_frames_, rx_lens_, options_.batch);
}

bool DpdkFleet::parse(uint32_t i, const uint8_t*& payload, std::size_t& len) {
  const uint8_t* f = rx_frames_[i];
  const uint32_t n = rx_lens_[i];
  std::size_t l3 = dp::kEtherHeader;
  if (n < l3 + dp::kIpv4Header + dp::kUdpHeader) {
    counters_.rx_other.add();
    return false;
  }
  uint16_t type = load_be<uint16_t>(f + 12);
  if (type == dp::kEtherTypeVlan) {
    type = load_be<uint16_t>(f + 16);
    l3 += dp::kVlanTag;
  }
  const uint8_t* ip = f + l3;
  const std::size_t ihl = std::size_t{ip[0] & 0x0fu} * 4;
  if (type != dp::kEtherTypeIpv4 || (ip[0] >> 4) != 4 || ihl < dp::kIpv4Header ||
      ip[9] != dp::kIpProtoUdp || std::memcmp(ip + 16, options_.ip.data(), 4) != 0 ||
      l3 + ihl + dp::kUdpHeader > n) {
    counters_.rx_other.add();
    return false;
  }
  const uint8_t* udp = ip + ihl;
  const uint32_t dport = load_be<uint16_t>(udp + 2);
  const std::size_t ulen = load_be<uint16_t>(udp + 4);
  if (dport < first_port_ || dport - first_port_ >= options_.sockets ||
      ulen < dp::kUdpHeader || l3 + ihl + ulen > n) {
    counters_.rx_other.add();
    return false;
  }
  if (!dst_mac_known_) {
    // The server's first reply tells its MAC: unicast from now on.
    std::memcpy(dst_mac_.data(), f + 6, 6);
    dst_mac_known_ = true;
  }
  counters_.rx_datagrams.add();
  payload = udp + dp::kUdpHeader;
  len = ulen - dp::kUdpHeader;
  return true;
}

void DpdkFleet::wait(int /*timeout_ms*/) {
  std::this_thread::sleep_for(std::chrono::microseconds(100));
}

}  // namespace presenced::loadgen
