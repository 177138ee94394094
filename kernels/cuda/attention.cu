// CUDA attention pooling over time with one context vector per group: the same contract
// and host signatures as kernels/contract/attention.h. h, alpha, pooled, dpooled and dh are
// device pointers; `ctx` and `dctx` are HOST arrays (G entries) of device pointers, and
// `dctx_mode` is a host array.
//
// Forward: one block per (g, b) row: scores h_t . ctx (a warp per time step), a max-shifted
// softmax (block reductions), then pooled = sum_t alpha_t h_t (threads over features, the
// time steps split in fixed parts added in order). Backward: one block per row for dscore
// and dh, and the row's share of dctx into device scratch slot 2; then one pass adds the
// rows of each group in a fixed order and writes dctx[g] with its GradMode, groups in
// order g = 0..G-1 (so a buffer shared by two groups sees Overwrite, then Accumulate).
// No atomics: deterministic. Launches on the process stream, never synchronises.
//
// A block of kThreads threads works on one (g, b) row at a time (grid-stride over rows),
// with the row's context, scores / weights and a few reduction slots in shared memory:
//   scores : warp w takes time steps t = w, w + 4, ...; lanes split the features, a
//            shuffle reduction gives the dot product;
//   softmax: block max, exp(s - max), block sum, alpha = e * (1 / sum) (as the CPU);
//   sums over t (pooled, and dctx's row share): threads own features, the time steps are
//            split into kThreads / F fixed parts whose partial sums are added in order.
// Every reduction has a fixed order: results do not vary from run to run.
#include "kernels/contract/attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cuda/block_reduce.cuh"
#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kThreads = 128;  // per row block (4 warps)
constexpr int kWarps = kThreads / 32;
constexpr int kGroupsPerLaunch = 32;  // pointer tables travel by value in the kernel arguments

struct CtxPtrs {
  const float* p[kGroupsPerLaunch];
};

struct DctxPtrs {
  float* p[kGroupsPerLaunch];
  unsigned char accumulate[kGroupsPerLaunch];
};

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The block's max (is_max) or sum of v, the same value in every thread. `red` holds
// kWarps floats of shared memory; the call contains barriers (call it uniformly).
__device__ __forceinline__ float block_reduce(float v, float* red, bool is_max) {
  v = is_max ? warp_max(v) : warp_sum(v);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  if (lane == 0) red[wid] = v;
  __syncthreads();
  float r = red[0];
  for (int w = 1; w < kWarps; ++w) r = is_max ? fmaxf(r, red[w]) : r + red[w];
  __syncthreads();  // red may be reused right away
  return r;
}

__device__ __forceinline__ void put(float* d, float v, bool accumulate) {
  if (accumulate) *d += v;
  else *d = v;
}

// out[f] = sum_t w[t] hr[t*F + f] for f < F (w in shared memory, T entries). `part` holds
// kThreads floats of shared memory. Contains barriers (call it uniformly).
__device__ __forceinline__ void weighted_sum_over_t(float* out, const float* w, const float* hr, int T, int F, float* part) {
  const int fper = F < kThreads ? F : kThreads;
  const int nsplit = kThreads / fper;
  const int tid = threadIdx.x, fl = tid % fper, sp = tid / fper;
  const int t0 = static_cast<int>(static_cast<int64_t>(T) * sp / nsplit);
  const int t1 = static_cast<int>(static_cast<int64_t>(T) * (sp + 1) / nsplit);
  for (int f0 = 0; f0 < F; f0 += fper) {
    const int f = f0 + fl;
    if (sp < nsplit) {
      float acc = 0.0f;
      if (f < F)
        for (int t = t0; t < t1; ++t) acc = fmaf(w[t], hr[static_cast<int64_t>(t) * F + f], acc);
      part[sp * fper + fl] = acc;
    }
    __syncthreads();
    if (sp == 0 && f < F) {
      float v = part[fl];
      for (int q = 1; q < nsplit; ++q) v += part[q * fper + fl];
      out[f] = v;
    }
    __syncthreads();
  }
}

// out[t] = h_t . v for t < T (h: [T][F] of one row), a warp per step: lane-strided fmaf, then
// warp_sum. Needs a barrier before out is read by other warps.
__device__ __forceinline__ void dots_over_t(float* out, const float* hr, const float* v, int T, int F) {
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  for (int t = wid; t < T; t += kWarps) {
    const float* ht = hr + static_cast<int64_t>(t) * F;
    float d = 0.0f;
    for (int f = lane; f < F; f += 32) d = fmaf(ht[f], v[f], d);
    d = warp_sum(d);
    if (lane == 0) out[t] = d;
  }
}

