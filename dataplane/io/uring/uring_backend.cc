// uring_backend.cc: the io_uring backend. Per data core: one SO_REUSEPORT
// UDP socket, one io_uring, ONE multishot recvmsg that the kernel keeps
// filling into a registered provided-buffer ring, and sendmsg SQEs from a
// fixed pool of send slots (one io_uring_submit per send() burst).
//
// Owns (per instance, all allocated by the factory, none afterwards):
//   - the socket and the ring;
//   - one anonymous mapping holding the provided-buffer ring (page aligned,
//     `buffers` entries of struct io_uring_buf) followed by the receive
//     buffers themselves, `buffers` x kRxStride bytes;
//   - the send slots, one per SQ entry (payload copy, sockaddr, iovec,
//     msghdr, pktinfo cmsg): ring_entries bounds the replies in flight;
//   - a stash of receive completions that send() reaped before receive()
//     got to them (capacity 2 x buffers, it cannot overflow: every stashed
//     completion but the single terminal one of a request carries a buffer).
//
// Receive buffer layout (what the kernel writes for one datagram):
//
//   | io_uring_recvmsg_out | name: sockaddr_storage | cmsg: pktinfo | payload |
//   |        16 B          |         128 B          |   40 B        |  256 B  |
//
// The payload room is 256 bytes, as in the socket backend: longer datagrams
// are truncated (MSG_TRUNC, counted in rx_errors; the engine drops them).
//
// Buffer life cycle: kernel-owned in the ring -> a CQE (buffer id in its
// flags) -> handed out as an RxDatagram view -> given back to the ring at
// the start of the next receive(). A request that ends (no IORING_CQE_F_MORE,
// e.g. -ENOBUFS when every buffer was out) is re-armed by the next receive()
// or wait(), after the held buffers went back; -ENOBUFS counts in rx_dropped
// (the datagrams wait in the socket buffer, which drops them if it fills).
//
// Kernel features, probed once by the factory on a throw-away ring:
//   | feature                                   | needs  | if missing        |
//   |-------------------------------------------|--------|-------------------|
//   | SINGLE_ISSUER + DEFER_TASKRUN, R_DISABLED | 6.1    | COOP_TASKRUN mode |
//   | COOP_TASKRUN + TASKRUN_FLAG, SUBMIT_ALL   | 5.19   | plain ring        |
//   | provided-buffer ring (register_buf_ring)  | 5.19   | factory fails     |
//   | multishot recvmsg                         | 6.0    | factory fails     |
// With DEFER_TASKRUN completions are only posted when the owning thread
// enters the kernel; TASKRUN_FLAG tells receive() when that is needed.
//
// Concurrency: the factory runs on the main thread, but a SINGLE_ISSUER
// ring belongs to the task that enables it, and io_uring runs a request's
// task work on (and cancels it with) the task that submitted it. So the ring
// starts disabled (R_DISABLED) and the first receive()/send()/wait() on the
// owning core thread enables it and arms the receive. After that only that
// thread may call receive(), send() and wait(); local_address() and stats()
// (relaxed single-writer counters) are safe from any thread. Destruction
// may happen on another thread once the core thread stopped using it.
// No locks, no exceptions, no allocation after creation.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <sys/mman.h>
#include <sys/socket.h>

#include <liburing.h>
#include <unistd.h>

#include "dataplane/common/compiler.h"
#include "dataplane/io/backend_counters.h"
#include "dataplane/io/udp_socket.h"
#include "dataplane/io/uring/uring_factory.h"

