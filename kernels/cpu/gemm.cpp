// Packed, register-blocked SGEMM (the GotoBLAS/BLIS structure, written small):
//   for each K block: pack op(B) into NR-wide column panels and op(A) into MR-tall row
//   panels, then every (MR x NR) tile of C is one micro-kernel call that keeps the tile in
//   registers for the whole K block.
// The micro-kernel uses GCC vector extensions; the driver is compiled three times
// (AVX-512, AVX2+FMA, baseline x86-64) and the loader picks the best one for the CPU, so
// the binary stays portable without -march=native.
#include "kernels/cpu/gemm.h"
#include "kernels/base/scratch.h"

#include "kernels/cpu/common.h"
#include "kernels/cpu/simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>


namespace dc::kernels::cpu {
namespace {

// MR, the rows of a C tile, is a template parameter: 12 with AVX-512 (12 of its 32 vector
// registers hold the tile, enough independent FMAs to cover their latency), 6 with AVX2
// (6 x 16 floats = 12 of its 16 registers).
constexpr int NR = 16;   // columns of a C tile (one 512-bit vector)
constexpr int KC = 256;  // depth of a K block



__attribute__((always_inline)) inline float a_at(Trans ta, const float* A, int lda, int i, int k) {
  return ta == Trans::No ? A[static_cast<size_t>(i) * lda + k] : A[static_cast<size_t>(k) * lda + i];
}
__attribute__((always_inline)) inline float b_at(Trans tb, const float* B, int ldb, int k, int j) {
  return tb == Trans::No ? B[static_cast<size_t>(k) * ldb + j] : B[static_cast<size_t>(j) * ldb + k];
}

// Packs rows [i0, i0+MR) x k in [k0, k0+kc) of op(A) as ap[k*MR + r], zero-padding rows past M.
template <int MR>
__attribute__((always_inline)) inline void pack_a(float* ap, Trans ta, const float* A, int lda, int M, int i0, int k0, int kc) {
  const int mr = std::min(MR, M - i0);
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < mr; ++r) ap[k * MR + r] = a_at(ta, A, lda, i0 + r, k0 + k);
    for (int r = mr; r < MR; ++r) ap[k * MR + r] = 0.0f;
  }
}

// Packs columns [j0, j0+NR) x k in [k0, k0+kc) of op(B) as bp[k*NR + c], zero-padding.
__attribute__((always_inline)) inline void pack_b(float* bp, Trans tb, const float* B, int ldb, int N, int j0, int k0, int kc) {
  const int nr = std::min(NR, N - j0);
  if (tb == Trans::No && nr == NR) {
    for (int k = 0; k < kc; ++k)
      std::memcpy(bp + k * NR, B + static_cast<size_t>(k0 + k) * ldb + j0, NR * sizeof(float));
    return;
  }
  if (tb == Trans::Yes) {
    // op(B) = B^T: column c of the panel is row j0 + c of B, contiguous in k. Read each
    // row once, in order (the other loop order would touch nr cache lines per k).
    for (int c = 0; c < nr; ++c) {
      const float* row = B + static_cast<size_t>(j0 + c) * ldb + k0;
      for (int k = 0; k < kc; ++k) bp[k * NR + c] = row[k];
    }
    for (int c = nr; c < NR; ++c)
      for (int k = 0; k < kc; ++k) bp[k * NR + c] = 0.0f;
    return;
  }
  for (int k = 0; k < kc; ++k) {
    for (int c = 0; c < nr; ++c) bp[k * NR + c] = b_at(tb, B, ldb, k0 + k, j0 + c);
    for (int c = nr; c < NR; ++c) bp[k * NR + c] = 0.0f;
  }
}

// C tile (mr x nr at c, leading dim ldc) = alpha * ap.bp + beta * C (beta == 0: no read).
// V is the vector type of the instruction set (16, 8 or 4 floats): a row of the tile is
// NR / lanes vectors, so the tile lives in registers on every ISA (a 64-byte vector type
// on AVX2 would be split through the stack).
template <int MR, class V>
__attribute__((always_inline)) inline void micro_kernel(int kc, const float* ap, const float* bp, float* c, int ldc, int mr, int nr,
                         float alpha, float beta) {
  constexpr int W = static_cast<int>(sizeof(V) / sizeof(float)), NV = NR / W;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (int k = 0; k < kc; ++k) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = *reinterpret_cast<const V*>(bp + k * NR + v * W);
    const float* a = ap + k * MR;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += a[r] * b[v];
  }
  for (int r = 0; r < mr; ++r) {
    float* crow = c + static_cast<size_t>(r) * ldc;
    float row[NR];
    for (int v = 0; v < NV; ++v)
      for (int j = 0; j < W; ++j) row[v * W + j] = acc[r][v][j];
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) crow[j] = alpha * row[j];
    } else {
      for (int j = 0; j < nr; ++j) crow[j] = alpha * row[j] + beta * crow[j];
    }
  }
}

