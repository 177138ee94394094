// CUDA twins of kernels/contract/elementwise.h: activations (relu, tanh, sigmoid, exp), gelu
// and binary add / mul over n contiguous device elements. Same signatures and semantics as the fast
// CPU functions; a null gradient pointer means "not needed". 
// Grid-stride loops, four elements per step through
// float4 loads when every pointer involved is 16-byte aligned, one at a time otherwise and
// for the n % 4 tail. Each element's arithmetic is the same on both paths.
#include "kernels/contract/elementwise.h"

#include <cstdint>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/pointwise.cuh"

namespace dc::kernels::cuda {
namespace {

using namespace pointwise;

// d (=|+=) v, elementwise (loads d only when accumulating).
template <int W>
__device__ __forceinline__ void put(float* d, int64_t i, Vec<W> v, bool accumulate) {
  if (accumulate) {
    const Vec<W> old = load<W>(d, i);
#pragma unroll
    for (int k = 0; k < W; ++k) v.v[k] = __fadd_rn(old.v[k], v.v[k]);
  }
  store<W>(d, i, v);
}

// ---- activations ---------------------------------------------------------------------------
template <Activation A>
__device__ __forceinline__ float activate(float v) {
  if constexpr (A == Activation::Relu) return v > 0.0f ? v : 0.0f;
  else if constexpr (A == Activation::Tanh) return tanhf(v);
  else if constexpr (A == Activation::Sigmoid)
    return v >= 0.0f ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));  // never exp of a large positive
  else return expf(v);
}

// dy * activation'(y); relu is a select (as the CPU's fast path), not a multiply.
template <Activation A>
__device__ __forceinline__ float grad_of(float dy, float y) {
  if constexpr (A == Activation::Relu) return y > 0.0f ? dy : 0.0f;
  else if constexpr (A == Activation::Tanh) return dy * (1.0f - y * y);
  else if constexpr (A == Activation::Sigmoid) return dy * (y * (1.0f - y));
  else return __fmul_rn(dy, y);
}

// ---- gelu (exact erf form; its derivative needs the input x) ----------------------------------
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f)); }

__device__ __forceinline__ float gelu_grad(float x) {
  const float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752440f));
  const float pdf = 0.39894228040143267794f * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

// The per-element functions: F::value(x), and F::grad(dy, saved) = dy * f'(...) from the
// saved tensor (the output y for the activations, the input x for gelu).
template <Activation A>
struct ActivationFn {
  __device__ __forceinline__ static float value(float v) { return activate<A>(v); }
  __device__ __forceinline__ static float grad(float dy, float y) { return grad_of<A>(dy, y); }
};

struct GeluFn {
  __device__ __forceinline__ static float value(float x) { return gelu(x); }
  __device__ __forceinline__ static float grad(float dy, float x) { return __fmul_rn(dy, gelu_grad(x)); }
};

template <class F>
struct MapForward {
  float* y;
  const float* x;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    Vec<W> v = load<W>(x, i);
#pragma unroll
    for (int k = 0; k < W; ++k) v.v[k] = F::value(v.v[k]);
    store<W>(y, i, v);
  }
};

template <class F>
struct MapBackward {
  float* dx;
  const float* dy;
  const float* saved;
  bool accumulate;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    const Vec<W> g = load<W>(dy, i), s = load<W>(saved, i);
    Vec<W> v;
#pragma unroll
    for (int k = 0; k < W; ++k) v.v[k] = F::grad(g.v[k], s.v[k]);
    put<W>(dx, i, v, accumulate);
  }
};

// ---- add / mul -----------------------------------------------------------------------------
// Products use __fmul_rn so that an accumulation is never contracted into an FMA: the
// result then rounds exactly as the CPU's separate multiply and add.
template <Binary B>
struct BinaryForward {
  float* y;
  const float* a;
  const float* b;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    const Vec<W> va = load<W>(a, i), vb = load<W>(b, i);
    Vec<W> v;
#pragma unroll
    for (int k = 0; k < W; ++k)
      v.v[k] = B == Binary::Add ? __fadd_rn(va.v[k], vb.v[k]) : __fmul_rn(va.v[k], vb.v[k]);
    store<W>(y, i, v);
  }
};

