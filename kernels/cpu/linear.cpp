#include "kernels/contract/linear.h"

#include <algorithm>
#include <cstring>

#include "kernels/contract/optim.h"
#include "kernels/cpu/common.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/simd.h"
#include "kernels/base/scratch.h"

namespace dc::kernels::cpu {
namespace {

// A batch of one is matrix-vector work, bound by streaming w: no GEMM packing, each
// weight row read once, rows split across threads. A row's dot product is summed in 16
// lanes (lane j takes the columns j mod 16) and the lanes added in a fixed tree, so its
// bits do not depend on the vector width the CPU offers; four rows share each load of x and
// keep four independent chains of FMAs in flight (one row's chain alone is latency-bound).
template <int R>
DC_AI void dot_rows(float* y, const float* x, const float* w, const float* b, int IN, int64_t o) {
  constexpr int L = kVec;
  vf16 acc[R];
  const float* row[R];
  for (int r = 0; r < R; ++r) {
    acc[r] = vf16{};
    row[r] = w + (o + r) * IN;
  }
  int i = 0;
  for (; i + L <= IN; i += L) {
    const vf16 xv = ld<vf16>(x + i);
    for (int r = 0; r < R; ++r) acc[r] += ld<vf16>(row[r] + i) * xv;
  }
  for (int r = 0; r < R; ++r) {
    float tail[L];
    const int n = IN - i;
    for (int j = 0; j < n; ++j) tail[j] = row[r][i + j] * x[i + j];
    y[o + r] = hsum_with_tail(acc[r], tail, n) + (b ? b[o + r] : 0.0f);
  }
}

DC_CPU_CLONES void gemv_range(float* y, const float* x, const float* w, const float* b, int IN, int64_t o0,
                                                      int64_t o1) {
  int64_t o = o0;
  for (; o + 4 <= o1; o += 4) dot_rows<4>(y, x, w, b, IN, o);
  for (; o < o1; ++o) dot_rows<1>(y, x, w, b, IN, o);
}

void gemv_rows(float* y, const float* x, const float* w, const float* b, int IN, int OUT) {
  if (use_threads(1LL * IN * OUT, 100000)) {
    run_team([&] {
      const Range r = thread_range(OUT);
      gemv_range(y, x, w, b, IN, r.begin, r.end);
    });
  } else {
    gemv_range(y, x, w, b, IN, 0, OUT);
  }
}

// dx (IN) (+)= w^T dy and dw (OUT, IN) (+)= dy x^T for a batch of one. Threads split the
// rows of w, as in the forward pass, so each core streams the same rows (which stay in its
// cache from step to step). dx is summed per fixed block of rows and the block sums are
// added in block order: the result does not depend on the thread count.
// Rows [o0, o1) of w: the block sums of dx for the blocks starting there, and dw's rows.
// With `sgd` (plain SGD applied in the backward pass), each row is then updated in place,
// w -= lr (weight_decay w + dy x^T), while it is still in the cache: one sweep of w instead
// of two (the same arithmetic as sgd_factored_update after the dx pass, so the same bits).
struct SgdInPlace {
  float* w;
  float lr, weight_decay;
};

DC_CPU_CLONES void rank1_rows(float* part, float* dw, GradMode dw_mode, const float* dy, const float* x,
                                                      const float* w, int IN, int OUT, int64_t blk0, int64_t blk1,
                                                      const SgdInPlace* sgd) {
  constexpr int RB = 32;  // rows per block
  for (int64_t blk = blk0; blk < blk1; ++blk) {
    const int64_t o0 = blk * RB, o1 = std::min<int64_t>(OUT, o0 + RB);
    if (part) {
      float* acc = part + blk * IN;
      for (int i = 0; i < IN; ++i) acc[i] = 0.0f;
      for (int64_t o = o0; o < o1; ++o) {
        const float g = dy[o];
        if (g != 0.0f) {  // ReLU zeroes about half of dy
          const float* row = w + o * IN;
#pragma omp simd
          for (int i = 0; i < IN; ++i) acc[i] += g * row[i];
        }
        if (sgd && (g != 0.0f || sgd->weight_decay != 0.0f))
          sgd_rank1_row(sgd->w + o * IN, x, g, IN, sgd->lr, sgd->weight_decay);
      }
    }
    if (dw)
      for (int64_t o = o0; o < o1; ++o) {
        float* row = dw + o * IN;
        const float g = dy[o];
        if (dw_mode == GradMode::Overwrite) {
#pragma omp simd
          for (int i = 0; i < IN; ++i) row[i] = g * x[i];
        } else if (g != 0.0f) {
#pragma omp simd
          for (int i = 0; i < IN; ++i) row[i] += g * x[i];
        }
      }
  }
}

// Columns [i, i + 16) of reduce_blocks. (A template inlined into the clones: clang refuses
// vf16 values in a function of its own compiled for the baseline instruction set.)
template <class V>
DC_AI void reduce_columns(float* dx, GradMode dx_mode, const float* part, int nb, int IN, int64_t i) {
  V sum{};
  for (int blk = 0; blk < nb; ++blk) sum += ld<V>(part + static_cast<int64_t>(blk) * IN + i);
  if (dx_mode == GradMode::Accumulate) sum = ld<V>(dx + i) + sum;
  st(dx + i, sum);
}

// dx[i] (+)= the block sums of column i, added in block order; 16 columns at a time.
DC_CPU_CLONES void reduce_blocks(float* dx, GradMode dx_mode, const float* part, int nb, int IN, int64_t i0,
                                                         int64_t i1) {
  int64_t i = i0;
  for (; i + kVec <= i1; i += kVec) reduce_columns<vf16>(dx, dx_mode, part, nb, IN, i);
  for (; i < i1; ++i) {
    float sum = 0.0f;
    for (int blk = 0; blk < nb; ++blk) sum += part[static_cast<int64_t>(blk) * IN + i];
    dx[i] = dx_mode == GradMode::Overwrite ? sum : dx[i] + sum;
  }
}

// dx (IN) (+)= w^T dy and dw (OUT, IN) (+)= dy x^T for a batch of one (see rank1_rows).
void rank1_backward(float* dx, GradMode dx_mode, float* dw, GradMode dw_mode, const float* dy,
                    const float* x, const float* w, int IN, int OUT, const SgdInPlace* sgd = nullptr) {
  const int nb = (OUT + 31) / 32;
  // The update in place needs the blocks' pass even without dx (its sums then go unused).
  float* part = dx || sgd ? scratch(2, static_cast<size_t>(nb) * IN) : nullptr;
  if (use_threads(1LL * IN * OUT, 100000)) {
    run_team([&] {
      const Range r = thread_range(nb);
      rank1_rows(part, dw, dw_mode, dy, x, w, IN, OUT, r.begin, r.end, sgd);
      if (dx) {
        team_barrier();
        const Range c = thread_range(IN);
        reduce_blocks(dx, dx_mode, part, nb, IN, c.begin, c.end);
      }
    });
  } else {
    rank1_rows(part, dw, dw_mode, dy, x, w, IN, OUT, 0, nb, sgd);
    if (dx) reduce_blocks(dx, dx_mode, part, nb, IN, 0, IN);
  }
}

}  // namespace

void linear_forward(float* y, const float* x, const float* w, const float* b, LinearShape s) {
  if (s.N == 1) return gemv_rows(y, x, w, b, s.IN, s.OUT);
  sgemm(Trans::No, Trans::Yes, s.N, s.OUT, s.IN, 1.0f, x, s.IN, w, s.IN, 0.0f, y, s.OUT);
  if (b)
    for (int n = 0; n < s.N; ++n)
      for (int o = 0; o < s.OUT; ++o) y[static_cast<size_t>(n) * s.OUT + o] += b[o];
}

void linear_rank1_backward_sgd(GradOut<float> dx, GradOut<float> db, const float* dy, const float* x, float* w, int IN,
                               int OUT, float lr, float weight_decay) {
  const SgdInPlace sgd{w, lr, weight_decay};
  rank1_backward(dx.data, dx.mode, nullptr, GradMode::Overwrite, dy, x, w, IN, OUT, &sgd);
  if (db)
    for (int o = 0; o < OUT; ++o) {
      float acc = 0.0f;  // as linear_backward sums it (0 + -0 is +0)
      acc += dy[o];
      db.put(o, acc);
    }
}

void linear_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                     const float* w, LinearShape s) {
  if (s.N == 1) {
    rank1_backward(dx.data, dx.mode, dw.data, dw.mode, dy, x, w, s.IN, s.OUT);
  } else {
    if (dx)
      sgemm(Trans::No, Trans::No, s.N, s.IN, s.OUT, 1.0f, dy, s.OUT, w, s.IN, dx.accumulate() ? 1.0f : 0.0f, dx.data,
            s.IN);
    if (dw)
      sgemm(Trans::Yes, Trans::No, s.OUT, s.IN, s.N, 1.0f, dy, s.OUT, x, s.IN, dw.accumulate() ? 1.0f : 0.0f, dw.data,
            s.IN);
  }
  if (db)
    for (int o = 0; o < s.OUT; ++o) {
      float acc = 0.0f;
      for (int n = 0; n < s.N; ++n) acc += dy[static_cast<size_t>(n) * s.OUT + o];
      db.put(o, acc);
    }
}

}  // namespace dc::kernels::cpu
