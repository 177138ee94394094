// Inverted dropout: y = x * keep / (1 - p), keep = [uniform(seed, stream, i) >= p].
// The mask is a pure function of (seed, stream, element index) through the counter-based
// RNG, so it is identical for any thread count (and on any backend using engine/rng.h);
// backward recomputes it instead of storing it.
#pragma once

#include <cstdint>

#include "engine/rng.h"
#include "kernels/cpu/common.h"

namespace dc::cpu {

struct DropoutKey {
  uint64_t seed, stream;
};

inline bool dropout_keep(DropoutKey key, int64_t i, float p) { return uniform01(key.seed, key.stream, i) >= p; }

template <class T>
void dropout_forward(T* y, const T* x, int64_t n, float p, DropoutKey key) {
  const T scale = T(1) / (T(1) - T(p));
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = dropout_keep(key, i, p) ? x[i] * scale : T(0);
  });
}

template <class T>
void dropout_backward(T* dx, GradMode dx_mode, const T* dy, int64_t n, float p, DropoutKey key) {
  const T scale = T(1) / (T(1) - T(p));
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) put(dx, i, dropout_keep(key, i, p) ? dy[i] * scale : T(0), dx_mode);
  });
}

// Fast float versions (same masks, bit for bit): Philox evaluated for blocks of elements
// in vector lanes. Non-template overloads, so float calls pick them.
void dropout_forward(float* y, const float* x, int64_t n, float p, DropoutKey key);
void dropout_backward(float* dx, GradMode dx_mode, const float* dy, int64_t n, float p, DropoutKey key);

}  // namespace dc::cpu
