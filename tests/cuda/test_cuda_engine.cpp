// The engine on CUDA: tensors moving between host and device, the caching allocator, every
// op's forward and backward through the autograd engine on CUDA against the same graph on
// the CPU (outputs and input gradients, including accumulation and inputs that need no
// gradient), the optimizers and gradient clipping, and the mixed-device error.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/device_allocator.h"
#include "kernels/base/error.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine/ops_rnn.h"
#include "engine/optim.h"
#include "engine/tensor.h"
#include "kernels/cuda/runtime.h"
#include "engine/engine_util.h"
#include "test_util.h"

namespace {

using namespace dc;
namespace cu = dc::kernels::cuda;

constexpr Device kCpu = Device::CPU;
constexpr Device kCuda = Device::CUDA;

std::vector<float> randoms(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return test::random_vector<float>(static_cast<size_t>(n), seed, lo, hi);
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// |got - want| <= rtol * (|want| + 5% of the tensor's largest magnitude), elementwise. The
// reference must not be all zeros (no vacuous pass) unless `may_be_zero` (a gradient that
// is zero by construction; then the result must be zero too, to 1e-6). Returns whether the
// reference had a non-zero element.
bool expect_matches(const std::vector<float>& got, const std::vector<float>& want, double rtol, const std::string& what,
                    bool may_be_zero = false) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  const double scale = max_abs(want);
  if (!may_be_zero) CHECK(scale > 0);
  test::expect_close(got, want, scale > 0 ? rtol * 0.05 * scale : 1e-6, rtol, what);
  return scale > 0;
}

// ---- one op graph on both devices ---------------------------------------------------------

struct Input {
  Shape shape;
  std::vector<float> values;
  bool grad = true;
};

Input rand_input(const Shape& shape, uint64_t seed, bool grad = true, double lo = -1.0, double hi = 1.0) {
  return {shape, randoms(shape_numel(shape), seed, lo, hi), grad};
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Outcome {
  Shape shape;
  bool requires_grad = false;
  std::vector<float> out;
  std::vector<std::optional<std::vector<float>>> grads;  // per input; nullopt: no gradient
};

// Builds the inputs on `device`, runs f, then `passes` backward sweeps of sum(y * r) for a
// fixed random r (a second sweep accumulates into the inputs' gradients: every kernel's
// GradMode::Accumulate path).
Outcome run_on(Device device, const std::vector<Input>& inputs, const OpFn& f, int passes) {
  std::vector<Tensor> ts;
  for (const Input& in : inputs) {
    Tensor t = Tensor::from_vector(in.shape, in.values, device);
    if (in.grad) t.set_requires_grad(true);
    ts.push_back(t);
  }
  const Tensor y = f(ts);
  REQUIRE(y.device() == device);
  Outcome o;
  o.shape = y.shape();
  o.requires_grad = y.requires_grad();
  o.out = y.to_vector();
  if (y.requires_grad() && passes > 0) {
    const Tensor r = Tensor::from_vector(y.shape(), randoms(y.numel(), 999, 0.5, 1.5), device);
    const Tensor loss = sum(mul(y, r));
    for (int i = 0; i < passes; ++i) loss.backward();
  }
  for (const Tensor& t : ts) {
    const Tensor g = t.grad();
    if (g.defined()) {
      REQUIRE(g.device() == device);
      REQUIRE(g.shape() == t.shape());
      o.grads.push_back(g.to_vector());
    } else {
      o.grads.push_back(std::nullopt);
    }
  }
  return o;
}

// Runs f on the CPU and on CUDA and compares the outputs and every input gradient.
void compare_op(const std::string& name, const std::vector<Input>& inputs, const OpFn& f, double rtol = 1e-4,
                int passes = 2) {
  CAPTURE(name);
  const Outcome c = run_on(kCpu, inputs, f, passes);
  const Outcome g = run_on(kCuda, inputs, f, passes);
  REQUIRE(g.shape == c.shape);
  CHECK(g.requires_grad == c.requires_grad);
  expect_matches(g.out, c.out, rtol, name + ": forward");
  bool any_nonzero_grad = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    CAPTURE(i);
    // Inputs that need a gradient get one (every input of these graphs is used), the others none.
    CHECK(c.grads[i].has_value() == (inputs[i].grad && passes > 0 && c.requires_grad));
    REQUIRE(g.grads[i].has_value() == c.grads[i].has_value());
    if (!c.grads[i]) continue;
    // (some gradients are zero by construction, e.g. a context's over a single time step)
    any_nonzero_grad =
        expect_matches(*g.grads[i], *c.grads[i], rtol, name + ": gradient of input " + std::to_string(i), true) || any_nonzero_grad;
  }
  if (passes > 0 && c.requires_grad) CHECK(any_nonzero_grad);
}

}  // namespace

