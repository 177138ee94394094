// CUDA kernels of the `broadcast` family (kernels/contract/broadcast.h).
//   forward : grid-stride over the output; each element finds its operands' offsets from
//             the merged shape (at most 8 div/mods).
//   backward: one thread per element j of an operand's gradient (grid-stride), adding its
//             terms from 0 in increasing output index, the innermost broadcast dimension as
//             the inner loop: the CPU's order exactly, and, with products as __fmul_rn and
//             sums as __fadd_rn (no FMA contraction; the CPU's baseline build has none), the
//             CPU's bits. Neighbouring threads read neighbouring outputs when the operand is
//             read along the innermost dimension (a positional table): coalesced. A long sum
//             into few elements (a bias of 64 over 1600 rows) leaves most of the GPU idle;
//             exact agreement with the CPU is worth that until a model needs it faster.
// No atomics.
#include "kernels/contract/broadcast.h"

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

constexpr int kBlock = 256;

template <Binary OP>
__device__ __forceinline__ float combine(float a, float b) {
  if constexpr (OP == Binary::Add) return __fadd_rn(a, b);
  else return __fmul_rn(a, b);
}

template <Binary OP>
__global__ void forward_kernel(float* y, const float* a, const float* b, BroadcastShape s) {
  const int64_t n = s.numel(), step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += step) {
    int64_t ia, ib;
    s.offsets(i, &ia, &ib);
    y[i] = combine<OP>(a[ia], b[ib]);
  }
}

template <Binary OP>
__device__ __forceinline__ float term(const float* dy, const float* other, int64_t o, int64_t p) {
  if constexpr (OP == Binary::Add) return dy[o];
  else return __fmul_rn(dy[o], other[p]);
}

template <Binary OP>
__global__ void reduce_kernel(GradOut<float> dx, const float* dy, const float* other, ReduceView v) {
  const bool any = v.reduced > 0;
  const int64_t W = any ? v.red_size[v.reduced - 1] : 1;  // the innermost broadcast dimension
  const int64_t wo = any ? v.red_out[v.reduced - 1] : 0, wp = any ? v.red_other[v.reduced - 1] : 0;
  const int64_t runs = v.n_reduced / W;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < v.n_kept; j += step) {
    int64_t ko, kp;
    v.kept_offsets(j, &ko, &kp);
    float acc = 0.0f;
    for (int64_t u = 0; u < runs; ++u) {
      int64_t ro, rp;
      v.reduced_offsets(u * W, &ro, &rp);
      const int64_t o = ko + ro, p = kp + rp;
      for (int64_t c = 0; c < W; ++c) acc = __fadd_rn(acc, term<OP>(dy, other, o + c * wo, p + c * wp));
    }
    dx.put(j, acc);
  }
}

template <Binary OP>
void reduce_into(GradOut<float> dx, const float* dy, const float* other, const BroadcastShape& s, bool for_a) {
  const ReduceView v = reduce_view(s, for_a);
  reduce_kernel<OP><<<grid_for(v.n_kept, kBlock), kBlock, 0, current_stream()>>>(dx, dy, other, v);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace

void broadcast_forward(float* y, const float* a, const float* b, const BroadcastShape& s, Binary op) {
  const int64_t n = s.numel();
  if (n <= 0) return;
  if (op == Binary::Add) forward_kernel<Binary::Add><<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(y, a, b, s);
  else forward_kernel<Binary::Mul><<<grid_for(n, kBlock), kBlock, 0, current_stream()>>>(y, a, b, s);
  DC_CUDA_CHECK_LAUNCH();
}

void broadcast_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b,
                        const BroadcastShape& s, Binary op) {
  const auto reduce = op == Binary::Add ? &reduce_into<Binary::Add> : &reduce_into<Binary::Mul>;
  if (da) reduce(da, dy, b, s, true);  // da first, then db
  if (db) reduce(db, dy, a, s, false);
}

}  // namespace dc::kernels::cuda
