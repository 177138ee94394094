// Our own tiled CUDA SGEMM, which the benchmarks time against cuBLAS (cuda::sgemm in
// kernels/contract/gemm.h, the one the kernels use). Same contract: row-major, Trans flags,
// beta == 0 overwrites C without reading it, K <= 0 gives C = beta * C; device pointers;
// launches on the process stream. 128x128 (or 64x64 for grids too small to fill the GPU)
// block tile, 8x8 (4x4) register tile per thread, K steps of 8 through double-buffered
// shared memory; any M, N, K, transposes and leading dimensions.
#pragma once

#include "kernels/contract/gemm.h"

namespace dc::kernels::cuda {

void sgemm_tiled(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc);

// Test hook: forces sgemm_tiled's block tile (0: automatic, 64: 64x64, 128: 128x128).
// Process-wide, not thread-safe: for tests and benchmarks only.
void set_sgemm_tiled_tile(int tile);

}  // namespace dc::kernels::cuda
