// Op family `bmm`: batched matrix product with optional transposes, the core of self-attention
// (scores q k^T, then weights v).
//   forward : a (B, M, K) or, with trans_a, (B, K, M); b (B, K, N) or, with trans_b, (B, N, K)
//             y (B, M, N) = op(a) op(b), per batch entry
//   backward: d op(a) = dy op(b)^T,  d op(b) = op(a)^T dy, each stored in its operand's
//             layout (the transpose of that when the operand was transposed)
// The reference is the definition in plain loops, any scalar type. The float kernels are
// strided batches of row-major GEMMs (kernels/contract/gemm.h): the CPU packed SGEMM per batch
// entry, cuBLAS strided-batched on CUDA. Both backends take the forward and both gradients
// from the same BatchedGemm descriptors below, so they cannot disagree on a transpose. Each
// output element is one K-sum in a fixed order: no thread-count dependence.
#pragma once

#include <cstdint>

#include "kernels/base/grad.h"
#include "kernels/contract/gemm.h"

namespace dc::kernels {

struct BmmShape {
  int B, M, N, K;
  Trans ta = Trans::No, tb = Trans::No;
  int64_t a_size() const { return int64_t{B} * M * K; }
  int64_t b_size() const { return int64_t{B} * K * N; }
  int64_t y_size() const { return int64_t{B} * M * N; }
  int a_cols() const { return ta == Trans::No ? K : M; }  // a's row length as stored
  int b_cols() const { return tb == Trans::No ? N : K; }
};

// op(a)[bt, i, k] and op(b)[bt, k, j] of the definition.
template <class T>
T bmm_a_at(const T* a, const BmmShape& s, int bt, int i, int k) {
  return s.ta == Trans::No ? a[(int64_t{bt} * s.M + i) * s.K + k] : a[(int64_t{bt} * s.K + k) * s.M + i];
}
template <class T>
T bmm_b_at(const T* b, const BmmShape& s, int bt, int k, int j) {
  return s.tb == Trans::No ? b[(int64_t{bt} * s.K + k) * s.N + j] : b[(int64_t{bt} * s.N + j) * s.K + k];
}
// Where element (i, k) of op(a) / (k, j) of op(b) is stored.
inline int64_t bmm_a_index(const BmmShape& s, int bt, int i, int k) {
  return s.ta == Trans::No ? (int64_t{bt} * s.M + i) * s.K + k : (int64_t{bt} * s.K + k) * s.M + i;
}
inline int64_t bmm_b_index(const BmmShape& s, int bt, int k, int j) {
  return s.tb == Trans::No ? (int64_t{bt} * s.K + k) * s.N + j : (int64_t{bt} * s.N + j) * s.K + k;
}

template <class T>
void bmm_forward_reference(T* y, const T* a, const T* b, BmmShape s) {
  for (int bt = 0; bt < s.B; ++bt)
    for (int i = 0; i < s.M; ++i)
      for (int j = 0; j < s.N; ++j) {
        T acc = 0;
        for (int k = 0; k < s.K; ++k) acc += bmm_a_at(a, s, bt, i, k) * bmm_b_at(b, s, bt, k, j);
        y[(int64_t{bt} * s.M + i) * s.N + j] = acc;
      }
}

// da first, then db: when a and b are one buffer (bmm(x, x, ...)) the engine passes
// Overwrite then Accumulate, and both contributions add up.
template <class T>
void bmm_backward_reference(GradOut<T> da, GradOut<T> db, const T* dy, const T* a, const T* b, BmmShape s) {
  const auto dy_at = [&](int bt, int i, int j) { return dy[(int64_t{bt} * s.M + i) * s.N + j]; };
  if (da)
    for (int bt = 0; bt < s.B; ++bt)
      for (int i = 0; i < s.M; ++i)
        for (int k = 0; k < s.K; ++k) {
          T acc = 0;
          for (int j = 0; j < s.N; ++j) acc += dy_at(bt, i, j) * bmm_b_at(b, s, bt, k, j);
          da.put(bmm_a_index(s, bt, i, k), acc);
        }
  if (db)
    for (int bt = 0; bt < s.B; ++bt)
      for (int k = 0; k < s.K; ++k)
        for (int j = 0; j < s.N; ++j) {
          T acc = 0;
          for (int i = 0; i < s.M; ++i) acc += bmm_a_at(a, s, bt, i, k) * dy_at(bt, i, j);
          db.put(bmm_b_index(s, bt, k, j), acc);
        }
}

// ---- the GEMMs the float kernels run ---------------------------------------------------------

// C_i (M, N) = op(A_i) op(B_i) (+ C_i when accumulating) for i < batch, A_i = A + i * stride_a
// (likewise B, C), row-major with leading dimensions lda, ldb, ldc (kernels/contract/gemm.h).
struct BatchedGemm {
  Trans ta, tb;
  int M, N, K;
  int lda, ldb, ldc;
  int64_t stride_a, stride_b, stride_c;
  int batch;
};

// Which buffers a gradient's product reads: dy as A and the other operand as B, or the
// other way round.
struct BmmProduct {
  BatchedGemm gemm;
  bool dy_is_a;
};

inline Trans flip(Trans t) { return t == Trans::No ? Trans::Yes : Trans::No; }

// y = op(a) op(b)
inline BatchedGemm bmm_forward_gemm(const BmmShape& s) {
  return {s.ta, s.tb, s.M, s.N, s.K, s.a_cols(), s.b_cols(), s.N, int64_t{s.M} * s.K, int64_t{s.K} * s.N,
          int64_t{s.M} * s.N, s.B};
}

// da: (M, K) = dy op(b)^T when a is stored (M, K); (K, M) = op(b) dy^T when stored transposed.
inline BmmProduct bmm_grad_a_gemm(const BmmShape& s) {
  const int64_t sy = int64_t{s.M} * s.N, sb = int64_t{s.K} * s.N, sa = int64_t{s.M} * s.K;
  if (s.ta == Trans::No) return {{Trans::No, flip(s.tb), s.M, s.K, s.N, s.N, s.b_cols(), s.K, sy, sb, sa, s.B}, true};
  return {{s.tb, Trans::Yes, s.K, s.M, s.N, s.b_cols(), s.N, s.M, sb, sy, sa, s.B}, false};
}

// db: (K, N) = op(a)^T dy when b is stored (K, N); (N, K) = dy^T op(a) when stored transposed.
inline BmmProduct bmm_grad_b_gemm(const BmmShape& s) {
  const int64_t sy = int64_t{s.M} * s.N, sb = int64_t{s.K} * s.N, sa = int64_t{s.M} * s.K;
  if (s.tb == Trans::No) return {{flip(s.ta), Trans::No, s.K, s.N, s.M, s.a_cols(), s.N, s.N, sa, sy, sb, s.B}, false};
  return {{Trans::Yes, s.ta, s.N, s.K, s.M, s.N, s.a_cols(), s.K, sy, sa, sb, s.B}, true};
}

// The backward as a backend runs it: da's product, then db's (a null gradient skipped), each
// as run(gemm, A, B, beta, C) with beta 1 to accumulate. Both backends call this with their
// strided-batch GEMM, so they read the same buffers in the same roles.
template <class Run>
void bmm_backward_products(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b,
                           const BmmShape& s, Run&& run) {
  if (da) {
    const BmmProduct p = bmm_grad_a_gemm(s);
    run(p.gemm, p.dy_is_a ? dy : b, p.dy_is_a ? b : dy, da.accumulate() ? 1.0f : 0.0f, da.data);
  }
  if (db) {
    const BmmProduct p = bmm_grad_b_gemm(s);
    run(p.gemm, p.dy_is_a ? dy : a, p.dy_is_a ? a : dy, db.accumulate() ? 1.0f : 0.0f, db.data);
  }
}

namespace cpu {
void bmm_forward(float* y, const float* a, const float* b, BmmShape s);
void bmm_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, BmmShape s);
}  // namespace cpu

namespace cuda {
void bmm_forward(float* y, const float* a, const float* b, BmmShape s);
void bmm_backward(GradOut<float> da, GradOut<float> db, const float* dy, const float* a, const float* b, BmmShape s);
}  // namespace cuda

}  // namespace dc::kernels
