// Op families `activation` (relu, tanh, sigmoid) and `binary` (add, mul of equal shapes), over
// n contiguous elements. Activation backward uses the saved output y:
//   relu' = [y > 0], tanh' = 1 - y^2, sigmoid' = y (1 - y).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

enum class Activation { Relu, Tanh, Sigmoid };

template <class T>
inline T activate(Activation a, T v) {
  switch (a) {
    case Activation::Relu: return v > T(0) ? v : T(0);
    case Activation::Tanh: return std::tanh(v);
    case Activation::Sigmoid: return v >= T(0) ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
  }
  return v;
}

template <class T>
inline T activate_grad(Activation a, T y) {
  switch (a) {
    case Activation::Relu: return y > T(0) ? T(1) : T(0);
    case Activation::Tanh: return T(1) - y * y;
    case Activation::Sigmoid: return y * (T(1) - y);
  }
  return T(1);
}

template <class T>
void activation_forward_reference(T* y, const T* x, int64_t n, Activation a) {
  for (int64_t i = 0; i < n; ++i) y[i] = activate(a, x[i]);
}

template <class T>
void activation_backward_reference(GradOut<T> dx, const T* dy, const T* y, int64_t n, Activation a) {
  for (int64_t i = 0; i < n; ++i) dx.put(i, dy[i] * activate_grad(a, y[i]));
}

enum class Binary { Add, Mul };

template <class T>
void binary_forward_reference(T* y, const T* a, const T* b, int64_t n, Binary op) {
  for (int64_t i = 0; i < n; ++i) y[i] = op == Binary::Add ? a[i] + b[i] : a[i] * b[i];
}

// da = dy (add) or dy * b (mul); db = dy (add) or dy * a (mul).
template <class T>
void binary_backward_reference(GradOut<T> da, GradOut<T> db, const T* dy, const T* a, const T* b, int64_t n, Binary op) {
  for (int64_t i = 0; i < n; ++i) {
    if (da) da.put(i, op == Binary::Add ? dy[i] : dy[i] * b[i]);
    if (db) db.put(i, op == Binary::Add ? dy[i] : dy[i] * a[i]);
  }
}

namespace cpu {
void activation_forward(float* y, const float* x, int64_t n, Activation a);
void activation_backward(GradOut<float> dx, const float* dy, const float* y, int64_t n, Activation a);
void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op);
void binary_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op);
}  // namespace cpu

namespace cuda {
void activation_forward(float* y, const float* x, int64_t n, Activation a);
void activation_backward(GradOut<float> dx, const float* dy, const float* y, int64_t n, Activation a);
void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op);
void binary_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op);
}  // namespace cuda

}  // namespace dc::kernels
