// CPU GEMM variants (the contract and the reference are in kernels/contract/gemm.h):
// the instruction-set variants of cpu::sgemm this CPU can run ("avx512", "avx2", "baseline"),
// and a call to one of them, so tests exercise every variant the machine supports (sgemm
// itself picks the best one once).
#pragma once

#include <string>
#include <vector>

#include "kernels/contract/gemm.h"

namespace dc::kernels::cpu {

std::vector<std::string> sgemm_variants();
void sgemm_variant(const std::string& variant, Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                   const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace dc::kernels::cpu
