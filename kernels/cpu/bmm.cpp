// CPU kernels of the `bmm` family (kernels/contract/bmm.h): each product is a strided batch of
// packed SGEMMs (kernels/cpu/gemm.cpp). A batch entry big enough for sgemm to split across
// the threads runs one after the other; smaller ones (the attention heads: 100 x 100 x 16)
// are spread over the threads one whole entry each. Either way every output element is
// the same K-sum in the same order, so the result does not depend on the thread count.
#include "kernels/contract/bmm.h"

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

// The work above which sgemm splits one product across the threads itself (its own
// use_threads threshold in kernels/cpu/gemm.cpp). Below it, sgemm never opens a parallel
// region, so calling it from inside ours nests nothing.
constexpr int64_t kSgemmThreadsFrom = 400000;

void run(const BatchedGemm& g, const float* A, const float* B, float beta, float* C) {
  const int64_t per_entry = 2LL * g.M * g.N * g.K;
  const auto entries = [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      sgemm(g.ta, g.tb, g.M, g.N, g.K, 1.0f, A + i * g.stride_a, g.lda, B + i * g.stride_b, g.ldb, beta,
            C + i * g.stride_c, g.ldc);
  };
  if (per_entry > kSgemmThreadsFrom) entries(0, g.batch);  // sgemm threads each entry
  else parallel_for_if(per_entry * g.batch > kSgemmThreadsFrom && g.batch > 1, g.batch, entries);
}

}  // namespace

void bmm_forward(float* y, const float* a, const float* b, BmmShape s) {
  if (s.B <= 0 || s.M <= 0 || s.N <= 0) return;
  run(bmm_forward_gemm(s), a, b, 0.0f, y);
}

void bmm_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, BmmShape s) {
  if (s.B <= 0 || s.K <= 0) return;
  bmm_backward_products(da, db, dy, a, b, s, run);
}

}  // namespace dc::kernels::cpu