// ---- tensors and the allocator --------------------------------------------------------------

TEST_CASE("cuda engine: tensors round-trip between host and device") {
  const std::vector<float> v = randoms(1000, 1);
  const Tensor h = Tensor::from_vector({10, 100}, v);
  const Tensor d = h.to(kCuda);
  CHECK(d.device() == kCuda);
  CHECK(d.shape() == h.shape());
  CHECK(d.data() != h.data());
  CHECK(d.to_vector() == v);
  CHECK(d.to(kCpu).device() == kCpu);
  CHECK(d.to(kCpu).to_vector() == v);
  CHECK(d.to(kCuda).impl() == d.impl());  // already there: the same tensor
  CHECK(Tensor::from_vector({10, 100}, v, kCuda).to_vector() == v);

  const Tensor c = d.clone();
  CHECK(c.device() == kCuda);
  CHECK(c.data() != d.data());
  CHECK(c.to_vector() == v);

  CHECK(Tensor::zeros({7, 3}, kCuda).to_vector() == std::vector<float>(21, 0.0f));
  CHECK(Tensor::full({1001}, 2.5f, kCuda).to_vector() == std::vector<float>(1001, 2.5f));
  CHECK(Tensor::from_vector({}, {3.5f}, kCuda).item() == 3.5f);
  CHECK(Tensor::empty({0}, kCuda).to_vector().empty());

  // copy_from across and within devices
  Tensor a = Tensor::zeros({1000}, kCuda), b = Tensor::zeros({1000}, kCpu), e = Tensor::zeros({10, 100}, kCuda);
  a.copy_from(h);
  CHECK(a.to_vector() == v);
  b.copy_from(a);
  CHECK(b.to_vector() == v);
  e.copy_from(a);
  CHECK(e.to_vector() == v);

  // move_to: every handle to the tensor follows; the gradient is dropped.
  Tensor p = Tensor::from_vector({10, 100}, v);
  p.set_requires_grad(true);
  sum(p).backward();
  REQUIRE(p.grad().defined());
  const Tensor alias = p;
  p.move_to(kCuda);
  CHECK(alias.device() == kCuda);
  CHECK(alias.to_vector() == v);
  CHECK_FALSE(alias.grad().defined());
  CHECK(alias.requires_grad());
  sum(alias).backward();
  REQUIRE(p.grad().defined());
  CHECK(p.grad().device() == kCuda);
  CHECK(p.grad().to_vector() == std::vector<float>(1000, 1.0f));
  p.move_to(kCpu);
  CHECK(alias.device() == kCpu);
  CHECK(alias.to_vector() == v);
}

