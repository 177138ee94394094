// CUDA SGEMM (contract: kernels/cpu/gemm.h; design: kernels/cuda/gemm.h).
//
// sgemm_tiled: a block of 256 threads (16 x 16) owns a BM x BN tile of C (BM = 16 TM,
// BN = 16 TN) and walks K in steps of 8. Each step's op(A) tile (BM x 8) and op(B) tile
// (8 x BN) are staged k-major in shared memory, As[k][i] and Bs[k][j], so that a thread
// reads its TM rows and TN columns of one k as two short vectors each. Thread (tx, ty) owns
// rows ty*TM/2 + r and BM/2 + ty*TM/2 + r (r < TM/2) and the same pattern of columns with
// tx: the two halves keep a warp's vector reads on distinct banks. While the tile of step t
// is multiplied out of buffer t%2, the tile of step t+1 is read from global memory into
// registers and stored to buffer (t+1)%2; one __syncthreads per step separates the two.
// Global loads are scalar and bounds-checked (zero outside), so any size, transpose and
// leading dimension works; rows are padded by 4 floats to spread the transposing stores
// over the banks while keeping the vector reads 16-byte aligned.
#include "kernels/cuda/gemm.h"

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {


constexpr int kBK = 8;         // K step
constexpr int kThreads = 256;  // 16 x 16

int g_forced_tile = 0;  // set_sgemm_tiled_tile

// C = beta * C (beta == 0: zeros, C not read): the K <= 0 case, as on the CPU.
__global__ void scale_c_kernel(float* C, int ldc, int M, int N, float beta) {
  const int64_t total = static_cast<int64_t>(M) * N, step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    float* c = C + (idx / N) * ldc + idx % N;
    *c = beta == 0.0f ? 0.0f : beta * *c;
  }
}

// H consecutive floats from shared memory (H = 4: one 16-byte read, 2: one 8-byte read).
template <int H>
__device__ __forceinline__ void load_row(float* dst, const float* src) {
  if constexpr (H == 4) {
    const float4 v = *reinterpret_cast<const float4*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
    dst[2] = v.z;
    dst[3] = v.w;
  } else if constexpr (H == 2) {
    const float2 v = *reinterpret_cast<const float2*>(src);
    dst[0] = v.x;
    dst[1] = v.y;
  } else {
#pragma unroll
    for (int h = 0; h < H; ++h) dst[h] = src[h];
  }
}

// H consecutive floats to shared memory (16- or 8-byte aligned for H = 4 or 2).
template <int H>
__device__ __forceinline__ void store_row(float* dst, const float* src) {
  if constexpr (H == 4) {
    *reinterpret_cast<float4*>(dst) = make_float4(src[0], src[1], src[2], src[3]);
  } else if constexpr (H == 2) {
    *reinterpret_cast<float2*>(dst) = make_float2(src[0], src[1]);
  } else {
#pragma unroll
    for (int h = 0; h < H; ++h) dst[h] = src[h];
  }
}

