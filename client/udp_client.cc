#include "client/udp_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netdb.h>
#include <poll.h>
#include <unistd.h>

namespace presenced::client {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

// strerror() is not thread-safe; the system category's message is.
std::string errno_text(int e) {
  return std::system_category().message(e);
}

uint64_t pick_seed(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (e.family == wire::TargetFamily::kIpv6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(e.port);
    std::memcpy(&a->sin6_addr, e.address.data(), 16);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(e.port);
  std::memcpy(&a->sin_addr, e.address.data(), 4);
  return sizeof *a;
}

}  // namespace

bool resolve_endpoint(const std::string& text, uint16_t default_port, Endpoint& out,
                      std::string& error) {
  if (parse_endpoint(text, default_port, out)) return true;
  // Not a numeric literal: HOST[:PORT] by name.
  std::string host = text;
  std::string port = std::to_string(default_port);
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       port.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoul(port) >= 1 && std::stoul(port) <= 65535;
  if (host.empty() || !port_ok || host.find_first_of("[]:") != std::string::npos) {
    error = "expected ADDR:PORT, [IPV6]:PORT or HOST:PORT (port 1-65535), got '" + text + "'";
    return false;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve '" + text + "': " + gai_strerror(rc);
    return false;
  }
  bool ok = false;
  for (const addrinfo* ai = res; ai != nullptr && !ok; ai = ai->ai_next) {
    Endpoint e;
    if (ai->ai_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      e.family = wire::TargetFamily::kIpv4;
      e.port = ntohs(a->sin_port);
      std::memcpy(e.address.data(), &a->sin_addr, 4);
      ok = e.port != 0;
    } else if (ai->ai_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      e.family = wire::TargetFamily::kIpv6;
      e.port = ntohs(a->sin6_port);
      std::memcpy(e.address.data(), &a->sin6_addr, 16);
      ok = e.port != 0;
    }
    if (ok) out = e;
  }
  freeaddrinfo(res);
  if (!ok) error = "no usable address for '" + text + "'";
  return ok;
}

UdpClient::UdpClient(const UdpClientOptions& options, EventSink sink)
    : options_(options),
      sink_(std::move(sink)),
      session_(options.credentials, options.status),
      rng_(pick_seed(options.seed)),
      server_(options.server),
      pending_(options.server) {
  session_.set_network(options.network_id, now(), env());
}

UdpClient::~UdpClient() {
  if (fd_ >= 0) ::close(fd_);
}

Now UdpClient::now() {
  const auto mono = std::chrono::steady_clock::now().time_since_epoch();
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  return Now{static_cast<uint64_t>(duration_cast<milliseconds>(mono).count()),
             static_cast<uint32_t>(duration_cast<seconds>(wall).count())};
}

bool UdpClient::connect_to(const Endpoint& target, std::string& error) {
  const int family = target.family == wire::TargetFamily::kIpv6 ? AF_INET6 : AF_INET;
  if (fd_ >= 0 && fd_family_ != family) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    fd_ = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      error = "socket: " + errno_text(errno);
      return false;
    }
    fd_family_ = family;
  }
  sockaddr_storage ss{};
  const socklen_t len = to_sockaddr(target, ss);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    error = "connect " + to_string(target) + ": " + errno_text(errno);
    return false;
  }
  return true;
}

bool UdpClient::open(std::string& error) {
  if (const std::string_view why = validate(options_.policy); !why.empty()) {
    error = "invalid policy: " + std::string(why);
    return false;
  }
  if (options_.server.family == wire::TargetFamily::kSameServer || options_.server.port == 0) {
    error = "server address needs an IPv4/IPv6 address and a port";
    return false;
  }
  return connect_to(server_, error);
}

