// The op table (engine/op_table.h) on CUDA: every row, every case the tests can afford (not
// bench_only), through the engine on CUDA against the engine on the CPU on the same inputs,
// under the row's cuda_tol (the one tolerance rule, engine/op_table.h):
//   - the forward output and every input's gradient (present on CUDA exactly where on the CPU);
//   - two backward passes through one graph (the second adds onto the first: every kernel's
//     Accumulate path) against the CPU's two passes;
//   - an input without a gradient: none produced, the output and the other gradients as when
//     every input has one.
// Then graphs that no single row builds (a tensor used several times, LSTM weights shared by
// every pair, inference without a graph, the attention weights, ...), through the same
// run_engine, under the loosest cuda_tol of the rows they use.
// The CPU side is itself checked against the references by tests/engine/test_op_table.cpp.
// The odd sizes of the first check are in the doctest suite "small" (compute-sanitizer
// racecheck runs them: they launch every op's kernels at sizes with tails and single rows).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/op_table.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine/ops_rnn.h"
#include "test_util.h"

using namespace dc;
using namespace dc::optable;

namespace {

uint64_t seed_of(const OpRow& row, size_t case_index) { return 3000 * (row.name.size() + 1) + 17 * case_index + 5; }

// Requires a comparison to pass, with its description in the failure message.
void expect(const Comparison& c, const std::string& what) {
  INFO(c.describe(what));
  CHECK(c.ok);
}

// A case's inputs (float, as the engine sees them) and an output gradient dy.
struct CaseData {
  Values<float> in;
  std::vector<float> dy;
};

CaseData case_data(const OpRow& row, const OpCase& c, uint64_t seed) {
  CaseData d;
  d.in = to_float(make_inputs(c, seed));
  const size_t ny = run_engine(row, c, d.in, {}, Device::CPU, {}, 0).output.size();  // forward only: the output's size
  for (double v : random_values(ny, seed + 1)) d.dy.push_back(static_cast<float>(v));
  return d;
}

// The CUDA run against the CPU run: shape, output, and each input's gradient.
void expect_same(const OpRow& row, const OpCase& c, const EngineRun& gpu, const EngineRun& cpu, const std::string& when) {
  CHECK(gpu.shape == cpu.shape);
  REQUIRE(gpu.output.size() == cpu.output.size());
  expect(compare(gpu.output, cpu.output, row.cuda_tol), "forward" + when);
  REQUIRE(gpu.grads.size() == c.inputs.size());
  REQUIRE(cpu.grads.size() == c.inputs.size());
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    CAPTURE(c.inputs[i].name);
    CHECK(gpu.grads[i].empty() == cpu.grads[i].empty());
    if (gpu.grads[i].empty() || cpu.grads[i].empty()) continue;
    REQUIRE(gpu.grads[i].size() == cpu.grads[i].size());
    expect(compare(gpu.grads[i], cpu.grads[i], row.cuda_tol), "d" + c.inputs[i].name + when);
  }
}

// Forward and every gradient, one backward pass.
void check_one_pass(const OpRow& row, const OpCase& c, uint64_t seed) {
  CAPTURE(row.name);
  CAPTURE(c.label);
  const CaseData d = case_data(row, c, seed);
  const EngineRun cpu = run_engine(row, c, d.in, d.dy, Device::CPU);
  const EngineRun gpu = run_engine(row, c, d.in, d.dy, Device::CUDA);
  expect_same(row, c, gpu, cpu, "");
}

// Two backward passes through one graph on each device.
void check_two_passes(const OpRow& row, const OpCase& c, uint64_t seed) {
  CAPTURE(row.name);
  CAPTURE(c.label);
  const CaseData d = case_data(row, c, seed);
  const EngineRun cpu = run_engine(row, c, d.in, d.dy, Device::CPU, {}, 2);
  const EngineRun gpu = run_engine(row, c, d.in, d.dy, Device::CUDA, {}, 2);
  expect_same(row, c, gpu, cpu, " after two backward passes");
}

