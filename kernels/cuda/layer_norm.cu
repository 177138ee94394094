// CUDA kernels of the `layer_norm` family (kernels/contract/layer_norm.h).
//   forward, dx: one warp per row (eight rows per 256-thread block); lane l takes columns
//     l, l + 32, ...; the row sums are xor-shuffle trees (block_reduce.cuh), so every lane
//     holds the same mean, rstd and gradient sums.
//   dw, db: two fixed-order stages, no atomics. Stage 1: block (32, 8) owns 32 columns and a
//     chunk of kChunkRows rows; thread (tx, ty) adds rows ty, ty + 8, ... of its column, then
//     row 0 of the block adds the eight partial sums in order into a scratch row per chunk.
//     Stage 2: one thread per column adds the chunks' sums in chunk order and writes (=|+=).
// Products and sums are written with __fmul_rn / __fadd_rn where nvcc would otherwise fuse
// them into FMAs that the CPU (no FMA in its baseline build) does not use.
#include "kernels/contract/layer_norm.h"

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;
constexpr int kRowsPerBlock = kBlock / 32;
constexpr int kCols = 32, kRowGroups = 8;  // stage 1 block shape
constexpr int kChunkRows = 64;             // rows per stage-1 block
constexpr int kScratchSlot = 7;  // device_scratch slots 0 and 2-6 belong to other kernels

__global__ void __launch_bounds__(kBlock) forward_kernel(float* y, float* mean, float* rstd, const float* x, const float* w,
                                                         const float* b, LayerNormShape s) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= s.R) return;  // the whole warp leaves together
  const int C = s.C;
  const float* xr = x + row * C;
  float* yr = y + row * C;
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) sum += xr[c];
  const float mu = warp_sum(sum) / static_cast<float>(C);
  float sq = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float d = __fsub_rn(xr[c], mu);
    sq = __fadd_rn(sq, __fmul_rn(d, d));
  }
  const float rs = 1.0f / sqrtf(__fadd_rn(warp_sum(sq) / static_cast<float>(C), s.eps));
  for (int c = lane; c < C; c += 32) yr[c] = __fadd_rn(__fmul_rn(__fmul_rn(__fsub_rn(xr[c], mu), rs), w[c]), b[c]);
  if (lane == 0) {
    if (mean) mean[row] = mu;
    if (rstd) rstd[row] = rs;
  }
}

__global__ void __launch_bounds__(kBlock) dx_kernel(float* dx, bool accumulate, const float* dy, const float* x, const float* w,
                                                    const float* mean, const float* rstd, LayerNormShape s) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= s.R) return;
  const int C = s.C;
  const int64_t o = row * C;
  const float mu = mean[row], rs = rstd[row];
  float sg = 0.0f, sgx = 0.0f;
  for (int c = lane; c < C; c += 32) {
    const float g = __fmul_rn(dy[o + c], w[c]);
    sg = __fadd_rn(sg, g);
    sgx = __fadd_rn(sgx, __fmul_rn(g, __fmul_rn(__fsub_rn(x[o + c], mu), rs)));
  }
  const float mg = warp_sum(sg) / static_cast<float>(C), mgx = warp_sum(sgx) / static_cast<float>(C);
  for (int c = lane; c < C; c += 32) {
    const float xhat_mgx = __fmul_rn(__fmul_rn(__fsub_rn(x[o + c], mu), rs), mgx);
    const float v = __fmul_rn(rs, __fsub_rn(__fsub_rn(__fmul_rn(dy[o + c], w[c]), mg), xhat_mgx));
    if (accumulate) dx[o + c] += v;
    else dx[o + c] = v;
  }
}

// Stage 1: part_w / part_b [chunk][c] = the chunk's sums of dy xhat / dy for column c.
__global__ void __launch_bounds__(kCols* kRowGroups) param_partial_kernel(float* part_w, float* part_b, const float* dy,
                                                                          const float* x, const float* mean,
                                                                          const float* rstd, LayerNormShape s) {
  __shared__ float sw[kRowGroups][kCols + 1], sb[kRowGroups][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int c = blockIdx.x * kCols + tx;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kChunkRows;
  const int64_t r1 = r0 + kChunkRows < s.R ? r0 + kChunkRows : s.R;
  float aw = 0.0f, ab = 0.0f;
  if (c < s.C)
    for (int64_t r = r0 + ty; r < r1; r += kRowGroups) {
      const float g = dy[r * s.C + c];
      aw = __fadd_rn(aw, __fmul_rn(g, __fmul_rn(__fsub_rn(x[r * s.C + c], mean[r]), rstd[r])));
      ab = __fadd_rn(ab, g);
    }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
  if (ty == 0 && c < s.C) {
    float tw = sw[0][tx], tb = sb[0][tx];
#pragma unroll
    for (int k = 1; k < kRowGroups; ++k) {
      tw = __fadd_rn(tw, sw[k][tx]);
      tb = __fadd_rn(tb, sb[k][tx]);
    }
    part_w[static_cast<int64_t>(blockIdx.y) * s.C + c] = tw;
    part_b[static_cast<int64_t>(blockIdx.y) * s.C + c] = tb;
  }
}

// Stage 2: dw[c], db[c] (=|+=) the chunks' sums in chunk order.
__global__ void param_final_kernel(GradOut<float> dw, GradOut<float> db, const float* part_w, const float* part_b,
                                   int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float tw = 0.0f, tb = 0.0f;
  for (int k = 0; k < chunks; ++k) {
    tw = __fadd_rn(tw, part_w[static_cast<int64_t>(k) * C + c]);
    tb = __fadd_rn(tb, part_b[static_cast<int64_t>(k) * C + c]);
  }
  if (dw) dw.put(c, tw);
  if (db) db.put(c, tb);
}

unsigned row_blocks(int64_t R) { return static_cast<unsigned>((R + kRowsPerBlock - 1) / kRowsPerBlock); }

}  // namespace

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        LayerNormShape s) {
  if (s.R <= 0 || s.C <= 0) return;
  forward_kernel<<<row_blocks(s.R), kBlock, 0, current_stream()>>>(y, mean, rstd, x, w, b, s);
  DC_CUDA_CHECK_LAUNCH();
}

void layer_norm_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* rstd, LayerNormShape s) {
  if (s.R <= 0 || s.C <= 0) return;
  if (dx) {
    dx_kernel<<<row_blocks(s.R), kBlock, 0, current_stream()>>>(dx.data, dx.accumulate(), dy, x, w, mean, rstd, s);
    DC_CUDA_CHECK_LAUNCH();
  }
  if (dw || db) {
    const int64_t chunks = (s.R + kChunkRows - 1) / kChunkRows;
    if (chunks > 65535) throw Error("layer_norm: more than " + std::to_string(65535LL * kChunkRows) + " rows");
    float* part = device_scratch(kScratchSlot, 2 * static_cast<size_t>(chunks) * static_cast<size_t>(s.C));
    float* part_w = part;
    float* part_b = part + chunks * s.C;
    const dim3 grid(static_cast<unsigned>((s.C + kCols - 1) / kCols), static_cast<unsigned>(chunks));
    param_partial_kernel<<<grid, dim3(kCols, kRowGroups), 0, current_stream()>>>(part_w, part_b, dy, x, mean, rstd, s);
    DC_CUDA_CHECK_LAUNCH();
    param_final_kernel<<<static_cast<unsigned>((s.C + 255) / 256), 256, 0, current_stream()>>>(dw, db, part_w, part_b,
                                                                                               static_cast<int>(chunks), s.C);
    DC_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace dc::kernels::cuda