TEST_CASE("cuda engine: the caching allocator reuses freed blocks") {
  DeviceAllocator& alloc = DeviceAllocator::instance();
  CHECK(DeviceAllocator::round_size(1) == 512);
  CHECK(DeviceAllocator::round_size(512) == 512);
  CHECK(DeviceAllocator::round_size(513) == 1024);
  CHECK(DeviceAllocator::round_size(size_t{1} << 20) == size_t{1} << 20);
  CHECK(DeviceAllocator::round_size((size_t{1} << 20) + 1) == (size_t{1} << 20) + (size_t{1} << 17));
  CHECK(DeviceAllocator::round_size(size_t{3} << 20) == size_t{3} << 20);
  CHECK(DeviceAllocator::round_size((size_t{3} << 20) + 1) == (size_t{3} << 20) + (size_t{1} << 18));

  alloc.empty_cache();  // start from an empty cache: exactly one cached block per class below
  {                     // warm two size classes
    Tensor t = Tensor::empty({12345}, kCuda), u = Tensor::empty({777777}, kCuda);
  }
  const size_t raw0 = cu::raw_malloc_count();
  const DeviceAllocatorStats s0 = alloc.stats();
  CHECK(s0.bytes_cached >= DeviceAllocator::round_size(12345 * 4) + DeviceAllocator::round_size(777777 * 4));
  for (int i = 0; i < 10; ++i) {
    Tensor t = Tensor::empty({12345}, kCuda), u = Tensor::empty({777777}, kCuda);
    const DeviceAllocatorStats s = alloc.stats();
    CHECK(s.bytes_in_use == s0.bytes_in_use + DeviceAllocator::round_size(12345 * 4) + DeviceAllocator::round_size(777777 * 4));
  }
  CHECK(cu::raw_malloc_count() == raw0);
  const DeviceAllocatorStats s1 = alloc.stats();
  CHECK(s1.raw_allocations == s0.raw_allocations);
  CHECK(s1.cache_hits == s0.cache_hits + 20);
  CHECK(s1.bytes_in_use == s0.bytes_in_use);
  CHECK(s1.bytes_cached == s0.bytes_cached);

  {  // two live blocks of one class are distinct; a second one of the class is new memory
    Tensor t1 = Tensor::empty({12345}, kCuda), t2 = Tensor::empty({12345}, kCuda);
    CHECK(t1.data() != t2.data());
    CHECK(cu::raw_malloc_count() == raw0 + 1);
  }

  alloc.empty_cache();
  const DeviceAllocatorStats s2 = alloc.stats();
  CHECK(s2.bytes_cached == 0);
  CHECK(s2.raw_frees > s1.raw_frees);
  CHECK(s2.bytes_in_use == s0.bytes_in_use);
  {
    Tensor t = Tensor::empty({12345}, kCuda);
    CHECK(cu::raw_malloc_count() == raw0 + 2);  // the cache was released: a fresh block
  }
}

TEST_CASE("cuda engine: mixing devices in one op is a clear error naming the op and both devices") {
  const Tensor xc = Tensor::from_vector({2, 3}, randoms(6, 1));
  const Tensor wg = Tensor::from_vector({4, 3}, randoms(12, 2), kCuda), bg = Tensor::from_vector({4}, randoms(4, 3), kCuda);
  dc::test::expect_throws<Error>([&] { linear(xc, wg, bg); }, {"linear", "cpu", "cuda"});
  dc::test::expect_throws<Error>([&] { add(xc, xc.to(kCuda)); }, {"add", "cpu", "cuda"});
  dc::test::expect_throws<Error>([&] { concat({xc, xc.to(kCuda)}, 0); }, {"concat", "cpu", "cuda"});
  const Tensor h = Tensor::from_vector({1, 2, 3, 4}, randoms(24, 4), kCuda);
  dc::test::expect_throws<Error>([&] { attention_pool(h, {Tensor::from_vector({4}, randoms(4, 5))}); }, {"attention_pool", "cpu", "cuda"});
  const Tensor target = Tensor::from_vector({2}, {0.0f, 1.0f});
  dc::test::expect_throws<Error>([&] { nll_loss(log_softmax(xc.to(kCuda)), target); }, {"nll_loss", "cpu", "cuda"});
  LstmWeights w;
  w.w_ih = {Tensor::from_vector({8, 4}, randoms(32, 6))};
  w.w_hh = {Tensor::from_vector({8, 2}, randoms(16, 7))};
  w.b_ih = {Tensor::from_vector({8}, randoms(8, 8))};
  w.b_hh = {Tensor::from_vector({8}, randoms(8, 9))};
  dc::test::expect_throws<Error>([&] { lstm(h, w, 2, false); }, {"lstm", "cpu", "cuda"});
}

// ---- every op, CUDA against CPU -----------------------------------------------------------------

