// dpdk_frame_fuzz.cc: libFuzzer target for the DPDK backend's frame parser
// and reply builder (dataplane/io/dpdk/frame.h). No EAL: plain bytes.
//
// Every input is a received Ethernet frame, copied into a heap block of
// exactly its size (so ASan reports any read past it), and sorted by
// classify_frame for a server owning 10.0.0.1, 2001:db8::1 and UDP port
// 7460. The target traps (std::abort: libFuzzer saves the input) when:
//   - kDatagram: the payload view leaves the frame, `local` is not one of
//     our addresses with our port, `src` is of another family, or the
//     l2_hint does not carry the frame's source MAC;
//   - kDatagram: the reply round trip fails: build_reply_frame (software
//     checksums) of an ACK-sized payload back to `src`, classified as the
//     client (owning `src`), must be a datagram from `local` with the same
//     payload, addressed to the frame's source MAC;
//   - kMalformed without a reason, or a reason set for another class.
// Build: tests/fuzz/meson.build (clang, -Dfuzz=true). Seeds:
// tests/fuzz/corpus/dpdk_frame/ (tests/fuzz/make_dpdk_frame_corpus.py).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dataplane/io/dpdk/frame.h"

namespace {

using namespace presenced;
using namespace presenced::io::dpdk;

const OwnAddresses& own() {
  static const OwnAddresses o = [] {
    OwnAddresses a;
    a.udp_port = 7460;
    a.add(NetAddr::v4_bytes(10, 0, 0, 1, 0));
    const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    a.add(NetAddr::v6(v6, 0));
    return a;
  }();
  return o;
}

void check(bool ok) {
  if (!ok) std::abort();
}

void round_trip(const uint8_t* frame, const engine::RxDatagram& d) {
  const uint8_t port_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};
  uint8_t payload[40];
  for (std::size_t i = 0; i < sizeof payload; ++i) {
    payload[i] = i < d.len ? d.data[i] : static_cast<uint8_t>(i);
  }
  uint8_t buf[kMaxReplyFrame];
  const uint16_t len = build_reply_frame(buf, port_mac, d.l2_hint, d.local, d.src, payload,
                                         sizeof payload, true, nullptr);
  check(len != 0 && len <= sizeof buf);
  auto copy = std::make_unique<uint8_t[]>(len);
  std::memcpy(copy.get(), buf, len);
  OwnAddresses client;
  client.udp_port = d.src.port;
  check(client.add(d.src));
  engine::RxDatagram r;
  FrameError e = FrameError::kNone;
  check(classify_frame(copy.get(), len, client, CsumState::kUnknown, CsumState::kUnknown, r, e) ==
        FrameClass::kDatagram);
  check(r.src == d.local && r.local == d.src);
  check(r.len == sizeof payload && std::memcmp(r.data, payload, sizeof payload) == 0);
  check(std::memcmp(copy.get(), frame + 6, 6) == 0);  // to the request's source MAC
  uint8_t mac[6];
  l2_hint_mac(r.l2_hint, mac);
  check(std::memcmp(mac, port_mac, 6) == 0);
  check((r.l2_hint >> 48) == (d.l2_hint >> 48));  // the same VLAN tag, or none
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;
  auto frame = std::make_unique<uint8_t[]>(size == 0 ? 1 : size);
  if (size != 0) std::memcpy(frame.get(), data, size);
  const uint32_t len = static_cast<uint32_t>(size);
  for (const CsumState hw : {CsumState::kUnknown, CsumState::kGood}) {
    engine::RxDatagram d;
    FrameError e = FrameError::kNone;
    const FrameClass c = classify_frame(frame.get(), len, own(), hw, hw, d, e);
    switch (c) {
      case FrameClass::kDatagram: {
        check(e == FrameError::kNone);
        check(d.data >= frame.get() && d.data + d.len <= frame.get() + size);
        check(d.local.port == 7460 && d.src.family == d.local.family);
        check(d.local.family == 4 ? own().has_v4(d.local.ip.data())
                                  : own().has_v6(d.local.ip.data()));
        uint8_t mac[6];
        l2_hint_mac(d.l2_hint, mac);
        check(std::memcmp(mac, frame.get() + 6, 6) == 0);
        if (hw == CsumState::kUnknown) round_trip(frame.get(), d);
        break;
      }
      case FrameClass::kMalformed:
        check(e != FrameError::kNone);
        break;
      case FrameClass::kKernel:
        check(e == FrameError::kNone);
        break;
    }
  }
  return 0;
}
