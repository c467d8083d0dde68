// dpdk_backend.cc: the kernel-bypass backend. One DPDK port; instance i (a
// data core) owns RX/TX queue i of it, a mempool, and queue i of the
// exception port.
//
//   wire -> port RX queue i -> classify (frame.h) -+-> RxDatagram views -> engine
//                                                  +-> exception TX queue i -> kernel (tap)
//                                                  +-> dropped (malformed)
//   engine replies -> reply frames (recycled request mbufs) -> TX buffer -> port TX queue i
//   kernel (tap) -> exception RX queue i -> port TX queue i -> wire
//
// Owns, per factory call (PortContext, shared by the instances, torn down
// with the last one): the port's configuration and start/stop, one mempool
// per instance, and the exception port (a net_tap created here with the
// port's MAC, brought up with the server's addresses through rtnetlink, so
// the kernel answers ARP, NDP and ping and owns other protocols; or an
// existing port given as "port:N"; or none).
// Per instance: the mbufs of the last burst, the TX buffer, a small
// neighbour cache and the counters.
//
// Port set-up: one queue pair per instance; RSS over UDP ports when the
// device offers it (RTE_ETH_RSS_UDP), so one client's packets stay on one
// core (with one instance, or a device without RSS, the device's
// distribution applies: af_packet fans out by flow hash, ring and memif
// have no RSS). IPv4/UDP RX checksum offload when offered (the NIC's verdict
// replaces the software check); IPv4/UDP TX checksum offload when offered,
// else software checksums. All-multicast on when an IPv6 address is served
// (solicited-node multicast for NDP). Promiscuous mode is left as the
// device has it (off unless the operator set it).
//
// Mempools: per instance, on the port's NUMA socket, sized from the queue
// depths: RX descriptors + TX descriptors + the TX buffer + two bursts +
// the exception queues + the per-lcore cache, rounded up to 2^k - 1 (the
// ring-backed mempool's best size). Core threads register with the EAL on
// their first call (rte_thread_register, dpdk_eal.h) so that the per-lcore
// mempool cache serves the PMD's and our allocations without touching the
// shared ring. Pools use the default multi-producer/multi-consumer ops,
// because a peer on a ring or memif port frees our TX mbufs from its own
// thread.
//
// Buffer life cycle: the PMD fills an mbuf -> receive() classifies it: a
// datagram becomes an RxDatagram view into it and is held; a frame for the
// kernel is queued to the exception port; a malformed one is freed. send()
// then rewrites held mbufs into reply frames (the engine is done with the
// views once it returned its replies; IoBackend's contract: views live until
// the next receive(), and the core loop calls send() after the engine and
// before the next receive()), allocating from the pool only when the burst
// had fewer datagrams than replies. The next receive() frees held mbufs that
// no reply reused.
//
// TX buffering (the DPDK l3fwd drain timer): replies collect in a buffer and
// go out in one rte_eth_tx_burst when a burst's worth is waiting, when the
// next receive() finds the RX queue drained (no reason to wait for more),
// when the oldest has waited kDrainUs, or before wait() sleeps. Frames the
// device does not take stay buffered; when the buffer is full, new replies
// are dropped and counted in tx_errors.
//
// Link-layer addressing: the request's source MAC (and VLAN) travels in
// l2_hint (frame.h) from the request to its reply, so a reply built on any
// core needs no lookup. A reply without a hint (server-initiated pushes)
// goes to the MAC last seen for its destination IP (a per-instance,
// direct-mapped neighbour cache learned from received datagrams), else to
// the last source MAC seen on the instance (the gateway, when clients are
// routed).
//
// The exception path is polled every kKernelPollUs (a tap read is a
// syscall), and by wait().
//
// wait(): virtual devices offer no file descriptor to sleep on, so it
// flushes, polls the kernel side and sleeps min(timeout, kMaxSleepUs); use
// --busy-poll on a real server.
//
// Counters: rx_datagrams/rx_bytes (presenced's datagrams), rx_errors
// (malformed frames), rx_exception/tx_exception (frames to and from the
// kernel; with the exception path off, frames not for presenced are counted
// in rx_exception and dropped), rx_dropped (frames the exception port did
// not take). Instance 0 adds the port's own statistics: imissed + rx_nombuf
// to rx_dropped, ierrors to rx_errors, oerrors to tx_errors.
//
// Concurrency: an instance is used by one core thread (receive, send, wait);
// local_address() and stats() are safe from any thread (stats() of instance
// 0 calls rte_eth_stats_get, a read-only query). The factory and the
// destructors run on the control thread, after the core threads stopped.
// No locks, exceptions or allocation on the data path.
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include <net/if.h>

