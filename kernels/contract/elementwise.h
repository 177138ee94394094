// Op families `activation` (relu, tanh, sigmoid, exp), `gelu` and `binary` (add, mul of equal
// shapes), over n contiguous elements. Activation backward uses the saved output y:
//   relu' = [y > 0], tanh' = 1 - y^2, sigmoid' = y (1 - y), exp' = y.
// GELU is torch's default (approximate='none'), the exact erf form:
//   gelu(x) = x Phi(x) = x (1 + erf(x / sqrt 2)) / 2,  gelu'(x) = Phi(x) + x phi(x),
//   phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
// Its derivative is not a function of y (gelu is not one-to-one: y = -0.1 has two x), so it is
// its own family, whose backward reads the saved input x. Broadcasting add / mul: kernels/contract/broadcast.h.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

enum class Activation { Relu, Tanh, Sigmoid, Exp };

template <class T>
inline T activate(Activation a, T v) {
  switch (a) {
    case Activation::Relu: return v > T(0) ? v : T(0);
    case Activation::Tanh: return std::tanh(v);
    case Activation::Sigmoid: return v >= T(0) ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
    case Activation::Exp: return std::exp(v);
  }
  return v;
}

template <class T>
inline T activate_grad(Activation a, T y) {
  switch (a) {
    case Activation::Relu: return y > T(0) ? T(1) : T(0);
    case Activation::Tanh: return T(1) - y * y;
    case Activation::Sigmoid: return y * (T(1) - y);
    case Activation::Exp: return y;
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

template <class T>
inline T gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}

template <class T>
inline T gelu_grad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * x * x);
  return cdf + x * pdf;
}

template <class T>
void gelu_forward_reference(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
}

template <class T>
void gelu_backward_reference(GradOut<T> dx, const T* dy, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx.put(i, dy[i] * gelu_grad(x[i]));
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
void gelu_forward(float* y, const float* x, int64_t n);
void gelu_backward(GradOut<float> dx, const float* dy, const float* x, int64_t n);
void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op);
void binary_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op);
}  // namespace cpu

namespace cuda {
void activation_forward(float* y, const float* x, int64_t n, Activation a);
void activation_backward(GradOut<float> dx, const float* dy, const float* y, int64_t n, Activation a);
void gelu_forward(float* y, const float* x, int64_t n);
void gelu_backward(GradOut<float> dx, const float* dy, const float* x, int64_t n);
void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op);
void binary_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op);
}  // namespace cuda

}  // namespace dc::kernels
