#include "tools/loadgen/flood.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include <netinet/in.h>
#include <sys/socket.h>

#include <poll.h>
#include <unistd.h>

#include "client/rng.h"
#include "dataplane/common/byte_order.h"
#include "dataplane/wire/codec.h"
#include "tools/loadgen/udp_fleet.h"

namespace presenced::loadgen {

namespace {
constexpr uint32_t kBurst = 64;
constexpr std::size_t kSlot = 80;
}  // namespace

Flooder::~Flooder() {
  stop();
  if (fd_ >= 0) ::close(fd_);
}

bool Flooder::start(std::string* error) {
  const int family = config_.server.family == wire::TargetFamily::kIpv6 ? AF_INET6 : AF_INET;
  fd_ = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    if (error != nullptr) *error = "flood socket: " + std::system_category().message(errno);
    return false;
  }
  if (config_.source.family != wire::TargetFamily::kSameServer) {
    const SockTarget src = to_sock_target(config_.source);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&src.addr), src.len) != 0) {
      if (error != nullptr) {
        *error = "flood: bind " + client::to_string(config_.source) + ": " +
                 std::system_category().message(errno);
      }
      return false;
    }
  }
  stop_.store(false, std::memory_order_relaxed);
  thread_ = std::thread([this] { run(); });
  return true;
}

void Flooder::stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
}

void Flooder::run() {
  client::Rng rng(config_.seed * 7919 + 17);
  const SockTarget to = to_sock_target(config_.server);
  uint8_t bufs[kBurst][kSlot];
  iovec iov[kBurst];
  mmsghdr msgs[kBurst];
  std::memset(msgs, 0, sizeof msgs);
  for (uint32_t i = 0; i < kBurst; ++i) {
    iov[i].iov_base = bufs[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&to.addr);
    msgs[i].msg_hdr.msg_namelen = to.len;
  }
  const uint32_t bad_mac_threshold = static_cast<uint32_t>(config_.bad_mac_share * 65536.0);

  auto fill = [&](uint32_t i) {
    uint8_t* b = bufs[i];
    if (rng.below(65536) < bad_mac_threshold) {
      wire::ClientPacket p;
      const uint64_t u = rng.next() % config_.users;
      p.h = wire::Header{wire::PacketType::kHeartbeat, config_.user_base + u,
                         1 + static_cast<uint32_t>(rng.below(config_.devices)),
                         static_cast<uint32_t>(rng.next()), config_.token_expiry};
      p.flags = rng.below(4) == 0 ? wire::kFlagFirst : 0;
      p.interval_s = 30;
      wire::build_client_packet(p, std::span<uint8_t, wire::kHeartbeatSize>(b, wire::kHeartbeatSize));
      store_le64(b + wire::kOffClientMac, rng.next());
      iov[i].iov_len = wire::kHeartbeatSize;
      bad_mac_.add();
      return;
    }
    const uint32_t len = rng.below(81);
    for (uint32_t k = 0; k < len; k += 8) {
      const uint64_t r = rng.next();
      std::memcpy(b + k, &r, std::min<uint32_t>(8, len - k));
    }
    if (len >= 4 && rng.below(2) == 0) {
      b[0] = wire::kMagic0;
      b[1] = wire::kMagic1;
      b[2] = wire::kVersion;
      b[3] = static_cast<uint8_t>(1 + rng.below(4));
    }
    iov[i].iov_len = len;
  };

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  uint64_t budget_sent = 0;
  uint8_t rx[128];
  while (!stop_.load(std::memory_order_relaxed)) {
    uint32_t n = kBurst;
    if (config_.rate > 0) {
      const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
      const auto allowed = static_cast<uint64_t>(elapsed * config_.rate);
      if (allowed <= budget_sent) {
        pollfd p{fd_, POLLIN, 0};
        ::poll(&p, 1, 1);
      } else {
        n = static_cast<uint32_t>(std::min<uint64_t>(kBurst, allowed - budget_sent));
      }
      if (allowed <= budget_sent) n = 0;
    }
    // Anything the server sends to this socket is a reply to an invalid
    // datagram: count it.
    while (::recv(fd_, rx, sizeof rx, MSG_DONTWAIT) >= 0) replies_.add();
    if (n == 0) continue;
    for (uint32_t i = 0; i < n; ++i) fill(i);
    const int r = ::sendmmsg(fd_, msgs, n, 0);
    if (r > 0) {
      sent_.add(static_cast<uint64_t>(r));
      budget_sent += static_cast<uint64_t>(r);
    } else {
      errors_.add();
      budget_sent += n;  // do not build up a debt while the socket is full
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 1);
    }
  }
}

}  // namespace presenced::loadgen
