// Tensor handle semantics and the autograd wiring: accumulation of a tensor used twice,
// diamonds, no_grad, leaves without requires_grad, zero_grad / overwrite-first, detach,
// clone, repeated backward.
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine_util.h"

using namespace dc;
using namespace dc::test;

TEST_CASE("Tensor: construction, shape queries, handle semantics") {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(t.dim() == 2);
  CHECK(t.numel() == 6);
  CHECK(t.size(0) == 2);
  CHECK(t.size(-1) == 3);
  CHECK(t.device() == Device::CPU);
  CHECK(t.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK_FALSE(t.requires_grad());
  CHECK_FALSE(t.grad().defined());
  CHECK(shape_str({4, 5, 100}) == "(4, 5, 100)");
  CHECK(shape_str({3}) == "(3,)");
  CHECK(shape_str({}) == "()");
  CHECK(Tensor::scalar(2.5f).item() == 2.5f);
  CHECK(Tensor::scalar(2.5f).dim() == 0);
  CHECK(Tensor::zeros({2, 2}).to_vector() == std::vector<float>{0, 0, 0, 0});
  CHECK(Tensor::full({3}, -1.5f).to_vector() == std::vector<float>{-1.5f, -1.5f, -1.5f});
  // Copies of a handle share storage and identity.
  Tensor u = t;
  u.data()[0] = 42;
  CHECK(t.data()[0] == 42);
  CHECK(u.impl() == t.impl());

  expect_shape_error([] { (void)Tensor::from_vector({2, 3}, {1, 2, 3}); }, {"(2, 3)", "6", "3"});
  expect_shape_error([&] { (void)t.size(2); }, {"(2, 3)"});
  expect_shape_error([&] { (void)t.item(); }, {"(2, 3)"});
  expect_shape_error([] { (void)Tensor::empty({2, -1}); }, {"(2, -1)"});
  Tensor small = Tensor::zeros({5});
  expect_shape_error([&] { small.copy_from(t); }, {"(2, 3)", "(5,)"});
}

TEST_CASE("shape_numel: a zero dim gives 0 before anything can overflow; an overflowing shape is an error") {
  CHECK(shape_numel({}) == 1);
  CHECK(shape_numel({3, 4, 5}) == 60);
  CHECK(shape_numel({93630, 511, 563743445165, 0}) == 0);  // (the fuzzer's shape: the first three overflow)
  CHECK(Tensor::empty({93630, 511, 563743445165, 0}).numel() == 0);
  CHECK_THROWS_WITH_AS(shape_numel({93630, 511, 563743445165}), doctest::Contains("has more elements than int64 can count"), Error);
}

TEST_CASE("detach shares storage without history; clone copies data without history") {
  Tensor x = random_param({2, 3}, 1);
  Tensor y = dc::tanh(x);
  REQUIRE(y.requires_grad());

  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.impl()->grad_fn == nullptr);
  CHECK(d.data() == y.data());  // same storage
  CHECK(d.shape() == y.shape());
  // An op on the detached tensor records nothing and sends no gradient back to x.
  Tensor z = mul(d, d);
  CHECK_FALSE(z.requires_grad());

  Tensor c = y.clone();
  CHECK_FALSE(c.requires_grad());
  CHECK(c.impl()->grad_fn == nullptr);
  CHECK(c.data() != y.data());
  CHECK(c.to_vector() == y.to_vector());
  c.data()[0] += 1.0f;
  CHECK(c.data()[0] != y.data()[0]);

  // Detaching a leaf parameter: writes through the detached handle are visible in the
  // parameter (how optimizers and checkpoint loading update weights in place).
  Tensor xd = x.detach();
  xd.data()[1] = 7.0f;
  CHECK(x.data()[1] == 7.0f);
  CHECK(x.requires_grad());

  // Gradient flows only through the non-detached path: loss = sum(y * detach(y)) ->
  // dloss/dx = detach(y) * tanh'(x), not 2 y tanh'(x).
  Tensor x2 = random_param({4}, 2);
  Tensor y2 = dc::tanh(x2);
  sum(mul(y2, y2.detach())).backward();
  const auto g = grad_of(x2);
  const auto yv = y2.to_vector();
  for (size_t i = 0; i < 4; ++i) CHECK(g[i] == doctest::Approx(yv[i] * (1 - yv[i] * yv[i])).epsilon(1e-6));
}