#include "dataplane/common/compiler.h"
#include "dataplane/io/backend_counters.h"
#include "dataplane/io/dpdk/dpdk_eal.h"
#include "dataplane/io/dpdk/dpdk_factory.h"
#include "dataplane/io/dpdk/frame.h"
#include "dataplane/io/dpdk/kernel_iface.h"
#include "dataplane/io/dpdk/rte.h"

namespace presenced::io {
namespace {

using dpdk::CsumState;
using dpdk::FrameClass;

constexpr uint32_t kMaxBurst = engine::kMaxBurst;
constexpr uint32_t kTxBufferCap = 512;      // replies waiting for the device
constexpr uint64_t kDrainUs = 100;          // longest a reply waits in the buffer
constexpr uint64_t kKernelPollUs = 100;     // exception port RX polling period
constexpr uint32_t kMaxSleepUs = 1000;      // longest sleep in wait()
constexpr uint32_t kNeighbourSlots = 1024;  // power of two
constexpr uint16_t kKernelDescriptors = 256;
constexpr uint32_t kMempoolCache = 256;
constexpr uint16_t kNoPort = UINT16_MAX;
constexpr uint32_t kMaxDescriptors = 16384;
constexpr uint16_t kPrefetchAhead = 4;      // frames whose data is prefetched ahead

// Each factory call gets its own mempool names.
uint32_t next_pool_serial() {
  static std::atomic<uint32_t> serial{0};
  return serial.fetch_add(1, std::memory_order_relaxed);
}

std::string port_name(uint16_t port) {
  char name[RTE_ETH_NAME_MAX_LEN] = "?";
  rte_eth_dev_get_name_by_port(port, name);
  return name;
}

std::string errno_text(int negative_or_positive) {
  return rte_strerror(negative_or_positive < 0 ? -negative_or_positive : negative_or_positive);
}

// "0 (net_af_packet0), 1 (net_tap_presenced0)" or "none".
std::string list_ports() {
  std::string s;
  uint16_t p;
  RTE_ETH_FOREACH_DEV(p) {
    if (!s.empty()) s += ", ";
    s += std::to_string(p) + " (" + port_name(p) + ")";
  }
  return s.empty() ? "none" : s;
}

CsumState ip_csum_state(uint64_t ol) {
  switch (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
    case RTE_MBUF_F_RX_IP_CKSUM_NONE:
      return CsumState::kGood;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
      return CsumState::kBad;
    default:
      return CsumState::kUnknown;
  }
}

CsumState l4_csum_state(uint64_t ol) {
  switch (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
    case RTE_MBUF_F_RX_L4_CKSUM_NONE:
      return CsumState::kGood;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
      return CsumState::kBad;
    default:
      return CsumState::kUnknown;
  }
}

uint32_t round_up_pow2_minus1(uint32_t v) {
  uint32_t p = 1;
  while (p - 1 < v) p <<= 1;
  return p - 1;
}

// What the instances of one factory call share; torn down with the last.
struct PortContext {
  uint16_t port = 0;
  bool port_started = false;
  bool port_configured = false;
  uint16_t kernel_port = kNoPort;
  uint32_t kernel_queues = 0;
  bool kernel_started = false;
  bool kernel_configured = false;
  rte_device* own_tap = nullptr;  // a tap created here: removed at the end
  rte_ether_addr mac{};
  dpdk::OwnAddresses own;
  NetAddr local;  // the first address and the UDP port
  bool sw_checksums = true;
  std::vector<rte_mempool*> pools;

  PortContext() = default;
  PortContext(const PortContext&) = delete;
  PortContext& operator=(const PortContext&) = delete;

