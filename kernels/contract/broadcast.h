// Op family `broadcast`: add / mul of two tensors of different shapes under numpy's
// broadcasting rule (shapes aligned on the right; in each dimension the sizes are equal or
// one of them is 1, and the output takes the larger). Equal shapes never come here: they
// keep the `binary` family's plain loops (kernels/contract/elementwise.h).
//
// The kernels see a BroadcastShape: the output's dimensions with size-1 ones dropped and
// neighbours merged where both operands are either read along them or broadcast along them
// (e.g. (16, 100, 64) + (100, 64) is 16 x 6400 with a broadcast along the 16), and each
// operand's element stride along each (0 where it is broadcast).
//   forward : y[i] = a[ia(i)] + b[ib(i)]  (or *), i over the output in order
//   backward: da[j] = sum over the outputs i with ia(i) = j of dy[i] (add) or dy[i] b[ib(i)]
//             (mul), and likewise db. Each sum starts at 0 and adds its terms in increasing
//             output index i: one fixed order, so any split of the j's across threads (or
//             GPU threads) gives the same bits as the reference loop.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/base/grad.h"
#include "kernels/base/portable.h"
#include "kernels/contract/elementwise.h"

namespace dc::kernels {

// Flat index i over `rank` row-major dimensions of `size`, as offsets along two sets of
// strides: *o1 = sum_d idx_d s1[d], *o2 = sum_d idx_d s2[d].
DC_HOST_DEVICE inline void unravel_offsets(int64_t i, int rank, const int64_t* size, const int64_t* s1, const int64_t* s2,
                                           int64_t* o1, int64_t* o2) {
  int64_t a = 0, b = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t idx = i % size[d];
    i /= size[d];
    a += idx * s1[d];
    b += idx * s2[d];
  }
  *o1 = a;
  *o2 = b;
}

struct BroadcastShape {
  static constexpr int kMaxDims = 8;
  int rank = 0;                 // dimensions after merging; 0 only for a one-element output
  int64_t size[kMaxDims] = {};  // output sizes, all > 1
  int64_t stride_a[kMaxDims] = {};
  int64_t stride_b[kMaxDims] = {};

  DC_HOST_DEVICE int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= size[d];
    return n;
  }
  // How many elements an operand has: the product of the sizes it is read along.
  DC_HOST_DEVICE int64_t numel_of(const int64_t* stride) const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= stride[d] != 0 ? size[d] : 1;
    return n;
  }
  // The offsets in a and b of output element i.
  DC_HOST_DEVICE void offsets(int64_t i, int64_t* ia, int64_t* ib) const {
    unravel_offsets(i, rank, size, stride_a, stride_b, ia, ib);
  }
};

// The output shape of broadcasting a with b, or an empty `ok` with the first dimension (counted
// from the right, 1-based) where they disagree.
struct BroadcastResult {
  bool ok = false;
  int bad_dim_from_right = 0;
  std::vector<int64_t> shape;
};

inline BroadcastResult broadcast_result(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  BroadcastResult r;
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  r.shape.assign(n, 1);
  for (size_t k = 1; k <= n; ++k) {  // k-th dimension from the right
    const int64_t sa = k <= a.size() ? a[a.size() - k] : 1, sb = k <= b.size() ? b[b.size() - k] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      r.bad_dim_from_right = static_cast<int>(k);
      return r;
    }
    r.shape[n - k] = sa == 1 ? sb : sa;
  }
  r.ok = true;
  return r;
}

// The merged view of broadcasting a with b (compatible shapes: broadcast_result(a, b).ok).
// rank is set to -1 when more than kMaxDims dimensions remain after merging.
inline BroadcastShape broadcast_view(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const std::vector<int64_t> out = broadcast_result(a, b).shape;
  const size_t n = out.size();
  // Contiguous strides of each operand over the output's dimensions (0 where broadcast).
  std::vector<int64_t> sa(n, 0), sb(n, 0);
  int64_t ra = 1, rb = 1;
  for (size_t k = 1; k <= n; ++k) {
    const size_t d = n - k;
    const int64_t da = k <= a.size() ? a[a.size() - k] : 1, db = k <= b.size() ? b[b.size() - k] : 1;
    sa[d] = da == out[d] && out[d] > 1 ? ra : 0;
    sb[d] = db == out[d] && out[d] > 1 ? rb : 0;
    ra *= da;
    rb *= db;
  }
  BroadcastShape s;
  for (size_t d = 0; d < n; ++d) {
    if (out[d] == 1) continue;
    const bool merge = s.rank > 0 && (sa[d] != 0) == (s.stride_a[s.rank - 1] != 0) &&
                       (sb[d] != 0) == (s.stride_b[s.rank - 1] != 0);
    if (merge) {  // the merged dimension keeps the inner stride
      s.size[s.rank - 1] *= out[d];
      s.stride_a[s.rank - 1] = sa[d];
      s.stride_b[s.rank - 1] = sb[d];
      continue;
    }
    if (s.rank == BroadcastShape::kMaxDims) {
      s.rank = -1;
      return s;
    }
    s.size[s.rank] = out[d];
    s.stride_a[s.rank] = sa[d];
    s.stride_b[s.rank] = sb[d];
    ++s.rank;
  }
  return s;
}