TEST_CASE("cuda engine: linear") {
  for (auto [N, IN, OUT] : {std::tuple{1, 900, 625}, {4, 900, 625}, {64, 625, 125}, {16, 32, 1}, {3, 7, 5}, {5, 125, 2}}) {
    CAPTURE(N);
    CAPTURE(IN);
    CAPTURE(OUT);
    const auto f = [](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); };
    compare_op("linear", {rand_input({N, IN}, 1), rand_input({OUT, IN}, 2), rand_input({OUT}, 3)}, f);
    // x needs no gradient (the first layer), then w and b need none
    compare_op("linear, x without grad", {rand_input({N, IN}, 1, false), rand_input({OUT, IN}, 2), rand_input({OUT}, 3)}, f);
    compare_op("linear, weights without grad", {rand_input({N, IN}, 1), rand_input({OUT, IN}, 2, false), rand_input({OUT}, 3, false)}, f);
    compare_op("linear, no bias", {rand_input({N, IN}, 1), rand_input({OUT, IN}, 2)},
               [](const std::vector<Tensor>& t) { return linear(t[0], t[1], Tensor()); });
  }
}

TEST_CASE("cuda engine: conv1d") {
  struct C { int N, CIN, L, COUT, K, stride, pad; };
  for (const C c : {C{1, 5, 100, 50, 10, 1, 0}, C{16, 5, 100, 50, 10, 1, 0}, C{3, 4, 17, 6, 3, 2, 1}, C{2, 1, 9, 3, 9, 1, 0},
                    C{5, 3, 20, 7, 4, 3, 2}}) {
    CAPTURE(c.N);
    CAPTURE(c.L);
    CAPTURE(c.stride);
    CAPTURE(c.pad);
    const auto f = [c](const std::vector<Tensor>& t) { return conv1d(t[0], t[1], t[2], c.stride, c.pad); };
    const Input x = rand_input({c.N, c.CIN, c.L}, 11, true, 0.0, 20.0), w = rand_input({c.COUT, c.CIN, c.K}, 12),
                b = rand_input({c.COUT}, 13);
    compare_op("conv1d", {x, w, b}, f);
    Input x_const = x;
    x_const.grad = false;
    compare_op("conv1d, x without grad", {x_const, w, b}, f);
    compare_op("conv1d, no bias", {x, w}, [c](const std::vector<Tensor>& t) { return conv1d(t[0], t[1], Tensor(), c.stride, c.pad); });
  }
}

TEST_CASE("cuda engine: max_pool1d, including ties (the first maximum wins)") {
  struct C { Shape shape; int k, s; };
  for (const C& c : {C{{1, 50, 91}, 5, 5}, C{{64, 50, 91}, 5, 5}, C{{3, 7, 13}, 3, 2}, C{{2, 9}, 4, 1}, C{{5, 2, 8}, 8, 3}}) {
    CAPTURE(shape_str(c.shape));
    const auto f = [c](const std::vector<Tensor>& t) { return max_pool1d(t[0], c.k, c.s); };
    compare_op("max_pool1d", {rand_input(c.shape, 21)}, f);
    Input ties = rand_input(c.shape, 22, true, -2.0, 2.0);
    for (float& v : ties.values) v = std::round(v);  // five distinct values: many ties
    compare_op("max_pool1d with ties", {ties}, f);
  }
}

TEST_CASE("cuda engine: dropout (the same counter-based masks as the CPU)") {
  for (auto [n, p] : {std::pair<int64_t, float>{900, 0.5f}, {64 * 900, 0.5f}, {1001, 0.3f}, {7, 0.2f}}) {
    CAPTURE(n);
    CAPTURE(p);
    compare_op("dropout", {rand_input({n}, 31)}, [p = p](const std::vector<Tensor>& t) { return dropout(t[0], p, true, {17, 23}); },
               1e-6);
    // eval mode: the identity (the same tensor)
    compare_op("dropout, eval", {rand_input({n}, 31)},
               [p = p](const std::vector<Tensor>& t) { return mul(dropout(t[0], p, false, {17, 23}), t[0]); });
  }
}

