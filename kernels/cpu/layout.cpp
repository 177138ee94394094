// CPU kernels of the data-movement families: gradient copies, axis swaps, slice and concat.
// Whole contiguous runs are copied with memcpy; copies above 128K elements are split over
// the outer index across the threads.
#include <cstring>

#include "kernels/contract/layout.h"
#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

constexpr int64_t kCopyParallelElements = int64_t{1} << 17;

// dst[o * dst_stride + i] (=|+=) src[o * src_stride + i] for i < w, o < outer.
void copy_runs(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t outer, int64_t w,
               GradMode mode) {
  parallel_for_if(outer > 1 && use_threads(outer * w, kCopyParallelElements), outer, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* d = dst + o * dst_stride;
      const float* s = src + o * src_stride;
      if (mode == GradMode::Overwrite) {
        std::memcpy(d, s, static_cast<size_t>(w) * sizeof(float));
      } else {
        for (int64_t i = 0; i < w; ++i) d[i] += s[i];
      }
    }
  });
}

}  // namespace

void copy_grad(GradOut<float> dst, const float* src, int64_t n) { copy_runs(dst.data, n, src, n, 1, n, dst.mode); }

void swap_axes(GradOut<float> y, const float* x, SwapAxesShape s) {
  // For each (o, a, m, b): one run of `inner` elements from x to its place in y.
  const int64_t runs = s.outer * s.n0 * s.mid * s.n1;
  parallel_for(runs, kCopyParallelElements / (s.inner > 0 ? s.inner : 1), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t q = r;
      const int64_t b = q % s.n1;
      q /= s.n1;
      const int64_t m = q % s.mid;
      q /= s.mid;
      const int64_t a = q % s.n0;
      const int64_t o = q / s.n0;
      const float* src = x + r * s.inner;
      float* dst = y.data + (((o * s.n1 + b) * s.mid + m) * s.n0 + a) * s.inner;
      if (y.accumulate())
        for (int64_t c = 0; c < s.inner; ++c) dst[c] += src[c];
      else
        for (int64_t c = 0; c < s.inner; ++c) dst[c] = src[c];
    }
  });
}

void slice_forward(float* y, const float* x, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner;
  copy_runs(y, w, x + start * v.inner, v.len * v.inner, v.outer, w, GradMode::Overwrite);
}

void slice_backward(GradOut<float> dx, const float* dy, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner, row = v.len * v.inner;
  if (dx.accumulate()) {
    copy_runs(dx.data + start * v.inner, row, dy, w, v.outer, w, GradMode::Accumulate);
    return;
  }
  parallel_for_if(v.outer > 1 && use_threads(v.outer * row, kCopyParallelElements), v.outer, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* d = dx.data + o * row;
      for (int64_t i = 0; i < start * v.inner; ++i) d[i] = 0.0f;
      std::memcpy(d + start * v.inner, dy + o * w, static_cast<size_t>(w) * sizeof(float));
      for (int64_t i = end * v.inner; i < row; ++i) d[i] = 0.0f;
    }
  });
}

void concat_forward(float* y, const float* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    copy_runs(y + at * inner, total * inner, xs[i], w, outer, w, GradMode::Overwrite);
    at += lens[i];
  }
}

void concat_backward(const GradOut<float>* dxs, const float* dy, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    if (dxs[i]) copy_runs(dxs[i].data, w, dy + at * inner, total * inner, outer, w, dxs[i].mode);
    at += lens[i];
  }
}

}  // namespace dc::kernels::cpu
