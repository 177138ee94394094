// Op family `linear`: a fully connected layer.
//   forward : x (N, IN), w (OUT, IN), b (OUT) or null  ->  y (N, OUT) = x w^T + b
//   backward: dx (N, IN) = dy w ; dw (OUT, IN) = dy^T x ; db (OUT) = sum_n dy
//
// The contract every backend implements: the shape struct, the plain reference (the
// specification, any scalar type; the gradient checks run it in double) and the float
// kernels of the CPU (kernels/cpu/linear.cpp: GEMM-based, rank-1 paths for a batch of one)
// and of CUDA (kernels/cuda/linear.cu: cuBLAS and a fixed-order bias reduction), with the
// same signatures. A null gradient skips that work (kernels/base/grad.h).
#pragma once

#include "kernels/base/grad.h"

namespace dc::kernels {

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
void linear_backward_reference(GradOut<T> dx, GradOut<T> dw, GradOut<T> db, const T* dy, const T* x, const T* w,
                               LinearShape s) {
  if (dx)
    for (int n = 0; n < s.N; ++n)
      for (int i = 0; i < s.IN; ++i) {
        T acc = 0;
        for (int o = 0; o < s.OUT; ++o) acc += dy[n * s.OUT + o] * w[o * s.IN + i];
        dx.put(n * s.IN + i, acc);
      }
  if (dw)
    for (int o = 0; o < s.OUT; ++o)
      for (int i = 0; i < s.IN; ++i) {
        T acc = 0;
        for (int n = 0; n < s.N; ++n) acc += dy[n * s.OUT + o] * x[n * s.IN + i];
        dw.put(o * s.IN + i, acc);
      }
  if (db)
    for (int o = 0; o < s.OUT; ++o) {
      T acc = 0;
      for (int n = 0; n < s.N; ++n) acc += dy[n * s.OUT + o];
      db.put(o, acc);
    }
}

namespace cpu {
void linear_forward(float* y, const float* x, const float* w, const float* b, LinearShape s);
void linear_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                     const float* w, LinearShape s);
// A batch of one (N = 1) with plain SGD applied in the backward pass: dx and db as
// linear_backward, then w -= lr (weight_decay w + dy^T x) in the same sweep over w (each row
// updated after it was read for dx). The same bits as linear_backward followed by
// sgd_factored_update (kernels/contract/optim.h). CPU only (engine/tensor.h SgdInBackward).
void linear_rank1_backward_sgd(GradOut<float> dx, GradOut<float> db, const float* dy, const float* x, float* w, int IN,
                               int OUT, float lr, float weight_decay);
}  // namespace cpu

namespace cuda {
void linear_forward(float* y, const float* x, const float* w, const float* b, LinearShape s);
void linear_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                     const float* w, LinearShape s);
}  // namespace cuda

}  // namespace dc::kernels