  ~PortContext() {
    if (port_started) rte_eth_dev_stop(port);
    if (port_configured) rte_eth_dev_close(port);
    if (kernel_port != kNoPort) {
      if (kernel_started) rte_eth_dev_stop(kernel_port);
      if (own_tap != nullptr) {
        rte_dev_remove(own_tap);  // closes the port and deletes the interface
      } else if (kernel_configured) {
        rte_eth_dev_close(kernel_port);
      }
    }
    // A pool whose mbufs are still out (on a peer's ring, in a memif
    // region) stays allocated: freeing it would be a use-after-free there.
    for (rte_mempool* mp : pools) {
      if (mp != nullptr && rte_mempool_in_use_count(mp) == 0) rte_mempool_free(mp);
    }
  }
};

struct Neighbour {
  uint64_t l2_hint = 0;
  std::array<uint8_t, 16> ip{};
  uint8_t family = 0;
};

uint32_t neighbour_index(const uint8_t* ip, std::size_t len) {
  uint32_t h = 0;
  for (std::size_t i = 0; i < len; i += 4) {
    uint32_t w;
    std::memcpy(&w, ip + i, 4);
    h ^= w;
  }
  return (h * 0x9e3779b1u) >> (32 - 10);
}
static_assert(kNeighbourSlots == 1u << 10);

class DpdkBackend final : public IoBackend {
 public:
  DpdkBackend(std::shared_ptr<PortContext> ctx, uint16_t queue, uint32_t burst)
      : ctx_(std::move(ctx)),
        port_(ctx_->port),
        queue_(queue),
        kernel_port_(queue < ctx_->kernel_queues ? ctx_->kernel_port : kNoPort),
        burst_(std::min(burst, kMaxBurst)),
        sw_checksums_(ctx_->sw_checksums),
        own_(ctx_->own),
        pool_(ctx_->pools[queue]),
        neighbours_(kNeighbourSlots) {
    std::memcpy(mac_, ctx_->mac.addr_bytes, 6);
    const uint64_t hz = rte_get_tsc_hz();
    drain_tsc_ = hz * kDrainUs / 1'000'000;
    kernel_poll_tsc_ = hz * kKernelPollUs / 1'000'000;
  }

  PRESENCED_DPDK_ISA ~DpdkBackend() override {
    release_held();
    if (tx_n_ != 0) rte_pktmbuf_free_bulk(txq_, tx_n_);
    if (kernel_n_ != 0) rte_pktmbuf_free_bulk(kernel_buf_, kernel_n_);
  }

