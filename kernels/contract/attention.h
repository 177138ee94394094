// Op family `attention_pool`: attention pooling over time with one context vector per group
// (AttentiveChrome's bin and mark attention).
//   h (G, B, T, F), ctx[g] (F) for g < G
//   score[g,b,t] = h[g,b,t,:] . ctx[g];   alpha[g,b,:] = softmax_t(score[g,b,:]) (max-shifted)
//   pooled[g,b,:] = sum_t alpha[g,b,t] h[g,b,t,:]
// backward, from dpooled (G, B, F), with the alpha saved by the forward pass:
//   dalpha[t] = dpooled . h_t;   dscore = alpha * (dalpha - sum_t alpha dalpha)
//   dh[t] = alpha_t dpooled + dscore_t ctx;   dctx[g] = sum_{b,t} dscore[g,b,t] h[g,b,t,:]
//
// The contexts are separate parameters, so they come per group as pointers, and so do their
// gradients: dctx[g] (a null array or a null entry is skipped). Two groups may share one
// context gradient buffer (the same parameter used twice): groups are written in order
// g = 0..G-1, so Overwrite for the first and Accumulate for the later ones sums them.
// Every (g, b) row is independent except dctx, which is reduced over b in a fixed order:
// the results do not depend on the thread count.
//
// CPU float kernels (kernels/cpu/attention.cpp): rows split across the threads, feature
// loops vectorised for F = 64 and 32, the softmax exp by a vectorisable polynomial (about
// 1 ulp; values below 2^-125 flush to 0); the backward's temporaries live in scratch slot 3.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/base/grad.h"

namespace dc::kernels {

struct AttentionShape {
  int G, B, T, F;
  int64_t rows() const { return int64_t{G} * B; }
};

// Plain reference (serial), any scalar type; the gradient tests run it in double.
template <class T>
void attention_forward_reference(T* pooled, T* alpha, const T* h, const T* const* ctx, AttentionShape s) {
  for (int64_t r = 0; r < s.rows(); ++r) {
    const T* c = ctx[r / s.B];
    const T* hr = h + r * s.T * s.F;
    T* a = alpha + r * s.T;
    T m = -INFINITY;
    for (int t = 0; t < s.T; ++t) {
      T score = 0;
      for (int f = 0; f < s.F; ++f) score += hr[int64_t{t} * s.F + f] * c[f];
      a[t] = score;
      m = score > m ? score : m;
    }
    T sum = 0;
    for (int t = 0; t < s.T; ++t) {
      a[t] = std::exp(a[t] - m);
      sum += a[t];
    }
    for (int t = 0; t < s.T; ++t) a[t] /= sum;
    T* p = pooled + r * s.F;
    for (int f = 0; f < s.F; ++f) {
      T acc = 0;
      for (int t = 0; t < s.T; ++t) acc += a[t] * hr[int64_t{t} * s.F + f];
      p[f] = acc;
    }
  }
}

template <class T>
void attention_backward_reference(GradOut<T> dh, const GradOut<T>* dctx, const T* dpooled, const T* h, const T* alpha,
                                  const T* const* ctx, AttentionShape s) {
  std::vector<T> ds(static_cast<size_t>(s.rows()) * s.T);
  for (int64_t r = 0; r < s.rows(); ++r) {
    const T* c = ctx[r / s.B];
    const T* hr = h + r * s.T * s.F;
    const T* a = alpha + r * s.T;
    const T* dp = dpooled + r * s.F;
    T* d = ds.data() + r * s.T;
    T dot = 0;
    for (int t = 0; t < s.T; ++t) {
      T da = 0;
      for (int f = 0; f < s.F; ++f) da += dp[f] * hr[int64_t{t} * s.F + f];
      d[t] = da;
      dot += a[t] * da;
    }
    for (int t = 0; t < s.T; ++t) d[t] = a[t] * (d[t] - dot);
    if (dh)
      for (int t = 0; t < s.T; ++t)
        for (int f = 0; f < s.F; ++f)
          dh.put(r * s.T * s.F + int64_t{t} * s.F + f, a[t] * dp[f] + d[t] * c[f]);
  }
  if (!dctx) return;
  for (int g = 0; g < s.G; ++g) {
    if (!dctx[g]) continue;
    for (int f = 0; f < s.F; ++f) {
      T acc = 0;
      for (int b = 0; b < s.B; ++b) {
        const int64_t r = int64_t{g} * s.B + b;
        for (int t = 0; t < s.T; ++t) acc += ds[r * s.T + t] * h[(r * s.T + t) * s.F + f];
      }
      dctx[g].put(f, acc);
    }
  }
}

namespace cpu {
void attention_forward(float* pooled, float* alpha, const float* h, const float* const* ctx, AttentionShape s);
void attention_backward(GradOut<float> dh, const GradOut<float>* dctx, const float* dpooled, const float* h,
                        const float* alpha, const float* const* ctx, AttentionShape s);
}  // namespace cpu

namespace cuda {
void attention_forward(float* pooled, float* alpha, const float* h, const float* const* ctx, AttentionShape s);
void attention_backward(GradOut<float> dh, const GradOut<float>* dctx, const float* dpooled, const float* h,
                        const float* alpha, const float* const* ctx, AttentionShape s);
}  // namespace cuda

}  // namespace dc::kernels
