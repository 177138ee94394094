// CUDA single-precision GEMM with the contract of kernels/cpu/gemm.h (row-major, Trans
// flags, beta == 0 overwrites C without reading it, K <= 0 gives C = beta * C). All
// matrices are device pointers; launches go on the process stream, nothing synchronises.
//
//   sgemm       : cuBLAS (row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T).
//   sgemm_tiled : our own kernel: 128x128 (or 64x64 for grids too small to fill the GPU)
//                 block tile, 8x8 (4x4) register tile per thread, K steps of 8 through
//                 double-buffered shared memory; any M, N, K, transposes and leading
//                 dimensions (scalar, bounds-checked global loads).
#pragma once

#include "kernels/cpu/gemm.h"

namespace dc::kernels::cuda {

void sgemm(cpu::Trans ta, cpu::Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);

void sgemm_tiled(cpu::Trans ta, cpu::Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);

// Test hook: forces sgemm_tiled's block tile (0: automatic, 64: 64x64, 128: 128x128).
// Process-wide, not thread-safe: for tests and benchmarks only.
void set_sgemm_tiled_tile(int tile);

}  // namespace dc::kernels::cuda
