#include "kernels/contract/attention.h"

#include <bit>
#include <cstring>

#include "kernels/base/scratch.h"
#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

// forward_rows / backward_rows are the regions' bodies (DC_CPU_CLONES, common.h).

// Rows are split across the threads above this many elements of h (a few microseconds of
// work: below it, the cost of waking the team is comparable).
constexpr int64_t kParallelElements = int64_t{1} << 15;

// exp(x) for the softmax (x = score - max <= 0), written so the loop over t vectorises
// (glibc's expf is scalar): x = n ln2 + r with |r| <= ln2 / 2, exp(r) by the Cephes
// polynomial (about 1 ulp), 2^n built in the exponent bits. Results below 2^-125 (x < -87)
// are flushed to 0; NaN propagates.
__attribute__((always_inline)) inline float exp_softmax(float x) {
  const float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round to nearest with the 1.5 * 2^23 trick (no libm call, any instruction set): t holds
  // n = round(xc / ln2) in its low mantissa bits.
  const float t = xc * 1.44269504088896341f + 12582912.0f;
  const float fx = t - 12582912.0f;
  const float r = (xc - fx * 0.693359375f) - fx * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.0f;
  // 2^n from t's bits (t = 2^23 + 2^22 + n exactly, so its bits are 0x4B400000 + n), not from
  // static_cast<int32_t>(fx): converting a NaN (x = NaN) to int is undefined behaviour. Unsigned
  // arithmetic: a NaN's bits give some scale, and y (NaN) still makes the result NaN.
  const uint32_t bits = (std::bit_cast<uint32_t>(t) - 0x4B400000u + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return x < -87.0f ? 0.0f : y * scale;
}

__attribute__((always_inline)) inline float dot(const float* __restrict a, const float* __restrict b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// One (g, b) row of the forward pass: the scores go through alpha. FC > 0 is F known at
// compile time (AttentiveChrome's 64 and 32): the feature loops unroll and the pooled
// accumulator stays in registers.
template <int FC>
__attribute__((always_inline)) inline void forward_row(float* __restrict p, float* __restrict a, const float* __restrict hr,
                                                       const float* __restrict c, int T, int F_) {
  const int F = FC > 0 ? FC : F_;
  float m = -INFINITY;
  for (int t = 0; t < T; ++t) {
    const float score = dot(hr + int64_t{t} * F, c, F);
    a[t] = score;
    m = score > m ? score : m;
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int t = 0; t < T; ++t) {
    const float e = exp_softmax(a[t] - m);
    a[t] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int t = 0; t < T; ++t) a[t] *= inv;
  // pooled = sum_t alpha_t h_t, into a local accumulator when F is a compile-time constant.
  float local[FC > 0 ? FC : 1];
  float* __restrict acc = FC > 0 ? local : p;
#pragma omp simd
  for (int f = 0; f < F; ++f) acc[f] = 0.0f;
  for (int t = 0; t < T; ++t) {
    const float at = a[t];
    const float* ht = hr + int64_t{t} * F;
#pragma omp simd
    for (int f = 0; f < F; ++f) acc[f] += at * ht[f];
  }
  if constexpr (FC > 0) {
#pragma omp simd
    for (int f = 0; f < F; ++f) p[f] = acc[f];
  }
}

// One (g, b) row of the backward pass: dh of the row (when dh is non-null) and the row's
// share of dctx, part[f] = sum_t dscore_t h_t[f]. ds is T floats of scratch.
template <int FC, GradMode M>
__attribute__((always_inline)) inline void backward_row(float* __restrict dh, float* __restrict part, float* __restrict ds,
                                                        const float* __restrict dp, const float* __restrict hr,
                                                        const float* __restrict a, const float* __restrict c, int T, int F_) {
  const int F = FC > 0 ? FC : F_;
  float s = 0.0f;
  for (int t = 0; t < T; ++t) {
    const float da = dot(hr + int64_t{t} * F, dp, F);
    ds[t] = da;
    s += a[t] * da;
  }
#pragma omp simd
  for (int t = 0; t < T; ++t) ds[t] = a[t] * (ds[t] - s);
  float local[FC > 0 ? FC : 1];
  float* __restrict acc = FC > 0 ? local : part;
#pragma omp simd
  for (int f = 0; f < F; ++f) acc[f] = 0.0f;
  if (dh) {
    for (int t = 0; t < T; ++t) {
      const float at = a[t], dst = ds[t];
      const float* ht = hr + int64_t{t} * F;
      float* dt = dh + int64_t{t} * F;
#pragma omp simd
      for (int f = 0; f < F; ++f) {
        const float v = at * dp[f] + dst * c[f];
        if constexpr (M == GradMode::Overwrite) dt[f] = v;
        else dt[f] += v;
        acc[f] += dst * ht[f];
      }
    }
  } else {
    for (int t = 0; t < T; ++t) {
      const float dst = ds[t];
      const float* ht = hr + int64_t{t} * F;
#pragma omp simd
      for (int f = 0; f < F; ++f) acc[f] += dst * ht[f];
    }
  }
  if constexpr (FC > 0) {
#pragma omp simd
    for (int f = 0; f < F; ++f) part[f] = acc[f];
  }
}

template <int FC>
__attribute__((always_inline)) inline void forward_rows_f(float* pooled, float* alpha, const float* h, const float* const* ctx,
                                                          AttentionShape s, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    forward_row<FC>(pooled + r * s.F, alpha + r * s.T, h + r * s.T * s.F, ctx[r / s.B], s.T, s.F);
}

DC_CPU_CLONES void forward_rows(float* pooled, float* alpha, const float* h, const float* const* ctx,
                                                        AttentionShape s, int64_t r0, int64_t r1) {
  switch (s.F) {
    case 64: return forward_rows_f<64>(pooled, alpha, h, ctx, s, r0, r1);
    case 32: return forward_rows_f<32>(pooled, alpha, h, ctx, s, r0, r1);
    default: return forward_rows_f<0>(pooled, alpha, h, ctx, s, r0, r1);
  }
}

template <int FC, GradMode M>
__attribute__((always_inline)) inline void backward_rows_f(float* dh, float* parts, float* ds, const float* dpooled, const float* h,
                                                           const float* alpha, const float* const* ctx, AttentionShape s,
                                                           int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    backward_row<FC, M>(dh ? dh + r * s.T * s.F : nullptr, parts + r * s.F, ds + r * s.T, dpooled + r * s.F, h + r * s.T * s.F,
                        alpha + r * s.T, ctx[r / s.B], s.T, s.F);
}

template <int FC>
__attribute__((always_inline)) inline void backward_rows_m(float* dh, GradMode dh_mode, float* parts, float* ds, const float* dpooled,
                                                           const float* h, const float* alpha, const float* const* ctx,
                                                           AttentionShape s, int64_t r0, int64_t r1) {
  if (dh_mode == GradMode::Overwrite) backward_rows_f<FC, GradMode::Overwrite>(dh, parts, ds, dpooled, h, alpha, ctx, s, r0, r1);
  else backward_rows_f<FC, GradMode::Accumulate>(dh, parts, ds, dpooled, h, alpha, ctx, s, r0, r1);
}

DC_CPU_CLONES void backward_rows(float* dh, GradMode dh_mode, float* parts, float* ds, const float* dpooled,
                                                         const float* h, const float* alpha, const float* const* ctx,
                                                         AttentionShape s, int64_t r0, int64_t r1) {
  switch (s.F) {
    case 64: return backward_rows_m<64>(dh, dh_mode, parts, ds, dpooled, h, alpha, ctx, s, r0, r1);
    case 32: return backward_rows_m<32>(dh, dh_mode, parts, ds, dpooled, h, alpha, ctx, s, r0, r1);
    default: return backward_rows_m<0>(dh, dh_mode, parts, ds, dpooled, h, alpha, ctx, s, r0, r1);
  }
}

}  // namespace

void attention_forward(float* pooled, float* alpha, const float* h, const float* const* ctx, AttentionShape s) {
  const int64_t rows = s.rows();
  if (rows > 1 && use_threads(rows * s.T * s.F, kParallelElements)) {
    run_team([&] {
      const Range r = thread_range(rows);
      forward_rows(pooled, alpha, h, ctx, s, r.begin, r.end);
    });
  } else {
    forward_rows(pooled, alpha, h, ctx, s, 0, rows);
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))  // the dctx reduction below
void attention_backward(GradOut<float> dh, const GradOut<float>* dctx, const float* dpooled, const float* h,
                        const float* alpha, const float* const* ctx, AttentionShape s) {
  const int64_t rows = s.rows();
  // Per-row dctx partials (rows x F), dscore (rows x T) and one F-vector for the reduction.
  float* parts = scratch(3, static_cast<size_t>(rows) * (s.F + s.T) + static_cast<size_t>(s.F));
  float* ds = parts + rows * s.F;
  float* acc = ds + rows * s.T;
  if (rows > 1 && use_threads(rows * s.T * s.F, kParallelElements)) {
    run_team([&] {
      const Range r = thread_range(rows);
      backward_rows(dh.data, dh.mode, parts, ds, dpooled, h, alpha, ctx, s, r.begin, r.end);
    });
  } else {
    backward_rows(dh.data, dh.mode, parts, ds, dpooled, h, alpha, ctx, s, 0, rows);
  }
  if (!dctx) return;
  // dctx[g] = sum over b of the row partials, in order b = 0..B-1 (thread-count independent);
  // groups in order, so a buffer shared by two groups sees Overwrite then Accumulate.
  for (int g = 0; g < s.G; ++g) {
    float* d = dctx[g].data;
    if (!d) continue;
    const float* pg = parts + int64_t{g} * s.B * s.F;
#pragma omp simd
    for (int f = 0; f < s.F; ++f) acc[f] = 0.0f;
    for (int b = 0; b < s.B; ++b) {
      const float* pb = pg + int64_t{b} * s.F;
#pragma omp simd
      for (int f = 0; f < s.F; ++f) acc[f] += pb[f];
    }
    if (!dctx[g].accumulate()) {
#pragma omp simd
      for (int f = 0; f < s.F; ++f) d[f] = acc[f];
    } else {
#pragma omp simd
      for (int f = 0; f < s.F; ++f) d[f] += acc[f];
    }
  }
}

}  // namespace dc::kernels::cpu
