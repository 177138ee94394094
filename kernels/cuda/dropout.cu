// CUDA inverted dropout with the contract of kernels/contract/dropout.h: keep element i iff
// uniform01(seed, stream, i) >= p (kernels/base/philox.h, the same Philox4x32-10 on both backends,
// so the masks are bit-identical to the CPU's), kept values scaled by 1 / (1 - p) computed
// in float exactly as the CPU does. Backward recomputes the mask. One thread per element
// (grid-stride, 64-bit indices). Device pointers; launches on the process stream.
// The products and sums use the _rn intrinsics so that nvcc cannot fuse them into an FMA
// the CPU does not perform.
#include "kernels/contract/dropout.h"

#include "kernels/base/philox.h"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;

__device__ __forceinline__ bool keep(uint64_t seed, uint64_t stream, int64_t i, float p) {
  return uniform01(seed, stream, static_cast<uint64_t>(i)) >= p;
}

__global__ void dropout_forward_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t n, float p,
                                       float scale, uint64_t seed, uint64_t stream) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step)
    y[i] = keep(seed, stream, i, p) ? __fmul_rn(x[i], scale) : 0.0f;
}

__global__ void dropout_backward_kernel(float* __restrict__ dx, bool accumulate, const float* __restrict__ dy,
                                        int64_t n, float p, float scale, uint64_t seed, uint64_t stream) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    const float g = keep(seed, stream, i, p) ? __fmul_rn(dy[i], scale) : 0.0f;
    dx[i] = accumulate ? __fadd_rn(dx[i], g) : g;
  }
}

}  // namespace

void dropout_forward(float* y, const float* x, int64_t n, float p, DropoutKey key) {
  if (n <= 0) return;
  const float scale = 1.0f / (1.0f - p);  // the CPU's expression, evaluated on the host in float
  dropout_forward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(y, x, n, p, scale, key.seed, key.stream);
  DC_CUDA_CHECK_LAUNCH();
}

void dropout_backward(GradOut<float> dx_out, const float* dy, int64_t n, float p, DropoutKey key) {
  float* dx = dx_out.data;
  const GradMode dx_mode = dx_out.mode;
  if (!dx || n <= 0) return;
  const float scale = 1.0f / (1.0f - p);
  dropout_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(
      dx, dx_mode == GradMode::Accumulate, dy, n, p, scale, key.seed, key.stream);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
