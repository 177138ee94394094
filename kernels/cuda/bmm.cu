// CUDA kernels of the `bmm` family (kernels/contract/bmm.h): each product, the forward and the
// two gradients, is one cuBLAS strided-batched SGEMM described by the contract's BatchedGemm
// (the same descriptors the CPU runs). Row-major C = op(A) op(B) is column-major
// C^T = op(B)^T op(A)^T, so cuBLAS gets B first with the same transpose flags, as in
// cuda::sgemm (kernels/cuda/gemm.cu). beta = 0 (Overwrite) does not read C; beta = 1 adds
// onto it (Accumulate). cuBLAS gives the same bits run to run on one GPU.
#include "kernels/contract/bmm.h"

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {

void run(const BatchedGemm& g, const float* A, const float* B, float beta, float* C) {
  if (g.batch <= 0 || g.M <= 0 || g.N <= 0 || g.K <= 0) return;  // the engine rejects empty operands
  const float alpha = 1.0f;
  const cublasOperation_t opb = g.tb == Trans::No ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t opa = g.ta == Trans::No ? CUBLAS_OP_N : CUBLAS_OP_T;
  DC_CUBLAS_CHECK(cublasSgemmStridedBatched(cublas_handle(), opb, opa, g.N, g.M, g.K, &alpha, B, g.ldb, g.stride_b, A,
                                            g.lda, g.stride_a, &beta, C, g.ldc, g.stride_c, g.batch));
}

}  // namespace

void bmm_forward(float* y, const float* a, const float* b, BmmShape s) { run(bmm_forward_gemm(s), a, b, 0.0f, y); }

void bmm_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, BmmShape s) {
  bmm_backward_products(da, db, dy, a, b, s, run);
}

}  // namespace dc::kernels::cuda