// Rows g0*B .. (g0+ng)*B - 1. Shared: ctx [F], scores / alpha [T], part [kThreads], red [kWarps].
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(float* pooled, float* alpha, const float* h, CtxPtrs ctx, int g0, int ng, int B, int T, int F) {
  extern __shared__ float sm[];
  float* cf = sm;
  float* sc = cf + F;
  float* part = sc + T;
  float* red = part + kThreads;
  const int tid = threadIdx.x;
  const int64_t rows = static_cast<int64_t>(ng) * B;
  for (int64_t lr = blockIdx.x; lr < rows; lr += gridDim.x) {
    const int gl = static_cast<int>(lr / B);
    const int64_t r = static_cast<int64_t>(g0) * B + lr;
    const float* c = ctx.p[gl];
    const float* hr = h + r * T * F;
    for (int f = tid; f < F; f += kThreads) cf[f] = c[f];
    __syncthreads();
    dots_over_t(sc, hr, cf, T, F);
    __syncthreads();
    float m = -INFINITY;
    for (int t = tid; t < T; t += kThreads) m = fmaxf(m, sc[t]);
    m = block_reduce(m, red, true);
    float sum = 0.0f;
    for (int t = tid; t < T; t += kThreads) {
      const float e = expf(sc[t] - m);
      sc[t] = e;
      sum += e;
    }
    sum = block_reduce(sum, red, false);
    const float inv = 1.0f / sum;
    for (int t = tid; t < T; t += kThreads) {
      const float av = sc[t] * inv;
      sc[t] = av;
      alpha[r * T + t] = av;
    }
    __syncthreads();
    weighted_sum_over_t(pooled + r * F, sc, hr, T, F, part);
    // weighted_sum_over_t ends with a barrier: cf / sc may be rewritten for the next row.
  }
}

// Rows g0*B .. (g0+ng)*B - 1: dh (when non-null) and each row's share of dctx,
// parts[r][f] = sum_t dscore_t h[r][t][f] (when parts is non-null).
// Shared: ctx [F], dpooled [F], alpha [T], dscore [T], part [kThreads], red [kWarps].
__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(float* dh, bool dh_accumulate, float* parts, const float* dpooled, const float* h,
                              const float* alpha, CtxPtrs ctx, int g0, int ng, int B, int T, int F) {
  extern __shared__ float sm[];
  float* cf = sm;
  float* dp = cf + F;
  float* al = dp + F;
  float* ds = al + T;
  float* part = ds + T;
  float* red = part + kThreads;
  const int tid = threadIdx.x;
  const int64_t rows = static_cast<int64_t>(ng) * B;
  for (int64_t lr = blockIdx.x; lr < rows; lr += gridDim.x) {
    const int gl = static_cast<int>(lr / B);
    const int64_t r = static_cast<int64_t>(g0) * B + lr;
    const float* c = ctx.p[gl];
    const float* hr = h + r * T * F;
    for (int f = tid; f < F; f += kThreads) {
      cf[f] = c[f];
      dp[f] = dpooled[r * F + f];
    }
    for (int t = tid; t < T; t += kThreads) al[t] = alpha[r * T + t];
    __syncthreads();
    // dalpha_t = dpooled . h_t
    dots_over_t(ds, hr, dp, T, F);
    __syncthreads();
    float dot = 0.0f;
    for (int t = tid; t < T; t += kThreads) dot += al[t] * ds[t];
    dot = block_reduce(dot, red, false);
    for (int t = tid; t < T; t += kThreads) ds[t] = al[t] * (ds[t] - dot);
    __syncthreads();
    if (dh) {
      float* dr = dh + r * T * F;
      const int64_t n = static_cast<int64_t>(T) * F;
      for (int64_t e = tid; e < n; e += kThreads) {
        const int t = static_cast<int>(e / F), f = static_cast<int>(e - static_cast<int64_t>(t) * F);
        put(dr + e, al[t] * dp[f] + ds[t] * cf[f], dh_accumulate);
      }
    }
    if (parts) weighted_sum_over_t(parts + r * F, ds, hr, T, F, part);
    __syncthreads();  // shared buffers are rewritten for the next row
  }
}

