// Every row of the op table (engine/op_table.h), every case: the double reference's backward
// against central differences, the engine on the CPU (fast kernels, autograd) against the
// reference, accumulation over two backward passes, inputs without a gradient, and the
// thread count. The CUDA twin of these checks is tests/cuda/test_cuda_op_table.cpp.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/op_table.h"
#include "engine_util.h"
#include "test_util.h"

using namespace dc;
using namespace dc::optable;

namespace {

uint64_t seed_of(const OpRow& row, size_t case_index) { return 1000 * (row.name.size() + 1) + 17 * case_index + 3; }

// Requires a comparison to pass, with its description in the failure message.
void expect(const Comparison& c, const std::string& what) {
  INFO(c.describe(what));
  CHECK(c.ok);
}

// Inputs as the engine sees them (float) and the same values in double for the reference.
struct CaseData {
  Values<float> in;
  Values<double> in_d;
  std::vector<float> dy;
  std::vector<double> dy_d;
};

// f(row, case, seed) for every case the tests cover (all but the bench-only sizes), with the
// row and the case named in any failure message.
template <class F>
void each_case(F&& f) {
  for (const OpRow& row : op_table())
    for (size_t ci = 0; ci < row.cases.size(); ++ci) {
      const OpCase& c = row.cases[ci];
      if (c.bench_only) continue;
      CAPTURE(row.name);
      CAPTURE(c.label);
      f(row, c, seed_of(row, ci));
    }
}

CaseData case_data(const OpRow& row, const OpCase& c, uint64_t seed) {
  CaseData d;
  d.in = to_float(make_inputs(c, seed));
  d.in_d = to_double(d.in);
  const size_t n = row.forward(d.in_d, c).size();
  for (double v : random_values(n, seed + 1)) d.dy.push_back(static_cast<float>(v));
  d.dy_d.assign(d.dy.begin(), d.dy.end());
  return d;
}

}  // namespace

TEST_CASE("op table: rows are well formed (names unique, a model-size case and an odd case each)") {
  std::vector<std::string> names;
  for (const OpRow& row : op_table()) {
    CAPTURE(row.name);
    CHECK(std::find(names.begin(), names.end(), row.name) == names.end());
    names.push_back(row.name);
    REQUIRE(row.op);
    REQUIRE(row.forward);
    REQUIRE(row.backward);
    REQUIRE(row.forward_float);
    REQUIRE(row.backward_float);
    bool model = false, odd = false;
    for (const OpCase& c : row.cases) (c.model_size ? model : odd) = true;
    CHECK(model);
    CHECK(odd);
  }
  CHECK(&op_row("linear") == &op_table().front());
  test::expect_throws<Error>([] { op_row("no-such-op"); }, {"no row 'no-such-op'"});
}

TEST_CASE("op table: the one tolerance rule") {
  const Tolerance tol{1e-3, 1e-2};
  CHECK(tol.accepts(1.0105, 1.0));        // |err| 0.0105 <= 0.001 + 0.01
  CHECK_FALSE(tol.accepts(1.0115, 1.0));
  CHECK(tol.accepts(-0.0009, 0.0));
  CHECK_FALSE(tol.accepts(-0.0011, 0.0));
  CHECK(tol.accepts(-0.0011, 0.0, 2.0));  // the absolute floor scales with the array's magnitude
  CHECK_FALSE(tol.accepts(NAN, 1.0));
  CHECK_FALSE(tol.accepts(1.0, INFINITY));
  CHECK(tol.accepts(INFINITY, INFINITY));
  const Comparison c = compare(std::vector<double>{1, 2, 3.5, 4}, std::vector<double>{1, 2, 3, 5}, tol);
  CHECK_FALSE(c.ok);
  CHECK(c.first_bad == 2);
  CHECK(c.worst == 3);
  CHECK(c.max_error == doctest::Approx(1.0));
  CHECK(c.describe("x").find("first mismatch at [2]: got 3.5, expected 3") != std::string::npos);
  // Scale = max |expected| = 100: an error of 0.05 on a small element passes.
  CHECK(compare(std::vector<double>{0.05, 100}, std::vector<double>{0, 100}, tol).ok);
}