TEST_CASE("cuda engine: activations and binary ops, with a tensor used twice (accumulation)") {
  for (int64_t n : {1, 7, 1000, 100003}) {
    CAPTURE(n);
    Input x = rand_input({n}, 41, true, -3.0, 3.0);
    x.values[0] = 1.5f;  // at least one positive value: relu's output is not all zeros
    const Input y = rand_input({n}, 42);
    compare_op("relu", {x}, [](const std::vector<Tensor>& t) { return relu(t[0]); });
    compare_op("tanh", {x}, [](const std::vector<Tensor>& t) { return tanh(t[0]); });
    compare_op("sigmoid", {x}, [](const std::vector<Tensor>& t) { return sigmoid(t[0]); });
    compare_op("add", {x, y}, [](const std::vector<Tensor>& t) { return add(t[0], t[1]); });
    compare_op("mul", {x, y}, [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); });
    Input y_const = y;
    y_const.grad = false;
    compare_op("mul, one operand without grad", {x, y_const}, [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); });
    // h feeds three ops: its gradient is written once, then accumulated twice
    compare_op("relu/tanh/sigmoid of one tensor", {x}, [](const std::vector<Tensor>& t) {
      const Tensor h = mul(t[0], t[0]);
      return add(add(relu(h), tanh(h)), sigmoid(h));
    });
  }
}

TEST_CASE("cuda engine: reshape, flatten and transpose") {
  compare_op("reshape", {rand_input({4, 5, 6}, 51)}, [](const std::vector<Tensor>& t) { return reshape(t[0], {20, -1}); });
  compare_op("flatten", {rand_input({3, 50, 18}, 52)}, [](const std::vector<Tensor>& t) { return flatten(t[0]); });
  compare_op("reshape used twice", {rand_input({4, 6}, 53)}, [](const std::vector<Tensor>& t) {
    return add(reshape(t[0], {24}), reshape(reshape(t[0], {2, 12}), {24}));
  });
  struct C { Shape shape; int d0, d1; };
  for (const C& c : {C{{16, 5, 100}, 0, 1}, C{{3, 5, 100}, 1, 2}, C{{2, 3, 4, 5}, 0, 3}, C{{2, 3, 4, 5}, 3, 1}, C{{3, 4}, -1, -2},
                     C{{5, 3, 64}, 0, 1}, C{{3, 4, 5}, 1, 1}, C{{7}, 0, 0}, C{{2, 1, 3, 1, 4}, 1, 4}}) {
    CAPTURE(shape_str(c.shape));
    CAPTURE(c.d0);
    CAPTURE(c.d1);
    compare_op("transpose", {rand_input(c.shape, 54)}, [c](const std::vector<Tensor>& t) { return transpose(t[0], c.d0, c.d1); });
    // transpose feeding a second transpose of the same input: accumulation into one buffer
    compare_op("transpose, accumulated", {rand_input(c.shape, 55)}, [c](const std::vector<Tensor>& t) {
      const Tensor a = transpose(t[0], c.d0, c.d1);
      return add(a, transpose(transpose(a, c.d0, c.d1), c.d0, c.d1));
    });
  }
}

