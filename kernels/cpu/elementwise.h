// Elementwise ops over n contiguous elements: activations (relu, tanh, sigmoid) and
// binary add / mul. Activation backward uses the saved output y:
//   relu' = [y > 0], tanh' = 1 - y^2, sigmoid' = y (1 - y).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

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
void activation_forward(T* y, const T* x, int64_t n, Activation a) {
  parallel_for(n, 200000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = activate(a, x[i]);
  });
}

template <class T>
void activation_backward(T* dx, GradMode dx_mode, const T* dy, const T* y, int64_t n, Activation a) {
  parallel_for(n, 200000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) put(dx, i, dy[i] * activate_grad(a, y[i]), dx_mode);
  });
}

// Fast float versions: the activation chosen once per call, not per element.
void activation_forward(float* y, const float* x, int64_t n, Activation a);
void activation_backward(float* dx, GradMode dx_mode, const float* dy, const float* y, int64_t n, Activation a);

enum class Binary { Add, Mul };

template <class T>
void binary_forward(T* y, const T* a, const T* b, int64_t n, Binary op) {
  parallel_for(n, 200000, [&](int64_t lo, int64_t hi) {
    if (op == Binary::Add)
      for (int64_t i = lo; i < hi; ++i) y[i] = a[i] + b[i];
    else
      for (int64_t i = lo; i < hi; ++i) y[i] = a[i] * b[i];
  });
}

// da = dy (add) or dy * b (mul); db = dy (add) or dy * a (mul).
template <class T>
void binary_backward(T* da, GradMode da_mode, T* db, GradMode db_mode, const T* dy, const T* a, const T* b,
                     int64_t n, Binary op) {
  parallel_for(n, 200000, [&](int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) {
    if (da) put(da, i, op == Binary::Add ? dy[i] : dy[i] * b[i], da_mode);
    if (db) put(db, i, op == Binary::Add ? dy[i] : dy[i] * a[i], db_mode);
  }
  });
}

}  // namespace dc::cpu