  PRESENCED_DPDK_ISA uint32_t receive(engine::RxDatagram* out, uint32_t max) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    release_held();
    const uint64_t now = rte_rdtsc();
    const uint16_t want = static_cast<uint16_t>(std::min(max, burst_));
    const uint16_t n = rte_eth_rx_burst(port_, queue_, rx_, want);
    uint32_t filled = 0;
    uint64_t bytes = 0;
    uint64_t malformed = 0;
    // The mbuf headers first, all at once (cold when the PMD does not
    // touch them, e.g. a ring), then each frame's first line a few ahead.
    for (uint16_t i = 0; i < n; ++i) prefetch_read(rx_[i]);
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
      prefetch_read(rte_pktmbuf_mtod(rx_[i], void*));
    }
    for (uint16_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n) prefetch_read(rte_pktmbuf_mtod(rx_[i + kPrefetchAhead], void*));
      rte_mbuf* m = rx_[i];
      const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
      // Written in place: out[filled] is scratch until it holds a datagram.
      engine::RxDatagram& d = out[filled];
      dpdk::FrameError error;
      // Presenced's datagrams fit one segment; a chained frame is not ours.
      const FrameClass c =
          m->nb_segs == 1
              ? dpdk::classify_frame(frame, m->data_len, own_, ip_csum_state(m->ol_flags),
                                     l4_csum_state(m->ol_flags), d, error)
              : FrameClass::kKernel;
      if (PRESENCED_LIKELY(c == FrameClass::kDatagram)) {
        held_[filled++] = m;
        bytes += d.len;
        learn(frame, d.l2_hint);
      } else if (c == FrameClass::kKernel) {
        to_kernel(m);
      } else {
        rte_pktmbuf_free(m);
        ++malformed;
      }
    }
    held_n_ = filled;
    held_next_ = 0;
    if (kernel_n_ != 0) flush_kernel();
    if (PRESENCED_UNLIKELY(now >= next_kernel_poll_)) poll_kernel(now);
    // A drained RX queue means no more replies are coming soon: send now.
    if (tx_n_ != 0 && (n < want || now - tx_first_tsc_ >= drain_tsc_)) flush_tx();
    if (filled != 0) {
      counters_.rx_datagrams.add(filled);
      counters_.rx_bytes.add(bytes);
    }
    if (PRESENCED_UNLIKELY(malformed != 0)) counters_.rx_errors.add(malformed);
    return filled;
  }

  PRESENCED_DPDK_ISA uint32_t send(const engine::TxDatagram* tx, uint32_t n) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    uint32_t accepted = 0;
    uint64_t bytes = 0;
    uint64_t failed = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const engine::TxDatagram& t = tx[i];
      NetAddr src = t.local;
      if (PRESENCED_UNLIKELY(src.family != t.dst.family)) src = own_.first(t.dst.family);
      src.port = own_.udp_port;
      const uint64_t l2 = t.l2_hint != 0 ? t.l2_hint : resolve_l2(t.dst);
      if (PRESENCED_UNLIKELY(src.family == 0 || l2 == 0 || t.len > sizeof t.bytes)) {
        ++failed;  // no address of that family, or no peer MAC known at all
        continue;
      }
      if (PRESENCED_UNLIKELY(tx_n_ == kTxBufferCap)) {
        flush_tx();
        if (tx_n_ == kTxBufferCap) {
          ++failed;  // the device has not taken a buffer's worth: drop
          continue;
        }
      }
      rte_mbuf* m = take_mbuf();
      if (PRESENCED_UNLIKELY(m == nullptr)) {
        ++failed;
        continue;
      }
      dpdk::ReplyLayout l;
      const uint16_t len =
          dpdk::build_reply_frame(rte_pktmbuf_mtod(m, uint8_t*), mac_, l2, src, t.dst, t.bytes,
                                  t.len, sw_checksums_, sw_checksums_ ? nullptr : &l);
      m->data_len = len;
      m->pkt_len = len;
      if (!sw_checksums_) {
        m->l2_len = l.l2_len;
        m->l3_len = l.l3_len;
        m->ol_flags |= (l.ipv4 ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM : RTE_MBUF_F_TX_IPV6) |
                       RTE_MBUF_F_TX_UDP_CKSUM;
      }
      if (tx_n_ == 0) tx_first_tsc_ = rte_rdtsc();
      txq_[tx_n_++] = m;
      ++accepted;
      bytes += t.len;
      if (tx_n_ >= burst_) flush_tx();
    }
    if (accepted != 0) {
      counters_.tx_datagrams.add(accepted);
      counters_.tx_bytes.add(bytes);
    }
    if (PRESENCED_UNLIKELY(failed != 0)) counters_.tx_errors.add(failed);
    return accepted;
  }

  PRESENCED_DPDK_ISA void wait(uint32_t timeout_us) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    if (tx_n_ != 0) flush_tx();
    poll_kernel(rte_rdtsc());
    const uint32_t us = std::min(timeout_us, kMaxSleepUs);
    timespec ts{0, static_cast<long>(us) * 1000};
    nanosleep(&ts, nullptr);
    counters_.wakeups.add();
  }

  NetAddr local_address() const override { return ctx_->local; }

  BackendStats stats() const override {
    BackendStats s = counters_.snapshot();
    if (queue_ == 0) {
      rte_eth_stats st;
      if (rte_eth_stats_get(port_, &st) == 0) {
        s.rx_dropped += st.imissed + st.rx_nombuf;
        s.rx_errors += st.ierrors;
        s.tx_errors += st.oerrors;
      }
    }
    return s;
  }

 private:
  // First call on the core thread: an lcore id for the mempool caches.
  PRESENCED_COLD void start() {
    started_ = true;
    dpdk::register_current_thread();
    next_kernel_poll_ = rte_rdtsc();
  }

  PRESENCED_DPDK_ISA void release_held() {
    if (held_next_ < held_n_) rte_pktmbuf_free_bulk(held_ + held_next_, held_n_ - held_next_);
    held_n_ = 0;
    held_next_ = 0;
  }

  // A request mbuf of the last burst, reset, or a fresh one from the pool.
  PRESENCED_DPDK_ISA rte_mbuf* take_mbuf() {
    while (held_next_ < held_n_) {
      rte_mbuf* m = held_[held_next_++];
      if (PRESENCED_LIKELY(RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 &&
                           m->buf_len >= RTE_PKTMBUF_HEADROOM + dpdk::kMaxReplyFrame)) {
        rte_pktmbuf_reset(m);
        return m;
      }
      rte_pktmbuf_free(m);
    }
    return rte_pktmbuf_alloc(pool_);
  }

  PRESENCED_DPDK_ISA void flush_tx() {
    const uint16_t sent = rte_eth_tx_burst(port_, queue_, txq_, static_cast<uint16_t>(tx_n_));
    if (sent == tx_n_) {
      tx_n_ = 0;
      return;
    }
    std::memmove(txq_, txq_ + sent, (tx_n_ - sent) * sizeof txq_[0]);
    tx_n_ -= sent;
    tx_first_tsc_ = rte_rdtsc();
  }

  PRESENCED_DPDK_ISA void to_kernel(rte_mbuf* m) {
    if (kernel_port_ == kNoPort) {
      rte_pktmbuf_free(m);
      counters_.rx_exception.add();
      return;
    }
    kernel_buf_[kernel_n_++] = m;
  }

  PRESENCED_DPDK_ISA PRESENCED_NOINLINE void flush_kernel() {
    const uint16_t sent =
        rte_eth_tx_burst(kernel_port_, queue_, kernel_buf_, static_cast<uint16_t>(kernel_n_));
    if (sent != kernel_n_) {
      rte_pktmbuf_free_bulk(kernel_buf_ + sent, kernel_n_ - sent);
      counters_.rx_dropped.add(kernel_n_ - sent);
    }
    counters_.rx_exception.add(sent);
    kernel_n_ = 0;
  }

  // Frames the kernel sent (ARP and NDP answers, ICMP, its own traffic)
  // go out of the port as they are.
  PRESENCED_DPDK_ISA PRESENCED_NOINLINE void poll_kernel(uint64_t now) {
    next_kernel_poll_ = now + kernel_poll_tsc_;
    if (kernel_port_ == kNoPort) return;
    rte_mbuf* b[kMaxBurst];
    const uint16_t n = rte_eth_rx_burst(kernel_port_, queue_, b, kMaxBurst);
    if (n == 0) return;
    const uint16_t sent = rte_eth_tx_burst(port_, queue_, b, n);
    if (sent != n) {
      rte_pktmbuf_free_bulk(b + sent, n - sent);
      counters_.tx_errors.add(n - sent);
    }
    counters_.tx_exception.add(sent);
  }

  // Remembers the source MAC of a datagram's sender (from the frame's own
  // bytes, which the classifier only read: no store to wait for).
  void learn(const uint8_t* frame, uint64_t hint) {
    last_hint_ = hint;
    const bool tagged = (hint >> 63) != 0;
    const uint8_t* ip = frame + dpdk::kEtherHeader + (tagged ? dpdk::kVlanTag : 0);
    const bool v4 = (ip[0] >> 4) == 4;
    const uint8_t* src = v4 ? ip + 12 : ip + 8;
    const std::size_t alen = v4 ? 4 : 16;
    Neighbour& e = neighbours_[neighbour_index(src, alen)];
    if (e.l2_hint != hint || std::memcmp(e.ip.data(), src, alen) != 0 ||
        e.family != (v4 ? 4 : 6)) {
      e.l2_hint = hint;
      e.family = v4 ? 4 : 6;
      e.ip = {};
      std::memcpy(e.ip.data(), src, alen);
    }
  }

  uint64_t resolve_l2(const NetAddr& dst) const {
    const std::size_t alen = dst.family == 4 ? 4 : 16;
    const Neighbour& e = neighbours_[neighbour_index(dst.ip.data(), alen)];
    if (e.family == dst.family && std::memcmp(e.ip.data(), dst.ip.data(), alen) == 0) {
      return e.l2_hint;
    }
    return last_hint_;
  }

  const std::shared_ptr<PortContext> ctx_;
  const uint16_t port_;
  const uint16_t queue_;
  const uint16_t kernel_port_;  // kNoPort: no exception path on this queue
  const uint32_t burst_;
  const bool sw_checksums_;
  const dpdk::OwnAddresses own_;
  rte_mempool* const pool_;
  uint8_t mac_[6];
  uint64_t drain_tsc_ = 0;
  uint64_t kernel_poll_tsc_ = 0;
  bool started_ = false;
  uint64_t tx_first_tsc_ = 0;  // when the oldest buffered reply was queued
  uint64_t next_kernel_poll_ = 0;
  uint64_t last_hint_ = 0;  // source of the last datagram received
  rte_mbuf* rx_[kMaxBurst];
  rte_mbuf* held_[kMaxBurst];  // datagram mbufs of the last burst
  uint32_t held_n_ = 0;
  uint32_t held_next_ = 0;  // held_[held_next_, held_n_) not reused yet
  rte_mbuf* kernel_buf_[kMaxBurst];
  uint32_t kernel_n_ = 0;
  rte_mbuf* txq_[kTxBufferCap];
  uint32_t tx_n_ = 0;
  std::vector<Neighbour> neighbours_;
  BackendCounters counters_;
};

