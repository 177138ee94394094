// Slicing and joining along one axis of a contiguous tensor, viewed as (outer, len, inner)
// around that axis (outer = product of the dims before it, inner = of the dims after it).
//   slice  : y (outer, end - start, inner) = x[:, start:end, :]
//            backward: dx = dy placed in the band [start, end) and zero outside it
//            (Accumulate adds dy into the band and leaves the rest alone).
//   concat : y (outer, sum_i len_i, inner) = the inputs x_i (outer, len_i, inner) side by side
//            backward: dx_i = the band of dy that x_i filled; a null dx_i is skipped.
// Copies of whole contiguous runs ((end - start) * inner elements per outer index); large
// copies are split over `outer` across the threads.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cpu/common.h"

namespace dc::cpu {

struct AxisView {
  int64_t outer, len, inner;
};

namespace detail {
// Elements above which a copy is split across the threads.
inline constexpr int64_t kCopyParallelElements = int64_t{1} << 17;

// dst[o * dst_stride + i] (=|+=) src[o * src_stride + i] for i < w, o < outer.
template <class T>
void copy_runs(T* dst, int64_t dst_stride, const T* src, int64_t src_stride, int64_t outer, int64_t w, GradMode mode) {
  parallel_for_if(outer > 1 && use_threads(outer * w, kCopyParallelElements), outer, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      T* d = dst + o * dst_stride;
      const T* s = src + o * src_stride;
      if (mode == GradMode::Overwrite) {
        std::memcpy(d, s, static_cast<size_t>(w) * sizeof(T));
      } else {
        for (int64_t i = 0; i < w; ++i) d[i] += s[i];
      }
    }
  });
}
}  // namespace detail

template <class T>
void slice_forward(T* y, const T* x, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner;
  detail::copy_runs(y, w, x + start * v.inner, v.len * v.inner, v.outer, w, GradMode::Overwrite);
}

template <class T>
void slice_backward(T* dx, GradMode mode, const T* dy, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner, row = v.len * v.inner;
  if (mode == GradMode::Accumulate) {
    detail::copy_runs(dx + start * v.inner, row, dy, w, v.outer, w, mode);
    return;
  }
  parallel_for_if(v.outer > 1 && use_threads(v.outer * row, detail::kCopyParallelElements), v.outer, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      T* d = dx + o * row;
      for (int64_t i = 0; i < start * v.inner; ++i) d[i] = T(0);
      std::memcpy(d + start * v.inner, dy + o * w, static_cast<size_t>(w) * sizeof(T));
      for (int64_t i = end * v.inner; i < row; ++i) d[i] = T(0);
    }
  });
}

// xs[i] has shape (outer, lens[i], inner); y (outer, sum lens, inner).
template <class T>
void concat_forward(T* y, const T* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    detail::copy_runs(y + at * inner, total * inner, xs[i], w, outer, w, GradMode::Overwrite);
    at += lens[i];
  }
}

// dxs[i] (outer, lens[i], inner) with its own mode; null entries are skipped. Inputs are
// written in order i = 0..n-1, so one buffer listed twice (the same tensor joined twice)
// sums both bands when the later entry says Accumulate.
template <class T>
void concat_backward(T* const* dxs, const GradMode* modes, const T* dy, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    if (dxs[i]) detail::copy_runs(dxs[i], w, dy + at * inner, total * inner, outer, w, modes[i]);
    at += lens[i];
  }
}

}  // namespace dc::cpu
