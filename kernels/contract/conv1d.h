// Op family `conv1d`: 1-D convolution (cross-correlation, as torch.nn.Conv1d) along the last axis.
//   forward : x (N, CIN, L), w (COUT, CIN, K), b (COUT) or null -> y (N, COUT, LOUT)
//             y[n,o,l] = b[o] + sum_{c,k} w[o,c,k] * x[n, c, l*stride + k - pad]   (zero outside)
//             LOUT = (L + 2*pad - K) / stride + 1
//   backward: dx, dw, db from dy (N, COUT, LOUT); a null gradient skips that work.
//
// The float kernels (kernels/cpu/conv1d.cpp: a direct GEMM per sample, or im2col + one GEMM
// over the batch;
// kernels/cuda/conv1d.cu) keep im2col of x in `col` (conv1d_col_size floats): forward fills
// it and backward reads it instead of x, so the engine keeps it between the two. A forward
// with no backward to follow may pass a null `col`.
#pragma once

#include "kernels/base/grad.h"

namespace dc::kernels {

struct Conv1dShape {
  int N, CIN, L, COUT, K, stride, pad;
  int LOUT() const { return (L + 2 * pad - K) / stride + 1; }
};

// The CPU keeps the transposed im2col, one row of conv1d_col_stride floats per output
// position: the CIN*K window, a 1 (the bias gradient's column) and zeros to a multiple of 16
// (whole, aligned 16-lane loads). The CUDA kernels use the same buffer their own way.
inline int conv1d_col_stride(Conv1dShape s) { return (s.CIN * s.K + 1 + 15) / 16 * 16; }
inline long long conv1d_col_size(Conv1dShape s) { return 1LL * conv1d_col_stride(s) * s.N * s.LOUT(); }

template <class T>
void conv1d_forward_reference(T* y, const T* x, const T* w, const T* b, Conv1dShape s) {
  const int LOUT = s.LOUT();
  for (int n = 0; n < s.N; ++n)
    for (int o = 0; o < s.COUT; ++o)
      for (int l = 0; l < LOUT; ++l) {
        T acc = b ? b[o] : T(0);
        for (int c = 0; c < s.CIN; ++c)
          for (int k = 0; k < s.K; ++k) {
            const int pos = l * s.stride + k - s.pad;
            if (pos >= 0 && pos < s.L) acc += w[(o * s.CIN + c) * s.K + k] * x[(n * s.CIN + c) * s.L + pos];
          }
        y[(n * s.COUT + o) * LOUT + l] = acc;
      }
}

template <class T>
void conv1d_backward_reference(GradOut<T> dx, GradOut<T> dw, GradOut<T> db, const T* dy, const T* x, const T* w,
                               Conv1dShape s) {
  const int LOUT = s.LOUT();
  if (dx)
    for (int n = 0; n < s.N; ++n)
      for (int c = 0; c < s.CIN; ++c)
        for (int pos = 0; pos < s.L; ++pos) {
          T acc = 0;
          for (int o = 0; o < s.COUT; ++o)
            for (int k = 0; k < s.K; ++k) {
              const int num = pos + s.pad - k;  // = l * stride
              if (num < 0 || num % s.stride) continue;
              const int l = num / s.stride;
              if (l < LOUT) acc += w[(o * s.CIN + c) * s.K + k] * dy[(n * s.COUT + o) * LOUT + l];
            }
          dx.put((n * s.CIN + c) * s.L + pos, acc);
        }
  if (dw)
    for (int o = 0; o < s.COUT; ++o)
      for (int c = 0; c < s.CIN; ++c)
        for (int k = 0; k < s.K; ++k) {
          T acc = 0;
          for (int n = 0; n < s.N; ++n)
            for (int l = 0; l < LOUT; ++l) {
              const int pos = l * s.stride + k - s.pad;
              if (pos >= 0 && pos < s.L) acc += dy[(n * s.COUT + o) * LOUT + l] * x[(n * s.CIN + c) * s.L + pos];
            }
          dw.put((o * s.CIN + c) * s.K + k, acc);
        }
  if (db)
    for (int o = 0; o < s.COUT; ++o) {
      T acc = 0;
      for (int n = 0; n < s.N; ++n)
        for (int l = 0; l < LOUT; ++l) acc += dy[(n * s.COUT + o) * LOUT + l];
      db.put(o, acc);
    }
}

namespace cpu {
void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s);
void conv1d_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* col,
                     const float* w, Conv1dShape s);
// The direct GEMM's 64-column register blocks, taken where the CPU has AVX-512; tests turn
// them off to check that the narrower blocks (the AVX2 machines' path) give the same bits.
void conv1d_allow_wide_blocks(bool allow);
}  // namespace cpu

namespace cuda {
void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s);
void conv1d_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* col,
                     const float* w, Conv1dShape s);
}  // namespace cuda

}  // namespace dc::kernels