// ---- factory ----

struct Plan {
  uint32_t instances = 1;
  uint32_t burst = 32;
  uint16_t rx_desc = 1024;
  uint16_t tx_desc = 1024;
  std::string exception;  // "" none, "port:N" or a tap name
  std::vector<dpdk::KernelAddress> kernel_addresses;
};

bool fail(std::string* error, const std::string& msg) {
  if (error != nullptr) *error = "dpdk backend: " + msg;
  return false;
}

bool valid_ifname(const std::string& n) {
  if (n.empty() || n.size() >= IFNAMSIZ) return false;
  for (char c : n) {
    if (c == '/' || c == ',' || c == '=' || c == ' ' || c == ':') return false;
  }
  return true;
}

bool check_options(const BackendOptions& o, PortContext& ctx, Plan& plan, std::string* error) {
  if (o.instances == 0 || o.instances > RTE_MAX_LCORE) {
    return fail(error, "instances " + std::to_string(o.instances) + " out of range 1.." +
                           std::to_string(RTE_MAX_LCORE));
  }
  if (o.burst == 0 || o.burst > kMaxBurst) {
    return fail(error,
                "burst " + std::to_string(o.burst) + " out of range 1.." + std::to_string(kMaxBurst));
  }
  if (o.listen.port == 0) {
    return fail(error, "needs a fixed UDP port (--listen ADDR:PORT with PORT > 0)");
  }
  if (o.dpdk_addresses.empty()) {
    return fail(error, "needs the server's own addresses on the port (--ip ADDR[/PREFIX])");
  }
  ctx.own.udp_port = o.listen.port;
  for (std::size_t i = 0; i < o.dpdk_addresses.size(); ++i) {
    const NetAddr& a = o.dpdk_addresses[i];
    const uint8_t prefix = i < o.dpdk_prefix_lengths.size() ? o.dpdk_prefix_lengths[i] : 0;
    if ((a.family != 4 && a.family != 6) || prefix > (a.family == 4 ? 32 : 128)) {
      return fail(error, "address " + std::to_string(i + 1) +
                             " is not an IPv4/IPv6 address with a valid prefix length");
    }
    if (!ctx.own.add(a)) {
      return fail(error, "at most " + std::to_string(dpdk::kMaxOwnAddresses) +
                             " addresses per family");
    }
    NetAddr host = a;
    host.port = 0;
    plan.kernel_addresses.push_back({host, prefix});
  }
  ctx.local = o.dpdk_addresses.front();
  ctx.local.port = o.listen.port;
  plan.instances = o.instances;
  plan.burst = o.burst;
  plan.rx_desc = static_cast<uint16_t>(std::clamp<uint32_t>(o.buffers, 64, kMaxDescriptors));
  plan.tx_desc = static_cast<uint16_t>(std::clamp<uint32_t>(o.ring_entries, 64, kMaxDescriptors));
  if (o.dpdk_exception == "off" || o.dpdk_exception.empty()) {
    plan.exception.clear();
  } else if (o.dpdk_exception.rfind("port:", 0) == 0 || valid_ifname(o.dpdk_exception)) {
    plan.exception = o.dpdk_exception;
  } else {
    return fail(error, "exception path \"" + o.dpdk_exception +
                           "\" is not an interface name (1.." + std::to_string(IFNAMSIZ - 1) +
                           " characters), port:N or off");
  }
  return true;
}

