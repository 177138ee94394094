// The data-movement families of kernels/contract/layout.h on the device: gradient copies
// and axis swaps (grid-stride elementwise loops in 64-bit indices), slice and concat along
// one axis of a tensor viewed as (outer, len, inner). `xs`, `dxs` and `lens` are HOST
// arrays; the pointers in xs / dxs are device pointers.
//
// Slice and concat: every operation is a set of "run copies":
// dst[o * dst_stride + i] (=|+=) src[o * src_stride + i] for o < outer, i < w. One launch
// takes up to kMaxRuns of them (blockIdx.y picks the copy; a flat grid-stride loop over
// outer * w covers it). Concat joins its inputs kMaxRuns at a time; its backward starts a
// new launch before a gradient buffer that is already in the batch, so a buffer listed
// twice is written in list order (Overwrite, then Accumulate) as on the CPU.
// slice_backward in Overwrite mode writes the whole of dx (the band from dy, zeros around
// it) in one pass. Index arithmetic runs in 32 bits when the sizes allow (divisions are
// much cheaper), else in 64.
#include "kernels/contract/layout.h"

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kMaxRuns = 8;

__global__ void accumulate_kernel(float* __restrict__ dst, const float* __restrict__ src, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) dst[i] += src[i];
}

// One thread per output element of y (outer, n1, mid, n0, inner).
__global__ void swap_axes_kernel(float* __restrict__ y, bool accumulate, const float* __restrict__ x, SwapAxesShape s,
                                 int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n; idx += stride) {
    int64_t t = idx;
    const int64_t c = t % s.inner;
    t /= s.inner;
    const int64_t i = t % s.n0;  // position along the axis that is now fourth
    t /= s.n0;
    const int64_t m = t % s.mid;
    t /= s.mid;
    const int64_t j = t % s.n1;  // position along the axis that is now second
    const int64_t o = t / s.n1;
    const int64_t src = (((o * s.n0 + i) * s.mid + m) * s.n1 + j) * s.inner + c;
    if (accumulate) y[idx] += x[src];
    else y[idx] = x[src];
  }
}


struct RunCopy {
  float* dst;
  const float* src;
  int64_t dst_stride, src_stride, w, total;  // total = outer * w
  bool accumulate;
};

struct RunBatch {
  RunCopy c[kMaxRuns];
  int count;
};

// 32-bit indexing is safe when every flat index plus one grid stride stays below 2^32.
bool fits_32(int64_t total) { return total < (int64_t{1} << 31); }

template <class Index>
__global__ void runs_kernel(const __grid_constant__ RunBatch b) {
  const RunCopy& c = b.c[blockIdx.y];
  const Index total = static_cast<Index>(c.total), w = static_cast<Index>(c.w);
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index idx = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const Index o = idx / w, i = idx - o * w;
    const float v = c.src[static_cast<int64_t>(o) * c.src_stride + i];
    float* d = c.dst + static_cast<int64_t>(o) * c.dst_stride + i;
    if (c.accumulate) *d += v;
    else *d = v;
  }
}

// dx (outer, row) = dy (outer, hi - lo) in columns [lo, hi), zero elsewhere.
template <class Index>
__global__ void band_kernel(float* dx, const float* dy, Index total, Index row, Index lo, Index hi) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x, w = hi - lo;
  for (Index idx = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const Index o = idx / row, j = idx - o * row;
    dx[idx] = (j >= lo && j < hi) ? dy[static_cast<int64_t>(o) * w + (j - lo)] : 0.0f;
  }
}

void launch(const RunBatch& b) {
  if (b.count == 0) return;
  int64_t most = 0;
  for (int k = 0; k < b.count; ++k) most = std::max(most, b.c[k].total);
  const dim3 grid(grid_for(most, kBlock), static_cast<unsigned>(b.count));
  if (fits_32(most)) runs_kernel<uint32_t><<<grid, kBlock, 0, current_stream()>>>(b);
  else runs_kernel<int64_t><<<grid, kBlock, 0, current_stream()>>>(b);
  DC_CUDA_CHECK_LAUNCH();
}

// Adds one copy to the batch, launching the batch first when it is full or already writes
// `c.dst` (so that copies into one buffer run in order). Empty copies are dropped.
void add(RunBatch& b, const RunCopy& c) {
  if (c.total <= 0) return;
  bool flush = b.count == kMaxRuns;
  for (int k = 0; k < b.count && !flush; ++k) flush = b.c[k].dst == c.dst;
  if (flush) {
    launch(b);
    b.count = 0;
  }
  b.c[b.count++] = c;
}

}  // namespace

void copy_grad(GradOut<float> dst, const float* src, int64_t n) {
  if (n <= 0 || !dst) return;
  if (!dst.accumulate()) {
    copy_device(dst.data, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  accumulate_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dst.data, src, n);
  DC_CUDA_CHECK_LAUNCH();
}

void swap_axes(GradOut<float> y, const float* x, SwapAxesShape s) {
  const int64_t n = s.numel();
  if (n <= 0) return;
  swap_axes_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(y.data, y.accumulate(), x, s, n);
  DC_CUDA_CHECK_LAUNCH();
}

void slice_forward(float* y, const float* x, AxisView v, int64_t start, int64_t end) {
  const int64_t w = (end - start) * v.inner;
  RunBatch b{};
  add(b, RunCopy{y, x + start * v.inner, w, v.len * v.inner, w, v.outer * w, false});
  launch(b);
}

void slice_backward(GradOut<float> dx_out, const float* dy, AxisView v, int64_t start, int64_t end) {
  float* dx = dx_out.data;
  const GradMode mode = dx_out.mode;
  if (!dx) return;
  const int64_t w = (end - start) * v.inner, row = v.len * v.inner;
  if (mode == GradMode::Accumulate) {
    RunBatch b{};
    add(b, RunCopy{dx + start * v.inner, dy, row, w, w, v.outer * w, true});
    launch(b);
    return;
  }
  const int64_t total = v.outer * row;
  if (total <= 0) return;
  const unsigned grid = grid_for(total, kBlock);
  if (fits_32(total))
    band_kernel<uint32_t><<<grid, kBlock, 0, current_stream()>>>(dx, dy, static_cast<uint32_t>(total), static_cast<uint32_t>(row),
                                                                  static_cast<uint32_t>(start * v.inner),
                                                                  static_cast<uint32_t>(end * v.inner));
  else
    band_kernel<int64_t><<<grid, kBlock, 0, current_stream()>>>(dx, dy, total, row, start * v.inner, end * v.inner);
  DC_CUDA_CHECK_LAUNCH();
}

void concat_forward(float* y, const float* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  RunBatch b{};
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    add(b, RunCopy{y + at * inner, xs[i], total * inner, w, w, outer * w, false});
    at += lens[i];
  }
  launch(b);
}

void concat_backward(const GradOut<float>* dxs, const float* dy, const int64_t* lens, int n, int64_t outer, int64_t inner) {
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += lens[i];
  RunBatch b{};
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t w = lens[i] * inner;
    if (dxs[i]) add(b, RunCopy{dxs[i].data, dy + at * inner, w, total * inner, w, outer * w, dxs[i].accumulate()});
    at += lens[i];
  }
  launch(b);
}

}  // namespace dc::kernels::cuda