namespace presenced::io {
namespace {

constexpr std::size_t kRxPayloadBytes = 256;
constexpr std::size_t kRxHeadroom =
    sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + kPktinfoCmsgSpace;
// What the kernel may fill per datagram, and the distance between buffers
// (cache-line aligned so two datagrams never share a line).
constexpr std::size_t kRxBufferBytes = kRxHeadroom + kRxPayloadBytes;
constexpr std::size_t kRxStride = (kRxBufferBytes + kCacheLine - 1) / kCacheLine * kCacheLine;

constexpr uint16_t kBufferGroup = 0;  // one group per ring
// user_data of the recvmsg request; send slots use their index. Not ~0,
// which liburing reserves for its internal timeouts (LIBURING_UDATA_TIMEOUT).
constexpr uint64_t kRecvTag = uint64_t{1} << 62;
constexpr uint32_t kMaxBuffers = 32768;    // kernel limit on buffer ring entries
constexpr uint32_t kMaxSqEntries = 32768;  // IORING_MAX_ENTRIES

// Ring set-up modes, best first; the next one is tried when the kernel
// rejects the flags with EINVAL.
constexpr unsigned kRingModes[] = {
    // 6.1+: completions run only when the owning thread asks for them.
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
        IORING_SETUP_R_DISABLED | IORING_SETUP_SUBMIT_ALL,
    // 5.19+: no IPI to interrupt the thread; it flushes when flagged.
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
    // Plain ring: task work interrupts the thread.
    0,
};
constexpr std::size_t kRingModeCount = sizeof kRingModes / sizeof kRingModes[0];

uint32_t round_up_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

std::size_t page_size() {
  const long p = sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<std::size_t>(p) : 4096;
}

std::string errno_text(int negative_errno) {
  return std::strerror(-negative_errno);
}

// io_uring_enable_rings() is declared by liburing 2.3 but missing from its
// shared library's symbol map (exported from 2.4 on), so go through the
// raw register call, which is exported.
int enable_rings(io_uring& ring) {
  return io_uring_register(static_cast<unsigned>(ring.ring_fd), IORING_REGISTER_ENABLE_RINGS,
                           nullptr, 0);
}

// Creates `ring` with the first mode from `*mode` on that the kernel
// accepts; updates `*mode`. Returns 0 or -errno (of the last attempt).
int init_ring(io_uring& ring, uint32_t sq_entries, uint32_t cq_entries, std::size_t* mode) {
  int r = -EINVAL;
  for (; *mode < kRingModeCount; ++*mode) {
    io_uring_params p;
    std::memset(&p, 0, sizeof p);
    p.flags = kRingModes[*mode] | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    p.cq_entries = cq_entries;
    r = io_uring_queue_init_params(sq_entries, &ring, &p);
    if (r != -EINVAL) return r;
  }
  *mode = kRingModeCount - 1;
  return r;
}

std::string ring_init_error(int r) {
  std::string s = "io_uring_queue_init_params failed: " + errno_text(r);
  if (r == -EPERM) s += " (io_uring disabled by sysctl kernel.io_uring_disabled or seccomp?)";
  if (r == -ENOSYS) s += " (kernel built without io_uring)";
  if (r == -ENOMEM) s += " (RLIMIT_MEMLOCK too low for the ring?)";
  return s;
}

// The provided-buffer ring and its buffers in one anonymous mapping,
// registered with one ring as buffer group kBufferGroup.
class RxPool {
 public:
  RxPool() = default;
  RxPool(const RxPool&) = delete;
  RxPool& operator=(const RxPool&) = delete;
  ~RxPool() {
    if (mem_ != nullptr) munmap(mem_, len_);
  }

  // Maps and registers `count` (a power of two) buffers and hands them all
  // to the kernel. Returns "" or the failing step and its error.
  std::string create(io_uring& ring, uint32_t count) {
    const std::size_t page = page_size();
    const std::size_t ring_bytes = (count * sizeof(io_uring_buf) + page - 1) / page * page;
    len_ = ring_bytes + count * kRxStride;
    void* m = mmap(nullptr, len_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED)
      return std::string("mmap of the receive buffers failed: ") + std::strerror(errno);
    mem_ = static_cast<uint8_t*>(m);
    br_ = reinterpret_cast<io_uring_buf_ring*>(mem_);
    bufs_ = mem_ + ring_bytes;
    count_ = count;
    mask_ = io_uring_buf_ring_mask(count);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg;
    std::memset(&reg, 0, sizeof reg);
    reg.ring_addr = reinterpret_cast<uintptr_t>(br_);
    reg.ring_entries = count;
    reg.bgid = kBufferGroup;
    const int r = io_uring_register_buf_ring(&ring, &reg, 0);
    if (r < 0) {
      return "io_uring_register_buf_ring failed: " + errno_text(r) +
             " (provided-buffer rings need Linux 5.19)";
    }
    for (uint32_t i = 0; i < count; ++i) add(static_cast<uint16_t>(i), static_cast<int>(i));
    io_uring_buf_ring_advance(br_, static_cast<int>(count));
    return {};
  }