TEST_CASE("cuda engine: log_softmax, nll_loss, bce_with_logits, sum and mean") {
  for (auto [R, C] : {std::pair{1, 2}, {4, 2}, {64, 2}, {7, 13}, {300, 5}}) {
    CAPTURE(R);
    CAPTURE(C);
    compare_op("log_softmax", {rand_input({R, C}, 61, true, -5.0, 5.0)}, [](const std::vector<Tensor>& t) { return log_softmax(t[0]); });
    Input target{{R}, {}, false};
    for (int r = 0; r < R; ++r) target.values.push_back(static_cast<float>((r * 7 + 3) % C));
    compare_op("log_softmax + nll_loss", {rand_input({R, C}, 62, true, -5.0, 5.0), target},
               [](const std::vector<Tensor>& t) { return nll_loss(log_softmax(t[0]), t[1]); });
    compare_op("nll_loss", {rand_input({R, C}, 63, true, -5.0, 0.0), target},
               [](const std::vector<Tensor>& t) { return nll_loss(t[0], t[1]); });
  }
  for (int R : {1, 16, 256, 1001}) {
    CAPTURE(R);
    Input target = rand_input({R}, 64, false, 0.0, 1.0);
    for (int r = 0; r < R; r += 2) target.values[static_cast<size_t>(r)] = static_cast<float>(r % 4 == 0);  // 0/1 and fractions
    compare_op("bce_with_logits (R)", {rand_input({R}, 65, true, -8.0, 8.0), target},
               [](const std::vector<Tensor>& t) { return bce_with_logits(t[0], t[1]); });
    compare_op("bce_with_logits (R, 1) after sigmoid", {rand_input({R, 1}, 66, true, -8.0, 8.0), target},
               [](const std::vector<Tensor>& t) { return bce_with_logits(sigmoid(t[0]), t[1]); });
  }
  for (int64_t n : {1, 1000, 100003}) {
    CAPTURE(n);
    compare_op("sum", {rand_input({n}, 67)}, [](const std::vector<Tensor>& t) { return sum(t[0]); });
    compare_op("mean", {rand_input({n}, 68, true, 0.0, 1.0)}, [](const std::vector<Tensor>& t) { return mean(t[0]); });
  }
  // a loss used twice: the scalar's gradient is accumulated on the device
  compare_op("sum + mean of one tensor", {rand_input({33, 3}, 69)},
             [](const std::vector<Tensor>& t) { return add(sum(t[0]), mean(mul(t[0], t[0]))); });
}

TEST_CASE("cuda engine: attention_pool") {
  struct C { int G, B, T, F; };
  for (const C c : {C{5, 1, 100, 64}, C{5, 16, 100, 64}, C{1, 16, 5, 32}, C{2, 3, 7, 5}, C{3, 2, 1, 9}}) {
    CAPTURE(c.G);
    CAPTURE(c.B);
    CAPTURE(c.T);
    CAPTURE(c.F);
    std::vector<Input> in{rand_input({c.G, c.B, c.T, c.F}, 71)};
    for (int g = 0; g < c.G; ++g) in.push_back(rand_input({c.F}, 72 + static_cast<uint64_t>(g)));
    const auto pooled = [G = c.G](const std::vector<Tensor>& t) {
      return attention_pool(t[0], std::vector<Tensor>(t.begin() + 1, t.begin() + 1 + G)).pooled;
    };
    compare_op("attention_pool", in, pooled);
    // the weights (alpha): plain data, no gradient flows through them
    compare_op("attention_pool weights", in, [G = c.G](const std::vector<Tensor>& t) {
      return attention_pool(t[0], std::vector<Tensor>(t.begin() + 1, t.begin() + 1 + G)).weights;
    }, 1e-4, 0);
    // contexts without gradient; then one context shared by every group (accumulated)
    std::vector<Input> no_ctx_grad = in;
    for (size_t i = 1; i < no_ctx_grad.size(); ++i) no_ctx_grad[i].grad = false;
    compare_op("attention_pool, contexts without grad", no_ctx_grad, pooled);
    compare_op("attention_pool, one shared context", {in[0], in[1]}, [G = c.G](const std::vector<Tensor>& t) {
      return attention_pool(t[0], std::vector<Tensor>(static_cast<size_t>(G), t[1])).pooled;
    });
  }
}