template <int TM, int TN, bool TA, bool TB>
__global__ void __launch_bounds__(kThreads)
    sgemm_tiled_kernel(int M, int N, int K, float alpha, const float* __restrict__ A, int lda,
                       const float* __restrict__ B, int ldb, float beta, float* __restrict__ C, int ldc) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  constexpr int EA = BM * kBK / kThreads, EB = BN * kBK / kThreads;  // tile elements each thread loads
  constexpr int PA = BM + 4, PB = BN + 4;                            // padded shared rows
  constexpr int HM = TM / 2, HN = TN / 2;
  static_assert(EA >= 1 && EB >= 1 && kBK % EA == 0 && kBK % EB == 0, "tile / thread mismatch");
  __shared__ __align__(16) float As[2][kBK][PA];
  __shared__ __align__(16) float Bs[2][kBK][PB];

  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.x) * BM;

  // Which element of the A / B tile this thread loads (e < EA / EB consecutive ones):
  //   op(A) = A   (A[i*lda + k], contiguous in k): row ai, k = akq + e
  //   op(A) = A^T (A[k*lda + i], contiguous in i): k = akq, row ai + e
  // and likewise for op(B)(k, j) with B[k*ldb + j] (contiguous in j) or B[j*ldb + k].
  const int ai = TA ? (tid % (BM / EA)) * EA : tid / (kBK / EA);
  const int akq = TA ? tid / (BM / EA) : (tid % (kBK / EA)) * EA;
  const int bj = TB ? tid / (kBK / EB) : (tid % (BN / EB)) * EB;
  const int bkq = TB ? (tid % (kBK / EB)) * EB : tid / (BN / EB);

  const int ksteps = (K + kBK - 1) / kBK;
  for (int64_t n0 = static_cast<int64_t>(blockIdx.y) * BN; n0 < N; n0 += static_cast<int64_t>(gridDim.y) * BN) {
    float ra[EA], rb[EB];
    auto load_global = [&](int k0) {
#pragma unroll
      for (int e = 0; e < EA; ++e) {
        const int64_t i = m0 + ai + (TA ? e : 0);
        const int k = k0 + akq + (TA ? 0 : e);
        ra[e] = (i < M && k < K) ? (TA ? A[static_cast<int64_t>(k) * lda + i] : A[i * lda + k]) : 0.0f;
      }
#pragma unroll
      for (int e = 0; e < EB; ++e) {
        const int64_t j = n0 + bj + (TB ? 0 : e);
        const int k = k0 + bkq + (TB ? e : 0);
        rb[e] = (j < N && k < K) ? (TB ? B[j * ldb + k] : B[static_cast<int64_t>(k) * ldb + j]) : 0.0f;
      }
    };
    auto store_shared = [&](int buf) {
      // The contiguous cases are one vector store (ai, bj are multiples of EA, EB and the
      // padded rows keep 16-byte alignment).
      if constexpr (TA) {
        store_row<EA>(&As[buf][akq][ai], ra);
      } else {
#pragma unroll
        for (int e = 0; e < EA; ++e) As[buf][akq + e][ai] = ra[e];
      }
      if constexpr (TB) {
#pragma unroll
        for (int e = 0; e < EB; ++e) Bs[buf][bkq + e][bj] = rb[e];
      } else {
        store_row<EB>(&Bs[buf][bkq][bj], rb);
      }
    };

    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

    // The previous column tile (if any) ended with a barrier: buffer 0 is free.
    load_global(0);
    store_shared(0);
    __syncthreads();
    for (int t = 0; t < ksteps; ++t) {
      const int cur = t & 1;
      const bool more = t + 1 < ksteps;
      if (more) load_global((t + 1) * kBK);
#pragma unroll
      for (int k = 0; k < kBK; ++k) {
        float a[TM], b[TN];
        load_row<HM>(a, &As[cur][k][ty * HM]);
        load_row<HM>(a + HM, &As[cur][k][BM / 2 + ty * HM]);
        load_row<HN>(b, &Bs[cur][k][tx * HN]);
        load_row<HN>(b + HN, &Bs[cur][k][BN / 2 + tx * HN]);
#pragma unroll
        for (int i = 0; i < TM; ++i)
#pragma unroll
          for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
      // Buffer cur^1 was last read in step t-1, and every thread passed the barrier that
      // ended step t-1 before any thread got here: safe to overwrite.
      if (more) store_shared(cur ^ 1);
      __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int64_t row = m0 + (i < HM ? ty * HM + i : BM / 2 + ty * HM + (i - HM));
      if (row >= M) continue;
      float* crow = C + row * ldc;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int64_t col = n0 + (j < HN ? tx * HN + j : BN / 2 + tx * HN + (j - HN));
        if (col >= N) continue;
        crow[col] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * crow[col];
      }
    }
  }
}

template <int TM, int TN>
void launch_tiled(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  const dim3 grid(static_cast<unsigned>((int64_t{M} + BM - 1) / BM),
                  static_cast<unsigned>(std::min<int64_t>((int64_t{N} + BN - 1) / BN, 65535)));
  cudaStream_t st = current_stream();
  if (ta == Trans::No && tb == Trans::No)
    sgemm_tiled_kernel<TM, TN, false, false><<<grid, kThreads, 0, st>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else if (ta == Trans::No)
    sgemm_tiled_kernel<TM, TN, false, true><<<grid, kThreads, 0, st>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else if (tb == Trans::No)
    sgemm_tiled_kernel<TM, TN, true, false><<<grid, kThreads, 0, st>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    sgemm_tiled_kernel<TM, TN, true, true><<<grid, kThreads, 0, st>>>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  DC_CUDA_CHECK_LAUNCH();
}

void scale_c(int M, int N, float beta, float* C, int ldc) {
  scale_c_kernel<<<grid_for(static_cast<int64_t>(M) * N, 256), 256, 0, current_stream()>>>(C, ldc, M, N, beta);
  DC_CUDA_CHECK_LAUNCH();
}

}  // namespace

void sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return scale_c(M, N, beta, C, ldc);
  // Row-major X (r x c, ld) is column-major X^T with the same ld: C^T (N x M) = op(B)^T op(A)^T,
  // where op(B)^T is B's column-major view transposed iff tb == Yes (and likewise for A).
  const cublasOperation_t opb = tb == Trans::No ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t opa = ta == Trans::No ? CUBLAS_OP_N : CUBLAS_OP_T;
  DC_CUBLAS_CHECK(cublasSgemm(cublas_handle(), opb, opa, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc));
}

void set_sgemm_tiled_tile(int tile) { g_forced_tile = tile; }

void sgemm_tiled(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                 int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) return scale_c(M, N, beta, C, ldc);
  const int64_t big_tiles = ((int64_t{M} + 127) / 128) * ((int64_t{N} + 127) / 128);
  const bool big = g_forced_tile == 128 || (g_forced_tile != 64 && big_tiles >= sm_count());
  if (big)
    launch_tiled<8, 8>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else  // too few 128x128 tiles to occupy every SM: smaller tiles, more blocks
    launch_tiled<4, 4>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace dc::kernels::cuda