// Each of the row's differentiable inputs in turn without a gradient (every input for the
// small cases, the first two for the model sizes, as on the CPU).
void check_without_grad(const OpRow& row, const OpCase& c, uint64_t seed) {
  CAPTURE(row.name);
  CAPTURE(c.label);
  const CaseData d = case_data(row, c, seed);
  const EngineRun all = run_engine(row, c, d.in, d.dy, Device::CUDA);
  const size_t checked = c.model_size ? std::min<size_t>(2, c.inputs.size()) : c.inputs.size();
  for (size_t skip = 0; skip < checked; ++skip) {
    if (!c.inputs[skip].differentiable) continue;
    CAPTURE(c.inputs[skip].name);
    std::vector<bool> needs(c.inputs.size(), true);
    needs[skip] = false;
    const EngineRun run = run_engine(row, c, d.in, d.dy, Device::CUDA, needs);
    CHECK(run.grads[skip].empty());
    expect(compare(run.output, all.output, row.cuda_tol), "forward, " + c.inputs[skip].name + " without a gradient");
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (i != skip && !all.grads[i].empty()) {
        REQUIRE(run.grads[i].size() == all.grads[i].size());
        expect(compare(run.grads[i], all.grads[i], row.cuda_tol), "d" + c.inputs[i].name);
      }
  }
}

enum class Sizes { Odd, Model, All };

// f(row, case, seed) for every row's cases of the given kind (never the bench-only ones).
void for_each_case(Sizes sizes, const std::function<void(const OpRow&, const OpCase&, uint64_t)>& f) {
  size_t ran = 0;
  for (const OpRow& row : op_table())
    for (size_t ci = 0; ci < row.cases.size(); ++ci) {
      const OpCase& c = row.cases[ci];
      if (c.bench_only) continue;
      if ((sizes == Sizes::Odd && c.model_size) || (sizes == Sizes::Model && !c.model_size)) continue;
      f(row, c, seed_of(row, ci));
      ++ran;
    }
  CHECK(ran > op_table().size());  // not vacuous: at least one case per row and more
}

// ---- graphs no single row builds --------------------------------------------------------------

// The loosest cuda_tol of the named rows: the tolerance of a graph built from their ops.
Tolerance loosest(std::initializer_list<const char*> rows) {
  Tolerance t{0, 0};
  for (const char* name : rows) {
    const Tolerance r = op_row(name).cuda_tol;
    t.atol = std::max(t.atol, r.atol);
    t.rtol = std::max(t.rtol, r.rtol);
  }
  return t;
}

// A one-case row around a graph of engine ops.
OpRow graph(const std::string& name, Tolerance tol, std::vector<InputSpec> inputs,
            std::function<Tensor(const std::vector<Tensor>&)> f) {
  OpRow r;
  r.name = name;
  r.cases.push_back(OpCase{name, std::move(inputs), {}, false});
  r.op = [f = std::move(f)](const std::vector<Tensor>& t, const OpCase&) { return f(t); };
  r.cuda_tol = tol;
  return r;
}

InputSpec input(std::string name, Shape shape, double lo = -1, double hi = 1) {
  return {std::move(name), std::move(shape), lo, hi, true, false};
}

// x (G, B, T, I) then one set of weights (w_ih, w_hh, b_ih, b_hh) that every (group,
// direction) pair uses: their gradients are the sums over the pairs.
std::vector<InputSpec> shared_lstm_inputs(int G, int B, int T, int I, int H) {
  return {input("x", {G, B, T, I}, 0, 4), input("w_ih", {4 * H, I}, -0.3, 0.3), input("w_hh", {4 * H, H}, -0.3, 0.3),
          input("b_ih", {4 * H}, -0.3, 0.3), input("b_hh", {4 * H}, -0.3, 0.3)};
}

LstmWeights shared_weights(const std::vector<Tensor>& t, int pairs) {
  LstmWeights w;
  for (int p = 0; p < pairs; ++p) {
    w.w_ih.push_back(t[1]);
    w.w_hh.push_back(t[2]);
    w.b_ih.push_back(t[3]);
    w.b_hh.push_back(t[4]);
  }
  return w;
}

