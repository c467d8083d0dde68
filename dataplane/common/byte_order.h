// byte_order.h: big-endian loads and stores on unaligned byte buffers.
//
// Owns: nothing; pure functions. The wire format is big-endian throughout
// (PROTOCOL.md); every codec access goes through these helpers so that
// no code casts packet bytes to wider types (alignment, aliasing).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace presenced {

// byteswap is C++23; g++ 12 in C++20 mode has only the builtins.
template <typename T>
constexpr T byteswap(T v) {
  if constexpr (sizeof(T) == 1) return v;
  if constexpr (sizeof(T) == 2) return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  if constexpr (sizeof(T) == 8) return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
}

template <typename T>
inline T load_be(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::little) v = byteswap(v);
  return v;
}

template <typename T>
inline void store_be(uint8_t* p, T v) {
  if constexpr (std::endian::native == std::endian::little) v = byteswap(v);
  std::memcpy(p, &v, sizeof v);
}

inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = byteswap(v);
  return v;
}

inline void store_le64(uint8_t* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = byteswap(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace presenced
