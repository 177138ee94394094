// The op table: one row per op of the engine's API (engine/ops*.h), and the one tolerance
// rule. A row names the op, lists its cases (the models' sizes and odd sizes), says how to
// make their inputs, runs the op through the engine on any device, and carries the op's
// reference (the kernels/contract/ specification, in double for the gradient checks and in
// float as the benchmarks' baseline), its tolerances and its work (FLOPs or bytes).
//
// The same rows drive every check and measurement of an op:
//   tests/engine/test_op_table.cpp  finite differences against the reference backward
//                                   (double), the engine on the CPU (fast kernels)
//                                   against the reference, accumulation, inputs without a
//                                   gradient, the thread count
//   tests/cuda/test_cuda_op_table.cpp  the engine on CUDA against the engine on the CPU
//   bench/op_benchmarks.cpp         forward/backward timings on CPU and CUDA, each
//                                   validated against the reference before it is timed
// Adding an op is adding a row (engine/op_table.cpp) next to its kernels.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace dc::optable {

// ---- the one tolerance rule ---------------------------------------------------------------

// For every element of an array: |actual - expected| <= atol * scale + rtol * |expected|,
// where scale = max(1, max |expected| over the array), and a value must be finite exactly
// where the expected one is. The scale makes the absolute floor follow the data: a float
// sum of large terms that nearly cancel is off by about eps times the terms, not times
// its own small result.
struct Tolerance {
  double atol = 0, rtol = 0;
  bool accepts(double actual, double expected, double scale = 1) const;
};

// The outcome of comparing two arrays under a Tolerance: the worst element and the first
// failing one, for the message.
struct Comparison {
  bool ok = true;
  size_t n = 0;
  size_t worst = 0;        // index of the largest |error|
  double max_error = 0;
  size_t first_bad = std::numeric_limits<size_t>::max();
  double bad_actual = 0, bad_expected = 0;
  // "forward: 900 elements, max |err| 3.1e-07 at [12]" (+ "; first mismatch at [i]: got a,
  // expected e" when it failed)
  std::string describe(const std::string& what) const;
};

Comparison compare(const double* actual, const double* expected, size_t n, Tolerance tol);
Comparison compare(const std::vector<double>& actual, const std::vector<double>& expected, Tolerance tol);
Comparison compare(const std::vector<float>& actual, const std::vector<double>& expected, Tolerance tol);
Comparison compare(const std::vector<float>& actual, const std::vector<float>& expected, Tolerance tol);

// ---- rows -----------------------------------------------------------------------------------

// One input of a case: its shape, the range its values are drawn from (uniform), and
// whether it is a differentiable input (class targets are not).
struct InputSpec {
  std::string name;
  Shape shape;
  double lo = -1, hi = 1;
  bool differentiable = true;
  bool integer = false;  // values floor()ed: class indices, or many ties (max-pool)
};

struct OpCase {
  std::string label;             // e.g. "N=64 900->625"
  std::vector<InputSpec> inputs;
  std::vector<int64_t> params;   // the op's own arguments (stride, kernel, dim, ...)
  bool model_size = false;       // a size the models run: benchmarked; too big for full FD
  bool smooth = true;            // false: not differentiable at these inputs (e.g. max-pool
                                 // ties): no finite differences
  bool bench_only = false;       // a size too big for the tests' references (e.g. batch 256):
                                 // measured (and validated) by the benchmarks only
};

template <class T>
using Values = std::vector<std::vector<T>>;  // one vector per input of a case

template <class T>
using RefForward = std::function<std::vector<T>(const Values<T>& in, const OpCase& c)>;
template <class T>
using RefBackward = std::function<Values<T>(const Values<T>& in, const std::vector<T>& dy, const OpCase& c)>;

struct OpRow {
  std::string name;
  std::vector<OpCase> cases;
  // The op through the engine on its inputs' device; `t` follows the case's inputs.
  std::function<Tensor(const std::vector<Tensor>& t, const OpCase& c)> op;
  RefForward<double> forward;
  RefBackward<double> backward;  // a gradient for every input (zeros for non-differentiable ones)
  RefForward<float> forward_float;
  RefBackward<float> backward_float;
  Tolerance forward_tol{1e-5, 1e-5};  // the engine's float result against the double reference
  Tolerance grad_tol{1e-5, 1e-5};
  Tolerance cuda_tol{1e-5, 1e-4};     // the engine on CUDA against the engine on the CPU
  Tolerance fd_tol{1e-7, 1e-6};       // the double reference backward against central differences
  double fd_step = 1e-6;
  // Work of one forward / backward pass, for GFLOP/s (compute-bound ops) or GB/s (memory-
  // bound ones: flops() returns 0). Unset: none reported.
  std::function<double(const OpCase&)> forward_flops, backward_flops, forward_bytes, backward_bytes;
};

// Every row, in the order of engine/ops*.h.
const std::vector<OpRow>& op_table();
// The row called `name`; throws dc::Error naming the known rows when there is none.
const OpRow& op_row(const std::string& name);

// ---- inputs ---------------------------------------------------------------------------------

// The values of a case's inputs, deterministic in `seed` (the counter-based RNG): each
// input uniform in its [lo, hi), floor()ed when integer.
Values<double> make_inputs(const OpCase& c, uint64_t seed);
// n values uniform in [-1, 1): an output gradient.
std::vector<double> random_values(size_t n, uint64_t seed);

// The same values as float, and back (the float inputs are the ones the engine sees, so the
// reference runs on exactly those).
Values<float> to_float(const Values<double>& v);
Values<double> to_double(const Values<float>& v);

// Tensors of a case on `device` from input values; requires_grad for the differentiable
// inputs whose `needs_grad[i]` is true (empty: all of them).
std::vector<Tensor> make_tensors(const OpCase& c, const Values<float>& values, Device device,
                                 const std::vector<bool>& needs_grad = {});

// The engine run of a row on one case: forward, then backward from `dy`. grads[i] is empty
// when input i got no gradient.
struct EngineRun {
  Shape shape;
  std::vector<float> output;
  std::vector<std::vector<float>> grads;
};
EngineRun run_engine(const OpRow& row, const OpCase& c, const Values<float>& inputs, const std::vector<float>& dy,
                     Device device, const std::vector<bool>& needs_grad = {}, int backward_passes = 1);

}  // namespace dc::optable
