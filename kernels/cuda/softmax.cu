// CUDA kernels of the `softmax` family (kernels/contract/softmax.h). One warp per row, eight
// rows per 256-thread block; lane l takes columns l, l + 32, ... The row max and the row sums
// are xor-shuffle trees (block_reduce.cuh), so every lane holds the same value and the result
// is the same bits run to run (the order differs from the CPU's left-to-right sums: the two
// agree within the op table's cuda tolerance).
//   forward : m = max x, s = sum exp(x - m), y = exp(x - m) / s
//   backward: s = sum dy y, dx (=|+=) y (dy - s)
#include "kernels/contract/softmax.h"

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kRowsPerBlock = kBlock / 32;

__global__ void __launch_bounds__(kBlock) softmax_forward_kernel(float* y, const float* x, int64_t R, int C) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= R) return;  // the whole warp leaves together
  const float* xr = x + row * C;
  float* yr = y + row * C;
  float m, s;
  warp_row_softmax_stats(xr, C, &m, &s);
  for (int c = lane; c < C; c += 32) yr[c] = expf(xr[c] - m) / s;
}

__global__ void __launch_bounds__(kBlock) softmax_backward_kernel(float* dx, bool accumulate, const float* dy, const float* y,
                                                                  int64_t R, int C) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= R) return;
  const int64_t o = row * C;
  float s = 0.0f;
  for (int c = lane; c < C; c += 32) s = __fadd_rn(s, __fmul_rn(dy[o + c], y[o + c]));
  s = warp_sum(s);
  for (int c = lane; c < C; c += 32) {
    const float v = __fmul_rn(y[o + c], __fsub_rn(dy[o + c], s));
    if (accumulate) dx[o + c] += v;
    else dx[o + c] = v;
  }
}

unsigned row_blocks(int64_t R) { return static_cast<unsigned>((R + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void softmax_forward(float* y, const float* x, int64_t R, int C) {
  if (R <= 0 || C <= 0) return;
  softmax_forward_kernel<<<row_blocks(R), kBlock, 0, current_stream()>>>(y, x, R, C);
  DC_CUDA_CHECK_LAUNCH();
}

void softmax_backward(GradOut<float> dx, const float* dy, const float* y, int64_t R, int C) {
  if (!dx || R <= 0 || C <= 0) return;
  softmax_backward_kernel<<<row_blocks(R), kBlock, 0, current_stream()>>>(dx.data, dx.accumulate(), dy, y, R, C);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
