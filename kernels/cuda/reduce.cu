// Full reductions (see reduce.h). Deterministic two-pass sum in double:
//   pass 1: G blocks (G a function of n only); block b adds, in double, the elements
//           b*256 + t, then every G*256 further (four at a time through float4 when x is
//           16-byte aligned), then reduces its 256 values by a fixed warp-shuffle tree and
//           writes partial[b] to device scratch;
//   pass 2: one block adds the G partials (thread t: t, t+256, ... in order, then the same
//           tree) and stores the result.
// With G = 1 (n <= kBlock * kPerThread) pass 1 stores the result itself: one launch.
// No atomics anywhere, so the same input gives the same bits on every run.
#include "kernels/contract/reduce.h"
#include "kernels/cuda/reduce.h"

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;           // threads per block in both passes (a multiple of 32)
constexpr int kMaxBlocks = 1024;      // most partials (about one wave of blocks on an H100)
constexpr int64_t kPerThread = 16;    // elements per thread before another block is added
constexpr int kScratchSlotSum = 5;    // sum_forward's partials

__device__ __forceinline__ double term(float x, bool squares) {
  const double d = static_cast<double>(x);
  return squares ? d * d : d;
}

// The result of the whole reduction: out_float[0] = float(s), or out_double[0] += s.
__device__ __forceinline__ void finish(double s, float* out_float, double* out_double) {
  if (out_float) out_float[0] = static_cast<float>(s);
  else out_double[0] += s;
}

// Pass 1. With gridDim.x == 1 it finishes the reduction; otherwise writes partial[blockIdx.x].
__global__ void __launch_bounds__(kBlock) partial_sums_kernel(const float* x, int64_t n, bool squares, bool vec4,
                                                              double* partial, float* out_float, double* out_double) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(kBlock) + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kBlock;
  double s = 0.0;
  int64_t done = 0;
  if (vec4) {
    const int64_t quads = n / 4;
    for (int64_t q = t; q < quads; q += stride) {
      const float4 v = *reinterpret_cast<const float4*>(x + q * 4);
      s += term(v.x, squares);
      s += term(v.y, squares);
      s += term(v.z, squares);
      s += term(v.w, squares);
    }
    done = quads * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) s += term(x[i], squares);
  s = block_sum<kBlock>(s);
  if (threadIdx.x == 0) {
    if (gridDim.x == 1) finish(s, out_float, out_double);
    else partial[blockIdx.x] = s;
  }
}

// Pass 2: one block of kBlock threads over the `count` partials.
__global__ void __launch_bounds__(kBlock) final_sum_kernel(const double* partial, int count, float* out_float,
                                                           double* out_double) {
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += kBlock) s += partial[i];
  s = block_sum<kBlock>(s);
  if (threadIdx.x == 0) finish(s, out_float, out_double);
}

__global__ void fill_kernel(float* dx, bool accumulate, const float* value, float scale, int64_t n) {
  const float v = value[0] * scale;  // rounded to float once, as the CPU's dy[0] * scale
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    if (accumulate) dx[i] += v;
    else dx[i] = v;
  }
}

// y[0] *= factor (mean = sum * (1/n), rounded as on the CPU: the float sum times a float).
__global__ void scale_kernel(float* y, float factor) { y[0] *= factor; }

__global__ void accumulate_scaled_kernel(double* acc, const float* x, double weight) {
  acc[0] += static_cast<double>(x[0]) * weight;
}

}  // namespace

namespace detail {
void reduce_sum(const float* x, int64_t n, bool squares, float* out_float, double* out_double, int scratch_slot) {
  if (n < 0) n = 0;
  // G depends on n only (never on the device), so the summation order is fixed by n.
  const int64_t blocks = std::min<int64_t>(kMaxBlocks, std::max<int64_t>(1, (n + kBlock * kPerThread - 1) / (kBlock * kPerThread)));
  const bool vec4 = reinterpret_cast<uintptr_t>(x) % 16 == 0;
  double* partial = nullptr;
  if (blocks > 1) partial = reinterpret_cast<double*>(device_scratch(scratch_slot, 2 * static_cast<size_t>(kMaxBlocks)));
  partial_sums_kernel<<<static_cast<unsigned>(blocks), kBlock, 0, current_stream()>>>(x, n, squares, vec4, partial, out_float,
                                                                                       out_double);
  DC_CUDA_CHECK_LAUNCH();
  if (blocks > 1) {
    final_sum_kernel<<<1, kBlock, 0, current_stream()>>>(partial, static_cast<int>(blocks), out_float, out_double);
    DC_CUDA_CHECK_LAUNCH();
  }
}
}  // namespace detail

void sum_forward(float* y, const float* x, int64_t n, float scale) {
  detail::reduce_sum(x, n, false, y, nullptr, kScratchSlotSum);
  if (scale != 1.0f) {
    scale_kernel<<<1, 1, 0, current_stream()>>>(y, scale);
    DC_CUDA_CHECK_LAUNCH();
  }
}

void fill_backward(GradOut<float> dx, const float* dy, float scale, int64_t n) {
  if (!dx || n <= 0) return;
  fill_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dx.data, dx.accumulate(), dy, scale, n);
  DC_CUDA_CHECK_LAUNCH();
}

void accumulate_scaled(double* acc, const float* x, double weight) {
  accumulate_scaled_kernel<<<1, 1, 0, current_stream()>>>(acc, x, weight);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
