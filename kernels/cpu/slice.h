// Slicing and joining along one axis of a contiguous tensor viewed as (outer, len, inner).
//   slice : y (outer, end - start, inner) = x[:, start:end, :]
//   place : the adjoint — writes / adds y back into the [start, end) band of a
//           (outer, len, inner) buffer (used by slice backward and concat forward).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/common.h"

namespace dc::cpu {

template <class T>
void slice_copy(T* y, const T* x, int64_t outer, int64_t len, int64_t inner, int64_t start, int64_t end) {
  const int64_t w = (end - start) * inner;
  for (int64_t o = 0; o < outer; ++o) std::memcpy(y + o * w, x + (o * len + start) * inner, static_cast<size_t>(w) * sizeof(T));
}

// dst band [start, end) of (outer, len, inner) <- src (outer, end - start, inner), with mode.
template <class T>
void slice_place(T* dst, GradMode mode, const T* src, int64_t outer, int64_t len, int64_t inner, int64_t start, int64_t end) {
  const int64_t w = (end - start) * inner;
  for (int64_t o = 0; o < outer; ++o) {
    T* d = dst + (o * len + start) * inner;
    const T* s = src + o * w;
    for (int64_t i = 0; i < w; ++i) put(d, i, s[i], mode);
  }
}

// Zeroes everything of (outer, len, inner) outside the band [start, end).
template <class T>
void zero_outside(T* dst, int64_t outer, int64_t len, int64_t inner, int64_t start, int64_t end) {
  for (int64_t o = 0; o < outer; ++o) {
    T* d = dst + o * len * inner;
    for (int64_t i = 0; i < start * inner; ++i) d[i] = T(0);
    for (int64_t i = end * inner; i < len * inner; ++i) d[i] = T(0);
  }
}

}  // namespace dc::cpu
