#include "kernels/contract/conv1d.h"

#include "kernels/cpu/common.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"
#include "kernels/base/scratch.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace dc::kernels::cpu {
namespace {

// ---- y (M, width) = w (M, K) . B (K, width), direct -------------------------------------
// The conv's forward GEMM (w the filters, B im2col): per sample when CK is one chunk
// (forward_samples), over the batch's im2col at small batches otherwise. Blocks of 4 output
// rows x 32 columns (x 64 on AVX-512) live in registers through a pass over K: per k, two
// (four) loads of B, four broadcasts of w, eight (sixteen) FMAs, no packing. Every output is
// summed over k in order, in chunks (below): the same bits whatever the blocking, the thread
// split or the vector width. A last block narrower than 16 columns reads `tail`: a
// zero-padded copy of those columns (K x 16).
std::atomic<bool> g_wide_allowed{true};  // conv1d_allow_wide_blocks

bool wide_blocks() {
  // The 64-column blocks where the CPU has AVX-512 (their 16-20 accumulators would spill on
  // AVX2's 16 registers); the results do not depend on the block shape.
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return avx512 && g_wide_allowed.load(std::memory_order_relaxed);
}

struct NnArgs {
  float* y;
  int ldy;
  const float* w;
  int ldw, M, K;
  const float* B;
  int ldb, width;
  const float* tail;  // the last columns' B: a zero-padded copy (rows of 16), or B's own zero padding
  int ld_tail;
  bool wide;          // blocks of 64 columns (16 accumulators: AVX-512's 32 registers hold them)
  const float* bias;  // non-null: each row's sum starts at bias[row] (one chunk only)
};

template <int RM, int RV>
DC_AI void nn_block(const NnArgs& a, const float* B, int ldb, int m, int j, int cols,
             int k0, int k1) {
  vf16 acc[RM][RV];
  for (int i = 0; i < RM; ++i) {
    const vf16 init = a.bias && k0 == 0 ? splat<vf16>(a.bias[m + i]) : vf16{};
    for (int v = 0; v < RV; ++v) acc[i][v] = init;
  }
  const float* wrow[RM];
  for (int i = 0; i < RM; ++i) wrow[i] = a.w + static_cast<int64_t>(m + i) * a.ldw;
  for (int k = k0; k < k1; ++k) {
    vf16 c[RV], wv;
    for (int v = 0; v < RV; ++v) c[v] = ld<vf16>(B + static_cast<int64_t>(k) * ldb + v * kVec);
    for (int i = 0; i < RM; ++i) {
      wv = splat<vf16>(wrow[i][k]);
      for (int v = 0; v < RV; ++v) acc[i][v] += wv * c[v];
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int v = 0; v < RV; ++v) {
      float out[kVec];
      st(out, acc[i][v]);
      float* y = a.y + static_cast<int64_t>(m + i) * a.ldy + j + v * kVec;
      const int n = std::min(kVec, cols - v * kVec);
      if (k0 == 0)
        std::memcpy(y, out, sizeof(float) * static_cast<size_t>(n));
      else
        for (int q = 0; q < n; ++q) y[q] += out[q];  // the chunks' sums, in chunk order
    }
}

// Row block m, columns [j, j1) (j a multiple of 16; j1 a multiple of 16 or the width, where
// the last columns come from `tail`).
template <int RM>
DC_AI void nn_cols(const NnArgs& a, int m, int j, int j1, int k0, int k1) {
  if (a.wide) {  // one broadcast of w feeds four FMAs instead of two
    for (; j + 4 * kVec <= j1; j += 4 * kVec) nn_block<RM, 4>(a, a.B + j, a.ldb, m, j, 4 * kVec, k0, k1);
  }
  for (; j + 2 * kVec <= j1; j += 2 * kVec) nn_block<RM, 2>(a, a.B + j, a.ldb, m, j, 2 * kVec, k0, k1);
  for (; j + kVec <= j1; j += kVec) nn_block<RM, 1>(a, a.B + j, a.ldb, m, j, kVec, k0, k1);
  if (j < j1) nn_block<RM, 1>(a, a.tail, a.ld_tail, m, j, j1 - j, k0, k1);
}

// K is taken in chunks of kChunk (the chunk of B stays in the cache for every row block),
// each chunk summed from zero and added to the total in chunk order.
constexpr int kChunk = 256;

DC_CPU_CLONES void nn_rows(const NnArgs& a, int m0, int m1) {
  for (int k0 = 0; k0 < a.K; k0 += kChunk) {
    const int k1 = std::min(a.K, k0 + kChunk);
    int m = m0;
    for (; m + 4 <= m1; m += 4) nn_cols<4>(a, m, 0, a.width, k0, k1);
    for (; m < m1; ++m) nn_cols<1>(a, m, 0, a.width, k0, k1);
  }
}

// y (M, width) = w (M, K) . B (K, width), rows split across the team.
void gemm_direct(float* y, int ldy, const float* w, int ldw, int M, int K, const float* B, int ldb, int width) {
  const int full = width / kVec * kVec;
  float* tail = nullptr;
  if (full < width) {
    tail = scratch(3, static_cast<size_t>(K) * kVec);
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < kVec; ++j)
        tail[static_cast<int64_t>(k) * kVec + j] = full + j < width ? B[static_cast<int64_t>(k) * ldb + full + j] : 0.0f;
  }
  const bool wide = wide_blocks();
  const NnArgs a{y, ldy, w, ldw, M, K, B, ldb, width, tail, kVec, wide, nullptr};
  // Small products stay on one thread: moving their operands between cores' caches costs
  // more than the work (at batch 1, conv1d forward took 7.6 us on one thread, 15 on two).
  if (use_threads(1LL * M * K * width, 2'000'000)) {
    run_team([&] {
      const Range r = thread_range(M);  // rows, not blocks of 4: even halves (50 = 25 + 25)
      nn_rows(a, static_cast<int>(r.begin), static_cast<int>(r.end));
    });
  } else {
    nn_rows(a, 0, M);
  }
}

// ---- the weight gradient, straight from dy --------------------------------------------
// out (COUT, ldc) = sum over the positions (n, l), in order, of dy[n, o, l] * colt[n*LOUT + l]:
// dy is read where it lies (rows of LOUT per sample, no transposed copy) and colt's rows are
// whole 16-lane vectors. Column CK of colt holds ones, so out[o][CK] is db[o], summed in
// the same order as the weights' gradient and at no extra cost (the padding lanes are
// computed anyway). Blocks of 5 output rows x 64 columns (20 accumulators) on AVX-512, 4 x 32
// elsewhere; the positions go in chunks of whole samples (about 128 rows of colt, which stay
// in L1 for every row block), and a block's sums are stored and reloaded between chunks:
// each output is one running sum over (n, l), whatever the blocking or the thread split.
struct WgArgs {
  float* out;
  const float* dy;
  const float* colt;
  int M, LOUT, ldc;
};

template <int RM, int RV>
DC_AI void wg_block(const WgArgs& a, int m, int j, int n0, int n1) {
  vf16 acc[RM][RV];
  for (int i = 0; i < RM; ++i)
    for (int v = 0; v < RV; ++v)
      acc[i][v] = n0 == 0 ? vf16{} : ld<vf16>(a.out + static_cast<int64_t>(m + i) * a.ldc + j + v * kVec);
  for (int n = n0; n < n1; ++n) {
    const float* wrow[RM];
    for (int i = 0; i < RM; ++i) wrow[i] = a.dy + (static_cast<int64_t>(n) * a.M + m + i) * a.LOUT;
    const float* b = a.colt + static_cast<int64_t>(n) * a.LOUT * a.ldc + j;
    for (int l = 0; l < a.LOUT; ++l, b += a.ldc) {
      vf16 c[RV];
      for (int v = 0; v < RV; ++v) c[v] = ld<vf16>(b + v * kVec);
      for (int i = 0; i < RM; ++i) {
        const vf16 wv = splat<vf16>(wrow[i][l]);
        for (int v = 0; v < RV; ++v) acc[i][v] += wv * c[v];
      }
    }
  }
  for (int i = 0; i < RM; ++i)
    for (int v = 0; v < RV; ++v) st(a.out + static_cast<int64_t>(m + i) * a.ldc + j + v * kVec, acc[i][v]);
}

template <int RM, int RVMAX>
DC_AI void wg_cols(const WgArgs& a, int m, int n0, int n1) {
  int j = 0;
  if constexpr (RVMAX >= 4)
    for (; j + 4 * kVec <= a.ldc; j += 4 * kVec) wg_block<RM, 4>(a, m, j, n0, n1);
  for (; j + 2 * kVec <= a.ldc; j += 2 * kVec) wg_block<RM, 2>(a, m, j, n0, n1);
  for (; j < a.ldc; j += kVec) wg_block<RM, 1>(a, m, j, n0, n1);
}

template <int RM, int RVMAX>
DC_AI void wg_rows_t(const WgArgs& a, int m0, int m1, int N) {
  const int per_chunk = std::max(1, 128 / a.LOUT);
  for (int n0 = 0; n0 < N; n0 += per_chunk) {
    const int n1 = std::min(N, n0 + per_chunk);
    int m = m0;
    for (; m + RM <= m1; m += RM) wg_cols<RM, RVMAX>(a, m, n0, n1);
    for (; m < m1; ++m) wg_cols<1, RVMAX>(a, m, n0, n1);
  }
}

DC_CPU_CLONES void wg_rows(const WgArgs& a, int m0, int m1, int N, bool wide) {
  if (wide)
    wg_rows_t<5, 4>(a, m0, m1, N);
  else
    wg_rows_t<4, 2>(a, m0, m1, N);
}

// out (COUT, ldc) as above; rows split across the team (50 = 25 + 25: five blocks of 5 each).
void weight_gradient(float* out, const float* dy, const float* colt, Conv1dShape s, int ldc) {
  const WgArgs a{out, dy, colt, s.COUT, s.LOUT(), ldc};
  const bool wide = wide_blocks();
  if (use_threads(1LL * s.COUT * s.N * s.LOUT() * ldc, 2'000'000)) {
    run_team([&] {
      const Range r = thread_range(s.COUT);
      wg_rows(a, static_cast<int>(r.begin), static_cast<int>(r.end), s.N, wide);
    });
  } else {
    wg_rows(a, 0, s.COUT, s.N, wide);
  }
}

// db[o] = sum over (n, l) in order of dy[n, o, l]: the weight gradient's ones column alone,
// same order, eight rows' chains side by side.
void bias_gradient(float* out, const float* dy, Conv1dShape s) {
  constexpr int R = 8;
  const int LOUT = s.LOUT();
  for (int o0 = 0; o0 < s.COUT; o0 += R) {
    const int r = std::min(R, s.COUT - o0);
    float acc[R] = {};
    for (int n = 0; n < s.N; ++n) {
      const float* rows = dy + (static_cast<int64_t>(n) * s.COUT + o0) * LOUT;
      for (int l = 0; l < LOUT; ++l)
        for (int i = 0; i < r; ++i) acc[i] += rows[static_cast<int64_t>(i) * LOUT + l];
    }
    for (int i = 0; i < r; ++i) out[o0 + i] = acc[i];
  }
}

// Row (c, k) of sample n's im2col: out[l] = x[n, c, l*stride + k - pad] for l < LOUT (0 outside
// x), then zeros to `width` (>= LOUT). `src` is x's row (n, c).
DC_AI void window_row(float* out, const float* src, int k, Conv1dShape s, int LOUT, int width) {
  if (s.stride == 1) {  // a window of x, zeros where it hangs over the padding
    const int lo = std::clamp(s.pad - k, 0, LOUT), hi = std::clamp(s.L + s.pad - k, lo, LOUT);
    for (int l = 0; l < lo; ++l) out[l] = 0.0f;
    for (int l = lo; l < hi; ++l) out[l] = src[l + k - s.pad];
    for (int l = hi; l < width; ++l) out[l] = 0.0f;
    return;
  }
  for (int l = 0; l < LOUT; ++l) {
    const int pos = l * s.stride + k - s.pad;
    out[l] = (pos >= 0 && pos < s.L) ? src[pos] : 0.0f;
  }
  for (int l = LOUT; l < width; ++l) out[l] = 0.0f;
}

// ---- the forward, one sample at a time (CK one chunk: DeepChrome's 50) --------------------
// y[n] (COUT, LOUT) = b + w (COUT, CK) . im2col of sample n (CK, LOUT). The sample's im2col is
// built in a buffer of the thread's own (rows padded with zeros to a multiple of 16: it stays
// in L1 for every row block, and the last columns' loads read the padding), the sums start at
// the bias, and the blocks store straight into y: no im2col of the whole batch, no copy of the
// output. Samples split across the team; each output is bias + its CK terms in order.
struct FwdArgs {
  float* y;
  const float* x;
  const float* w;
  const float* b;
  Conv1dShape s;
};

DC_CPU_CLONES void forward_samples(const FwdArgs& f, int n0, int n1) {
  const Conv1dShape& s = f.s;
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, ldb = (LOUT + kVec - 1) / kVec * kVec, full = LOUT / kVec * kVec;
  static thread_local AlignedBuffer buf;
  float* B = buf.get(static_cast<size_t>(CK) * ldb);
  const bool wide = wide_blocks();
  for (int n = n0; n < n1; ++n) {
    for (int r = 0; r < CK; ++r)
      window_row(B + static_cast<size_t>(r) * ldb, f.x + (static_cast<size_t>(n) * s.CIN + r / s.K) * s.L, r % s.K, s,
                 LOUT, ldb);
    const NnArgs a{f.y + static_cast<size_t>(n) * s.COUT * LOUT, LOUT, f.w, CK, s.COUT, CK, B, ldb, LOUT, B + full, ldb,
                   wide, f.b};
    int m = 0;
    for (; m + 4 <= s.COUT; m += 4) nn_cols<4>(a, m, 0, LOUT, 0, CK);
    for (; m < s.COUT; ++m) nn_cols<1>(a, m, 0, LOUT, 0, CK);
  }
}

void forward_direct(float* y, const float* x, const float* w, const float* b, Conv1dShape s) {
  const FwdArgs f{y, x, w, b, s};
  if (s.N > 1 && use_threads(1LL * s.COUT * s.CIN * s.K * s.N * s.LOUT(), 2'000'000)) {
    run_team([&] {
      const Range r = thread_range(s.N);
      forward_samples(f, static_cast<int>(r.begin), static_cast<int>(r.end));
    });
  } else {
    forward_samples(f, 0, s.N);
  }
}

// CK of more than one chunk: the forward GEMM goes direct (im2col (CK, NL) built in scratch)
// while im2col's rows are short; beyond, the packed SGEMM reads the long rows of the
// transposed im2col better.
constexpr int kDirectForwardMaxColumns = 1024;

// col (CIN*K, N*LOUT): col[(c*K + k), n*LOUT + l] = x[n, c, l*stride + k - pad] (0 outside).
// Laying the batch along the columns turns the whole batch into one GEMM per direction.
// Without a caller's `col` (inference) it lives in scratch slot 2.
// col (CK, NL): col[(c*K + k), n*LOUT + l] = x[n, c, l*stride + k - pad] (0 outside).
void im2col(float* col, const float* x, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  parallel_for_if(1LL * CK * NL > 200000, CK, [&](int64_t lo_, int64_t hi_) {
    for (int r = static_cast<int>(lo_); r < static_cast<int>(hi_); ++r) {
      float* dst = col + static_cast<size_t>(r) * NL;
      for (int n = 0; n < s.N; ++n)
        window_row(dst + static_cast<size_t>(n) * LOUT, x + (static_cast<size_t>(n) * s.CIN + r / s.K) * s.L, r % s.K, s,
                   LOUT, LOUT);
    }
  });
}

// colt (NL, ldc = conv1d_col_stride), one row per output position: colt[n*LOUT + l, c*K + k] =
// x[n, c, l*stride + k - pad] (0 outside), then a 1 at column CK (the bias gradient's) and
// zeros to ldc.
void im2col_t(float* colt, const float* x, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT, ldc = conv1d_col_stride(s);
  parallel_for_if(1LL * CK * NL > 200000, NL, [&](int64_t lo_, int64_t hi_) {
    for (int j = static_cast<int>(lo_); j < static_cast<int>(hi_); ++j) {
      const int n = j / LOUT, l = j % LOUT;
      float* row = colt + static_cast<size_t>(j) * ldc;
      row[CK] = 1.0f;
      for (int q = CK + 1; q < ldc; ++q) row[q] = 0.0f;
      for (int c = 0; c < s.CIN; ++c) {
        const float* src = x + (static_cast<size_t>(n) * s.CIN + c) * s.L;
        const int p0 = l * s.stride - s.pad;  // the window [p0, p0 + K) of x's row
        if (p0 >= 0 && p0 + s.K <= s.L) {
          for (int k = 0; k < s.K; ++k) row[c * s.K + k] = src[p0 + k];  // (K is short: no memcpy call)
        } else {
          for (int k = 0; k < s.K; ++k) row[c * s.K + k] = p0 + k >= 0 && p0 + k < s.L ? src[p0 + k] : 0.0f;
        }
      }
    }
  });
}

}  // namespace

