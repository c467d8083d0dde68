// sim_alloc_probe.cc: counts heap allocations made inside engine calls.
//
// Owns: replacements of the global operator new/delete for the test binary
// that links this file. They allocate with malloc as usual and, while
// g_engine_call is set (sim_world.cc sets it around Engine::process and
// Engine::tick), add one to g_engine_allocations. Single-threaded like the
// simulation; the flag is a plain bool.
#include <cstdlib>
#include <new>

#include "tests/sim/sim_world.h"

namespace {

void* allocate(std::size_t n) {
  if (presenced::sim::g_engine_call) ++presenced::sim::g_engine_allocations;
  if (n == 0) n = 1;
  if (void* p = std::malloc(n)) return p;
  throw std::bad_alloc();
}

void* allocate_aligned(std::size_t n, std::align_val_t a) {
  if (presenced::sim::g_engine_call) ++presenced::sim::g_engine_allocations;
  const auto align = static_cast<std::size_t>(a);
  const std::size_t size = (n + align - 1) / align * align;
  if (void* p = std::aligned_alloc(align, size == 0 ? align : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) {
  return allocate(n);
}
void* operator new[](std::size_t n) {
  return allocate(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_aligned(n, a);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