TEST_CASE("cuda engine: slice and concat") {
  compare_op("slice", {rand_input({16, 100, 64}, 81)}, [](const std::vector<Tensor>& t) { return slice(t[0], 1, 99, 100); });
  compare_op("slice last dim", {rand_input({1, 4, 100, 64}, 82)}, [](const std::vector<Tensor>& t) { return slice(t[0], -1, 32, 64); });
  compare_op("slice all", {rand_input({3, 5}, 83)}, [](const std::vector<Tensor>& t) { return slice(t[0], 0, 0, 3); });
  compare_op("two slices of one tensor", {rand_input({6, 7, 3}, 84)}, [](const std::vector<Tensor>& t) {
    return add(slice(t[0], 1, 2, 5), slice(t[0], 1, 0, 3));
  });
  compare_op("concat", {rand_input({1, 4, 1, 32}, 85), rand_input({1, 4, 1, 32}, 86)},
             [](const std::vector<Tensor>& t) { return concat({t[0], t[1]}, 3); });
  compare_op("concat, uneven, one without grad", {rand_input({3, 2, 5}, 87), rand_input({3, 7, 5}, 88, false), rand_input({3, 1, 5}, 89)},
             [](const std::vector<Tensor>& t) { return concat({t[0], t[1], t[2]}, 1); });
  compare_op("concat of one tensor with itself", {rand_input({4, 3}, 90)},
             [](const std::vector<Tensor>& t) { return concat({t[0], t[0], t[0]}, 0); });
  compare_op("concat dim 0", {rand_input({2, 3}, 91), rand_input({5, 3}, 92)}, [](const std::vector<Tensor>& t) { return concat({t[0], t[1]}, 0); });
}

TEST_CASE("cuda engine: lstm (BPTT), including shared weights and inference") {
  struct C { int G, B, T, I, H; bool bi; };
  for (const C c : {C{5, 2, 100, 1, 32, true}, C{1, 16, 5, 64, 16, true}, C{2, 3, 7, 3, 5, false}, C{1, 1, 1, 2, 4, true},
                    C{1, 5, 100, 5, 32, true}}) {
    CAPTURE(c.G);
    CAPTURE(c.B);
    CAPTURE(c.T);
    CAPTURE(c.I);
    CAPTURE(c.H);
    CAPTURE(c.bi);
    const int P = c.G * (c.bi ? 2 : 1), H4 = 4 * c.H;
    std::vector<Input> in{rand_input({c.G, c.B, c.T, c.I}, 101)};
    uint64_t seed = 200;
    for (int p = 0; p < P; ++p) {
      in.push_back(rand_input({H4, c.I}, seed++, true, -0.3, 0.3));
      in.push_back(rand_input({H4, c.H}, seed++, true, -0.3, 0.3));
      in.push_back(rand_input({H4}, seed++, true, -0.3, 0.3));
      in.push_back(rand_input({H4}, seed++, true, -0.3, 0.3));
    }
    const auto weights = [P](const std::vector<Tensor>& t, bool shared) {
      LstmWeights w;
      for (int p = 0; p < P; ++p) {
        const size_t base = 1 + 4 * static_cast<size_t>(shared ? 0 : p);
        w.w_ih.push_back(t[base]);
        w.w_hh.push_back(t[base + 1]);
        w.b_ih.push_back(t[base + 2]);
        w.b_hh.push_back(t[base + 3]);
      }
      return w;
    };
    compare_op("lstm", in, [c, weights](const std::vector<Tensor>& t) { return lstm(t[0], weights(t, false), c.H, c.bi); }, 3e-4);
    std::vector<Input> x_const = in;
    x_const[0].grad = false;
    compare_op("lstm, x without grad", x_const,
               [c, weights](const std::vector<Tensor>& t) { return lstm(t[0], weights(t, false), c.H, c.bi); }, 3e-4);
    // every (group, direction) with the first pair's weights: their gradients are summed
    std::vector<Input> shared(in.begin(), in.begin() + 5);
    compare_op("lstm, one weight set shared by every pair", shared,
               [c, weights](const std::vector<Tensor>& t) { return lstm(t[0], weights(t, true), c.H, c.bi); }, 3e-4);
    compare_op("lstm, inference (no graph, no workspace)", in, [c, weights](const std::vector<Tensor>& t) {
      NoGradGuard no_grad;
      return lstm(t[0], weights(t, false), c.H, c.bi);
    }, 3e-4, 0);
  }
}

// ---- optimizers and clipping ----------------------------------------------------------------

