// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// A draw is a pure function of (seed, stream, index): no hidden state, so a value does not
// depend on thread count or on the order in which elements are visited, and the same
// function compiled for CUDA will produce the same bits. `stream` separates independent
// uses (one per parameter tensor for init, one per training step for dropout, ...).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/portable.h"

namespace dc {

struct Philox4x32 {
  uint32_t v[4];
};

DC_HOST_DEVICE inline uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1).
DC_HOST_DEVICE inline Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                            uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(M0, c0, &hi0);
    const uint32_t lo1 = mulhilo32(M1, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += W0; k1 += W1;
  }
  return {{c0, c1, c2, c3}};
}

// 32 random bits for element `index` of stream `stream` under `seed`.
DC_HOST_DEVICE inline uint32_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  const Philox4x32 r = philox4x32(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                  static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[0];
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
DC_HOST_DEVICE inline float uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(random_bits(seed, stream, index) >> 8) * (1.0f / 16777216.0f);
}

// Uniform in [0, 1) with 53 random bits, for host-side simulation and sampling.
inline double uniform01_double(uint64_t seed, uint64_t stream, uint64_t index) {
  const Philox4x32 r = philox4x32(static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                  static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                                  static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  const uint64_t bits = (static_cast<uint64_t>(r.v[0]) << 21) ^ (static_cast<uint64_t>(r.v[1]) >> 11);
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// A sequential generator over one (seed, stream), for host code that wants "next()".
// It is still counter-based: its whole state is the index of the next draw.
class CounterRng {
 public:
  CounterRng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  double uniform() { return uniform01_double(seed_, stream_, index_++); }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)) % n; }
  double normal() {  // Box-Muller
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  uint64_t position() const { return index_; }

 private:
  uint64_t seed_, stream_, index_ = 0;
};

}  // namespace dc