  uint32_t count() const { return count_; }
  uint8_t* buffer(uint16_t bid) const { return bufs_ + std::size_t{bid} * kRxStride; }
  // Stages buffer `bid` at ring slot tail + offset; publish() hands the
  // staged buffers to the kernel.
  void add(uint16_t bid, int offset) {
    io_uring_buf_ring_add(br_, buffer(bid), kRxBufferBytes, bid, mask_, offset);
  }
  void publish(uint32_t n) { io_uring_buf_ring_advance(br_, static_cast<int>(n)); }

 private:
  uint8_t* mem_ = nullptr;
  std::size_t len_ = 0;
  io_uring_buf_ring* br_ = nullptr;
  uint8_t* bufs_ = nullptr;
  uint32_t count_ = 0;
  int mask_ = 0;
};

// The msghdr a multishot recvmsg is armed with: it only tells the kernel
// how much room to leave for the name and the control messages.
msghdr recv_template() {
  msghdr m;
  std::memset(&m, 0, sizeof m);
  m.msg_namelen = sizeof(sockaddr_storage);
  m.msg_controllen = kPktinfoCmsgSpace;
  return m;
}

void prep_multishot_recv(io_uring_sqe* sqe, int fd, msghdr* tmpl) {
  io_uring_prep_recvmsg_multishot(sqe, fd, tmpl, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, kRecvTag);
}

// One reply in flight: everything sendmsg reads until its completion.
struct SendSlot {
  msghdr msg;
  iovec iov;
  sockaddr_storage addr;
  alignas(cmsghdr) uint8_t cmsg[kPktinfoCmsgSpace];
  uint8_t payload[wire::kMaxPacketSize];
};

// A receive completion that send() took off the CQ before receive() did.
struct StashedCqe {
  int32_t res;
  uint32_t flags;
};

struct Geometry {
  uint32_t burst;
  uint32_t buffers;  // power of two
  uint32_t sq_entries;
  uint32_t cq_entries;
  uint32_t send_slots;
};

class UringBackend final : public IoBackend {
 public:
  UringBackend(int fd, const Geometry& g)
      : fd_(fd),
        family_(bound_address(fd).family == 6 ? AF_INET6 : AF_INET),
        bound_(bound_address(fd)),
        burst_(g.burst),
        recv_msg_(recv_template()),
        held_(g.burst),
        stash_(2 * std::size_t{g.buffers}),
        stash_mask_(2 * g.buffers - 1),
        slots_(g.send_slots),
        free_slots_(g.send_slots) {
    for (uint32_t i = 0; i < g.send_slots; ++i) {
      SendSlot& s = slots_[i];
      std::memset(&s, 0, sizeof s);
      s.msg.msg_name = &s.addr;
      s.msg.msg_iov = &s.iov;
      s.msg.msg_iovlen = 1;
      s.iov.iov_base = s.payload;
      free_slots_[i] = g.send_slots - 1 - i;
    }
    free_count_ = g.send_slots;
  }

  ~UringBackend() override {
    // Closing the ring cancels the recvmsg before the buffers are unmapped
    // (RxPool's destructor runs after this body).
    if (ring_ok_) io_uring_queue_exit(&ring_);
    close(fd_);
  }

  // Creates the ring (in `*mode` or a lesser one) and registers the
  // buffers. Returns "" or the failing step.
  std::string init(const Geometry& g, std::size_t* mode) {
    const int r = init_ring(ring_, g.sq_entries, g.cq_entries, mode);
    if (r < 0) return ring_init_error(r);
    ring_ok_ = true;
    needs_enable_ = (ring_.flags & IORING_SETUP_R_DISABLED) != 0;
    return pool_.create(ring_, g.buffers);
  }

  uint32_t receive(engine::RxDatagram* out, uint32_t max) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    give_back_held();
    if (PRESENCED_UNLIKELY(!armed_)) arm_recv();
    const uint32_t limit = max < burst_ ? max : burst_;
    Burst b{out, 0, 0};
    // Completions send() stashed are older than anything on the CQ.
    while (b.filled < limit && stash_head_ != stash_tail_) {
      const StashedCqe c = stash_[stash_head_++ & stash_mask_];
      on_recv_cqe(c.res, c.flags, b);
    }
    if (b.filled < limit) {
      flush_deferred_completions();
      unsigned head;
      io_uring_cqe* cqe;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        if (b.filled == limit) break;
        ++seen;
        if (cqe->user_data == kRecvTag) {
          on_recv_cqe(cqe->res, cqe->flags, b);
        } else {
          on_send_cqe(cqe);
        }
      }
      io_uring_cq_advance(&ring_, seen);
    }
    if (b.filled != 0) {
      counters_.rx_datagrams.add(b.filled);
      counters_.rx_bytes.add(b.bytes);
    }
    return b.filled;
  }

