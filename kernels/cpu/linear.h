// Fully connected layer.
//   forward : x (N, IN), w (OUT, IN), b (OUT) or null  ->  y (N, OUT) = x w^T + b
//   backward: dx (N, IN) = dy w ; dw (OUT, IN) = dy^T x ; db (OUT) = sum_n dy
// A null gradient pointer means "not needed" and skips that work.
#pragma once

#include "kernels/cpu/common.h"

namespace dc::cpu {

struct LinearShape {
  int N, IN, OUT;
};

template <class T>
void linear_forward_reference(T* y, const T* x, const T* w, const T* b, LinearShape s) {
  for (int n = 0; n < s.N; ++n)
    for (int o = 0; o < s.OUT; ++o) {
      T acc = b ? b[o] : T(0);
      for (int i = 0; i < s.IN; ++i) acc += x[n * s.IN + i] * w[o * s.IN + i];
      y[n * s.OUT + o] = acc;
    }
}

template <class T>
void linear_backward_reference(T* dx, GradMode dx_mode, T* dw, GradMode dw_mode, T* db, GradMode db_mode,
                               const T* dy, const T* x, const T* w, LinearShape s) {
  if (dx)
    for (int n = 0; n < s.N; ++n)
      for (int i = 0; i < s.IN; ++i) {
        T acc = 0;
        for (int o = 0; o < s.OUT; ++o) acc += dy[n * s.OUT + o] * w[o * s.IN + i];
        put(dx, n * s.IN + i, acc, dx_mode);
      }
  if (dw)
    for (int o = 0; o < s.OUT; ++o)
      for (int i = 0; i < s.IN; ++i) {
        T acc = 0;
        for (int n = 0; n < s.N; ++n) acc += dy[n * s.OUT + o] * x[n * s.IN + i];
        put(dw, o * s.IN + i, acc, dw_mode);
      }
  if (db)
    for (int o = 0; o < s.OUT; ++o) {
      T acc = 0;
      for (int n = 0; n < s.N; ++n) acc += dy[n * s.OUT + o];
      put(db, o, acc, db_mode);
    }
}

// Fast float versions (GEMM-based; rank-1 paths for a batch of one). Same contract.
void linear_forward(float* y, const float* x, const float* w, const float* b, LinearShape s);
void linear_backward(float* dx, GradMode dx_mode, float* dw, GradMode dw_mode, float* db, GradMode db_mode,
                     const float* dy, const float* x, const float* w, LinearShape s);

}  // namespace dc::cpu