std::vector<OpRow> graphs() {
  std::vector<OpRow> g;
  g.push_back(graph("relu, tanh and sigmoid of one tensor h = x * x (its gradient written once, then accumulated twice)",
                    loosest({"activation", "mul", "add"}), {input("x", {1001}, -2, 2)}, [](const std::vector<Tensor>& t) {
                      const Tensor h = mul(t[0], t[0]);
                      return add(add(relu(h), tanh(h)), sigmoid(h));
                    }));
  g.push_back(graph("two overlapping slices of one tensor", loosest({"slice", "add"}), {input("x", {6, 7, 3})},
                    [](const std::vector<Tensor>& t) { return add(slice(t[0], 1, 2, 5), slice(t[0], 1, 0, 3)); }));
  g.push_back(graph("concat of one tensor with itself (one gradient buffer listed three times)", loosest({"concat"}),
                    {input("x", {4, 3})}, [](const std::vector<Tensor>& t) { return concat({t[0], t[0], t[0]}, 0); }));
  g.push_back(graph("a transpose and the transpose back of it, added", loosest({"transpose", "add"}), {input("x", {2, 3, 4, 5})},
                    [](const std::vector<Tensor>& t) {
                      const Tensor a = transpose(t[0], 1, 3);
                      return add(a, transpose(transpose(a, 1, 3), 1, 3));
                    }));
  g.push_back(graph("sum + mean of one tensor (a scalar gradient accumulated on the device)", loosest({"sum", "mean", "mul", "add"}),
                    {input("x", {33, 3})}, [](const std::vector<Tensor>& t) { return add(sum(t[0]), mean(mul(t[0], t[0]))); }));
  g.push_back(graph("log_softmax then nll_loss", loosest({"log_softmax", "nll_loss"}),
                    {input("x", {64, 2}, -5, 5), {"target", {64}, 0, 2, false, true}},
                    [](const std::vector<Tensor>& t) { return nll_loss(log_softmax(t[0]), t[1]); }));
  g.push_back(graph("bce_with_logits of a sigmoid", loosest({"bce_with_logits", "activation"}),
                    {input("z", {256, 1}, -8, 8), {"target", {256}, 0, 1, false, false}},
                    [](const std::vector<Tensor>& t) { return bce_with_logits(sigmoid(t[0]), t[1]); }));
  g.push_back(graph("dropout in eval mode (the identity) times its input", loosest({"dropout", "mul"}), {input("x", {7, 9})},
                    [](const std::vector<Tensor>& t) { return mul(dropout(t[0], 0.5f, false, {17, 23}), t[0]); }));
  g.push_back(graph("attention_pool's weights (no gradient flows through them)", loosest({"attention_pool"}),
                    {input("h", {2, 3, 7, 5}), input("context0", {5}), input("context1", {5})},
                    [](const std::vector<Tensor>& t) { return attention_pool(t[0], {t[1], t[2]}).weights; }));
  g.push_back(graph("attention_pool with one context shared by every group", loosest({"attention_pool"}),
                    {input("h", {5, 4, 20, 16}), input("context", {16})},
                    [](const std::vector<Tensor>& t) { return attention_pool(t[0], std::vector<Tensor>(5, t[1])).pooled; }));
  g.push_back(graph("lstm with one weight set shared by every pair (odd sizes)", loosest({"lstm"}), shared_lstm_inputs(2, 3, 4, 3, 5),
                    [](const std::vector<Tensor>& t) { return lstm(t[0], shared_weights(t, 4), 5, true); }));
  g.push_back(graph("lstm with one weight set shared by every pair (AttentiveChrome's bin level, batch 4)", loosest({"lstm"}),
                    shared_lstm_inputs(5, 4, 100, 1, 32),
                    [](const std::vector<Tensor>& t) { return lstm(t[0], shared_weights(t, 10), 32, true); }));
  g.push_back(graph("lstm inference (no graph, no workspace)", loosest({"lstm"}), shared_lstm_inputs(5, 4, 100, 1, 32),
                    [](const std::vector<Tensor>& t) {
                      NoGradGuard no_grad;
                      return lstm(t[0], shared_weights(t, 10), 32, true);
                    }));
  return g;
}

}  // namespace

TEST_CASE("cuda op table: the engine on CUDA matches the engine on the CPU, forward and every gradient, odd sizes" *
          doctest::test_suite("small")) {
  for_each_case(Sizes::Odd, check_one_pass);
}

TEST_CASE("cuda op table: the engine on CUDA matches the engine on the CPU, forward and every gradient, model sizes") {
  for_each_case(Sizes::Model, check_one_pass);
}

TEST_CASE("cuda op table: a second backward pass through the same graph matches the CPU's (every Accumulate path)") {
  for_each_case(Sizes::All, check_two_passes);
}

TEST_CASE("cuda op table: an input without a gradient gets none; the output and the other gradients do not change") {
  for_each_case(Sizes::All, check_without_grad);
}

TEST_CASE("cuda op table: graphs no single row builds (tensors used twice, shared weights, inference) match the CPU") {
  uint64_t seed = 90000;
  for (const OpRow& row : graphs()) {
    const OpCase& c = row.cases.front();
    check_one_pass(row, c, seed += 10);
    check_two_passes(row, c, seed + 5);  // (no gradients at all for inference and the weights: none on either device)
  }
}
