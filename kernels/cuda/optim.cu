// CUDA twins of kernels/contract/optim.h: fused SGD / Adam updates (the same formulas, evaluated
// in the same order without fused multiply-adds, so they match the CPU bit for bit where
// the CPU does not fuse either) and gradient-norm clipping that never leaves the device.
// A null g means "no gradient this step" (zero); a null buf is SGD without momentum.
//   sgd / adam: one fused grid-stride pass over the parameter (four elements per step through
//     float4 when every pointer is 16-byte aligned). Each element is computed with the CPU's
//     formula in the CPU's order, with explicitly rounded operations (__fmul_rn, __fadd_rn,
//     __fdiv_rn, __fsqrt_rn) so nvcc cannot contract them into FMAs; Adam's bias
//     corrections are computed on the host by the same float expressions as the CPU.
//   sum_squares_accumulate: reduce.h's deterministic two-pass double reduction.
//   clip_scale: every thread computes the factor from the device total (in double, as
//     engine/optim.cpp) and returns at once when it is not < 1, else scales its elements.
#include "kernels/contract/optim.h"

#include <cmath>
#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pointwise.cuh"
#include "kernels/cuda/reduce.h"

namespace dc::kernels::cuda {
namespace {

using namespace pointwise;
constexpr int kScratchSlotSquares = 6;  // sum_squares_accumulate's partials

// g' = g + wd p ; buf = first ? g' : momentum buf + g' (when buf) ; p -= lr * (buf or g').
struct SgdStep {
  float* p;
  const float* g;
  float* buf;
  float lr, momentum, weight_decay;
  bool first_step;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    Vec<W> vp = load<W>(p, i);
    const Vec<W> vg = load_or_zero<W>(g, i);
    Vec<W> vb = (buf && !first_step) ? load<W>(buf, i) : Vec<W>{};
#pragma unroll
    for (int k = 0; k < W; ++k) {
      float gi = __fadd_rn(vg.v[k], __fmul_rn(weight_decay, vp.v[k]));
      if (buf) {
        vb.v[k] = first_step ? gi : __fadd_rn(__fmul_rn(momentum, vb.v[k]), gi);
        gi = vb.v[k];
      }
      vp.v[k] = __fsub_rn(vp.v[k], __fmul_rn(lr, gi));
    }
    if (buf) store<W>(buf, i, vb);
    store<W>(p, i, vp);
  }
};

// g' = g + wd p ; m = b1 m + (1-b1) g' ; v = b2 v + ((1-b2) g') g' ;
// p -= (step_size m) / (sqrt(v) / sqrt_bc2 + eps).
struct AdamStep {
  float* p;
  const float* g;
  float* m;
  float* v;
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, weight_decay, step_size, sqrt_bc2;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    Vec<W> vp = load<W>(p, i), vm = load<W>(m, i), vv = load<W>(v, i);
    const Vec<W> vg = load_or_zero<W>(g, i);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float gi = __fadd_rn(vg.v[k], __fmul_rn(weight_decay, vp.v[k]));
      vm.v[k] = __fadd_rn(__fmul_rn(beta1, vm.v[k]), __fmul_rn(one_minus_beta1, gi));
      vv.v[k] = __fadd_rn(__fmul_rn(beta2, vv.v[k]), __fmul_rn(__fmul_rn(one_minus_beta2, gi), gi));
      const float den = __fadd_rn(__fdiv_rn(__fsqrt_rn(vv.v[k]), sqrt_bc2), eps);
      vp.v[k] = __fsub_rn(vp.v[k], __fdiv_rn(__fmul_rn(step_size, vm.v[k]), den));
    }
    store<W>(m, i, vm);
    store<W>(v, i, vv);
    store<W>(p, i, vp);
  }
};

// m = alpha m + ((1-alpha) g) g ; p -= (lr g) / (sqrt(m) + eps), rounded as the CPU.
struct RmspropStep {
  float* p;
  const float* g;
  float* m;
  float lr, alpha, one_minus_alpha, eps;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    Vec<W> vp = load<W>(p, i), vm = load<W>(m, i);
    const Vec<W> vg = load_or_zero<W>(g, i);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float gi = vg.v[k];
      vm.v[k] = __fadd_rn(__fmul_rn(alpha, vm.v[k]), __fmul_rn(__fmul_rn(one_minus_alpha, gi), gi));
      vp.v[k] = __fsub_rn(vp.v[k], __fdiv_rn(__fmul_rn(lr, gi), __fadd_rn(__fsqrt_rn(vm.v[k]), eps)));
    }
    store<W>(m, i, vm);
    store<W>(p, i, vp);
  }
};

__global__ void clip_kernel(float* g, int64_t n, const double* total, double max_norm, bool vec4) {
  const double factor = max_norm / (sqrt(total[0]) + 1e-6);
  if (!(factor < 1.0)) return;  // no clipping (also for a NaN norm, as the CPU's `factor < 1`)
  const float f = static_cast<float>(factor);
  const int64_t t = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t done = 0;
  if (vec4) {
    const int64_t quads = n / 4;
    for (int64_t q = t; q < quads; q += stride) {
      float4 x = *reinterpret_cast<float4*>(g + q * 4);
      x.x = __fmul_rn(x.x, f);
      x.y = __fmul_rn(x.y, f);
      x.z = __fmul_rn(x.z, f);
      x.w = __fmul_rn(x.w, f);
      *reinterpret_cast<float4*>(g + q * 4) = x;
    }
    done = quads * 4;
  }
  for (int64_t i = done + t; i < n; i += stride) g[i] = __fmul_rn(g[i], f);
}

}  // namespace

void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first_step) {
  launch_pointwise(SgdStep{p, g, buf, lr, momentum, weight_decay, first_step}, n,
                   aligned16(p) && aligned16(g) && aligned16(buf));
}

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int64_t step) {
  // The CPU's expressions (kernels/cpu/optim.cpp), evaluated on the host.
  const float bc1 = 1.0f - std::pow(beta1, static_cast<float>(step)), bc2 = 1.0f - std::pow(beta2, static_cast<float>(step));
  const float step_size = lr / bc1, sqrt_bc2 = std::sqrt(bc2);
  launch_pointwise(AdamStep{p, g, m, v, beta1, beta2, 1.0f - beta1, 1.0f - beta2, eps, weight_decay, step_size, sqrt_bc2}, n,
                   aligned16(p) && aligned16(g) && aligned16(m) && aligned16(v));
}

void rmsprop_update(float* p, const float* g, float* m, int64_t n, float lr, float alpha, float eps) {
  launch_pointwise(RmspropStep{p, g, m, lr, alpha, 1.0f - alpha, eps}, n, aligned16(p) && aligned16(g) && aligned16(m));
}

void sum_squares_accumulate(double* total, const float* g, int64_t n) {
  if (n <= 0) return;
  detail::reduce_sum(g, n, true, nullptr, total, kScratchSlotSquares);
}

void clip_scale(float* g, int64_t n, const double* total, double max_norm) {
  if (n <= 0) return;
  const bool vec4 = aligned16(g);
  clip_kernel<<<grid_for(vec4 ? (n + 3) / 4 : n, kBlock), kBlock, 0, current_stream()>>>(g, n, total, max_norm, vec4);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace dc::kernels::cuda