TEST_CASE("set_requires_grad only on leaves; copy_from copies elements") {
  Tensor x = random_param({3}, 1);
  Tensor y = relu(x);
  CHECK_THROWS_AS(y.set_requires_grad(false), Error);
  Tensor a = Tensor::zeros({2, 3});
  a.copy_from(Tensor::from_vector({6}, {1, 2, 3, 4, 5, 6}));  // same numel, any shape
  CHECK(a.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(a.shape() == Shape{2, 3});
}

TEST_CASE("a tensor used twice accumulates both contributions") {
  const std::vector<float> xv = {1.5f, -2.0f, 0.25f};
  SUBCASE("add(x, x): dx = 2") {
    Tensor x = Tensor::from_vector({3}, xv).set_requires_grad(true);
    sum(add(x, x)).backward();
    CHECK(grad_of(x) == std::vector<double>{2, 2, 2});
  }
  SUBCASE("mul(x, x): dx = 2x") {
    Tensor x = Tensor::from_vector({3}, xv).set_requires_grad(true);
    sum(mul(x, x)).backward();
    CHECK(grad_of(x) == std::vector<double>{3, -4, 0.5});
  }
  SUBCASE("x feeds two separate ops: sum(x) + sum(x * x) -> 1 + 2x") {
    Tensor x = Tensor::from_vector({3}, xv).set_requires_grad(true);
    add(sum(x), sum(mul(x, x))).backward();
    CHECK(grad_of(x) == std::vector<double>{4, -3, 1.5});
  }
  SUBCASE("linear(x, x) with a square x: y = x x^T + b") {
    // loss = sum(x x^T) = sum_{n,o} sum_i x[n,i] x[o,i] -> d/dx[a,i] = 2 sum_n x[n,i]
    Tensor x = Tensor::from_vector({2, 2}, {1, 2, 3, 4}).set_requires_grad(true);
    sum(linear(x, x, Tensor())).backward();
    // column sums: [1 + 3, 2 + 4] = [4, 6] -> grad rows [8, 12]
    CHECK(grad_of(x) == std::vector<double>{8, 12, 8, 12});
  }
}

TEST_CASE("diamond graphs") {
  // x -> a = tanh(x), b = sigmoid(x) -> c = a * b -> loss = sum(c)
  // dloss/dx = tanh'(x) sig(x) + tanh(x) sig'(x)
  Tensor x = random_param({10}, 3, -2, 2);
  Tensor a = dc::tanh(x), b = sigmoid(x);
  sum(mul(a, b)).backward();
  const auto g = grad_of(x);
  const auto xv = to_double(x);
  for (size_t i = 0; i < xv.size(); ++i) {
    const double t = std::tanh(xv[i]), s = 1 / (1 + std::exp(-xv[i]));
    CHECK(g[i] == doctest::Approx((1 - t * t) * s + t * s * (1 - s)).epsilon(1e-5));
  }
  // A shared intermediate: h = relu(x) feeds two branches that meet again.
  //   loss = sum(h * w1 + h * w2) -> dloss/dx = [x > 0] (w1 + w2); dloss/dw_k = h
  Tensor x2 = random_param({8}, 4);
  Tensor w1 = random_param({8}, 5), w2 = random_param({8}, 6);
  Tensor h = relu(x2);
  sum(add(mul(h, w1), mul(h, w2))).backward();
  const auto gx = grad_of(x2), gw1 = grad_of(w1), gw2 = grad_of(w2);
  const auto xv2 = x2.to_vector(), w1v = w1.to_vector(), w2v = w2.to_vector(), hv = h.to_vector();
  for (size_t i = 0; i < 8; ++i) {
    CHECK(gx[i] == doctest::Approx(xv2[i] > 0 ? w1v[i] + w2v[i] : 0.0).epsilon(1e-6));
    CHECK(gw1[i] == hv[i]);
    CHECK(gw2[i] == hv[i]);
  }
}

TEST_CASE("no_grad scope records nothing") {
  Tensor x = random_param({2, 3}, 1);
  Tensor w = random_param({4, 3}, 2);
  CHECK(grad_enabled());
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Tensor y = linear(x, w, Tensor());
    CHECK_FALSE(y.requires_grad());
    CHECK(y.impl()->grad_fn == nullptr);
    Tensor z = sum(mul(dc::tanh(y), y));
    CHECK_FALSE(z.requires_grad());
    CHECK_THROWS_AS(z.backward(), Error);
    {
      NoGradGuard nested;
      CHECK_FALSE(grad_enabled());
    }
    CHECK_FALSE(grad_enabled());  // the inner guard restores "disabled", not "enabled"
    Tensor r = reshape(x, {-1});
    CHECK_FALSE(r.requires_grad());
  }
  CHECK(grad_enabled());
  Tensor y = linear(x, w, Tensor());
  CHECK(y.requires_grad());
  // Values are the same with and without recording.
  Tensor y0;
  {
    NoGradGuard guard;
    y0 = linear(x, w, Tensor());
  }
  CHECK(y0.to_vector() == y.to_vector());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("leaves that do not require grad get no gradient") {
  Tensor x = random_tensor({3, 4}, 1);       // data: no grad
  Tensor w = random_param({5, 4}, 2);        // parameter
  Tensor b = random_tensor({5}, 3);          // frozen bias
  Tensor y = linear(x, w, b);
  REQUIRE(y.requires_grad());
  (void)backward_probe(y, 4);
  CHECK(w.grad().defined());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK(x.impl()->grad == nullptr);  // no buffer was even allocated
  CHECK(b.impl()->grad == nullptr);
  // The recorded node lists only the inputs that need a gradient.
  Tensor y2 = linear(x, w, b);
  REQUIRE(y2.impl()->grad_fn);
  CHECK(y2.impl()->grad_fn->inputs.size() == 1);
  CHECK(y2.impl()->grad_fn->inputs[0].get() == w.impl());
  // An op with no input requiring grad records nothing.
  Tensor z = add(x, x);
  CHECK_FALSE(z.requires_grad());
  CHECK(z.impl()->grad_fn == nullptr);
}

TEST_CASE("backward: errors for non-scalar roots and roots without grad") {
  Tensor x = random_param({2, 3}, 1);
  Tensor y = relu(x);
  expect_shape_error([&] { y.backward(); }, {"(2, 3)"});
  Tensor c = random_tensor({1}, 2);
  CHECK_THROWS_AS(sum(c).backward(), Error);
  // A one-element, non-0-d root is fine.
  Tensor one = reshape(sum(x), {1, 1});
  one.backward();
  CHECK(grad_of(x) == std::vector<double>(6, 1.0));
}

TEST_CASE("zero_grad and the overwrite-first contract") {
  Tensor x = random_param({4, 5}, 1);
  Tensor w = random_param({3, 5}, 2);
  auto run = [&] {
    Tensor y = dc::tanh(linear(x, w, Tensor()));
    return backward_probe(y, 3);
  };
  run();
  const auto g1x = grad_of(x), g1w = grad_of(w);
  const float* buffer = w.grad().data();

  SUBCASE("zero_grad then backward gives the same gradient as a fresh run") {
    x.zero_grad();
    w.zero_grad();
    CHECK_FALSE(x.grad().defined());  // stale: undefined until the next backward
    CHECK_FALSE(w.grad().defined());
    CHECK(w.impl()->grad != nullptr);  // ...but the buffer is kept for reuse
    run();
    CHECK(grad_of(x) == g1x);  // bit-identical: overwritten, not added to stale contents
    CHECK(grad_of(w) == g1w);
    CHECK(w.grad().data() == buffer);
  }
  SUBCASE("without zero_grad a second backward accumulates") {
    run();
    const auto g2x = grad_of(x), g2w = grad_of(w);
    for (size_t i = 0; i < g1x.size(); ++i) CHECK(g2x[i] == doctest::Approx(2 * g1x[i]).epsilon(1e-6));
    for (size_t i = 0; i < g1w.size(); ++i) CHECK(g2w[i] == doctest::Approx(2 * g1w[i]).epsilon(1e-6));
  }
  SUBCASE("grad() is a handle to the live buffer") {
    Tensor g = w.grad();
    g.data()[0] = 123.0f;
    CHECK(w.grad().data()[0] == 123.0f);
  }
}

TEST_CASE("backward on separate graphs accumulates into the leaf gradient") {
  Tensor p = random_param({6}, 1);
  Tensor r1 = random_tensor({6}, 2), r2 = random_tensor({6}, 3);
  sum(mul(p, r1)).backward();
  CHECK(grad_of(p) == to_double(r1));
  sum(mul(p, r2)).backward();
  const auto g = grad_of(p);
  const auto a = r1.to_vector(), b = r2.to_vector();
  for (size_t i = 0; i < 6; ++i) CHECK(g[i] == static_cast<double>(a[i] + b[i]));
  // A leaf scalar is its own (one-node) graph: each backward adds 1.
  Tensor s = Tensor::scalar(3.0f).set_requires_grad(true);
  s.backward();
  CHECK(s.grad().item() == 1.0f);
  s.backward();
  CHECK(s.grad().item() == 2.0f);
  s.zero_grad();
  s.backward();
  CHECK(s.grad().item() == 1.0f);
}

TEST_CASE("backward twice through the same graph: intermediates start clean, leaves accumulate") {
  Tensor x = random_param({5}, 1);
  Tensor h = sigmoid(x);
  Tensor loss = sum(mul(h, h));
  loss.backward();
  const auto g1 = grad_of(x);
  CHECK_FALSE(h.grad().defined());  // an intermediate's gradient is consumed and freed
  loss.backward();
  const auto g2 = grad_of(x);
  for (size_t i = 0; i < 5; ++i) CHECK(g2[i] == doctest::Approx(2 * g1[i]).epsilon(1e-6));
}

TEST_CASE("the graph is owned by the output and freed with it") {
  Tensor x = random_param({3}, 1);
  std::weak_ptr<Node> node;
  std::weak_ptr<TensorImpl> mid;
  {
    Tensor h = dc::tanh(x);
    Tensor y = sum(h);
    node = h.impl()->grad_fn;
    mid = h.impl_ptr();
    h = Tensor();  // y's node still holds h
    CHECK_FALSE(node.expired());
    CHECK_FALSE(mid.expired());
  }
  CHECK(node.expired());
  CHECK(mid.expired());
}

TEST_CASE("parallel_chunks: every index once, in chunks of the asked size, whatever the thread count") {
  const int threads = num_threads();
  for (int t : {1, 2, 3}) {
    set_num_threads(t);
    for (const int64_t n : {int64_t{0}, int64_t{5}, int64_t{64}, int64_t{1000}}) {
      CAPTURE(t);
      CAPTURE(n);
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      std::atomic<int> bad_chunks{0};
      parallel_chunks(n, 64, [&](int64_t b, int64_t e) {
        if (b % 64 != 0 || e - b > 64 || (e - b < 64 && e != n)) bad_chunks.fetch_add(1);
        for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
      });
      CHECK(bad_chunks.load() == 0);
      for (int64_t i = 0; i < n; ++i) REQUIRE(seen[static_cast<size_t>(i)].load() == 1);
    }
  }
  set_num_threads(threads);
}
