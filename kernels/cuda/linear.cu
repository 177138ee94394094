// CUDA fully connected layer with the contract of kernels/contract/linear.h:
//   forward : y (N, OUT) = x (N, IN) w^T + b      (b may be null)
//   backward: dx = dy w, dw = dy^T x, db = column sums of dy; GradMode per gradient,
//             a null gradient pointer skips that work.
// The products go through cuBLAS (cuda::sgemm; beta = 0 for Overwrite, 1 for
// Accumulate); the bias is added by a broadcast kernel and its gradient is a fixed-order
// column reduction (deterministic). Device pointers; launches on the process stream.
#include "kernels/contract/linear.h"

#include "kernels/cuda/common.cuh"
#include "kernels/contract/gemm.h"

namespace dc::kernels::cuda {
namespace {


constexpr int kCols = 32;  // bias gradient: columns per block (one warp wide)
constexpr int kRows = 8;   // bias gradient: row groups per block

// y[n, o] += b[o] over the N x OUT output.
__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t total, int OUT) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total; i += step) y[i] += b[i % OUT];
}

// db[o] (=|+=) sum_n dy[n, o]. Block (kCols, kRows): thread (tx, ty) sums rows ty, ty + kRows,
// ... of column o (a warp reads kCols consecutive floats of one row), then row 0 adds the
// kRows partial sums in order.
__global__ void __launch_bounds__(kCols* kRows)
    bias_grad_kernel(float* __restrict__ db, bool accumulate, const float* __restrict__ dy, int N, int OUT) {
  __shared__ float part[kRows][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int o = blockIdx.x * kCols + tx;
  float acc = 0.0f;
  if (o < OUT)
    for (int n = ty; n < N; n += kRows) acc += dy[static_cast<int64_t>(n) * OUT + o];
  part[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && o < OUT) {
    float sum = part[0][tx];
#pragma unroll
    for (int r = 1; r < kRows; ++r) sum += part[r][tx];
    db[o] = accumulate ? db[o] + sum : sum;
  }
}

}  // namespace

// sgemm is called as cuda::sgemm: unqualified, argument-dependent lookup on Trans would
// also find sgemm.
void linear_forward(float* y, const float* x, const float* w, const float* b, LinearShape s) {
  if (s.N <= 0 || s.OUT <= 0) return;
  cuda::sgemm(Trans::No, Trans::Yes, s.N, s.OUT, s.IN, 1.0f, x, s.IN, w, s.IN, 0.0f, y, s.OUT);
  if (b) {
    const int64_t total = static_cast<int64_t>(s.N) * s.OUT;
    add_bias_kernel<<<grid_for(total, 256), 256, 0, current_stream()>>>(y, b, total, s.OUT);
    DC_CUDA_CHECK_LAUNCH();
  }
}

void linear_backward(GradOut<float> dx_out, GradOut<float> dw_out, GradOut<float> db_out, const float* dy, const float* x,
                     const float* w, LinearShape s) {
  float *dx = dx_out.data, *dw = dw_out.data, *db = db_out.data;
  const GradMode dx_mode = dx_out.mode, dw_mode = dw_out.mode, db_mode = db_out.mode;
  // dx (N, IN) = dy (N, OUT) w (OUT, IN)
  if (dx)
    cuda::sgemm(Trans::No, Trans::No, s.N, s.IN, s.OUT, 1.0f, dy, s.OUT, w, s.IN,
          dx_mode == GradMode::Overwrite ? 0.0f : 1.0f, dx, s.IN);
  // dw (OUT, IN) = dy^T (OUT, N) x (N, IN)
  if (dw)
    cuda::sgemm(Trans::Yes, Trans::No, s.OUT, s.IN, s.N, 1.0f, dy, s.OUT, x, s.IN,
          dw_mode == GradMode::Overwrite ? 0.0f : 1.0f, dw, s.IN);
  if (db && s.OUT > 0) {
    const dim3 block(kCols, kRows);
    bias_grad_kernel<<<static_cast<unsigned>((s.OUT + kCols - 1) / kCols), block, 0, current_stream()>>>(
        db, db_mode == GradMode::Accumulate, dy, s.N, s.OUT);
    DC_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace dc::kernels::cuda
