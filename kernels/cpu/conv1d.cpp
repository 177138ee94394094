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
// The conv's forward GEMM at small batches (w the filters, B im2col) and its weight gradient
// (w the output gradient's rows, B the transposed im2col). Blocks of 4 output rows x 32
// columns live in registers through a pass over K: per k, two loads of B, four broadcasts
// of w, eight FMAs (no packing). Every output is summed over k in order, in chunks (below):
// the same bits whatever the blocking, the thread split or the vector width. A last block
// narrower than 16 columns reads `tail`: a zero-padded copy of those columns (K x 16), or
// B itself where its rows may be read past `width`.
std::atomic<bool> g_wide_allowed{true};  // conv1d_allow_wide_blocks

struct NnArgs {
  float* y;
  int ldy;
  const float* w;
  int ldw, K;
  const float* B;
  int ldb, width;
  const float* tail;  // the last columns' B: a zero-padded copy (rows of 16), or B + width / 16 * 16
  int ld_tail;
  bool slack;  // B's rows may be read up to 16 floats past `width`
  bool wide;   // blocks of 64 columns (16 accumulators: AVX-512's 32 registers hold them)
};

template <int RM, int RV>
DC_AI void nn_block(const NnArgs& a, const float* B, int ldb, int m, int j, int cols,
             int k0, int k1) {
  vf16 acc[RM][RV];
  for (int i = 0; i < RM; ++i)
    for (int v = 0; v < RV; ++v) acc[i][v] = vf16{};
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

template <int RM>
DC_AI void nn_rows_of(const NnArgs& a, int m, int k0, int k1) {
  int j = 0;
  if (a.wide) {  // one broadcast of w feeds four FMAs instead of two
    for (; j + 4 * kVec <= a.width; j += 4 * kVec) nn_block<RM, 4>(a, a.B + j, a.ldb, m, j, 4 * kVec, k0, k1);
    if (a.slack && a.width - j >= 3 * kVec)  // the last 48-63 columns, reading into the slack
      for (; j < a.width; j += 4 * kVec) nn_block<RM, 4>(a, a.B + j, a.ldb, m, j, a.width - j, k0, k1);
  }
  for (; j + 2 * kVec <= a.width; j += 2 * kVec) nn_block<RM, 2>(a, a.B + j, a.ldb, m, j, 2 * kVec, k0, k1);
  for (; j + kVec <= a.width; j += kVec) nn_block<RM, 1>(a, a.B + j, a.ldb, m, j, kVec, k0, k1);
  if (j < a.width) nn_block<RM, 1>(a, a.tail, a.ld_tail, m, j, a.width - j, k0, k1);
}

// K is taken in chunks of kChunk (the chunk of B stays in the cache for every row block),
// each chunk summed from zero and added to the total in chunk order: a long K (the weight
// gradient's 5824 positions at batch 64) is also summed more accurately than in one run.
constexpr int kChunk = 256;

DC_CPU_CLONES void nn_rows(const NnArgs& a, int m0, int m1) {
  for (int k0 = 0; k0 < a.K; k0 += kChunk) {
    const int k1 = std::min(a.K, k0 + kChunk);
    int m = m0;
    for (; m + 4 <= m1; m += 4) nn_rows_of<4>(a, m, k0, k1);
    for (; m < m1; ++m) nn_rows_of<1>(a, m, k0, k1);
  }
}

// y (M, width) = w (M, K) . B (K, width), rows split across the team.
// `b_slack`: B's rows may be read up to 16 floats past `width` (the next row's values, or
// slack after the last row), which only feed output columns that are not written; else the
// last columns come from a zero-padded copy.
void gemm_direct(float* y, int ldy, const float* w, int ldw, int M, int K, const float* B, int ldb, int width,
                 bool b_slack = false) {
  const int full = width / kVec * kVec;
  float* tail = nullptr;
  if (full < width && !b_slack) {
    tail = scratch(3, static_cast<size_t>(K) * kVec);
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < kVec; ++j)
        tail[static_cast<int64_t>(k) * kVec + j] = full + j < width ? B[static_cast<int64_t>(k) * ldb + full + j] : 0.0f;
  }
  // The 64-column blocks where the CPU has AVX-512 (their 16 accumulators would spill on
  // AVX2's 16 registers); the results do not depend on the block shape.
  static const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool wide = avx512 && g_wide_allowed.load(std::memory_order_relaxed);
  const NnArgs a{y, ldy, w, ldw, K, B, ldb, width, tail ? tail : B + full, tail ? kVec : ldb, b_slack, wide};
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

// db[o] = sum of row o of a (rows, cols) in order; eight rows' chains side by side (one
// chain of 5824 dependent adds at batch 64 took longer than the weight gradient).
DC_CPU_CLONES void row_sums(float* out, const float* a, int rows, int cols) {
  constexpr int R = 8;
  int r = 0;
  for (; r + R <= rows; r += R) {
    float acc[R] = {};
    for (int j = 0; j < cols; ++j)
      for (int i = 0; i < R; ++i) acc[i] += a[static_cast<int64_t>(r + i) * cols + j];
    for (int i = 0; i < R; ++i) out[r + i] = acc[i];
  }
  for (; r < rows; ++r) {
    float acc = 0.0f;
    for (int j = 0; j < cols; ++j) acc += a[static_cast<int64_t>(r) * cols + j];
    out[r] = acc;
  }
}

// The forward GEMM goes direct while im2col's rows are short (small batches); beyond, the
// packed SGEMM reads the long rows better.
constexpr int kDirectForwardMaxColumns = 1024;

// col (CIN*K, N*LOUT): col[(c*K + k), n*LOUT + l] = x[n, c, l*stride + k - pad] (0 outside).
// Laying the batch along the columns turns the whole batch into one GEMM per direction.
// Without a caller's `col` (inference) it lives in scratch slot 2.
// col (CK, NL): col[(c*K + k), n*LOUT + l] = x[n, c, l*stride + k - pad] (0 outside).
void im2col(float* col, const float* x, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  parallel_for_if(1LL * CK * NL > 200000, CK, [&](int64_t lo_, int64_t hi_) {
    for (int r = static_cast<int>(lo_); r < static_cast<int>(hi_); ++r) {
      const int c = r / s.K, k = r % s.K;
      float* dst = col + static_cast<size_t>(r) * NL;
      for (int n = 0; n < s.N; ++n) {
        const float* src = x + (static_cast<size_t>(n) * s.CIN + c) * s.L;
        float* out = dst + static_cast<size_t>(n) * LOUT;
        if (s.stride == 1) {  // a window of x, zeros where it hangs over the padding
          const int lo = std::clamp(s.pad - k, 0, LOUT), hi = std::clamp(s.L + s.pad - k, lo, LOUT);
          for (int l = 0; l < lo; ++l) out[l] = 0.0f;
          std::memcpy(out + lo, src + lo + k - s.pad, sizeof(float) * static_cast<size_t>(hi - lo));
          for (int l = hi; l < LOUT; ++l) out[l] = 0.0f;
          continue;
        }
        for (int l = 0; l < LOUT; ++l) {
          const int pos = l * s.stride + k - s.pad;
          out[l] = (pos >= 0 && pos < s.L) ? src[pos] : 0.0f;
        }
      }
    }
  });
}

// colt (NL, CK), one row per output position: colt[n*LOUT + l, c*K + k] = x[n, c, l*stride + k - pad]
// (0 outside), then 16 floats of zeros (conv1d_col_size's slack).
void im2col_t(float* colt, const float* x, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  parallel_for_if(1LL * CK * NL > 200000, NL, [&](int64_t lo_, int64_t hi_) {
    for (int j = static_cast<int>(lo_); j < static_cast<int>(hi_); ++j) {
      const int n = j / LOUT, l = j % LOUT;
      float* row = colt + static_cast<size_t>(j) * CK;
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
  for (int q = 0; q < kVec; ++q) colt[static_cast<size_t>(NL) * CK + q] = 0.0f;
}

}  // namespace

// `col` (kept for backward) holds the transposed im2col (NL, CK): the weight gradient's
// direct GEMM reads its rows (im2col_t). The forward GEMM reads im2col (CK, NL) at small
// batches (the direct kernel; built in scratch) and the transposed one at large batches
// (the packed SGEMM reads either).
void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  float* yp = scratch(0, static_cast<size_t>(s.COUT) * NL);  // (COUT, N*LOUT)
  if (col) im2col_t(col, x, s);
  if (NL <= kDirectForwardMaxColumns) {
    float* cm = scratch(2, static_cast<size_t>(CK) * NL);
    im2col(cm, x, s);
    gemm_direct(yp, NL, w, CK, s.COUT, CK, cm, NL, NL);
  } else {
    if (!col) {
      col = scratch(2, static_cast<size_t>(conv1d_col_size(s)));
      im2col_t(col, x, s);
    }
    sgemm(Trans::No, Trans::Yes, s.COUT, NL, CK, 1.0f, w, CK, col, CK, 0.0f, yp, NL);
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
  // dy (N, COUT, LOUT) -> dyp (COUT, N*LOUT), the layout of the forward GEMM's output.
  float* dyp = scratch(0, static_cast<size_t>(s.COUT) * NL);
  parallel_for_if(1LL * s.COUT * NL > 200000, s.N * s.COUT, [&](int64_t lo_, int64_t hi_) {
    for (int no = static_cast<int>(lo_); no < static_cast<int>(hi_); ++no) {
      const int n = no / s.COUT, o = no % s.COUT;
      std::memcpy(dyp + static_cast<size_t>(o) * NL + static_cast<size_t>(n) * LOUT, dy + static_cast<size_t>(no) * LOUT,
                  sizeof(float) * static_cast<size_t>(LOUT));
    }
  });
  if (db) {
    float* sums = scratch(6, static_cast<size_t>(s.COUT));
    row_sums(sums, dyp, s.COUT, NL);
    for (int o = 0; o < s.COUT; ++o) db.put(o, sums[o]);
  }
  if (dw) {
    // dw (COUT, CK) = dyp (COUT, NL) . colt (NL, CK): the direct GEMM (colt's slack lets the
    // last 16 columns' loads run past CK).
    float* out = dw.accumulate() ? scratch(5, static_cast<size_t>(s.COUT) * CK) : dw.data;
    gemm_direct(out, CK, dyp, NL, s.COUT, NL, col, CK, CK, true);
    if (dw.accumulate())
      for (int i = 0; i < s.COUT * CK; ++i) dw.data[i] += out[i];
  }
  if (dx) {
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
