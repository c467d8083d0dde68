#include "client/endpoint.h"

#include <charconv>

#include <arpa/inet.h>

namespace presenced::client {

Endpoint apply_redirect(const Endpoint& current, const Endpoint& target) {
  if (target.family == wire::TargetFamily::kSameServer) return current;
  Endpoint next;
  next.family = target.family;
  next.port = target.port != 0 ? target.port : current.port;
  if (target.family == wire::TargetFamily::kIpv4) {
    for (int i = 0; i < 4; ++i) next.address[i] = target.address[i];
  } else {
    next.address = target.address;
  }
  return next;
}

bool parse_endpoint(std::string_view text, uint16_t default_port, Endpoint& out) {
  std::string_view host = text;
  std::string_view port_text;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
      if (port_text.empty()) return false;
    }
    v6 = true;
  } else if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    if (text.find(':', colon + 1) != std::string_view::npos) {
      v6 = true;  // a bare IPv6 address, no port
    } else {
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return false;
    }
  }
  uint16_t port = default_port;
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return false;
    }
    port = static_cast<uint16_t>(value);
  }
  if (host.empty() || host.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  host.copy(buf, host.size());
  Endpoint e;
  e.port = port;
  if (v6) {
    e.family = wire::TargetFamily::kIpv6;
    if (inet_pton(AF_INET6, buf, e.address.data()) != 1) return false;
  } else {
    e.family = wire::TargetFamily::kIpv4;
    if (inet_pton(AF_INET, buf, e.address.data()) != 1) return false;
  }
  out = e;
  return true;
}

std::string to_string(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::string out;
  switch (e.family) {
    case wire::TargetFamily::kSameServer:
      return "same-server";
    case wire::TargetFamily::kIpv4:
      inet_ntop(AF_INET, e.address.data(), buf, sizeof buf);
      out.append(buf);
      break;
    case wire::TargetFamily::kIpv6:
      // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on
      // "[" + std::string(...).
      inet_ntop(AF_INET6, e.address.data(), buf, sizeof buf);
      out.push_back('[');
      out.append(buf);
      out.push_back(']');
      break;
    default:
      return "invalid";
  }
  out.push_back(':');
  out.append(std::to_string(e.port));
  return out;
}

}  // namespace presenced::client
