// Device kernels for the engine's own data movement (see tensor_ops.h): grid-stride
// elementwise loops in 64-bit indices.
#include "kernels/cuda/tensor_ops.h"

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;

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

__global__ void put_scalar_kernel(float* p, bool accumulate, float value) {
  if (accumulate) p[0] += value;
  else p[0] = value;
}

__global__ void scale_kernel(float* p, int64_t n, float factor) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) p[i] *= factor;
}

__global__ void accumulate_scaled_kernel(double* acc, const float* x, double weight) {
  acc[0] += static_cast<double>(x[0]) * weight;
}

}  // namespace

void put(float* dst, GradMode mode, const float* src, int64_t n) {
  if (n <= 0) return;
  if (mode == GradMode::Overwrite) {
    copy_device(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  accumulate_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dst, src, n);
  DC_CUDA_CHECK_LAUNCH();
}

void swap_axes(float* y, GradMode mode, const float* x, SwapAxesShape s) {
  const int64_t n = s.numel();
  if (n <= 0) return;
  swap_axes_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(y, mode == GradMode::Accumulate, x, s, n);
  DC_CUDA_CHECK_LAUNCH();
}

void put_scalar(float* p, GradMode mode, float value) {
  put_scalar_kernel<<<1, 1, 0, current_stream()>>>(p, mode == GradMode::Accumulate, value);
  DC_CUDA_CHECK_LAUNCH();
}

void scale(float* p, int64_t n, float factor) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(p, n, factor);
  DC_CUDA_CHECK_LAUNCH();
}

void accumulate_scaled(double* acc, const float* x, double weight) {
  accumulate_scaled_kernel<<<1, 1, 0, current_stream()>>>(acc, x, weight);
  DC_CUDA_CHECK_LAUNCH();
}

void clear_last_error() { cudaGetLastError(); }

}  // namespace dc::kernels::cuda
