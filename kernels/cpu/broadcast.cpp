// CPU kernels of the `broadcast` family (kernels/contract/broadcast.h).
//   forward : rows of the innermost merged dimension, where each operand's stride is 0 or 1,
//             so the inner loop is a plain (vectorizable) loop; rows split across the threads.
//   backward: each operand's gradient is a sum over the dimensions it was broadcast along.
//             The gradient's elements are split across the threads; every element's sum adds
//             its terms in increasing output index, as the reference does, so the bits do not
//             depend on the thread count. When the output's innermost dimension is one the
//             operand is read along (a bias, a positional table), a run of neighbouring
//             elements is summed together, row by row of the output; otherwise (the operand
//             broadcast along the innermost dimension) each element's sum reads one
//             contiguous run per term.
#include "kernels/contract/broadcast.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

constexpr int64_t kThreadsFrom = 200000;  // output elements (as the same-shape add / mul)

template <Binary OP>
__attribute__((always_inline)) inline float combine(float a, float b) {
  if constexpr (OP == Binary::Add) return a + b;
  else return a * b;
}

// y[0, W) = a[k * SA] op b[k * SB]: SA, SB in {0, 1}.
template <Binary OP, int SA, int SB>
void row(float* y, const float* a, const float* b, int64_t W) {
  for (int64_t k = 0; k < W; ++k) y[k] = combine<OP>(a[k * SA], b[k * SB]);
}

template <Binary OP>
void forward_as(float* y, const float* a, const float* b, const BroadcastShape& s) {
  if (s.rank == 0) {
    y[0] = combine<OP>(a[0], b[0]);
    return;
  }
  const int64_t W = s.size[s.rank - 1], rows = s.numel() / W;
  const int64_t sa = s.stride_a[s.rank - 1], sb = s.stride_b[s.rank - 1];
  parallel_for_if(s.numel() > kThreadsFrom, rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t ia, ib;
      s.offsets(r * W, &ia, &ib);
      float* yr = y + r * W;
      if (sa == 1 && sb == 1) row<OP, 1, 1>(yr, a + ia, b + ib, W);
      else if (sa == 1) row<OP, 1, 0>(yr, a + ia, b + ib, W);
      else row<OP, 0, 1>(yr, a + ia, b + ib, W);  // (0, 0) cannot happen: size-1 dims are dropped
    }
  });
}

// The term of output element `o` in an operand's gradient: dy (add) or dy times the other
// operand (mul).
template <Binary OP>
__attribute__((always_inline)) inline float term(const float* dy, const float* other, int64_t o, int64_t p) {
  if constexpr (OP == Binary::Add) return dy[o];
  else return dy[o] * other[p];
}

// The operand is read along the output's innermost dimension (width W): elements [j0, j1)
// in runs that stay inside one row of W, each run summed column-wise over the terms.
template <Binary OP>
void reduce_rows(GradOut<float> dx, const float* dy, const float* other, const ReduceView& v, int64_t j0, int64_t j1) {
  const int64_t W = v.kept_size[v.kept - 1], so = v.kept_other[v.kept - 1];
  std::vector<float> acc(static_cast<size_t>(std::min<int64_t>(W, j1 - j0)));
  for (int64_t j = j0; j < j1;) {
    const int64_t c0 = j % W, len = std::min(W - c0, j1 - j);
    int64_t ko, kp;
    v.kept_offsets(j - c0, &ko, &kp);  // the row's first element
    ko += c0;
    kp += c0 * so;
    std::fill(acc.begin(), acc.begin() + len, 0.0f);
    for (int64_t t = 0; t < v.n_reduced; ++t) {
      int64_t ro, rp;
      v.reduced_offsets(t, &ro, &rp);
      const int64_t o = ko + ro, p = kp + rp;
      if (so == 1)
        for (int64_t c = 0; c < len; ++c) acc[c] += term<OP>(dy, other, o + c, p + c);
      else
        for (int64_t c = 0; c < len; ++c) acc[c] += term<OP>(dy, other, o + c, p);
    }
    for (int64_t c = 0; c < len; ++c) dx.put(j + c, acc[c]);
    j += len;
  }
}

// The operand is broadcast along the output's innermost dimension: element j's sum reads
// runs of that dimension's width, contiguous in dy (and in the other operand, which is read
// along it).
template <Binary OP>
void reduce_runs(GradOut<float> dx, const float* dy, const float* other, const ReduceView& v, int64_t j0, int64_t j1) {
  const int64_t W = v.reduced > 0 ? v.red_size[v.reduced - 1] : 1;
  const int64_t so = v.reduced > 0 ? v.red_other[v.reduced - 1] : 0;
  const int64_t runs = v.n_reduced / W;
  for (int64_t j = j0; j < j1; ++j) {
    int64_t ko, kp;
    v.kept_offsets(j, &ko, &kp);
    float acc = 0.0f;
    for (int64_t u = 0; u < runs; ++u) {
      int64_t ro, rp;
      v.reduced_offsets(u * W, &ro, &rp);
      const int64_t o = ko + ro, p = kp + rp;
      for (int64_t c = 0; c < W; ++c) acc += term<OP>(dy, other, o + c, p + c * so);
    }
    dx.put(j, acc);
  }
}

template <Binary OP>
void reduce_into(GradOut<float> dx, const float* dy, const float* other, const BroadcastShape& s, bool for_a) {
  const ReduceView v = reduce_view(s, for_a);
  const bool rows = v.kept > 0 && v.kept_out[v.kept - 1] == 1;
  parallel_for_if(s.numel() > kThreadsFrom, v.n_kept, [&](int64_t j0, int64_t j1) {
    if (j1 <= j0) return;
    if (rows) reduce_rows<OP>(dx, dy, other, v, j0, j1);
    else reduce_runs<OP>(dx, dy, other, v, j0, j1);
  });
}

}  // namespace

void broadcast_forward(float* y, const float* a, const float* b, const BroadcastShape& s, Binary op) {
  if (op == Binary::Add) forward_as<Binary::Add>(y, a, b, s);
  else forward_as<Binary::Mul>(y, a, b, s);
}

void broadcast_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b,
                        const BroadcastShape& s, Binary op) {
  const auto reduce = op == Binary::Add ? &reduce_into<Binary::Add> : &reduce_into<Binary::Mul>;
  if (da) reduce(da, dy, b, s, true);  // da first, then db
  if (db) reduce(db, dy, a, s, false);
}

}  // namespace dc::kernels::cpu
