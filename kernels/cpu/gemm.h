// Single-precision GEMM on row-major matrices:
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
// op(A) = A (M, K) with leading dimension lda, or A^T when A is stored (K, M).
// beta == 0 overwrites C without reading it. The sum over K is always taken in the same
// order and threads split only M and N, so results do not depend on the thread count.
#pragma once

#include <string>
#include <vector>

namespace dc::cpu {

enum class Trans { No, Yes };

void sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// The instruction-set variants of sgemm this CPU can run ("avx512", "avx2", "baseline"),
// and a call to one of them, so tests exercise every variant the machine supports (sgemm
// itself picks the best one once).
std::vector<std::string> sgemm_variants();
void sgemm_variant(const std::string& variant, Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                   const float* B, int ldb, float beta, float* C, int ldc);

// The plain triple loop, templated: the reference the fast path is tested against, and
// the GEMM used by the double-precision gradient checks.
template <class T>
void gemm_reference(Trans ta, Trans tb, int M, int N, int K, T alpha, const T* A, int lda,
                    const T* B, int ldb, T beta, T* C, int ldc) {
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

}  // namespace dc::cpu
