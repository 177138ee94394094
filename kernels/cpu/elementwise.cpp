#include "kernels/contract/elementwise.h"

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

// forward_any / backward_any are the regions' bodies (DC_CPU_CLONES, common.h).

template <Activation A>
__attribute__((always_inline)) inline void forward_range(float* y, const float* x, int64_t b, int64_t e) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) y[i] = activate(A, x[i]);
}

template <Activation A>
__attribute__((always_inline)) inline float grad_of(float dy, float y) {
  if constexpr (A == Activation::Relu) return y > 0.0f ? dy : 0.0f;  // a select, not a branch
  else return dy * activate_grad(A, y);
}

template <Activation A>
__attribute__((always_inline)) inline void backward_range(float* dx, GradMode mode, const float* dy, const float* y, int64_t b,
                                                          int64_t e) {
  if (mode == GradMode::Overwrite) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) dx[i] = grad_of<A>(dy[i], y[i]);
  } else {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) dx[i] += grad_of<A>(dy[i], y[i]);
  }
}

DC_CPU_CLONES void forward_any(Activation a, float* y, const float* x, int64_t b, int64_t e) {
  switch (a) {
    case Activation::Relu: return forward_range<Activation::Relu>(y, x, b, e);
    case Activation::Tanh: return forward_range<Activation::Tanh>(y, x, b, e);
    case Activation::Sigmoid: return forward_range<Activation::Sigmoid>(y, x, b, e);
    case Activation::Exp: return forward_range<Activation::Exp>(y, x, b, e);
  }
}

DC_CPU_CLONES void backward_any(Activation a, float* dx, GradMode mode, const float* dy, const float* y,
                                                        int64_t b, int64_t e) {
  switch (a) {
    case Activation::Relu: return backward_range<Activation::Relu>(dx, mode, dy, y, b, e);
    case Activation::Tanh: return backward_range<Activation::Tanh>(dx, mode, dy, y, b, e);
    case Activation::Sigmoid: return backward_range<Activation::Sigmoid>(dx, mode, dy, y, b, e);
    case Activation::Exp: return backward_range<Activation::Exp>(dx, mode, dy, y, b, e);
  }
}

}  // namespace

void activation_forward(float* y, const float* x, int64_t n, Activation a) {
  if (use_threads(n, 200000)) {
    run_team([&] {
      const Range r = thread_range(n);
      forward_any(a, y, x, r.begin, r.end);
    });
  } else {
    forward_any(a, y, x, 0, n);
  }
}

void activation_backward(GradOut<float> dx, const float* dy, const float* y, int64_t n, Activation a) {
  if (use_threads(n, 200000)) {
    run_team([&] {
      const Range r = thread_range(n);
      backward_any(a, dx.data, dx.mode, dy, y, r.begin, r.end);
    });
  } else {
    backward_any(a, dx.data, dx.mode, dy, y, 0, n);
  }
}

// gelu: erf and exp cost tens of ns per element, so threads pay from fewer elements.
void gelu_forward(float* y, const float* x, int64_t n) {
  parallel_for(n, 20000, [&](int64_t lo, int64_t hi) { gelu_forward_reference(y + lo, x + lo, hi - lo); });
}

void gelu_backward(GradOut<float> dx, const float* dy, const float* x, int64_t n) {
  if (!dx) return;
  parallel_for(n, 20000, [&](int64_t lo, int64_t hi) {
    gelu_backward_reference(GradOut<float>{dx.data + lo, dx.mode}, dy + lo, x + lo, hi - lo);
  });
}

// add / mul: the same loops as the reference, split across the threads above 200K elements.
void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op) {
  parallel_for(n, 200000, [&](int64_t lo, int64_t hi) {
    if (op == Binary::Add)
      for (int64_t i = lo; i < hi; ++i) y[i] = a[i] + b[i];
    else
      for (int64_t i = lo; i < hi; ++i) y[i] = a[i] * b[i];
  });
}

void binary_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op) {
  parallel_for(n, 200000, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if (da) da.put(i, op == Binary::Add ? dy[i] : dy[i] * b[i]);
      if (db) db.put(i, op == Binary::Add ? dy[i] : dy[i] * a[i]);
    }
  });
}

}  // namespace dc::kernels::cpu