// `col` (kept for backward) holds the transposed im2col (NL, conv1d_col_stride): the weight
// gradient reads its rows (im2col_t). The forward: per sample (forward_direct) when CK is one
// chunk; else the direct GEMM over im2col (CK, NL) at small batches, the packed SGEMM over
// the transposed im2col at large ones.
void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  if (col) im2col_t(col, x, s);
  if (CK <= kChunk) {
    forward_direct(y, x, w, b, s);
    return;
  }
  float* yp = scratch(0, static_cast<size_t>(s.COUT) * NL);  // (COUT, N*LOUT)
  if (NL <= kDirectForwardMaxColumns) {
    float* cm = scratch(2, static_cast<size_t>(CK) * NL);
    im2col(cm, x, s);
    gemm_direct(yp, NL, w, CK, s.COUT, CK, cm, NL, NL);
  } else {
    if (!col) {
      col = scratch(2, static_cast<size_t>(conv1d_col_size(s)));
      im2col_t(col, x, s);
    }
    sgemm(Trans::No, Trans::Yes, s.COUT, NL, CK, 1.0f, w, CK, col, conv1d_col_stride(s), 0.0f, yp, NL);
  }
  parallel_for_if(1LL * s.COUT * NL > 200000, s.N * s.COUT, [&](int64_t lo_, int64_t hi_) {
    for (int no = static_cast<int>(lo_); no < static_cast<int>(hi_); ++no) {
      const int n = no / s.COUT, o = no % s.COUT;
      const float bias = b ? b[o] : 0.0f;
      const float* src = yp + static_cast<size_t>(o) * NL + static_cast<size_t>(n) * LOUT;
      float* dst = y + static_cast<size_t>(no) * LOUT;
      for (int l = 0; l < LOUT; ++l) dst[l] = src[l] + bias;
    }
  });
}

