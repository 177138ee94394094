#include "kernels/cpu/elementwise.h"

namespace dc::cpu {
namespace {

template <Activation A>
__attribute__((always_inline)) inline void forward_loop(float* y, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 200000)
  for (int64_t i = 0; i < n; ++i) y[i] = activate(A, x[i]);
}

template <Activation A>
__attribute__((always_inline)) inline void backward_loop(float* dx, GradMode mode, const float* dy, const float* y, int64_t n) {
  if (mode == GradMode::Overwrite) {
#pragma omp parallel for simd schedule(static) if (n > 200000)
    for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * activate_grad(A, y[i]);
  } else {
#pragma omp parallel for simd schedule(static) if (n > 200000)
    for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * activate_grad(A, y[i]);
  }
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void activation_forward(float* y, const float* x, int64_t n, Activation a) {
  switch (a) {
    case Activation::Relu: return forward_loop<Activation::Relu>(y, x, n);
    case Activation::Tanh: return forward_loop<Activation::Tanh>(y, x, n);
    case Activation::Sigmoid: return forward_loop<Activation::Sigmoid>(y, x, n);
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void activation_backward(float* dx, GradMode dx_mode, const float* dy, const float* y, int64_t n, Activation a) {
  switch (a) {
    case Activation::Relu: return backward_loop<Activation::Relu>(dx, dx_mode, dy, y, n);
    case Activation::Tanh: return backward_loop<Activation::Tanh>(dx, dx_mode, dy, y, n);
    case Activation::Sigmoid: return backward_loop<Activation::Sigmoid>(dx, dx_mode, dy, y, n);
  }
}

}  // namespace dc::cpu
