// compiler.h: small portability macros shared by the data plane.
//
// Owns: branch hints, cold/inline attributes, cache-line size, prefetch.
// Concurrency: none (macros and constants only).
#pragma once

#include <cstddef>

#define PRESENCED_LIKELY(x) __builtin_expect(!!(x), 1)
#define PRESENCED_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PRESENCED_COLD [[gnu::cold, gnu::noinline]]
#define PRESENCED_NOINLINE [[gnu::noinline]]
#define PRESENCED_ALWAYS_INLINE [[gnu::always_inline]] inline

namespace presenced {

// x86-64 and most aarch64 parts; padding to it keeps per-core hot state apart.
inline constexpr std::size_t kCacheLine = 64;

// Read prefetch into all cache levels; `p` may be any address (no fault).
PRESENCED_ALWAYS_INLINE void prefetch_read(const void* p) {
  __builtin_prefetch(p, 0, 3);
}
// Prefetch with intent to write (the line will be modified soon).
PRESENCED_ALWAYS_INLINE void prefetch_write(const void* p) {
  __builtin_prefetch(p, 1, 3);
}

// One pause in a spin-wait: lets the sibling hyper-thread run.
PRESENCED_ALWAYS_INLINE void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace presenced