void UdpClient::handle(const Output& out, Now now) {
  if (out.action == Action::kNone) return;
  ClientEvent ev;
  ev.kind = ClientEvent::Kind::kAction;
  ev.action = out.action;
  ev.seq = out.seq;
  ev.first = out.first;
  if (out.action == Action::kDead && session_.next_wake_ms() != kNever) {
    ev.wait_ms = session_.next_wake_ms() - now.mono_ms;
  }
  if (out.send) {
    if (out.switch_target && !(pending_ == server_)) {
      std::string error;
      server_ = pending_;
      if (!connect_to(server_, error)) last_error_ = error;
    }
    ev.target = server_;
    last_sent_seq_ = out.seq;
    last_sent_at_ = std::chrono::steady_clock::now();
    if (fd_ >= 0 && ::send(fd_, out.packet.data(), out.packet.size(), 0) < 0) {
      ClientEvent err;
      err.kind = ClientEvent::Kind::kSendError;
      err.seq = out.seq;
      err.error = errno;
      if (sink_) sink_(ev);
      if (sink_) sink_(err);
      return;
    }
  }
  if (sink_) sink_(ev);
}

void UdpClient::run_timers(Now now) {
  // A step can make the next one due at once (a zero backoff wait); bound the
  // loop anyway.
  for (int i = 0; i < 8 && session_.next_wake_ms() <= now.mono_ms; ++i) {
    const Output out = session_.on_wake(now, env());
    if (out.action == Action::kNone) break;
    handle(out, now);
  }
}

bool UdpClient::drain_socket(Now now) {
  uint8_t buf[wire::kMaxPacketSize + 1];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
      // ICMP errors surface here on a connected socket: a lost datagram.
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) continue;
      last_error_ = "recv: " + errno_text(errno);
      return false;
    }
    // MSG_TRUNC returns the real length, so an oversized datagram has the
    // wrong length for the parser rather than being cut to a valid one.
    const auto len = static_cast<std::size_t>(n);
    ClientEvent ev;
    ev.kind = ClientEvent::Kind::kPacket;
    const auto rx = std::span<const uint8_t>(buf, std::min(len, sizeof buf));
    ev.result =
        len > sizeof buf ? PacketResult::kMalformed : session_.on_packet(rx, now, env(), &ev.info);
    if (len > sizeof buf) ev.info.parse_error = wire::DropReason::kBadLength;
    if (ev.result == PacketResult::kAccepted && ev.info.seq == last_sent_seq_) {
      ev.rtt_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - last_sent_at_)
                                            .count());
    }
    if (ev.result == PacketResult::kReconnect) {
      pending_ = apply_redirect(server_, ev.info.target);
      ev.target = pending_;
    }
    if (sink_) sink_(ev);
  }
  return true;
}

bool UdpClient::run_once(std::chrono::milliseconds max_wait) {
  Now t = now();
  run_timers(t);
  uint64_t wait_ms = static_cast<uint64_t>(std::max<int64_t>(max_wait.count(), 0));
  if (session_.next_wake_ms() != kNever) {
    wait_ms =
        std::min(wait_ms, session_.next_wake_ms() > t.mono_ms ? session_.next_wake_ms() - t.mono_ms
                                                              : uint64_t{0});
  }
  pollfd pfd{fd_, POLLIN, 0};
  const int rc =
      ::poll(&pfd, fd_ >= 0 ? 1 : 0, static_cast<int>(std::min<uint64_t>(wait_ms, 60000)));
  if (rc < 0) {
    if (errno == EINTR) return true;
    last_error_ = "poll: " + errno_text(errno);
    return false;
  }
  t = now();
  if (rc > 0) {
    if (pfd.revents & POLLNVAL) {
      last_error_ = "poll: socket closed";
      return false;
    }
    if (!drain_socket(t)) return false;
  }
  run_timers(t);
  return true;
}

void UdpClient::start() {
  const Now t = now();
  handle(session_.start(t, env()), t);
}

void UdpClient::set_status(wire::Status status) {
  const Now t = now();
  handle(session_.set_status(status, t, env()), t);
}

void UdpClient::bye() {
  const Now t = now();
  handle(session_.bye(t, env()), t);
}

void UdpClient::renew(const auth::SessionKey& key, uint32_t token_expiry) {
  const Now t = now();
  handle(session_.renew(key, token_expiry, t, env()), t);
}

void UdpClient::set_network(uint32_t network_id) {
  session_.set_network(network_id, now(), env());
}

}  // namespace presenced::client
