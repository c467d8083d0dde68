#include "dataplane/io/dpdk/kernel_iface.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <unistd.h>

namespace presenced::io::dpdk {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string errno_text(int e) {
  return std::strerror(e);
}

std::string ip_text(const NetAddr& a) {
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.ip.data(), buf, sizeof buf);
  return buf;
}

std::string set_up(const std::string& ifname) {
  Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return "socket for SIOCSIFFLAGS failed: " + errno_text(errno);
  ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return "SIOCGIFFLAGS failed: " + errno_text(errno);
  if ((ifr.ifr_flags & IFF_UP) != 0) return {};
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return "SIOCSIFFLAGS (up) failed: " + errno_text(errno);
  return {};
}

// Appends one rtattr to the message in `buf`.
void add_attr(nlmsghdr* h, std::size_t cap, uint16_t type, const void* data, std::size_t len) {
  const std::size_t at = NLMSG_ALIGN(h->nlmsg_len);
  const std::size_t rta_len = RTA_LENGTH(len);
  if (at + RTA_ALIGN(rta_len) > cap) return;  // impossible: the buffer fits every attribute
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<uint8_t*>(h) + at);
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(rta_len);
  std::memcpy(RTA_DATA(rta), data, len);
  h->nlmsg_len = static_cast<uint32_t>(at + RTA_ALIGN(rta_len));
}

std::string add_address(int nl, unsigned ifindex, const KernelAddress& a, uint32_t seq) {
  alignas(nlmsghdr) uint8_t buf[256];
  std::memset(buf, 0, sizeof buf);
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  h->nlmsg_type = RTM_NEWADDR;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  h->nlmsg_seq = seq;
  auto* ifa = static_cast<ifaddrmsg*>(NLMSG_DATA(h));
  const bool v4 = a.addr.family == 4;
  const std::size_t alen = v4 ? 4 : 16;
  ifa->ifa_family = v4 ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = a.prefix_len != 0 ? a.prefix_len : static_cast<uint8_t>(alen * 8);
  ifa->ifa_flags = v4 ? 0 : IFA_F_NODAD;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = ifindex;
  add_attr(h, sizeof buf, IFA_LOCAL, a.addr.ip.data(), alen);
  add_attr(h, sizeof buf, IFA_ADDRESS, a.addr.ip.data(), alen);
  if (send(nl, buf, h->nlmsg_len, 0) < 0) return "netlink send failed: " + errno_text(errno);

  alignas(nlmsghdr) uint8_t reply[4096];
  for (;;) {
    const ssize_t n = recv(nl, reply, sizeof reply, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return "netlink receive failed: " + errno_text(errno);
    }
    // Walk the messages (copied out: no casts of the byte buffer).
    std::size_t off = 0;
    const std::size_t len = static_cast<std::size_t>(n);
    while (off + sizeof(nlmsghdr) <= len) {
      nlmsghdr r;
      std::memcpy(&r, reply + off, sizeof r);
      if (r.nlmsg_len < sizeof r || off + r.nlmsg_len > len) break;
      if (r.nlmsg_seq == seq && r.nlmsg_type == NLMSG_ERROR &&
          r.nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
        nlmsgerr e;
        std::memcpy(&e, reply + off + NLMSG_HDRLEN, sizeof e);
        if (e.error == 0 || e.error == -EEXIST) return {};
        return "RTM_NEWADDR failed: " + errno_text(-e.error);
      }
      off += NLMSG_ALIGN(r.nlmsg_len);
    }
  }
}

}  // namespace

std::string configure_kernel_iface(const std::string& ifname,
                                   const std::vector<KernelAddress>& addresses) {
  const std::string where = "kernel interface " + ifname + ": ";
  const unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) return where + "if_nametoindex failed: " + errno_text(errno);
  if (std::string e = set_up(ifname); !e.empty()) return where + e;
  Fd nl(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (nl.get() < 0) return where + "netlink socket failed: " + errno_text(errno);
  timeval tv{2, 0};  // a kernel that never answers must not hang start-up
  setsockopt(nl.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint32_t seq = 1;
  for (const KernelAddress& a : addresses) {
    if (a.addr.family != 4 && a.addr.family != 6) continue;
    if (std::string e = add_address(nl.get(), ifindex, a, seq++); !e.empty()) {
      return where + "adding " + ip_text(a.addr) + "/" + std::to_string(a.prefix_len) + ": " + e;
    }
  }
  return {};
}

}  // namespace presenced::io::dpdk