  uint32_t send(const engine::TxDatagram* tx, uint32_t n) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    if (free_count_ < n) reap_for_send();
    uint32_t queued = 0;
    for (; queued < n && free_count_ != 0; ++queued) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) break;  // only after a failed submit left SQEs queued
      const uint32_t idx = free_slots_[--free_count_];
      SendSlot& s = slots_[idx];
      const engine::TxDatagram& t = tx[queued];
      const std::size_t len = t.len < sizeof s.payload ? t.len : sizeof s.payload;
      std::memcpy(s.payload, t.bytes, len);
      s.iov.iov_len = len;
      s.msg.msg_namelen = to_sockaddr(t.dst, family_, s.addr);
      const std::size_t clen = write_source_cmsg(t.local, family_, s.cmsg);
      s.msg.msg_control = clen != 0 ? s.cmsg : nullptr;
      s.msg.msg_controllen = clen;
      io_uring_prep_sendmsg(sqe, fd_, &s.msg, 0);
      io_uring_sqe_set_data64(sqe, idx);
    }
    if (queued != n) counters_.tx_errors.add(n - queued);
    // A failed submit (EBUSY, EINTR) leaves the SQEs queued for the next
    // one; their slots stay taken until they complete.
    if (queued != 0) io_uring_submit(&ring_);
    return queued;
  }

  void wait(uint32_t timeout_us) override {
    if (PRESENCED_UNLIKELY(!started_)) start();
    if (PRESENCED_UNLIKELY(!armed_)) arm_recv();
    if (stash_head_ == stash_tail_ && io_uring_cq_ready(&ring_) == 0) {
      __kernel_timespec ts;
      ts.tv_sec = timeout_us / 1000000;
      ts.tv_nsec = static_cast<long long>(timeout_us % 1000000) * 1000;
      io_uring_cqe* cqe = nullptr;
      // Also submits whatever an earlier failed submit left in the SQ.
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    counters_.wakeups.add();
  }

  NetAddr local_address() const override { return bound_; }
  BackendStats stats() const override { return counters_.snapshot(); }

 private:
  struct Burst {
    engine::RxDatagram* out;
    uint32_t filled;
    uint64_t bytes;
  };

  // First use on the owning thread: enabling a R_DISABLED ring makes this
  // thread its single issuer; the recvmsg is armed from here so its task
  // work runs here too.
  PRESENCED_COLD void start() {
    started_ = true;
    if (needs_enable_) {
      needs_enable_ = false;
      if (enable_rings(ring_) < 0) counters_.rx_errors.add();
    }
    arm_recv();
  }

  // (Re-)arms the multishot recvmsg. armed_ is set once the SQE is queued:
  // if the submit fails, the next submit carries it.
  PRESENCED_COLD void arm_recv() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) return;  // retried by the next receive()/wait()
    }
    prep_multishot_recv(sqe, fd_, &recv_msg_);
    armed_ = true;
    io_uring_submit(&ring_);
  }

  // DEFER_TASKRUN/COOP_TASKRUN: completions may be waiting as task work
  // (IORING_SQ_TASKRUN) or in the overflow list; one io_uring_enter posts
  // them. A plain load when nothing waits.
  void flush_deferred_completions() {
    if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) != 0) {
      io_uring_get_events(&ring_);
    }
  }

  void give_back_held() {
    if (held_count_ == 0) return;
    for (uint32_t i = 0; i < held_count_; ++i) pool_.add(held_[i], static_cast<int>(i));
    pool_.publish(held_count_);
    held_count_ = 0;
  }

  void on_recv_cqe(int32_t res, uint32_t flags, Burst& b) {
    if ((flags & IORING_CQE_F_MORE) == 0) armed_ = false;
    if ((flags & IORING_CQE_F_BUFFER) == 0) {
      on_recv_error(res);
      return;
    }
    const uint32_t bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (PRESENCED_UNLIKELY(bid >= pool_.count())) {  // impossible: not our buffer
      counters_.rx_errors.add();
      return;
    }
    uint8_t* buf = pool_.buffer(static_cast<uint16_t>(bid));
    io_uring_recvmsg_out* o = io_uring_recvmsg_validate(buf, res, &recv_msg_);
    if (PRESENCED_UNLIKELY(o == nullptr)) {
      counters_.rx_errors.add();
      pool_.add(static_cast<uint16_t>(bid), 0);
      pool_.publish(1);
      return;
    }
    engine::RxDatagram& d = b.out[b.filled++];
    held_[held_count_++] = static_cast<uint16_t>(bid);
    d.src = o->namelen != 0 ? from_sockaddr(static_cast<const sockaddr*>(io_uring_recvmsg_name(o)))
                            : NetAddr{};
    d.local = NetAddr{};
    if (cmsghdr* c = io_uring_recvmsg_cmsg_firsthdr(o, &recv_msg_); c != nullptr) {
      msghdr view;
      std::memset(&view, 0, sizeof view);
      view.msg_control = c;
      view.msg_controllen = o->controllen;
      d.local = local_from_cmsg(view, bound_.port);
    }
    if (d.local.family == 0) d.local = bound_;
    d.data = static_cast<const uint8_t*>(io_uring_recvmsg_payload(o, &recv_msg_));
    const unsigned len = io_uring_recvmsg_payload_length(o, res, &recv_msg_);
    d.len = static_cast<uint16_t>(len < kRxPayloadBytes ? len : kRxPayloadBytes);
    if ((o->flags & MSG_TRUNC) != 0) counters_.rx_errors.add();
    b.bytes += d.len;
  }

  PRESENCED_COLD void on_recv_error(int32_t res) {
    if (res == -ENOBUFS) {
      counters_.rx_dropped.add();  // every buffer was out; re-armed later
    } else if (res < 0) {
      counters_.rx_errors.add();
    }
  }

  void on_send_cqe(const io_uring_cqe* cqe) {
    const uint64_t idx = cqe->user_data;
    if (PRESENCED_UNLIKELY(idx >= slots_.size())) return;  // impossible
    free_slots_[free_count_++] = static_cast<uint32_t>(idx);
    if (cqe->res >= 0) {
      counters_.tx_datagrams.add();
      counters_.tx_bytes.add(static_cast<uint64_t>(cqe->res));
    } else {
      counters_.tx_errors.add();
    }
  }

  // Frees send slots: takes every completion off the CQ, keeping receive
  // completions, in order, for the next receive().
  PRESENCED_NOINLINE void reap_for_send() {
    flush_deferred_completions();
    unsigned head;
    io_uring_cqe* cqe;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      if (cqe->user_data != kRecvTag) {
        on_send_cqe(cqe);
      } else if (stash_tail_ - stash_head_ <= stash_mask_) {
        stash_[stash_tail_++ & stash_mask_] = StashedCqe{cqe->res, cqe->flags};
      } else {
        stash_overflow(cqe->flags);
      }
    }
    io_uring_cq_advance(&ring_, seen);
  }

  // Impossible (see the header): drop the datagram, keep the buffer.
  PRESENCED_COLD void stash_overflow(uint32_t flags) {
    counters_.rx_errors.add();
    if ((flags & IORING_CQE_F_MORE) == 0) armed_ = false;
    const uint32_t bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if ((flags & IORING_CQE_F_BUFFER) != 0 && bid < pool_.count()) {
      pool_.add(static_cast<uint16_t>(bid), 0);
      pool_.publish(1);
    }
  }

  const int fd_;
  const int family_;
  const NetAddr bound_;
  const uint32_t burst_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool needs_enable_ = false;  // R_DISABLED until the owning thread starts it
  bool started_ = false;
  bool armed_ = false;  // a multishot recvmsg is queued or running
  msghdr recv_msg_;     // the template the recvmsg was armed with
  RxPool pool_;
  std::vector<uint16_t> held_;  // buffer ids handed out by the last receive()
  uint32_t held_count_ = 0;
  std::vector<StashedCqe> stash_;
  const uint32_t stash_mask_;
  uint32_t stash_head_ = 0;
  uint32_t stash_tail_ = 0;
  std::vector<SendSlot> slots_;
  std::vector<uint32_t> free_slots_;  // stack of free slot indices
  uint32_t free_count_ = 0;
  BackendCounters counters_;
};

