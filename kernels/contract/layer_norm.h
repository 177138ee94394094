// Op family `layer_norm`: normalization over the last axis with an affine weight and bias
// (torch.nn.LayerNorm: biased variance, eps inside the square root). x is viewed as R rows
// of C; w and b have C elements.
//   forward : mean_r = sum_c x / C,  var_r = sum_c (x - mean_r)^2 / C,
//             rstd_r = 1 / sqrt(var_r + eps),  xhat = (x - mean_r) rstd_r,  y = xhat w + b
//             mean and rstd (R each) are kept for the backward (either may be null: inference)
//   backward: g = dy w;  dx = rstd (g - sum_c g / C - xhat sum_c (g xhat) / C)
//             dw[c] = sum_r dy xhat;  db[c] = sum_r dy
// Every sum runs in one fixed order (over c within a row, over r for a column on the CPU), so
// the result does not depend on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

struct LayerNormShape {
  int64_t R;
  int C;
  float eps;
};

template <class T>
void layer_norm_forward_reference(T* y, T* mean, T* rstd, const T* x, const T* w, const T* b, LayerNormShape s) {
  for (int64_t r = 0; r < s.R; ++r) {
    const T* xr = x + r * s.C;
    T sum = 0;
    for (int c = 0; c < s.C; ++c) sum += xr[c];
    const T mu = sum / T(s.C);
    T sq = 0;
    for (int c = 0; c < s.C; ++c) sq += (xr[c] - mu) * (xr[c] - mu);
    const T rs = T(1) / std::sqrt(sq / T(s.C) + T(s.eps));
    for (int c = 0; c < s.C; ++c) y[r * s.C + c] = (xr[c] - mu) * rs * w[c] + b[c];
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
}

template <class T>
void layer_norm_backward_reference(GradOut<T> dx, GradOut<T> dw, GradOut<T> db, const T* dy, const T* x, const T* w,
                                   const T* mean, const T* rstd, LayerNormShape s) {
  if (dx)
    for (int64_t r = 0; r < s.R; ++r) {
      const int64_t o = r * s.C;
      T sg = 0, sgx = 0;
      for (int c = 0; c < s.C; ++c) {
        const T g = dy[o + c] * w[c];
        sg += g;
        sgx += g * ((x[o + c] - mean[r]) * rstd[r]);
      }
      const T mg = sg / T(s.C), mgx = sgx / T(s.C);
      for (int c = 0; c < s.C; ++c) {
        const T xhat = (x[o + c] - mean[r]) * rstd[r];
        dx.put(o + c, rstd[r] * (dy[o + c] * w[c] - mg - xhat * mgx));
      }
    }
  if (dw || db)
    for (int c = 0; c < s.C; ++c) {
      T sw = 0, sb = 0;
      for (int64_t r = 0; r < s.R; ++r) {
        sw += dy[r * s.C + c] * ((x[r * s.C + c] - mean[r]) * rstd[r]);
        sb += dy[r * s.C + c];
      }
      if (dw) dw.put(c, sw);
      if (db) db.put(c, sb);
    }
}

namespace cpu {
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        LayerNormShape s);
void layer_norm_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* rstd, LayerNormShape s);
}  // namespace cpu

namespace cuda {
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        LayerNormShape s);
void layer_norm_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* rstd, LayerNormShape s);
}  // namespace cuda

}  // namespace dc::kernels
