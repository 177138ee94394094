// Sums (and the max) over a warp and over a block by fixed shuffle trees: the same inputs
// always give the same bits (no atomics). Shared by the loss, reduction, attention, softmax,
// layer-norm and broadcast kernels.
#pragma once

#include <math_constants.h>

namespace dc::kernels::cuda {

// Sum of v over the warp (butterfly); every lane gets the sum.
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Max of v over the warp (butterfly); every lane gets it.
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

// Softmax statistics of a row of C floats over a warp (lane l reads columns l, l + 32, ...):
// its max m and the sum of exp(x - m); every lane gets both.
__device__ __forceinline__ void warp_row_softmax_stats(const float* xr, int C, float* m, float* s) {
  const int lane = threadIdx.x % 32;
  float mx = -CUDART_INF_F;
  for (int c = lane; c < C; c += 32) mx = xr[c] > mx ? xr[c] : mx;
  mx = warp_max(mx);
  float sum = 0.0f;
  for (int c = lane; c < C; c += 32) sum += expf(xr[c] - mx);
  *m = mx;
  *s = warp_sum(sum);
}

// Sum of v over a block of kBlock threads (a multiple of 32): shuffles inside each warp, then
// warp 0 adds the warps' sums. Every thread of the block must call it; valid in thread 0.
template <int kBlock>
__device__ __forceinline__ double block_sum(double v) {
  static_assert(kBlock % 32 == 0 && kBlock <= 1024, "block_sum: kBlock must be a multiple of 32, at most 1024");
  __shared__ double warp_sums[kBlock / 32];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  v = 0.0;
  if (warp == 0) {
    v = lane < kBlock / 32 ? warp_sums[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  return v;
}

}  // namespace dc::kernels::cuda
