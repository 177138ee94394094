// Single-precision GEMM on row-major matrices, the building block of linear, conv1d and
// batched matmul:
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
// op(A) = A (M, K) with leading dimension lda, or A^T when A is stored (K, M).
// beta == 0 overwrites C without reading it. The CPU kernel (kernels/cpu/gemm.cpp: packed
// panels, a micro-kernel per instruction set) takes the sum over K in one fixed order and
// splits only M and N across threads, so results do not depend on the thread count. The
// CUDA one is cuBLAS (kernels/cuda/gemm.cu, which also holds our own tiled SGEMM that the
// benchmarks compare with it).
#pragma once

namespace dc::kernels {

enum class Trans { No, Yes };

// The plain triple loop: the reference the fast paths are tested against, and the GEMM of
// the double-precision gradient checks.
template <class T>
void gemm_reference(Trans ta, Trans tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
                    T* C, int ldc) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      T s = 0;
      for (int k = 0; k < K; ++k) {
        const T a = ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
        const T b = tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        s += a * b;
      }
      C[i * ldc + j] = alpha * s + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

namespace cpu {
void sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);
}  // namespace cpu

namespace cuda {
void sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);
}  // namespace cuda

}  // namespace dc::kernels
