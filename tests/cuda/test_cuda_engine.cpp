// The engine on CUDA beyond its ops (those are the op table's: test_cuda_op_table.cpp):
// tensors moving between host and device, the caching allocator, the mixed-device error,
// and the optimizers and gradient clipping against the same steps on the CPU.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>
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

// Under the one tolerance rule with atol = 5% of rtol (scaled by the largest |want|); the
// reference must not be all zeros (no vacuous pass).
void expect_matches(const std::vector<float>& got, const std::vector<float>& want, double rtol, const std::string& what) {
  INFO(what);
  CHECK(max_abs(want) > 0);
  test::expect_close(got, want, 0.05 * rtol, rtol, what);
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
