// Op family `dropout`: inverted dropout, y = x * keep / (1 - p), keep = [uniform(seed, stream, i) >= p].
//
// The mask is a pure function of (seed, stream, element index) through the counter-based
// RNG (kernels/base/philox.h), so it is the same for any thread count and on every backend
// (the CUDA kernel draws the same bits); backward recomputes it instead of storing it.
// `stream` must differ between calls that need independent masks (e.g. mix the layer id and
// the training step).
#pragma once

#include <cstdint>

#include "kernels/base/grad.h"
#include "kernels/base/philox.h"

namespace dc::kernels {

struct DropoutKey {
  uint64_t seed = 0, stream = 0;
};

DC_HOST_DEVICE inline bool dropout_keep(DropoutKey key, int64_t i, float p) {
  return uniform01(key.seed, key.stream, static_cast<uint64_t>(i)) >= p;
}

template <class T>
void dropout_forward_reference(T* y, const T* x, int64_t n, float p, DropoutKey key) {
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) y[i] = dropout_keep(key, i, p) ? x[i] * scale : T(0);
}

template <class T>
void dropout_backward_reference(GradOut<T> dx, const T* dy, int64_t n, float p, DropoutKey key) {
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) dx.put(i, dropout_keep(key, i, p) ? dy[i] * scale : T(0));
}

namespace cpu {
void dropout_forward(float* y, const float* x, int64_t n, float p, DropoutKey key);
void dropout_backward(GradOut<float> dx, const float* dy, int64_t n, float p, DropoutKey key);
}  // namespace cpu

namespace cuda {
void dropout_forward(float* y, const float* x, int64_t n, float p, DropoutKey key);
void dropout_backward(GradOut<float> dx, const float* dy, int64_t n, float p, DropoutKey key);
}  // namespace cuda

}  // namespace dc::kernels
