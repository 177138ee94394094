// 16 float lanes as one value (GCC vector extension): one zmm with AVX-512, two ymm with
// AVX2, four xmm on baseline x86-64. Code written with it does the same arithmetic in the
// same order whatever the vector width the CPU offers, so its bits do not depend on which
// clone (DC_CPU_CLONES) the loader picked.
#pragma once

#include <cstring>

namespace dc::kernels::cpu {

typedef float Lanes16 __attribute__((vector_size(64)));
inline constexpr int kLanes = 16;

// Unaligned load and store. (By reference: a vector passed or returned by value would change
// the ABI between the clones.)
inline __attribute__((always_inline)) void load16(Lanes16& v, const float* p) { std::memcpy(&v, p, sizeof v); }
inline __attribute__((always_inline)) void store16(float* p, const Lanes16& v) { std::memcpy(p, &v, sizeof v); }
inline __attribute__((always_inline)) void splat16(Lanes16& v, float x) {
  v = Lanes16{} + x;  // (GCC builds a lane-by-lane initializer with 16 masked broadcasts)
}

// The lanes' sum in a fixed tree (lane j + lane j + 8, then + 4, + 2, + 1), after adding
// `tail[0, n)` (n < 16) to lanes 0 .. n - 1.
inline __attribute__((always_inline)) float sum16(const Lanes16& v, const float* tail_products = nullptr, int n = 0) {
  float lane[kLanes];
  std::memcpy(lane, &v, sizeof lane);
  for (int j = 0; j < n; ++j) lane[j] += tail_products[j];
  for (int half = kLanes / 2; half >= 1; half /= 2)
    for (int j = 0; j < half; ++j) lane[j] += lane[j + half];
  return lane[0];
}

}  // namespace dc::kernels::cpu
