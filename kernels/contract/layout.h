// Op families that only move data: `copy` (a gradient passed through, e.g. by reshape),
// `transpose` (swap two axes), `slice` and `concat` along one axis.
//
//   copy_grad : dst[i] (=|+=) src[i], i < n
//   swap_axes : a contiguous tensor viewed as (outer, n0, mid, n1, inner) around the two
//               axes being swapped; y (outer, n1, mid, n0, inner) (=|+=) x with
//               y[o, j, m, i, c] = x[o, i, m, j, c]. Its backward is the same call on the
//               output's view (n0 and n1 exchanged).
//   slice     : x viewed as (outer, len, inner) around the axis; y (outer, end - start, inner)
//               = x[:, start:end, :]; backward dx = dy placed in the band [start, end) and
//               zero outside it (Accumulate adds dy into the band and leaves the rest alone).
//   concat    : y (outer, sum_i len_i, inner) = the inputs x_i (outer, len_i, inner) side by
//               side; backward dx_i = the band of dy that x_i filled (a null dx_i is skipped;
//               inputs are written in order, so one buffer listed twice sums both bands
//               when the later entry says Accumulate).
#pragma once

#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

struct SwapAxesShape {
  int64_t outer, n0, mid, n1, inner;
  int64_t numel() const { return outer * n0 * mid * n1 * inner; }
};

struct AxisView {
  int64_t outer, len, inner;
};

template <class T>
void copy_grad_reference(GradOut<T> dst, const T* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst.put(i, src[i]);
}

template <class T>
void swap_axes_reference(GradOut<T> y, const T* x, SwapAxesShape s) {
  int64_t i = 0;  // x's elements in order
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t a = 0; a < s.n0; ++a)
      for (int64_t m = 0; m < s.mid; ++m)
        for (int64_t b = 0; b < s.n1; ++b)
          for (int64_t c = 0; c < s.inner; ++c, ++i)
            y.put((((o * s.n1 + b) * s.mid + m) * s.n0 + a) * s.inner + c, x[i]);
}

template <class T>
void slice_forward_reference(T* y, const T* x, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner;
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < w; ++i) y[o * w + i] = x[o * v.len * v.inner + start * v.inner + i];
}

template <class T>
void slice_backward_reference(GradOut<T> dx, const T* dy, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner, row = v.len * v.inner;
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < row; ++i) {
      const bool inside = i >= start * v.inner && i < end * v.inner;
      if (inside) dx.put(o * row + i, dy[o * w + i - start * v.inner]);
      else if (!dx.accumulate()) dx.data[o * row + i] = T(0);
    }
}

// xs[i] has shape (outer, lens[i], inner); y (outer, sum lens, inner).
template <class T>
void concat_forward_reference(T* y, const T* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  for (int64_t o = 0, at = 0; o < outer; ++o, at = 0)
    for (int i = 0; i < n; ++i) {
      const int64_t w = lens[i] * inner;
      for (int64_t k = 0; k < w; ++k) y[o * total * inner + at * inner + k] = xs[i][o * w + k];
      at += lens[i];
    }
}

template <class T>
void concat_backward_reference(const GradOut<T>* dxs, const T* dy, const int64_t* lens, int n, int64_t outer,
                               int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    if (dxs[i])
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < w; ++k) dxs[i].put(o * w + k, dy[o * total * inner + at * inner + k]);
    at += lens[i];
  }
}

namespace cpu {
void copy_grad(GradOut<float> dst, const float* src, int64_t n);
void swap_axes(GradOut<float> y, const float* x, SwapAxesShape s);
void slice_forward(float* y, const float* x, AxisView v, int64_t start, int64_t end);
void slice_backward(GradOut<float> dx, const float* dy, AxisView v, int64_t start, int64_t end);
void concat_forward(float* y, const float* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner);
void concat_backward(const GradOut<float>* dxs, const float* dy, const int64_t* lens, int n, int64_t outer, int64_t inner);
}  // namespace cpu

namespace cuda {
void copy_grad(GradOut<float> dst, const float* src, int64_t n);
void swap_axes(GradOut<float> y, const float* x, SwapAxesShape s);
void slice_forward(float* y, const float* x, AxisView v, int64_t start, int64_t end);
void slice_backward(GradOut<float> dx, const float* dy, AxisView v, int64_t start, int64_t end);
void concat_forward(float* y, const float* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner);
void concat_backward(const GradOut<float>* dxs, const float* dy, const int64_t* lens, int n, int64_t outer, int64_t inner);
}  // namespace cuda

}  // namespace dc::kernels