// The K-block loop; run by every thread of a team (`team`: split the packing and the
// tiles with barriers between) or by the calling thread alone.
template <int MR, class V>
__attribute__((always_inline)) inline void gemm_blocks(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                                                       const float* B, int ldb, float beta, float* C, int ldc, float* apack,
                                                       float* bpack, int mpanels, int npanels, bool team) {
  const int tiles = mpanels * npanels;
  for (int k0 = 0; k0 < K; k0 += KC) {
    const int kc = std::min(KC, K - k0);
    const float beta_k = k0 == 0 ? beta : 1.0f;
    const Range pk = team ? thread_range(mpanels + npanels) : Range{0, mpanels + npanels};
    for (int64_t p = pk.begin; p < pk.end; ++p) {
      if (p < mpanels) pack_a<MR>(apack + static_cast<size_t>(p) * MR * kc, ta, A, lda, M, static_cast<int>(p) * MR, k0, kc);
      else pack_b(bpack + static_cast<size_t>(p - mpanels) * NR * kc, tb, B, ldb, N, static_cast<int>(p - mpanels) * NR, k0, kc);
    }
    if (team) team_barrier();
    // Tiles walk down a column of A panels for each B panel: the B panel stays in L1.
    const Range tr = team ? thread_range(tiles) : Range{0, tiles};
    for (int64_t t = tr.begin; t < tr.end; ++t) {
      const int jp = static_cast<int>(t / mpanels), ip = static_cast<int>(t % mpanels);
      const int i0 = ip * MR, j0 = jp * NR;
      micro_kernel<MR, V>(kc, apack + static_cast<size_t>(ip) * MR * kc, bpack + static_cast<size_t>(jp) * NR * kc,
                   C + static_cast<size_t>(i0) * ldc + j0, ldc, std::min(MR, M - i0), std::min(NR, N - j0),
                   alpha, beta_k);
    }
    if (team) team_barrier();  // the packed panels are rewritten by the next K block
  }
}

// The driver, instantiated once per instruction set: NAME##_team is the region's body
// (a lambda cannot carry the target attribute, so the body is its own function).
#define DC_SGEMM_DRIVER(TARGET, NAME, MRV, VT)                                                                        \
  TARGET __attribute__((noinline)) void NAME##_team(Trans ta, Trans tb, int M, int N, int K, float alpha,             \
                                                    const float* A, int lda, const float* B, int ldb, float beta,     \
                                                    float* C, int ldc, float* apack, float* bpack, int mpanels,      \
                                                    int npanels, bool team) {                                         \
    gemm_blocks<MRV, VT>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, apack, bpack, mpanels, npanels, team); \
  }                                                                                                                 \
  void NAME(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, \
            float beta, float* C, int ldc) {                                                                        \
    constexpr int MR = MRV;                                                                                         \
    const int mpanels = (M + MR - 1) / MR, npanels = (N + NR - 1) / NR;                                             \
    static thread_local AlignedBuffer a_scratch, b_scratch;                                                         \
    /* Packed panels are shared by all threads of the team: allocate on the calling thread. */                      \
    float* apack = a_scratch.get(static_cast<size_t>(mpanels) * MR * KC);                                           \
    float* bpack = b_scratch.get(static_cast<size_t>(npanels) * NR * KC);                                           \
    if (use_threads(2LL * M * N * K, 400000) && mpanels * npanels > 1) {                                            \
      run_team([&] { NAME##_team(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, apack, bpack, mpanels, npanels, true); }); \
    } else {                                                                                                        \
      NAME##_team(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, apack, bpack, mpanels, npanels, false);      \
    }                                                                                                               \
  }

DC_SGEMM_DRIVER(__attribute__((target("arch=x86-64-v4"))), sgemm_avx512, 12, vf16)
DC_SGEMM_DRIVER(__attribute__((target("arch=x86-64-v3"))), sgemm_avx2, 6, vf8)
DC_SGEMM_DRIVER(, sgemm_baseline, 3, vf4)
#undef DC_SGEMM_DRIVER

using SgemmFn = void (*)(Trans, Trans, int, int, int, float, const float*, int, const float*, int, float, float*, int);

SgemmFn sgemm_for(Isa i) { return i == Isa::Avx512 ? sgemm_avx512 : i == Isa::Avx2 ? sgemm_avx2 : sgemm_baseline; }

}  // namespace

std::vector<std::string> sgemm_variants() {
  std::vector<std::string> v;
  for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Baseline})
    if (cpu_runs(i)) v.push_back(isa_name(i));
  return v;
}

void sgemm_variant(const std::string& variant, Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                   const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  for (Isa i : {Isa::Avx512, Isa::Avx2, Isa::Baseline})
    if (variant == isa_name(i) && cpu_runs(i)) return sgemm_for(i)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  throw std::invalid_argument("sgemm_variant: '" + variant + "' is not available on this CPU");
}

void sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta * C
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[static_cast<size_t>(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * C[static_cast<size_t>(i) * ldc + j];
    return;
  }
  static const SgemmFn impl = sgemm_for(best_isa());
  impl(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace dc::kernels::cpu
