// CUDA twins of kernels/contract/loss.h: log-softmax over the last axis, NLL and BCE-with-logits.
// The losses stay on the device: `loss` (forward output) and `dloss` (the loss gradient the
// backward reads) are one-float DEVICE scalars, so a training step never waits for the host.
// Loss sums are single-block fixed-order reductions (in double): deterministic run to run.
//   log_softmax: one warp per row (8 rows per 256-thread block); lane l reads columns
//     l, l+32, ...; the row max and the sums are xor-shuffle trees, so every lane ends with
//     the same value. Forward: m = max, s = sum exp(x - m), y = x - (m + log s).
//     Backward: s = sum dy, dx = dy - exp(y) s.
//   nll / bce forward: one block; thread t adds rows t, t+256, ... in double, then a fixed
//     shuffle tree; thread 0 stores float(-s) / R (nll) or float(s) / R (bce). Deterministic.
//   nll / bce backward: one thread per element, reading the device scalar dloss.
// Products that the CPU rounds separately are written with __fmul_rn / __fsub_rn so that
// nvcc does not contract them into FMAs.
#include "kernels/contract/loss.h"

#include <math_constants.h>

#include <cstdint>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kRowsPerBlock = kBlock / 32;

__global__ void __launch_bounds__(kBlock) log_softmax_forward_kernel(float* y, const float* x, int R, int C) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= R) return;  // the whole warp leaves together (row is the same for all its lanes)
  const float* xr = x + row * C;
  float* yr = y + row * C;
  float m, s;
  warp_row_softmax_stats(xr, C, &m, &s);
  const float lse = m + logf(s);
  for (int c = lane; c < C; c += 32) yr[c] = xr[c] - lse;
}

__global__ void __launch_bounds__(kBlock) log_softmax_backward_kernel(float* dx, bool accumulate, const float* dy,
                                                                      const float* y, int R, int C) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= R) return;
  const int64_t o = row * C;
  float s = 0.0f;
  for (int c = lane; c < C; c += 32) s += dy[o + c];
  s = warp_sum(s);
  for (int c = lane; c < C; c += 32) {
    const float v = __fsub_rn(dy[o + c], __fmul_rn(expf(y[o + c]), s));
    if (accumulate) dx[o + c] += v;
    else dx[o + c] = v;
  }
}

__global__ void __launch_bounds__(kBlock) nll_forward_kernel(float* loss, const float* logp, const float* target, int R,
                                                             int C) {
  double s = 0.0;
  for (int64_t r = threadIdx.x; r < R; r += kBlock) {
    const int c = static_cast<int>(target[r]);
    s += (c >= 0 && c < C) ? static_cast<double>(logp[r * C + c]) : CUDART_NAN;
  }
  s = block_sum<kBlock>(s);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(-s) / static_cast<float>(R);
}

__global__ void nll_backward_kernel(float* dlogp, bool accumulate, const float* dloss, const float* target, int R, int C) {
  const float g = -dloss[0] / static_cast<float>(R);
  const int64_t n = static_cast<int64_t>(R) * C, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    const int64_t r = i / C;
    const int c = static_cast<int>(i - r * C);
    const float v = c == static_cast<int>(target[r]) ? g : 0.0f;
    if (accumulate) dlogp[i] += v;
    else dlogp[i] = v;
  }
}

__device__ __forceinline__ float bce_term(float z, float t) {
  return __fadd_rn(__fsub_rn(z > 0.0f ? z : 0.0f, __fmul_rn(z, t)), log1pf(expf(-fabsf(z))));
}

__device__ __forceinline__ float stable_sigmoid(float z) {
  return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

__global__ void __launch_bounds__(kBlock) bce_forward_kernel(float* loss, const float* z, const float* t, int R) {
  double s = 0.0;
  for (int64_t r = threadIdx.x; r < R; r += kBlock) s += static_cast<double>(bce_term(z[r], t[r]));
  s = block_sum<kBlock>(s);
  if (threadIdx.x == 0) loss[0] = static_cast<float>(s) / static_cast<float>(R);
}

__global__ void bce_backward_kernel(float* dz, bool accumulate, const float* dloss, const float* z, const float* t, int R) {
  const float d = dloss[0];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < R; r += stride) {
    const float v = __fmul_rn(stable_sigmoid(z[r]) - t[r], d) / static_cast<float>(R);
    if (accumulate) dz[r] += v;
    else dz[r] = v;
  }
}

}  // namespace

void log_softmax_forward(float* y, const float* x, int R, int C) {
  if (R <= 0 || C <= 0) return;
  const unsigned blocks = static_cast<unsigned>((static_cast<int64_t>(R) + kRowsPerBlock - 1) / kRowsPerBlock);
  log_softmax_forward_kernel<<<blocks, kBlock, 0, current_stream()>>>(y, x, R, C);
  DC_CUDA_CHECK_LAUNCH();
}

void log_softmax_backward(GradOut<float> dx_out, const float* dy, const float* y, int R, int C) {
  float* dx = dx_out.data;
  const GradMode dx_mode = dx_out.mode;
  if (!dx || R <= 0 || C <= 0) return;
  const unsigned blocks = static_cast<unsigned>((static_cast<int64_t>(R) + kRowsPerBlock - 1) / kRowsPerBlock);
  log_softmax_backward_kernel<<<blocks, kBlock, 0, current_stream()>>>(dx, dx_mode == GradMode::Accumulate, dy, y, R, C);
  DC_CUDA_CHECK_LAUNCH();
}

void nll_loss_forward(float* loss, const float* logp, const float* target, int R, int C) {
  nll_forward_kernel<<<1, kBlock, 0, current_stream()>>>(loss, logp, target, R, C);
  DC_CUDA_CHECK_LAUNCH();
}

void nll_loss_backward(GradOut<float> dlogp_out, const float* dloss, const float* target, int R, int C) {
  float* dlogp = dlogp_out.data;
  const GradMode mode = dlogp_out.mode;
  if (!dlogp || R <= 0 || C <= 0) return;
  const int64_t n = static_cast<int64_t>(R) * C;
  nll_backward_kernel<<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(dlogp, mode == GradMode::Accumulate, dloss, target,
                                                                            R, C);
  DC_CUDA_CHECK_LAUNCH();
}

void bce_with_logits_forward(float* loss, const float* z, const float* t, int R) {
  bce_forward_kernel<<<1, kBlock, 0, current_stream()>>>(loss, z, t, R);
  DC_CUDA_CHECK_LAUNCH();
}

void bce_with_logits_backward(GradOut<float> dz_out, const float* dloss, const float* z, const float* t, int R) {
  float* dz = dz_out.data;
  const GradMode mode = dz_out.mode;
  if (!dz || R <= 0) return;
  bce_backward_kernel<<<grid_for(R, kBlock), kBlock, 0, current_stream()>>>(dz, mode == GradMode::Accumulate, dloss, z, t, R);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
