// Sums (and the max) over a warp and over a block by fixed shuffle trees: the same inputs
// always give the same bits (no atomics). Shared by the loss, reduction, attention, softmax,
// layer-norm and broadcast kernels.
#pragma once

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