void conv1d_allow_wide_blocks(bool allow) { g_wide_allowed.store(allow); }

void conv1d_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* col,
                     const float* w, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  if (dw) {
    // out (COUT, ldc): dw in columns [0, CK), db in column CK (colt's ones).
    const int ldc = conv1d_col_stride(s);
    float* out = scratch(5, static_cast<size_t>(s.COUT) * ldc);
    weight_gradient(out, dy, col, s, ldc);
    for (int o = 0; o < s.COUT; ++o) {
      const float* row = out + static_cast<int64_t>(o) * ldc;
      for (int c = 0; c < CK; ++c) dw.put(static_cast<int64_t>(o) * CK + c, row[c]);
      if (db) db.put(o, row[CK]);
    }
  } else if (db) {
    float* sums = scratch(6, static_cast<size_t>(s.COUT));
    bias_gradient(sums, dy, s);
    for (int o = 0; o < s.COUT; ++o) db.put(o, sums[o]);
  }
  if (dx) {
    // dy (N, COUT, LOUT) -> dyp (COUT, N*LOUT), the layout of the forward GEMM's output.
    float* dyp = scratch(0, static_cast<size_t>(s.COUT) * NL);
    parallel_for_if(1LL * s.COUT * NL > 200000, s.N * s.COUT, [&](int64_t lo_, int64_t hi_) {
      for (int no = static_cast<int>(lo_); no < static_cast<int>(hi_); ++no) {
        const int n = no / s.COUT, o = no % s.COUT;
        std::memcpy(dyp + static_cast<size_t>(o) * NL + static_cast<size_t>(n) * LOUT, dy + static_cast<size_t>(no) * LOUT,
                    sizeof(float) * static_cast<size_t>(LOUT));
      }
    });
    // dcol (CK, NL) = w^T (CK, COUT) . dyp (COUT, NL), then scatter back (col2im).
    float* dcol = scratch(1, static_cast<size_t>(CK) * NL);
    sgemm(Trans::Yes, Trans::No, CK, NL, s.COUT, 1.0f, w, CK, dyp, NL, 0.0f, dcol, NL);
    parallel_for_if(1LL * CK * NL > 200000, s.N * s.CIN, [&](int64_t lo_, int64_t hi_) {
      for (int nc = static_cast<int>(lo_); nc < static_cast<int>(hi_); ++nc) {
        const int n = nc / s.CIN, c = nc % s.CIN;
        float* dst = dx.data + static_cast<size_t>(nc) * s.L;
        if (!dx.accumulate())
          for (int p = 0; p < s.L; ++p) dst[p] = 0.0f;
        for (int k = 0; k < s.K; ++k) {
          const float* src = dcol + static_cast<size_t>(c * s.K + k) * NL + static_cast<size_t>(n) * LOUT;
          for (int l = 0; l < LOUT; ++l) {
            const int pos = l * s.stride + k - s.pad;
            if (pos >= 0 && pos < s.L) dst[pos] += src[l];
          }
        }
      }
    });
  }
}

}  // namespace dc::kernels::cpu