// dctx[g][f] (+)= sum_b parts[g*B + b][f] for groups g0 .. g0+ng-1 in order. Block x owns
// features 32x .. 32x+31; its 8 warps take b = w, w + 8, ... and their sums are added in
// warp order.
constexpr int kDctxWarps = 8;
__global__ void __launch_bounds__(kDctxWarps * 32)
    attention_dctx_kernel(const float* parts, DctxPtrs out, int g0, int ng, int B, int F) {
  __shared__ float red[kDctxWarps][33];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
  const int f = blockIdx.x * 32 + lane;
  for (int gl = 0; gl < ng; ++gl) {
    float acc = 0.0f;
    if (f < F)
      for (int b = w; b < B; b += kDctxWarps) acc += parts[(static_cast<int64_t>(g0 + gl) * B + b) * F + f];
    red[w][lane] = acc;
    __syncthreads();
    if (w == 0 && f < F && out.p[gl]) {
      float v = red[0][lane];
      for (int q = 1; q < kDctxWarps; ++q) v += red[q][lane];
      put(out.p[gl] + f, v, out.accumulate[gl] != 0);
    }
    __syncthreads();
  }
}

size_t shared_bytes(size_t floats, const char* what) {
  static const int optin = [] {
    (void)current_stream();  // initialises the runtime
    int dev = 0, v = 0;
    DC_CUDA_CHECK(cudaGetDevice(&dev));
    DC_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return v;
  }();
  const size_t bytes = floats * sizeof(float);
  if (bytes > static_cast<size_t>(optin))
    throw Error(std::string(what) + ": T + F too large for the CUDA kernel's shared memory");
  return bytes;
}

template <class Kernel>
void allow_shared(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    DC_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

}  // namespace

void attention_forward(float* pooled, float* alpha, const float* h, const float* const* ctx, AttentionShape s) {
  if (s.rows() == 0 || s.T == 0 || s.F == 0) return;
  const size_t smem = shared_bytes(static_cast<size_t>(s.F) + s.T + kThreads + kWarps, "attention_forward");
  allow_shared(attention_forward_kernel, smem);
  for (int g0 = 0; g0 < s.G; g0 += kGroupsPerLaunch) {
    const int ng = std::min(kGroupsPerLaunch, s.G - g0);
    CtxPtrs cp{};
    for (int i = 0; i < ng; ++i) cp.p[i] = ctx[g0 + i];
    attention_forward_kernel<<<grid_for(static_cast<int64_t>(ng) * s.B, 1), kThreads, smem, current_stream()>>>(
        pooled, alpha, h, cp, g0, ng, s.B, s.T, s.F);
    DC_CUDA_CHECK_LAUNCH();
  }
}

void attention_backward(GradOut<float> dh_out, const GradOut<float>* dctx, const float* dpooled, const float* h,
                        const float* alpha, const float* const* ctx, AttentionShape s) {
  if (s.rows() == 0 || s.T == 0 || s.F == 0) return;
  float* dh = dh_out.data;
  const GradMode dh_mode = dh_out.mode;
  bool any_dctx = false;
  if (dctx)
    for (int g = 0; g < s.G; ++g) any_dctx = any_dctx || static_cast<bool>(dctx[g]);
  if (!dh && !any_dctx) return;
  float* parts = any_dctx ? device_scratch(2, static_cast<size_t>(s.rows()) * s.F) : nullptr;
  const size_t smem = shared_bytes(2 * static_cast<size_t>(s.F) + 2 * static_cast<size_t>(s.T) + kThreads + kWarps,
                                   "attention_backward");
  allow_shared(attention_backward_kernel, smem);
  for (int g0 = 0; g0 < s.G; g0 += kGroupsPerLaunch) {
    const int ng = std::min(kGroupsPerLaunch, s.G - g0);
    CtxPtrs cp{};
    for (int i = 0; i < ng; ++i) cp.p[i] = ctx[g0 + i];
    attention_backward_kernel<<<grid_for(static_cast<int64_t>(ng) * s.B, 1), kThreads, smem, current_stream()>>>(
        dh, dh_mode == GradMode::Accumulate, parts, dpooled, h, alpha, cp, g0, ng, s.B, s.T, s.F);
    DC_CUDA_CHECK_LAUNCH();
  }
  if (!any_dctx) return;
  for (int g0 = 0; g0 < s.G; g0 += kGroupsPerLaunch) {  // launches in group order
    const int ng = std::min(kGroupsPerLaunch, s.G - g0);
    DctxPtrs o{};
    for (int i = 0; i < ng; ++i) {
      o.p[i] = dctx[g0 + i].data;
      o.accumulate[i] = dctx[g0 + i] && dctx[g0 + i].accumulate() ? 1 : 0;
    }
    attention_dctx_kernel<<<static_cast<unsigned>((s.F + 31) / 32), kDctxWarps * 32, 0, current_stream()>>>(parts, o, g0,
                                                                                                            ng, s.B, s.F);
    DC_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace dc::kernels::cuda
