#include "dataplane/common/net_addr.h"

#include <charconv>

#include <arpa/inet.h>

namespace presenced {

std::string to_string(const NetAddr& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.family == 4) {
    inet_ntop(AF_INET, a.ip.data(), buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(a.port);
  }
  if (a.family == 6) {
    inet_ntop(AF_INET6, a.ip.data(), buf, sizeof buf);
    // Built piecewise: g++ 12 warns falsely (-Wrestrict) on "[" + string.
    std::string s(1, '[');
    s.append(buf).append("]:").append(std::to_string(a.port));
    return s;
  }
  return "unset";
}

bool parse_net_addr(const std::string& text, NetAddr& out) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p > 65535) {
    return false;
  }
  NetAddr a;
  a.port = static_cast<uint16_t>(p);
  if (inet_pton(AF_INET, host.c_str(), a.ip.data()) == 1) {
    a.family = 4;
  } else if (inet_pton(AF_INET6, host.c_str(), a.ip.data()) == 1) {
    a.family = 6;
  } else {
    return false;
  }
  out = a;
  return true;
}

}  // namespace presenced
