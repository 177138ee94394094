#include "kernels/contract/conv1d.h"

#include "kernels/cpu/common.h"
#include "kernels/cpu/gemm.h"
#include "kernels/base/scratch.h"

namespace dc::kernels::cpu {

// col (CIN*K, N*LOUT): col[(c*K + k), n*LOUT + l] = x[n, c, l*stride + k - pad] (0 outside).
// Laying the batch along the columns turns the whole batch into one GEMM per direction.
// Without a caller's `col` (inference) it lives in scratch slot 2.
void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  if (!col) col = scratch(2, static_cast<size_t>(conv1d_col_size(s)));
  parallel_for_if(1LL * CK * NL > 50000, CK, [&](int64_t lo_, int64_t hi_) {
    for (int r = static_cast<int>(lo_); r < static_cast<int>(hi_); ++r) {
      const int c = r / s.K, k = r % s.K;
      float* dst = col + static_cast<size_t>(r) * NL;
      for (int n = 0; n < s.N; ++n) {
        const float* src = x + (static_cast<size_t>(n) * s.CIN + c) * s.L;
        for (int l = 0; l < LOUT; ++l) {
          const int pos = l * s.stride + k - s.pad;
          dst[n * LOUT + l] = (pos >= 0 && pos < s.L) ? src[pos] : 0.0f;
        }
      }
    }
  });
  float* yp = scratch(0, static_cast<size_t>(s.COUT) * NL);  // (COUT, N*LOUT)
  sgemm(Trans::No, Trans::No, s.COUT, NL, CK, 1.0f, w, CK, col, NL, 0.0f, yp, NL);
  parallel_for_if(1LL * s.COUT * NL > 50000, s.N * s.COUT, [&](int64_t lo_, int64_t hi_) {
    for (int no = static_cast<int>(lo_); no < static_cast<int>(hi_); ++no) {
      const int n = no / s.COUT, o = no % s.COUT;
      const float bias = b ? b[o] : 0.0f;
      const float* src = yp + static_cast<size_t>(o) * NL + static_cast<size_t>(n) * LOUT;
      float* dst = y + static_cast<size_t>(no) * LOUT;
      for (int l = 0; l < LOUT; ++l) dst[l] = src[l] + bias;
    }
  });
}

void conv1d_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* col,
                     const float* w, Conv1dShape s) {
  const int LOUT = s.LOUT(), CK = s.CIN * s.K, NL = s.N * LOUT;
  // dy (N, COUT, LOUT) -> dyp (COUT, N*LOUT), the layout of the forward GEMM's output.
  float* dyp = scratch(0, static_cast<size_t>(s.COUT) * NL);
  parallel_for_if(1LL * s.COUT * NL > 50000, s.N * s.COUT, [&](int64_t lo_, int64_t hi_) {
    for (int no = static_cast<int>(lo_); no < static_cast<int>(hi_); ++no) {
      const int n = no / s.COUT, o = no % s.COUT;
      const float* src = dy + static_cast<size_t>(no) * LOUT;
      float* dst = dyp + static_cast<size_t>(o) * NL + static_cast<size_t>(n) * LOUT;
      for (int l = 0; l < LOUT; ++l) dst[l] = src[l];
    }
  });
  if (db)
    for (int o = 0; o < s.COUT; ++o) {
      float acc = 0.0f;
      const float* row = dyp + static_cast<size_t>(o) * NL;
      for (int j = 0; j < NL; ++j) acc += row[j];
      db.put(o, acc);
    }
  if (dw)  // dw (COUT, CK) = dyp (COUT, NL) . col^T (NL, CK)
    sgemm(Trans::No, Trans::Yes, s.COUT, CK, NL, 1.0f, dyp, NL, col, NL, dw.accumulate() ? 1.0f : 0.0f, dw.data, CK);
  if (dx) {
    // dcol (CK, NL) = w^T (CK, COUT) . dyp (COUT, NL), then scatter back (col2im).
    float* dcol = scratch(1, static_cast<size_t>(CK) * NL);
    sgemm(Trans::Yes, Trans::No, CK, NL, s.COUT, 1.0f, w, CK, dyp, NL, 0.0f, dcol, NL);
    parallel_for_if(1LL * CK * NL > 50000, s.N * s.CIN, [&](int64_t lo_, int64_t hi_) {
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