template <class T>
void broadcast_forward_reference(T* y, const T* a, const T* b, const BroadcastShape& s, Binary op) {
  const int64_t n = s.numel();
  for (int64_t i = 0; i < n; ++i) {
    int64_t ia, ib;
    s.offsets(i, &ia, &ib);
    y[i] = op == Binary::Add ? a[ia] + b[ib] : a[ia] * b[ib];
  }
}

// da first, then db (a null one is skipped).
template <class T>
void broadcast_backward_reference(GradOut<T> da, GradOut<T> db, const T* dy, const T* a, const T* b, const BroadcastShape& s,
                                  Binary op) {
  const int64_t n = s.numel();
  std::vector<T> sum_a(static_cast<size_t>(s.numel_of(s.stride_a)), T(0)), sum_b(static_cast<size_t>(s.numel_of(s.stride_b)), T(0));
  for (int64_t i = 0; i < n; ++i) {
    int64_t ia, ib;
    s.offsets(i, &ia, &ib);
    sum_a[static_cast<size_t>(ia)] += op == Binary::Add ? dy[i] : dy[i] * b[ib];
    sum_b[static_cast<size_t>(ib)] += op == Binary::Add ? dy[i] : dy[i] * a[ia];
  }
  if (da)
    for (size_t j = 0; j < sum_a.size(); ++j) da.put(static_cast<int64_t>(j), sum_a[j]);
  if (db)
    for (size_t j = 0; j < sum_b.size(); ++j) db.put(static_cast<int64_t>(j), sum_b[j]);
}

// ---- the gradient of one operand as the kernels walk it ------------------------------------

// Operand X's gradient: its element j is the sum over the "reduced" dimensions (those X is
// broadcast along) at the position of j in the "kept" ones (those X is read along). Both lists
// are in output order, with each dimension's stride in the output and in the other operand
// (the one the mul's terms read). Built on the host, passed by value to CUDA kernels.
struct ReduceView {
  static constexpr int kMaxDims = BroadcastShape::kMaxDims;
  int kept = 0, reduced = 0;
  int64_t kept_size[kMaxDims] = {}, kept_out[kMaxDims] = {}, kept_other[kMaxDims] = {};
  int64_t red_size[kMaxDims] = {}, red_out[kMaxDims] = {}, red_other[kMaxDims] = {};
  int64_t n_kept = 1, n_reduced = 1;

  // Offsets in the output and in the other operand of kept index j (X's element j).
  DC_HOST_DEVICE void kept_offsets(int64_t j, int64_t* out, int64_t* other) const {
    unravel_offsets(j, kept, kept_size, kept_out, kept_other, out, other);
  }
  // Offsets of reduced index t (the t-th term of every sum, in increasing output order).
  DC_HOST_DEVICE void reduced_offsets(int64_t t, int64_t* out, int64_t* other) const {
    unravel_offsets(t, reduced, red_size, red_out, red_other, out, other);
  }
};

// The ReduceView of a's gradient (for_a) or b's.
inline ReduceView reduce_view(const BroadcastShape& s, bool for_a) {
  ReduceView v;
  const int64_t* mine = for_a ? s.stride_a : s.stride_b;
  const int64_t* other = for_a ? s.stride_b : s.stride_a;
  int64_t out_stride = 1;
  int64_t out_strides[BroadcastShape::kMaxDims] = {};
  for (int d = s.rank - 1; d >= 0; --d) {
    out_strides[d] = out_stride;
    out_stride *= s.size[d];
  }
  for (int d = 0; d < s.rank; ++d) {
    if (mine[d] != 0) {
      v.kept_size[v.kept] = s.size[d];
      v.kept_out[v.kept] = out_strides[d];
      v.kept_other[v.kept] = other[d];
      v.n_kept *= s.size[d];
      ++v.kept;
    } else {
      v.red_size[v.reduced] = s.size[d];
      v.red_out[v.reduced] = out_strides[d];
      v.red_other[v.reduced] = other[d];
      v.n_reduced *= s.size[d];
      ++v.reduced;
    }
  }
  return v;
}

namespace cpu {
void broadcast_forward(float* y, const float* a, const float* b, const BroadcastShape& s, Binary op);
void broadcast_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b,
                        const BroadcastShape& s, Binary op);
}  // namespace cpu

namespace cuda {
void broadcast_forward(float* y, const float* a, const float* b, const BroadcastShape& s, Binary op);
void broadcast_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b,
                        const BroadcastShape& s, Binary op);
}  // namespace cuda

}  // namespace dc::kernels