namespace {

struct OptCase {
  std::string name;
  bool adam;
  double momentum, weight_decay, lr_decay, clip;
  int batch;  // 2: the CPU keeps linear weight gradients factored; CUDA always dense
};

// Three steps of a small model on `device`; returns the parameters after every step and
// the norms clip_grad_norm reported.
struct OptTrace {
  std::vector<std::vector<float>> params;
  std::vector<double> norms;
};

OptTrace optimize_on(Device device, const OptCase& c) {
  std::vector<Parameter> params;
  uint64_t seed = 300;
  for (const auto& [name, shape] : std::vector<std::pair<std::string, Shape>>{{"w", {20, 30}}, {"b", {20}}, {"unused", {5}}}) {
    Tensor t = Tensor::from_vector(shape, randoms(shape_numel(shape), seed++), device);
    t.set_requires_grad(true);
    params.push_back({name, t});
  }
  std::unique_ptr<Optimizer> opt;
  if (c.adam) opt = std::make_unique<Adam>(params, AdamOptions{1e-2, 0.9, 0.999, 1e-8, c.weight_decay});
  else opt = std::make_unique<Sgd>(params, SgdOptions{0.1, c.lr_decay, c.momentum, c.weight_decay});
  OptTrace trace;
  for (int step = 0; step < 3; ++step) {
    opt->zero_grad();
    const Tensor x = Tensor::from_vector({c.batch, 30}, randoms(c.batch * 30, 400 + static_cast<uint64_t>(step)), device);
    const Tensor r = Tensor::from_vector({c.batch, 20}, randoms(c.batch * 20, 500 + static_cast<uint64_t>(step)), device);
    sum(mul(tanh(linear(x, params[0].tensor, params[1].tensor)), r)).backward();
    if (c.clip > 0) {
      if (step == 0) trace.norms.push_back(clip_grad_norm(params, c.clip));
      else clip_grad_norm_no_sync(params, c.clip);
    }
    opt->step();
    for (const auto& p : params) trace.params.push_back(p.tensor.to_vector());
  }
  return trace;
}

}  // namespace

TEST_CASE("cuda engine: SGD, Adam and gradient-norm clipping match the CPU") {
  for (const OptCase& oc : {OptCase{"sgd", false, 0, 0, 0, 0, 8}, OptCase{"sgd factored on the cpu", false, 0, 0, 1e-3, 0, 2},
                            OptCase{"sgd momentum + weight decay", false, 0.9, 0.01, 0, 0, 8},
                            OptCase{"sgd + clipping", false, 0, 0, 0, 0.05, 2}, OptCase{"adam", true, 0, 0, 0, 0, 8},
                            OptCase{"adam + weight decay + clipping", true, 0, 0.01, 0, 0.05, 16}}) {
    CAPTURE(oc.name);
    const OptTrace cpu_trace = optimize_on(kCpu, oc), gpu_trace = optimize_on(kCuda, oc);
    REQUIRE(gpu_trace.params.size() == cpu_trace.params.size());
    for (size_t i = 0; i < cpu_trace.params.size(); ++i) expect_matches(gpu_trace.params[i], cpu_trace.params[i], 1e-5, "parameter " + std::to_string(i));
    REQUIRE(gpu_trace.norms.size() == cpu_trace.norms.size());
    for (size_t i = 0; i < cpu_trace.norms.size(); ++i) {
      CHECK(cpu_trace.norms[i] > oc.clip);  // the clipping really scaled the gradients
      CHECK(gpu_trace.norms[i] == doctest::Approx(cpu_trace.norms[i]).epsilon(1e-5));
    }
    // the parameters moved (a broken update would leave them as initialised)
    const std::vector<float> init = randoms(600, 300);
    CHECK(cpu_trace.params[0] != init);
  }
}

TEST_CASE("cuda engine: clip_grad_norm reports a non-finite norm as an error") {
  Tensor p = Tensor::from_vector({3}, {1.0f, 2.0f, 3.0f}, kCuda);
  p.set_requires_grad(true);
  const Tensor inf = Tensor::from_vector({3}, {INFINITY, 0.0f, 0.0f}, kCuda);
  sum(mul(p, inf)).backward();
  dc::test::expect_throws<Error>([&] { clip_grad_norm({{"p", p}}, 1.0); }, {"clip_grad_norm", "not finite"});
}