// Checks once that this kernel runs everything the backend needs, on a
// throw-away ring and a socketpair, and picks the best ring mode. Returns
// "" or the failing step.
std::string probe_kernel(std::size_t* mode) {
  io_uring ring;
  const int r = init_ring(ring, 8, 16, mode);
  if (r < 0) return ring_init_error(r);
  std::string error;
  int sv[2] = {-1, -1};
  {
    RxPool pool;
    if ((ring.flags & IORING_SETUP_R_DISABLED) != 0) {
      const int e = enable_rings(ring);
      if (e < 0) error = "io_uring_enable_rings failed: " + errno_text(e);
    }
    if (error.empty()) error = pool.create(ring, 2);
    if (error.empty() &&
        socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
      error = std::string("socketpair for the io_uring probe failed: ") + std::strerror(errno);
    }
    if (error.empty()) {
      const uint8_t byte = 1;
      msghdr tmpl = recv_template();
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      if (sqe == nullptr || ::send(sv[1], &byte, 1, 0) != 1) {
        error = "io_uring probe could not queue a datagram";
      } else {
        prep_multishot_recv(sqe, sv[0], &tmpl);
        io_uring_submit(&ring);
        __kernel_timespec ts;
        ts.tv_sec = 1;
        ts.tv_nsec = 0;
        io_uring_cqe* cqe = nullptr;
        const int w = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
        if (w < 0) {
          error = "multishot recvmsg probe got no completion: " + errno_text(w);
        } else if (cqe->res == -EINVAL) {
          error = "multishot recvmsg unsupported by this kernel (needs Linux 6.0)";
        } else if (cqe->res < 0) {
          error = "multishot recvmsg probe failed: " + errno_text(cqe->res);
        } else if ((cqe->flags & IORING_CQE_F_BUFFER) == 0) {
          error = "multishot recvmsg probe did not use the provided-buffer ring";
        } else if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
          error =
              "multishot recvmsg unsupported by this kernel (the request ended after one "
              "datagram)";
        }
      }
    }
    // The ring goes (cancelling the recvmsg) before the pool is unmapped.
    io_uring_queue_exit(&ring);
  }
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  return error;
}