bool create_pools(PortContext& ctx, const Plan& plan, int socket, std::string* error) {
  const uint32_t kernel = plan.exception.empty() ? 0 : 2u * kKernelDescriptors + kMaxBurst;
  const uint32_t need = plan.rx_desc + plan.tx_desc + kTxBufferCap + 2 * kMaxBurst + kernel +
                        kMempoolCache * 3 / 2;
  const uint32_t n = round_up_pow2_minus1(need);
  const uint32_t serial = next_pool_serial();
  for (uint32_t q = 0; q < plan.instances; ++q) {
    const std::string name = "pd" + std::to_string(ctx.port) + "_" + std::to_string(q) + "_" +
                             std::to_string(serial);
    rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), n, kMempoolCache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (mp == nullptr) {
      return fail(error, "rte_pktmbuf_pool_create of " + std::to_string(n) + " mbufs for queue " +
                             std::to_string(q) + " failed: " + errno_text(rte_errno) +
                             " (more EAL memory: -m MB, or hugepages)");
    }
    ctx.pools.push_back(mp);
  }
  return true;
}

bool setup_port(PortContext& ctx, Plan& plan, const rte_eth_dev_info& info, int socket,
                std::string* error) {
  const uint16_t port = ctx.port;
  const std::string where = "port " + std::to_string(port) + " (" + port_name(port) + "): ";
  const uint16_t nq = static_cast<uint16_t>(plan.instances);
  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof conf);
  const uint64_t rss = info.flow_type_rss_offloads & RTE_ETH_RSS_UDP;
  if (nq > 1 && rss != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss;
  } else if (nq > 1) {
    RTE_LOG(WARNING, USER1,
            "presenced: port %u offers no RSS on UDP ports; the device spreads packets over "
            "the %u queues as it does\n",
            port, nq);
  }
  const uint64_t rx_csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
  conf.rxmode.offloads = info.rx_offload_capa & rx_csum;
  const uint64_t tx_csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if ((info.tx_offload_capa & tx_csum) == tx_csum) {
    conf.txmode.offloads = tx_csum;
    ctx.sw_checksums = false;
  }
  int r = rte_eth_dev_configure(port, nq, nq, &conf);
  if (r != 0) return fail(error, where + "rte_eth_dev_configure failed: " + errno_text(r));
  ctx.port_configured = true;
  r = rte_eth_dev_adjust_nb_rx_tx_desc(port, &plan.rx_desc, &plan.tx_desc);
  if (r != 0) return fail(error, where + "rte_eth_dev_adjust_nb_rx_tx_desc failed: " + errno_text(r));
  for (uint16_t q = 0; q < nq; ++q) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    r = rte_eth_rx_queue_setup(port, q, plan.rx_desc, static_cast<unsigned>(socket), &rxconf,
                               ctx.pools[q]);
    if (r != 0) {
      return fail(error, where + "rte_eth_rx_queue_setup of queue " + std::to_string(q) +
                             " failed: " + errno_text(r));
    }
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    r = rte_eth_tx_queue_setup(port, q, plan.tx_desc, static_cast<unsigned>(socket), &txconf);
    if (r != 0) {
      return fail(error, where + "rte_eth_tx_queue_setup of queue " + std::to_string(q) +
                             " failed: " + errno_text(r));
    }
  }
  r = rte_eth_dev_start(port);
  if (r != 0) return fail(error, where + "rte_eth_dev_start failed: " + errno_text(r));
  ctx.port_started = true;
  // NDP solicitations go to solicited-node multicast groups.
  if (ctx.own.n6 != 0) rte_eth_allmulticast_enable(port);
  return true;
}