template <Binary B>
struct BinaryBackward {
  float* da;
  float* db;
  const float* dy;
  const float* a;
  const float* b;
  bool da_accumulate, db_accumulate;
  template <int W>
  __device__ __forceinline__ void apply(int64_t i) const {
    const Vec<W> g = load<W>(dy, i);
    // da first, then db (re-loaded after da's store): da == db sums both contributions.
    if (da) {
      Vec<W> v = g;
      if constexpr (B == Binary::Mul) {
        const Vec<W> vb = load<W>(b, i);
#pragma unroll
        for (int k = 0; k < W; ++k) v.v[k] = __fmul_rn(g.v[k], vb.v[k]);
      }
      put<W>(da, i, v, da_accumulate);
    }
    if (db) {
      Vec<W> v = g;
      if constexpr (B == Binary::Mul) {
        const Vec<W> va = load<W>(a, i);
#pragma unroll
        for (int k = 0; k < W; ++k) v.v[k] = __fmul_rn(g.v[k], va.v[k]);
      }
      put<W>(db, i, v, db_accumulate);
    }
  }
};

template <Activation A>
void activation_forward_as(float* y, const float* x, int64_t n) {
  launch_pointwise(MapForward<ActivationFn<A>>{y, x}, n, aligned16(y) && aligned16(x));
}

template <Activation A>
void activation_backward_as(float* dx, bool accumulate, const float* dy, const float* y, int64_t n) {
  launch_pointwise(MapBackward<ActivationFn<A>>{dx, dy, y, accumulate}, n, aligned16(dx) && aligned16(dy) && aligned16(y));
}

}  // namespace

void activation_forward(float* y, const float* x, int64_t n, Activation a) {
  switch (a) {
    case Activation::Relu: return activation_forward_as<Activation::Relu>(y, x, n);
    case Activation::Tanh: return activation_forward_as<Activation::Tanh>(y, x, n);
    case Activation::Sigmoid: return activation_forward_as<Activation::Sigmoid>(y, x, n);
    case Activation::Exp: return activation_forward_as<Activation::Exp>(y, x, n);
  }
}

void activation_backward(GradOut<float> dx_out, const float* dy, const float* y, int64_t n, Activation a) {
  float* dx = dx_out.data;
  const GradMode dx_mode = dx_out.mode;
  if (!dx) return;
  const bool acc = dx_mode == GradMode::Accumulate;
  switch (a) {
    case Activation::Relu: return activation_backward_as<Activation::Relu>(dx, acc, dy, y, n);
    case Activation::Tanh: return activation_backward_as<Activation::Tanh>(dx, acc, dy, y, n);
    case Activation::Sigmoid: return activation_backward_as<Activation::Sigmoid>(dx, acc, dy, y, n);
    case Activation::Exp: return activation_backward_as<Activation::Exp>(dx, acc, dy, y, n);
  }
}

void gelu_forward(float* y, const float* x, int64_t n) {
  launch_pointwise(MapForward<GeluFn>{y, x}, n, aligned16(y) && aligned16(x));
}

void gelu_backward(GradOut<float> dx, const float* dy, const float* x, int64_t n) {
  if (!dx) return;
  launch_pointwise(MapBackward<GeluFn>{dx.data, dy, x, dx.accumulate()}, n, aligned16(dx.data) && aligned16(dy) && aligned16(x));
}

void binary_forward(float* y, const float* a, const float* b, int64_t n, Binary op) {
  const bool vec4 = aligned16(y) && aligned16(a) && aligned16(b);
  if (op == Binary::Add) launch_pointwise(BinaryForward<Binary::Add>{y, a, b}, n, vec4);
  else launch_pointwise(BinaryForward<Binary::Mul>{y, a, b}, n, vec4);
}

void binary_backward(GradOut<float> da_out, GradOut<float> db_out, const float* dy, const float* a, const float* b, int64_t n,
                     Binary op) {
  float *da = da_out.data, *db = db_out.data;
  const GradMode da_mode = da_out.mode, db_mode = db_out.mode;
  if (!da && !db) return;
  const bool da_acc = da_mode == GradMode::Accumulate, db_acc = db_mode == GradMode::Accumulate;
  if (op == Binary::Add) {  // a and b are not read
    launch_pointwise(BinaryBackward<Binary::Add>{da, db, dy, nullptr, nullptr, da_acc, db_acc}, n,
                     aligned16(da) && aligned16(db) && aligned16(dy));
  } else {
    launch_pointwise(BinaryBackward<Binary::Mul>{da, db, dy, a, b, da_acc, db_acc}, n,
                     aligned16(da) && aligned16(db) && aligned16(dy) && aligned16(a) && aligned16(b));
  }
}

}  // namespace dc::kernels::cuda