bool check_options(const BackendOptions& o, std::string* error) {
  auto bad = [&](const std::string& what) {
    if (error != nullptr) *error = "io_uring backend: " + what;
    return false;
  };
  if (o.instances == 0) return bad("instances must be at least 1");
  if (o.burst == 0 || o.burst > kMaxSqEntries / 2) {
    return bad("burst " + std::to_string(o.burst) + " out of range 1.." +
               std::to_string(kMaxSqEntries / 2));
  }
  if (o.buffers == 0 || o.buffers > kMaxBuffers) {
    return bad("buffers " + std::to_string(o.buffers) + " out of range 1.." +
               std::to_string(kMaxBuffers));
  }
  if (o.ring_entries == 0) return bad("ring_entries must be at least 1");
  return true;
}

}  // namespace

std::vector<std::unique_ptr<IoBackend>> create_uring_backends(const BackendOptions& options,
                                                              std::string* error) {
  if (!check_options(options, error)) return {};
  std::size_t mode = 0;
  if (std::string e = probe_kernel(&mode); !e.empty()) {
    if (error != nullptr) *error = std::move(e);
    return {};
  }
  Geometry g;
  g.burst = options.burst;
  g.buffers = round_up_pow2(options.buffers);
  // Room for a whole burst of replies plus the re-arm in the SQ.
  g.sq_entries =
      std::min(round_up_pow2(std::max(options.ring_entries, 2 * options.burst)), kMaxSqEntries);
  // One send() may carry far more than a burst (a home core answers lane
  // messages from every core, up to the loop's 2048 replies): a slot per SQE.
  g.send_slots = g.sq_entries;
  // Every buffer and every send slot can have a completion outstanding.
  g.cq_entries = round_up_pow2(std::max(2 * g.sq_entries, g.buffers + g.send_slots + 16));

  std::vector<std::unique_ptr<IoBackend>> out;
  NetAddr addr = options.listen;
  for (uint32_t i = 0; i < options.instances; ++i) {
    const int fd = open_udp_socket(addr, options.socket_buffer_bytes, error);
    if (fd < 0) return {};
    // Port 0: the first socket picks the port, the others join it.
    if (i == 0) addr.port = bound_address(fd).port;
    auto b = std::make_unique<UringBackend>(fd, g);
    if (std::string e = b->init(g, &mode); !e.empty()) {
      if (error != nullptr) *error = std::move(e);
      return {};
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace presenced::io