// Creates (tap) or finds (port:N) the exception port, configures one queue
// per instance (as many as it has) and starts it.
bool setup_exception(PortContext& ctx, const Plan& plan, std::string* error) {
  if (plan.exception.empty()) return true;
  std::string tap;
  if (plan.exception.rfind("port:", 0) == 0) {
    char* end = nullptr;
    const unsigned long p = std::strtoul(plan.exception.c_str() + 5, &end, 10);
    if (end == plan.exception.c_str() + 5 || *end != '\0' || p >= RTE_MAX_ETHPORTS ||
        !rte_eth_dev_is_valid_port(static_cast<uint16_t>(p)) || p == ctx.port) {
      return fail(error, "exception port \"" + plan.exception +
                             "\" is not another DPDK port; ports: " + list_ports());
    }
    ctx.kernel_port = static_cast<uint16_t>(p);
  } else {
    tap = plan.exception;
    std::string devargs = "net_tap_" + tap + ",iface=" + tap;
    static constexpr uint8_t kZero[6] = {};
    if (std::memcmp(ctx.mac.addr_bytes, kZero, 6) != 0) {
      char mac[RTE_ETHER_ADDR_FMT_SIZE];
      rte_ether_format_addr(mac, sizeof mac, &ctx.mac);
      devargs += std::string(",mac=") + mac;
    }
    const int r = rte_dev_probe(devargs.c_str());
    uint16_t p = kNoPort;
    if (r != 0 || rte_eth_dev_get_port_by_name(("net_tap_" + tap).c_str(), &p) != 0) {
      return fail(error, "creating the exception interface " + tap + " (" + devargs +
                             ") failed: " + errno_text(r) +
                             " (needs root/CAP_NET_ADMIN and /dev/net/tun; is another presenced "
                             "using the name? see --dpdk-exception)");
    }
    ctx.kernel_port = p;
    rte_eth_dev_info ti;
    if (rte_eth_dev_info_get(p, &ti) == 0) ctx.own_tap = ti.device;
  }
  const uint16_t kp = ctx.kernel_port;
  const std::string where = "exception port " + std::to_string(kp) + " (" + port_name(kp) + "): ";
  rte_eth_dev_info info;
  int r = rte_eth_dev_info_get(kp, &info);
  if (r != 0) return fail(error, where + "rte_eth_dev_info_get failed: " + errno_text(r));
  const uint32_t nq =
      std::min<uint32_t>({plan.instances, info.max_rx_queues, info.max_tx_queues});
  if (nq == 0) return fail(error, where + "has no queues");
  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof conf);
  r = rte_eth_dev_configure(kp, static_cast<uint16_t>(nq), static_cast<uint16_t>(nq), &conf);
  if (r != 0) return fail(error, where + "rte_eth_dev_configure failed: " + errno_text(r));
  ctx.kernel_configured = true;
  uint16_t rxd = kKernelDescriptors;
  uint16_t txd = kKernelDescriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(kp, &rxd, &txd);
  const int socket = rte_eth_dev_socket_id(kp);
  const unsigned sock = socket < 0 ? static_cast<unsigned>(SOCKET_ID_ANY) : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < nq; ++q) {
    r = rte_eth_rx_queue_setup(kp, q, rxd, sock, nullptr, ctx.pools[q]);
    if (r == 0) r = rte_eth_tx_queue_setup(kp, q, txd, sock, nullptr);
    if (r != 0) {
      return fail(error,
                  where + "queue " + std::to_string(q) + " set-up failed: " + errno_text(r));
    }
  }
  r = rte_eth_dev_start(kp);
  if (r != 0) return fail(error, where + "rte_eth_dev_start failed: " + errno_text(r));
  ctx.kernel_started = true;
  ctx.kernel_queues = nq;
  if (!tap.empty()) {
    if (std::string e = dpdk::configure_kernel_iface(tap, plan.kernel_addresses); !e.empty()) {
      return fail(error, e);
    }
  }
  if (nq < plan.instances) {
    RTE_LOG(WARNING, USER1,
            "presenced: exception port %u has %u queue(s) for %u data cores; frames for the "
            "kernel arriving on the other queues are dropped\n",
            kp, nq, plan.instances);
  }
  return true;
}

}  // namespace

