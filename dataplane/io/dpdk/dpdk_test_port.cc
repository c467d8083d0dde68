#include "dataplane/io/dpdk/dpdk_test_port.h"

#include <atomic>
#include <cstring>

#include "dataplane/io/dpdk/rte.h"

namespace presenced::io::dpdk {

struct RingPort::Impl {
  std::string name;
  std::string peer_name;  // the second port of a pair
  std::vector<rte_ring*> rx;
  std::vector<rte_ring*> tx;
  rte_mempool* pool = nullptr;

  PRESENCED_DPDK_ISA ~Impl() {
    // The ethdev, unless its user already closed it (the backend does).
    uint16_t port;
    for (const std::string& n : {name, peer_name}) {
      if (!n.empty() && rte_eth_dev_get_port_by_name(("net_ring_" + n).c_str(), &port) == 0) {
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
      }
    }
    for (rte_ring* r : tx) {
      if (r == nullptr) continue;
      void* objs[64];
      unsigned n;
      while ((n = rte_ring_dequeue_burst(r, objs, 64, nullptr)) != 0) {
        rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
      }
    }
    for (rte_ring* r : rx) {
      if (r == nullptr) continue;
      void* objs[64];
      unsigned n;
      while ((n = rte_ring_dequeue_burst(r, objs, 64, nullptr)) != 0) {
        rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
      }
    }
    for (rte_ring* r : rx) rte_ring_free(r);
    for (rte_ring* r : tx) rte_ring_free(r);
    // Mbufs of this pool may still sit in a peer's buffers: keep it then.
    if (pool != nullptr && rte_mempool_in_use_count(pool) == 0) rte_mempool_free(pool);
  }
};

std::unique_ptr<RingPort> RingPort::create(const std::string& name, uint32_t queues,
                                           uint32_t ring_size, std::string* error) {
  std::unique_ptr<RingPort> p(new RingPort());
  p->impl_ = std::make_unique<Impl>();
  Impl& im = *p->impl_;
  im.name = name;
  auto fail = [&](const std::string& what) {
    if (error != nullptr) *error = "ring port " + name + ": " + what + ": " + rte_strerror(rte_errno);
    return nullptr;
  };
  for (uint32_t q = 0; q < queues; ++q) {
    const std::string rx = name + "_r" + std::to_string(q);
    const std::string tx = name + "_t" + std::to_string(q);
    im.rx.push_back(rte_ring_create(rx.c_str(), ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
    im.tx.push_back(rte_ring_create(tx.c_str(), ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ));
    if (im.rx.back() == nullptr || im.tx.back() == nullptr) return fail("rte_ring_create");
  }
  const uint32_t n = 2 * ring_size * queues + 1023;
  im.pool = rte_pktmbuf_pool_create((name + "_mp").c_str(), n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    SOCKET_ID_ANY);
  if (im.pool == nullptr) return fail("rte_pktmbuf_pool_create");
  const int port = rte_eth_from_rings(name.c_str(), im.rx.data(), queues, im.tx.data(), queues,
                                      static_cast<unsigned>(SOCKET_ID_ANY));
  if (port < 0) return fail("rte_eth_from_rings");
  p->port_ = static_cast<uint16_t>(port);
  return p;
}

std::unique_ptr<RingPort> RingPort::create_pair(const std::string& name, uint32_t ring_size,
                                                std::string* error) {
  std::unique_ptr<RingPort> p(new RingPort());
  p->impl_ = std::make_unique<Impl>();
  Impl& im = *p->impl_;
  im.name = name;
  auto fail = [&](const std::string& what) {
    if (error != nullptr) *error = "ring pair " + name + ": " + what + ": " + rte_strerror(rte_errno);
    return nullptr;
  };
  // a2b: what port A transmits and port B receives; b2a the other way.
  rte_ring* a2b = rte_ring_create((name + "_ab").c_str(), ring_size, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* b2a = rte_ring_create((name + "_ba").c_str(), ring_size, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
  // Owned by Impl (freed, and drained, with it): a2b as A's TX, b2a as A's RX.
  im.tx.push_back(a2b);
  im.rx.push_back(b2a);
  if (a2b == nullptr || b2a == nullptr) return fail("rte_ring_create");
  const int a = rte_eth_from_rings(name.c_str(), &b2a, 1, &a2b, 1,
                                   static_cast<unsigned>(SOCKET_ID_ANY));
  if (a < 0) return fail("rte_eth_from_rings (A)");
  im.peer_name = name + "_peer";
  const int b = rte_eth_from_rings(im.peer_name.c_str(), &a2b, 1, &b2a, 1,
                                   static_cast<unsigned>(SOCKET_ID_ANY));
  if (b < 0) return fail("rte_eth_from_rings (B)");
  p->port_ = static_cast<uint16_t>(a);
  p->peer_ = static_cast<uint16_t>(b);
  return p;
}

RingPort::~RingPort() = default;

struct FramePort::Impl {
  uint16_t port = 0;
  rte_mempool* pool = nullptr;
  rte_mbuf* out[64];
  uint32_t out_n = 0;
  rte_mbuf* in[64];
  uint32_t in_n = 0;

  PRESENCED_DPDK_ISA ~Impl() {
    if (out_n != 0) rte_pktmbuf_free_bulk(out, out_n);
    if (in_n != 0) rte_pktmbuf_free_bulk(in, in_n);
    rte_eth_dev_stop(port);
    // The pool stays: the peer may still hold our mbufs.
  }
};

std::unique_ptr<FramePort> FramePort::attach(uint16_t port, uint32_t descriptors,
                                             std::string* error) {
  std::unique_ptr<FramePort> p(new FramePort());
  auto fail = [&](const std::string& what, int e) {
    if (error != nullptr) {
      *error = "frame port " + std::to_string(port) + ": " + what + ": " + rte_strerror(e < 0 ? -e : e);
    }
    return nullptr;
  };
  static std::atomic<uint32_t> serial{0};
  const std::string name = "fp" + std::to_string(port) + "_" + std::to_string(serial++);
  rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), 4 * descriptors + 4095, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (pool == nullptr) return fail("rte_pktmbuf_pool_create", rte_errno);
  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof conf);
  int r = rte_eth_dev_configure(port, 1, 1, &conf);
  if (r != 0) return fail("rte_eth_dev_configure", r);
  uint16_t rxd = static_cast<uint16_t>(descriptors);
  uint16_t txd = static_cast<uint16_t>(descriptors);
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  r = rte_eth_rx_queue_setup(port, 0, rxd, static_cast<unsigned>(SOCKET_ID_ANY), nullptr, pool);
  if (r == 0) r = rte_eth_tx_queue_setup(port, 0, txd, static_cast<unsigned>(SOCKET_ID_ANY), nullptr);
  if (r != 0) return fail("queue set-up", r);
  r = rte_eth_dev_start(port);
  if (r != 0) return fail("rte_eth_dev_start", r);
  p->impl_ = std::make_unique<Impl>();
  p->impl_->port = port;
  p->impl_->pool = pool;
  return p;
}

FramePort::~FramePort() = default;

PRESENCED_DPDK_ISA uint32_t FramePort::alloc(uint8_t** frames, uint32_t n) {
  Impl& im = *impl_;
  if (im.out_n != 0) {
    rte_pktmbuf_free_bulk(im.out, im.out_n);
    im.out_n = 0;
  }
  if (n > 64) n = 64;
  if (rte_pktmbuf_alloc_bulk(im.pool, im.out, n) != 0) return 0;
  for (uint32_t i = 0; i < n; ++i) frames[i] = rte_pktmbuf_mtod(im.out[i], uint8_t*);
  im.out_n = n;
  return n;
}

PRESENCED_DPDK_ISA uint32_t FramePort::send(const uint16_t* lens, uint32_t n) {
  Impl& im = *impl_;
  if (n > im.out_n) n = im.out_n;
  for (uint32_t i = 0; i < n; ++i) {
    im.out[i]->data_len = lens[i];
    im.out[i]->pkt_len = lens[i];
  }
  const uint16_t sent = rte_eth_tx_burst(im.port, 0, im.out, static_cast<uint16_t>(n));
  if (sent < im.out_n) rte_pktmbuf_free_bulk(im.out + sent, im.out_n - sent);
  im.out_n = 0;
  return sent;
}

PRESENCED_DPDK_ISA uint32_t FramePort::receive(const uint8_t** frames, uint32_t* lens,
                                               uint32_t max) {
  Impl& im = *impl_;
  if (im.in_n != 0) {
    rte_pktmbuf_free_bulk(im.in, im.in_n);
    im.in_n = 0;
  }
  if (max > 64) max = 64;
  const uint16_t n = rte_eth_rx_burst(im.port, 0, im.in, static_cast<uint16_t>(max));
  for (uint16_t i = 0; i < n; ++i) {
    frames[i] = rte_pktmbuf_mtod(im.in[i], const uint8_t*);
    lens[i] = im.in[i]->data_len;
  }
  im.in_n = n;
  return n;
}

void FramePort::mac(uint8_t out[6]) const {
  rte_ether_addr a{};
  rte_eth_macaddr_get(impl_->port, &a);
  std::memcpy(out, a.addr_bytes, 6);
}

void RingPort::mac(uint8_t out[6]) const {
  rte_ether_addr a{};
  rte_eth_macaddr_get(port_, &a);
  std::memcpy(out, a.addr_bytes, 6);
}

bool RingPort::inject(uint32_t q, std::span<const uint8_t> frame) {
  return inject_burst(q, {frame}) == 1;
}

PRESENCED_DPDK_ISA uint32_t RingPort::inject_burst(uint32_t q, const std::vector<std::span<const uint8_t>>& frames) {
  std::vector<rte_mbuf*> ms;
  ms.reserve(frames.size());
  for (const auto& f : frames) {
    rte_mbuf* m = rte_pktmbuf_alloc(impl_->pool);
    if (m == nullptr) break;
    char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(f.size()));
    if (d == nullptr) {
      rte_pktmbuf_free(m);
      break;
    }
    if (!f.empty()) std::memcpy(d, f.data(), f.size());
    ms.push_back(m);
  }
  const unsigned done = rte_ring_enqueue_burst(impl_->rx[q], reinterpret_cast<void**>(ms.data()),
                                               static_cast<unsigned>(ms.size()), nullptr);
  if (done < ms.size()) rte_pktmbuf_free_bulk(ms.data() + done, static_cast<unsigned>(ms.size() - done));
  return done;
}

std::vector<std::vector<uint8_t>> RingPort::take_tx(uint32_t q) {
  std::vector<std::vector<uint8_t>> out;
  drain_tx(
      q, UINT32_MAX,
      [](void* arg, const uint8_t* f, uint32_t len) {
        static_cast<std::vector<std::vector<uint8_t>>*>(arg)->emplace_back(f, f + len);
      },
      &out);
  return out;
}

PRESENCED_DPDK_ISA uint32_t RingPort::drain_tx(uint32_t q, uint32_t max,
                            void (*visit)(void* arg, const uint8_t* frame, uint32_t len),
                            void* arg) {
  uint32_t total = 0;
  void* objs[64];
  while (total < max) {
    const unsigned want = max - total < 64 ? max - total : 64;
    const unsigned n = rte_ring_dequeue_burst(impl_->tx[q], objs, want, nullptr);
    if (n == 0) break;
    auto** ms = reinterpret_cast<rte_mbuf**>(objs);
    if (visit != nullptr) {
      for (unsigned i = 0; i < n; ++i) {
        // A chained mbuf is linearised into a copy first.
        rte_mbuf* m = ms[i];
        if (m->nb_segs == 1) {
          visit(arg, rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
        } else {
          std::vector<uint8_t> buf(m->pkt_len);
          const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, buf.data());
          visit(arg, static_cast<const uint8_t*>(p), m->pkt_len);
        }
      }
    }
    rte_pktmbuf_free_bulk(ms, n);
    total += n;
  }
  return total;
}

PRESENCED_DPDK_ISA uint32_t RingPort::tx_pending(uint32_t q) const {
  return rte_ring_count(impl_->tx[q]);
}

void RingPort::discard_tx() {
  for (uint32_t q = 0; q < impl_->tx.size(); ++q) drain_tx(q, UINT32_MAX);
}

}  // namespace presenced::io::dpdk
