// Attention pooling over time with one context vector per group (AttentiveChrome):
//   h (G, B, T, F), ctx (G, F)
//   score[g,b,t] = h[g,b,t,:] . ctx[g]; alpha[g,b,:] = softmax_t(score[g,b,:])
//   pooled[g,b,:] = sum_t alpha[g,b,t] h[g,b,t,:]
// backward, from dpooled (G, B, F):
//   dalpha[t] = dpooled . h_t ; dscore = alpha * (dalpha - sum_t alpha dalpha)
//   dh[t] = alpha_t dpooled + dscore_t ctx ; dctx = sum_{b,t} dscore[b,t] h_t
// Each (g, b) row is independent except dctx, which is summed over b in order inside its
// group: the results do not depend on the thread count. ctx is passed per group as a
// pointer (the groups' context vectors are separate parameters).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

struct AttentionShape {
  int G, B, T, F;
};

template <class T>
void attention_forward(T* pooled, T* alpha, const T* h, const T* const* ctx, AttentionShape s) {
  parallel_for(int64_t{s.G} * s.B, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int g = static_cast<int>(r / s.B);
      const T* hr = h + r * s.T * s.F;
      T* a = alpha + r * s.T;
      T m = -INFINITY;
      for (int t = 0; t < s.T; ++t) {
        T score = 0;
        for (int f = 0; f < s.F; ++f) score += hr[t * s.F + f] * ctx[g][f];
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
      for (int f = 0; f < s.F; ++f) p[f] = 0;
      for (int t = 0; t < s.T; ++t)
        for (int f = 0; f < s.F; ++f) p[f] += a[t] * hr[t * s.F + f];
    }
  });
}

// dh (G,B,T,F) and dctx[g] (F) may be null (skipped). `scratch` holds G*B*T values.
template <class T>
void attention_backward(T* dh, GradMode dh_mode, T* const* dctx, GradMode dctx_mode, const T* dpooled, const T* h,
                        const T* alpha, const T* const* ctx, T* scratch, AttentionShape s) {
  // dscore per (g, b, t), and dh.
  parallel_for(int64_t{s.G} * s.B, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int g = static_cast<int>(r / s.B);
      const T* hr = h + r * s.T * s.F;
      const T* a = alpha + r * s.T;
      const T* dp = dpooled + r * s.F;
      T* ds = scratch + r * s.T;
      T dot = 0;
      for (int t = 0; t < s.T; ++t) {
        T da = 0;
        for (int f = 0; f < s.F; ++f) da += dp[f] * hr[t * s.F + f];
        ds[t] = da;
        dot += a[t] * da;
      }
      for (int t = 0; t < s.T; ++t) ds[t] = a[t] * (ds[t] - dot);
      if (dh) {
        T* dr = dh + r * s.T * s.F;
        for (int t = 0; t < s.T; ++t)
          for (int f = 0; f < s.F; ++f)
            put(dr, int64_t{t} * s.F + f, a[t] * dp[f] + ds[t] * ctx[g][f], dh_mode);
      }
    }
  });
  if (dctx)
    for (int g = 0; g < s.G; ++g) {
      if (!dctx[g]) continue;
      for (int f = 0; f < s.F; ++f) {
        T acc = 0;
        for (int b = 0; b < s.B; ++b) {
          const int64_t r = int64_t{g} * s.B + b;
          const T* hr = h + r * s.T * s.F;
          const T* ds = scratch + r * s.T;
          for (int t = 0; t < s.T; ++t) acc += ds[t] * hr[t * s.F + f];
        }
        put(dctx[g], f, acc, dctx_mode);
      }
    }
}

}  // namespace dc::cpu