std::vector<std::unique_ptr<IoBackend>> create_dpdk_backends(const BackendOptions& options,
                                                             std::string* error) {
  auto ctx = std::make_shared<PortContext>();
  Plan plan;
  if (!check_options(options, *ctx, plan, error)) return {};
  std::string e;
  if (!dpdk::ensure_eal(options.dpdk_args, &e)) {
    fail(error, e);
    return {};
  }
  const uint16_t port = options.dpdk_port;
  if (port >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port(port)) {
    fail(error, "DPDK port " + std::to_string(port) +
                    " does not exist (--port); ports found: " + list_ports() +
                    " (a NIC bound to vfio-pci, or --vdev=... in --dpdk-args)");
    return {};
  }
  ctx->port = port;
  rte_eth_dev_info info;
  if (const int r = rte_eth_dev_info_get(port, &info); r != 0) {
    fail(error, "rte_eth_dev_info_get of port " + std::to_string(port) + " failed: " + errno_text(r));
    return {};
  }
  if (info.max_rx_queues < plan.instances || info.max_tx_queues < plan.instances) {
    fail(error, "port " + std::to_string(port) + " (" + port_name(port) + ") has " +
                    std::to_string(info.max_rx_queues) + " RX / " +
                    std::to_string(info.max_tx_queues) + " TX queues, " +
                    std::to_string(plan.instances) +
                    " data cores need one pair each (use fewer --cores, or e.g. qpairs=N for "
                    "net_af_packet)");
    return {};
  }
  if (const int r = rte_eth_macaddr_get(port, &ctx->mac); r != 0) {
    fail(error, "rte_eth_macaddr_get of port " + std::to_string(port) + " failed: " + errno_text(r));
    return {};
  }
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = SOCKET_ID_ANY;
  if (!create_pools(*ctx, plan, socket, error) || !setup_port(*ctx, plan, info, socket, error) ||
      !setup_exception(*ctx, plan, error)) {
    return {};
  }
  std::vector<std::unique_ptr<IoBackend>> out;
  for (uint32_t q = 0; q < plan.instances; ++q) {
    out.push_back(std::make_unique<DpdkBackend>(ctx, static_cast<uint16_t>(q), plan.burst));
  }
  return out;
}

}  // namespace presenced::io
