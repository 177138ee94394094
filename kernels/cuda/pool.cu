// CUDA max-pooling along the last axis with the contract of kernels/contract/pool.h (no padding,
// floor mode; argmax int32 = the winning input position, first maximum on ties, a NaN wins
// once, as torch and the CPU kernels). Device pointers; launches on the process stream.
//   forward : one thread per output element scans its window.
//   backward: one thread per input element gathers dy from the windows that cover it and
//             chose it (no atomics, race-free for overlapping windows), adding in window
//             order onto 0 (Overwrite) or the old value (Accumulate): bit-identical to the CPU.
#include "kernels/contract/pool.h"

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;

__global__ void maxpool_forward_kernel(float* __restrict__ y, int32_t* __restrict__ argmax, const float* __restrict__ x,
                                       Pool1dShape s, int LOUT, int64_t total) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    const int64_t r = idx / LOUT;
    const int l = static_cast<int>(idx - r * LOUT);
    const float* win = x + r * s.L + static_cast<int64_t>(l) * s.stride;
    float best = win[0];
    int arg = 0;
    for (int k = 1; k < s.K; ++k) {
      const float v = win[k];
      // A larger value wins, the first of equal values stays, a NaN wins once (as the CPU).
      if (v > best || (v != v && best == best)) {
        best = v;
        arg = k;
      }
    }
    y[idx] = best;
    argmax[idx] = l * s.stride + arg;
  }
}

// dx[r, p] = (0 | dx[r, p]) + sum, in window order, of dy[r, l] over the windows l that
// contain p (l*stride <= p < l*stride + K) and chose it.
__global__ void maxpool_backward_kernel(float* __restrict__ dx, bool accumulate, const float* __restrict__ dy,
                                        const int32_t* __restrict__ argmax, Pool1dShape s, int LOUT,
                                        int64_t total) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    const int64_t r = idx / s.L;
    const int p = static_cast<int>(idx - r * s.L);
    // First window reaching p: smallest l with l*stride + K - 1 >= p.
    const int lo = p - s.K + 1 <= 0 ? 0 : (p - s.K + s.stride) / s.stride;
    const int hi = min(p / s.stride, LOUT - 1);
    float acc = accumulate ? dx[idx] : 0.0f;
    const int64_t base = r * LOUT;
    for (int l = lo; l <= hi; ++l)
      if (argmax[base + l] == p) acc += dy[base + l];
    dx[idx] = acc;
  }
}

}  // namespace

void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s) {
  const int LOUT = s.LOUT();
  const int64_t total = static_cast<int64_t>(s.R) * LOUT;
  if (total <= 0) return;
  maxpool_forward_kernel<<<grid_for(total, kBlock), kBlock, 0, current_stream()>>>(y, argmax, x, s, LOUT, total);
  DC_CUDA_CHECK_LAUNCH();
}

void maxpool1d_backward(GradOut<float> dx_out, const float* dy, const int32_t* argmax, Pool1dShape s) {
  float* dx = dx_out.data;
  const GradMode dx_mode = dx_out.mode;
  const int64_t total = static_cast<int64_t>(s.R) * s.L;
  if (!dx || total <= 0) return;
  maxpool_backward_kernel<<<grid_for(total, kBlock), kBlock, 0, current_stream()>>>(
      dx, dx_mode == GradMode::Accumulate, dy, argmax, s, s.LOUT(), total);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
