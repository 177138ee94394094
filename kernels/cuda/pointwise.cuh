// Shared by the elementwise and optimizer kernels: grid-stride "pointwise" launches that
// take four elements per step through float4 when every pointer involved is 16-byte aligned,
// one at a time otherwise and for the n % 4 tail. An Op supplies
// `template <int W> __device__ void apply(int64_t i) const` for W = 4 and W = 1.
#pragma once

#include <cstdint>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda::pointwise {

constexpr int kBlock = 256;

inline bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// W consecutive floats in registers.
template <int W>
struct Vec {
  float v[W];
};

template <int W>
__device__ __forceinline__ Vec<W> load(const float* p, int64_t i) {
  Vec<W> r;
  if constexpr (W == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p + i);
    r.v[0] = q.x;
    r.v[1] = q.y;
    r.v[2] = q.z;
    r.v[3] = q.w;
  } else {
    r.v[0] = p[i];
  }
  return r;
}

template <int W>
__device__ __forceinline__ void store(float* p, int64_t i, const Vec<W>& r) {
  if constexpr (W == 4) {
    *reinterpret_cast<float4*>(p + i) = make_float4(r.v[0], r.v[1], r.v[2], r.v[3]);
  } else {
    p[i] = r.v[0];
  }
}

template <int W>
__device__ __forceinline__ Vec<W> load_or_zero(const float* p, int64_t i) {
  if (p) return load<W>(p, i);
  Vec<W> r;
#pragma unroll
  for (int k = 0; k < W; ++k) r.v[k] = 0.0f;
  return r;
}

// Runs op.apply<4>(i) for i = 0, 4, 8, ... below n - n % 4 when vec4, then op.apply<1>(i)
// for the remaining elements (all of them when !vec4).
template <class Op>
__global__ void pointwise_kernel(Op op, int64_t n, bool vec4) {
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vec4) {
    const int64_t quads = n / 4;
    for (int64_t q = t; q < quads; q += stride) op.template apply<4>(q * 4);
    done = quads * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) op.template apply<1>(i);
}

template <class Op>
void launch_pointwise(const Op& op, int64_t n, bool vec4) {
  if (n <= 0) return;
  const int64_t work = vec4 ? (n + 3) / 4 : n;
  pointwise_kernel<<<grid_for(work, kBlock), kBlock, 0, current_stream()>>>(op, n, vec4);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda::pointwise