TEST_CASE("op table: each reference backward matches central differences of its forward (double)") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    if (c.model_size || !c.smooth) return;
    Values<double> x = make_inputs(c, seed);
    const std::vector<double> dy = random_values(row.forward(x, c).size(), seed + 1);
    const Values<double> g = row.backward(x, dy, c);
    REQUIRE(g.size() == x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      REQUIRE(g[i].size() == x[i].size());
      if (!c.inputs[i].differentiable) continue;
      const std::vector<size_t> idx = test::sample_indices(x[i].size(), 48, seed + i);
      const std::vector<double> numeric =
          test::numeric_gradient_at(x[i], idx, [&] { return test::dot(row.forward(x, c), dy); }, row.fd_step);
      expect(compare(test::pick(g[i], idx), numeric, row.fd_tol), "d" + c.inputs[i].name);
    }
  });
}

TEST_CASE("op table: the engine on the CPU matches the reference, forward and every gradient") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    const CaseData d = case_data(row, c, seed);
    const std::vector<double> y = row.forward(d.in_d, c);
    const Values<double> g = row.backward(d.in_d, d.dy_d, c);
    const EngineRun run = run_engine(row, c, d.in, d.dy, Device::CPU);
    REQUIRE(shape_numel(run.shape) == static_cast<int64_t>(y.size()));
    expect(compare(run.output, y, row.forward_tol), "forward");
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      CAPTURE(c.inputs[i].name);
      CHECK(run.grads[i].empty() == !c.inputs[i].differentiable);
      if (!run.grads[i].empty()) expect(compare(run.grads[i], g[i], row.grad_tol), "d" + c.inputs[i].name);
    }
  });
}

TEST_CASE("op table: a second backward pass through the same graph doubles every gradient") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    const CaseData d = case_data(row, c, seed);
    const EngineRun once = run_engine(row, c, d.in, d.dy, Device::CPU, {}, 1);
    const EngineRun twice = run_engine(row, c, d.in, d.dy, Device::CPU, {}, 2);
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      CAPTURE(c.inputs[i].name);
      std::vector<float> doubled = once.grads[i];
      for (float& v : doubled) v *= 2.0f;
      // Kernels that scatter several terms into one element add them onto the first pass's
      // value (Accumulate) instead of onto zero: equal up to rounding.
      expect(compare(twice.grads[i], doubled, row.grad_tol), "d" + c.inputs[i].name + " after two passes");
    }
  });
}

TEST_CASE("op table: an input without a gradient gets none; the other gradients do not change") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    const CaseData d = case_data(row, c, seed);
    const EngineRun all = run_engine(row, c, d.in, d.dy, Device::CPU);
    // Every input once for the small cases; the first two for the model sizes.
    const size_t checked = c.model_size ? std::min<size_t>(2, c.inputs.size()) : c.inputs.size();
    for (size_t skip = 0; skip < checked; ++skip) {
      if (!c.inputs[skip].differentiable) continue;
      CAPTURE(c.inputs[skip].name);
      std::vector<bool> needs(c.inputs.size(), true);
      needs[skip] = false;
      const EngineRun run = run_engine(row, c, d.in, d.dy, Device::CPU, needs);
      CHECK(run.grads[skip].empty());
      CHECK(test::bit_identical(run.output, all.output));
      for (size_t i = 0; i < c.inputs.size(); ++i)
        if (i != skip && !all.grads[i].empty()) expect(compare(run.grads[i], all.grads[i], row.grad_tol), "d" + c.inputs[i].name);
    }
  });
}

TEST_CASE("op table: outputs and gradients are bit-identical for 1, 2 and 3 threads") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    const CaseData d = case_data(row, c, seed);
    EngineRun runs[3];
    for (int t = 1; t <= 3; ++t) {
      test::ThreadCount threads(t);
      runs[t - 1] = run_engine(row, c, d.in, d.dy, Device::CPU);
    }
    for (int t = 1; t < 3; ++t) {
      CAPTURE(t + 1);
      CHECK(test::bit_identical(runs[t].output, runs[0].output));
      for (size_t i = 0; i < c.inputs.size(); ++i) CHECK(test::bit_identical(runs[t].grads[i], runs[0].grads[i]));
    }
  });
}

TEST_CASE("op table: the float reference (the benchmarks' baseline) agrees with the double one") {
  each_case([](const OpRow& row, const OpCase& c, uint64_t seed) {
    if (c.model_size) return;
    const CaseData d = case_data(row, c, seed);
    expect(compare(row.forward_float(d.in, c), row.forward(d.in_d, c), row.forward_tol), "forward");
    const Values<float> gf = row.backward_float(d.in, d.dy, c);
    const Values<double> g = row.backward(d.in_d, d.dy_d, c);
    for (size_t i = 0; i < g.size(); ++i) expect(compare(gf[i], g[i], row.grad_tol), "d" + c.inputs[i].name);
  });
}
