// The CPU kernels' vector layer: GCC vector types of the three instruction sets the kernels
// are compiled for (16 floats AVX-512, 8 AVX2 + FMA, 4 baseline SSE2), their traits,
// unaligned loads and stores, vectorisable exp / sigmoid / tanh (about 1 ulp: glibc's are
// scalar), a fixed-order horizontal sum, and the run-time choice of instruction set.
// Kernels are written once over a vector type V and compiled per instruction set (GCC
// `target` attributes), the widest the CPU has picked at run time (kernels/cpu/lstm.cpp,
// kernels/cpu/gemm.cpp).
#pragma once

#include <bit>
#include <cstdint>

// The helpers are always inlined; GCC still warns that passing wide vectors by value
// would change the ABI where the instruction set lacks them.
#pragma GCC diagnostic ignored "-Wpsabi"

#define DC_AI __attribute__((always_inline)) inline

namespace dc::kernels::cpu {

using vf16 = float __attribute__((vector_size(64)));
using vf8 = float __attribute__((vector_size(32)));
using vf4 = float __attribute__((vector_size(16)));

// Per vector type: lanes, the same-size int vector, an unaligned view, and how many
// accumulator vectors a tile may keep in registers (AVX-512 has 32, the others 16).
template <class V>
struct VT;
template <>
struct VT<float> {
  static constexpr int W = 1;
  using I = int32_t;
};
template <>
struct VT<vf16> {
  static constexpr int W = 16, budget = 16, nbmax = 8;
  using I = int32_t __attribute__((vector_size(64)));
  using U __attribute__((aligned(4))) = float __attribute__((vector_size(64)));
};
template <>
struct VT<vf8> {
  static constexpr int W = 8, budget = 8, nbmax = 4;
  using I = int32_t __attribute__((vector_size(32)));
  using U __attribute__((aligned(4))) = float __attribute__((vector_size(32)));
};
template <>
struct VT<vf4> {
  static constexpr int W = 4, budget = 8, nbmax = 4;
  using I = int32_t __attribute__((vector_size(16)));
  using U __attribute__((aligned(4))) = float __attribute__((vector_size(16)));
};

// The unaligned views U: the attribute must follow the alias name. Written inside the type
// (`using U = float __attribute__((vector_size(64), aligned(4)))`) GCC lowers the alignment
// but clang silently keeps the vector's 64 and emits aligned loads (vmovaps), which fault on
// rows at any float offset (an LSTM with H = 17 crashed the clang build).
static_assert(alignof(VT<vf16>::U) == 4 && alignof(VT<vf8>::U) == 4 && alignof(VT<vf4>::U) == 4);

// The elementwise code is written once for a vector V and for float (the tail when H is
// not a multiple of the width).
template <class V>
DC_AI V ld(const float* p) {
  if constexpr (VT<V>::W == 1) return *p;
  else return *reinterpret_cast<const typename VT<V>::U*>(p);
}
template <class V>
DC_AI void st(float* p, V v) {
  if constexpr (VT<V>::W == 1) *p = v;
  else *reinterpret_cast<typename VT<V>::U*>(p) = v;
}

// x in every lane.
template <class V>
DC_AI V splat(float x) {
  return V{} + x;
}

template <class V>
DC_AI V clamp_v(V x, float lo, float hi) {
  if constexpr (VT<V>::W == 1) {
    return x < lo ? lo : (x > hi ? hi : x);
  } else {
    const V l = V{} + lo, h = V{} + hi;
    x = x < l ? l : x;
    return x > h ? h : x;
  }
}

// 2^n from t = n + 1.5 * 2^23 (n an integer in the low mantissa bits of t).
constexpr float kRound = 12582912.0f;
template <class V>
DC_AI V pow2_of(V t) {
  using I = typename VT<V>::I;
  return std::bit_cast<V>((std::bit_cast<I>(t) - 0x4B400000 + 127) << 23);
}

// exp(x) for x clamped to [-87, 87] (results stay normal floats): x = n ln2 + r with
// |r| <= ln2 / 2, e^r by the Cephes expf polynomial; about 1 ulp.
template <class V>
DC_AI V exp_approx(V x) {
  x = clamp_v(x, -87.0f, 87.0f);
  const V t = x * 1.44269504088896341f + kRound;  // round(x / ln2), in the low bits
  const V n = t - kRound;
  V r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  V p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V e = p * (r * r) + r + 1.0f;
  return e * pow2_of(t);
}

template <class V>
DC_AI V sigmoid_approx(V x) {
  return 1.0f / (1.0f + exp_approx<V>(-x));
}
// 1 - 2 / (1 + e^{2x}): absolute error ~1e-7 (relative near 0 is larger; fine for gates).
template <class V>
DC_AI V tanh_approx(V x) {
  return 1.0f - 2.0f / (1.0f + exp_approx<V>(x + x));
}

// Kernels written over vf16 alone (16 lanes as one value: one zmm, two ymm or four xmm)
// inside DC_CPU_CLONES functions do the same arithmetic in the same order whatever the
// instruction set, so their bits do not depend on the clone the loader picked.
inline constexpr int kVec = 16;

// Sum of the lanes, always in the same tree order.
DC_AI float hsum(vf4 v) {
  v += __builtin_shufflevector(v, v, 2, 3, 0, 1);
  v += __builtin_shufflevector(v, v, 1, 0, 3, 2);
  return v[0];
}
DC_AI float hsum(vf8 v) { return hsum(__builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7)); }
DC_AI float hsum(vf16 v) {
  return hsum(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
              __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
}

// The sum of v's lanes after adding tail[0, n) (n < 16) to lanes 0 .. n - 1: a dot product's
// 16 lane sums and its last n products, in one fixed order.
DC_AI float hsum_with_tail(vf16 v, const float* tail, int n) {
  float t[kVec] = {};
  for (int j = 0; j < n; ++j) t[j] = tail[j];
  return hsum(v + ld<vf16>(t));
}

// ---- the instruction set --------------------------------------------------------------------

enum class Isa { Avx512, Avx2, Baseline };

// The widest instruction set this CPU runs (AVX-512 F/VL/BW/DQ, AVX2 + FMA, or SSE2), once.
inline Isa best_isa() {
  static const Isa i = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
      return Isa::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
    return Isa::Baseline;
  }();
  return i;
}

// Whether this CPU runs `i` (every wider instruction set also runs the narrower ones).
inline bool cpu_runs(Isa i) { return static_cast<int>(best_isa()) <= static_cast<int>(i); }

inline int lanes(Isa i) { return i == Isa::Avx512 ? 16 : i == Isa::Avx2 ? 8 : 4; }

inline const char* isa_name(Isa i) { return i == Isa::Avx512 ? "avx512" : i == Isa::Avx2 ? "avx2" : "baseline"; }

}  // namespace dc::kernels::cpu
