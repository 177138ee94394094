// Ops through the public API beyond what the op table checks (tests/engine/test_op_table.cpp):
// dropout's identities, reshape / flatten / transpose index semantics written out by hand,
// a DeepChrome-shaped graph against finite differences, and the shape errors each op raises.
#include <cmath>
#include <string>
#include <vector>

#include "engine_util.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/pool.h"

using namespace dc;
using namespace dc::test;
namespace k = dc::kernels;

// ---- layers -----------------------------------------------------------------------------

TEST_CASE("op dropout: the backward mask is the forward's, eval and p = 0 are the identity") {
  const DropoutKey key{2024, 9};
  for (float p : {0.25f, 0.5f}) {
    CAPTURE(p);
    Tensor x = random_param({8, 50}, 1);
    Tensor y = dropout(x, p, true, key);
    backward_probe(y, 2);
    const auto g = grad_of(x);
    // The backward mask is the forward mask.
    const auto yv = y.to_vector();
    int mismatched = 0, kept = 0;
    for (size_t i = 0; i < yv.size(); ++i) {
      mismatched += (yv[i] != 0.0f) != (g[i] != 0.0);
      kept += yv[i] != 0.0f;
    }
    CHECK(mismatched == 0);
    CHECK(kept > 0);
    CHECK(kept < static_cast<int>(yv.size()));
    // The same key reproduces the mask; another stream changes it.
    CHECK(dropout(x, p, true, key).to_vector() == yv);
    CHECK(dropout(x, p, true, DropoutKey{key.seed, key.stream + 1}).to_vector() != yv);
  }
  Tensor x = random_param({3, 4}, 3);
  for (const auto& [p_, training] : {std::pair{0.5f, false}, std::pair{0.0f, true}}) {
    const float p = p_;  // (clang 14 cannot capture a structured binding, as CAPTURE does)
    CAPTURE(p);
    x.zero_grad();
    Tensor y = dropout(x, p, training, key);
    CHECK(y.to_vector() == x.to_vector());
    const auto r = backward_probe(y, 4);
    CHECK(grad_of(x) == r);
  }
}

// ---- shape ops ----------------------------------------------------------------------------

TEST_CASE("op reshape (including -1) and flatten: same data, gradient reshaped back") {
  Tensor x = random_param({2, 3, 4}, 1);
  const auto xv = x.to_vector();
  for (const Shape& target : {Shape{6, 4}, Shape{-1}, Shape{4, -1}, Shape{2, -1, 3}, Shape{24, 1}, Shape{1, 2, 12}}) {
    INFO("into " << shape_str(target));
    x.zero_grad();
    Tensor y = reshape(x, target);
    CHECK(y.numel() == 24);
    for (size_t d = 0; d < target.size(); ++d)
      if (target[d] != -1) CHECK(y.shape()[d] == target[d]);
    CHECK(y.to_vector() == xv);
    CHECK(y.data() == x.data());  // a view: shares storage
    const auto r = backward_probe(y, 2);
    CHECK(grad_of(x) == r);  // element i of y is element i of x
  }
  Tensor y = reshape(x, {-1, 6});
  CHECK(y.shape() == Shape{4, 6});
  struct F {
    int start;
    Shape want;
  };
  for (const F& f : {F{0, {24}}, F{1, {2, 12}}, F{2, {2, 3, 4}}}) {
    x.zero_grad();
    Tensor z = flatten(x, f.start);
    CHECK(z.shape() == f.want);
    CHECK(z.to_vector() == xv);
    const auto r = backward_probe(z, 3);
    CHECK(grad_of(x) == r);
  }
}

TEST_CASE("op transpose: 2-d, 3-d and 4-d dim pairs, gradient is the inverse permutation") {
  auto check = [](const Shape& shape, int d0, int d1) {
    INFO("shape " << shape_str(shape) << " dims " << d0 << ", " << d1);
    Tensor x = random_param(shape, 11);
    Tensor y = transpose(x, d0, d1);
    const int n = static_cast<int>(shape.size());
    const int a = d0 < 0 ? d0 + n : d0, b = d1 < 0 ? d1 + n : d1;
    Shape want = shape;
    std::swap(want[a], want[b]);
    CHECK(y.shape() == want);
    // y[idx] == x[idx with a and b swapped], enumerating y's indices.
    const auto xv = x.to_vector(), yv = y.to_vector();
    std::vector<int64_t> idx(n, 0);
    bool values_ok = true;
    std::vector<size_t> source(yv.size());
    for (size_t i = 0; i < yv.size(); ++i) {
      std::vector<int64_t> src = idx;
      std::swap(src[a], src[b]);
      size_t off = 0;
      for (int d = 0; d < n; ++d) off = off * static_cast<size_t>(shape[d]) + static_cast<size_t>(src[d]);
      source[i] = off;
      values_ok = values_ok && yv[i] == xv[off];
      for (int d = n - 1; d >= 0; --d) {  // increment the multi-index of y
        if (++idx[d] < want[d]) break;
        idx[d] = 0;
      }
    }
    CHECK(values_ok);
    const auto r = backward_probe(y, 12);
    std::vector<double> dx(xv.size());
    for (size_t i = 0; i < r.size(); ++i) dx[source[i]] = r[i];
    CHECK(grad_of(x) == dx);
    // Transposing back is the identity.
    CHECK(transpose(y, d0, d1).to_vector() == xv);
  };
  check({3, 5}, 0, 1);
  check({2, 3, 4}, 0, 1);
  check({2, 3, 4}, 0, 2);
  check({2, 3, 4}, 1, 2);
  check({2, 3, 4}, -1, -2);
  check({2, 3, 4}, 1, 1);
  check({2, 3, 4, 5}, 0, 3);
  check({2, 3, 4, 5}, 1, 2);
  check({2, 3, 4, 5}, 1, 3);
  check({2, 3, 4, 5}, 2, 0);
  // Hand case: [[1, 2, 3], [4, 5, 6]]^T = [[1, 4], [2, 5], [3, 6]]
  Tensor m = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(transpose(m, 0, 1).to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

// ---- an end-to-end graph against finite differences ----------------------------------------

TEST_CASE("a small DeepChrome-shaped graph: gradients vs double finite differences") {
  // x (N, 5, 20) -> conv1d(K=4, pad 1) -> relu -> max_pool1d(3, 3) -> flatten -> linear -> tanh
  //   -> linear -> log_softmax -> nll_loss
  const int N = 3, CIN = 5, L = 20, C1 = 6, K = 4, PAD = 1, H = 7, CLS = 2;
  const int L1 = (L + 2 * PAD - K) + 1, LP = (L1 - 3) / 3 + 1, F = C1 * LP;
  Tensor x = random_param({N, CIN, L}, 1);
  Tensor w1 = random_param({C1, CIN, K}, 2, -0.5, 0.5), b1 = random_param({C1}, 3, -0.5, 0.5);
  Tensor w2 = random_param({H, F}, 4, -0.3, 0.3), b2 = random_param({H}, 5, -0.3, 0.3);
  Tensor w3 = random_param({CLS, H}, 6, -0.5, 0.5), b3 = random_param({CLS}, 7, -0.5, 0.5);
  const Tensor target = Tensor::from_vector({N}, {1, 0, 1});
  Tensor h = max_pool1d(relu(conv1d(x, w1, b1, 1, PAD)), 3, 3);
  REQUIRE(h.shape() == Shape{N, C1, LP});
  Tensor loss = nll_loss(log_softmax(linear(dc::tanh(linear(flatten(h), w2, b2)), w3, b3)), target);
  loss.backward();

  // The same function in double with the reference kernels.
  std::vector<std::vector<double>> p = {to_double(x),  to_double(w1), to_double(b1), to_double(w2),
                                        to_double(b2), to_double(w3), to_double(b3)};
  const auto td = to_double(target);
  auto f = [&]() {
    std::vector<double> c(static_cast<size_t>(N) * C1 * L1), pooled(static_cast<size_t>(N) * C1 * LP);
    k::conv1d_forward_reference(c.data(), p[0].data(), p[1].data(), p[2].data(), {N, CIN, L, C1, K, 1, PAD});
    k::activation_forward_reference(c.data(), c.data(), static_cast<int64_t>(c.size()), k::Activation::Relu);
    std::vector<int32_t> am(pooled.size());
    k::maxpool1d_forward_reference(pooled.data(), am.data(), c.data(), {N * C1, L1, 3, 3});
    std::vector<double> h1(static_cast<size_t>(N) * H), o(static_cast<size_t>(N) * CLS), lp(o.size());
    k::linear_forward_reference(h1.data(), pooled.data(), p[3].data(), p[4].data(), {N, F, H});
    k::activation_forward_reference(h1.data(), h1.data(), static_cast<int64_t>(h1.size()), k::Activation::Tanh);
    k::linear_forward_reference(o.data(), h1.data(), p[5].data(), p[6].data(), {N, H, CLS});
    k::log_softmax_forward_reference(lp.data(), o.data(), N, CLS);
    double loss = 0;
    k::nll_loss_forward_reference(&loss, lp.data(), td.data(), N, CLS);
    return loss;
  };
  CHECK(loss.item() == doctest::Approx(f()).epsilon(1e-5));
  const Tensor* params[] = {&x, &w1, &b1, &w2, &b2, &w3, &b3};
  const char* names[] = {"x", "w1", "b1", "w2", "b2", "w3", "b3"};
  for (int i = 0; i < 7; ++i) {
    INFO(names[i]);
    const auto idx = sample_indices(p[i].size(), 40, static_cast<uint64_t>(i));
    // Float forward/backward against a double FD: tolerance set by float rounding.
    expect_close(pick(grad_of(*params[i]), idx), numeric_gradient_at(p[i], idx, f), 2e-5, 1e-3, names[i]);
  }
}

// ---- shape errors -------------------------------------------------------------------------

TEST_CASE("shape errors quote the actual shapes") {
  const Tensor x23 = Tensor::zeros({2, 3}), x32 = Tensor::zeros({3, 2}), w56 = Tensor::zeros({5, 6});
  const Tensor x3 = Tensor::zeros({2, 3, 10}), w3 = Tensor::zeros({4, 2, 3});
  expect_shape_error([&] { linear(x23, w56, Tensor()); }, {"(2, 3)", "(5, 6)"});
  expect_shape_error([&] { linear(x3, w56, Tensor()); }, {"(2, 3, 10)"});
  expect_shape_error([&] { linear(x23, Tensor::zeros({5, 3}), Tensor::zeros({4})); }, {"(4,)", "(5, 3)"});
  expect_shape_error([&] { linear(x23, Tensor(), Tensor()); }, {"weight"});
  expect_shape_error([&] { conv1d(x3, w3, Tensor()); }, {"(2, 3, 10)", "(4, 2, 3)"});
  expect_shape_error([&] { conv1d(x23, w3, Tensor()); }, {"(2, 3)"});
  expect_shape_error([&] { conv1d(x3, Tensor::zeros({4, 3, 3}), Tensor::zeros({5})); }, {"(5,)"});
  expect_shape_error([&] { conv1d(x3, Tensor::zeros({4, 3, 3}), Tensor(), 0, 0); }, {"stride 0"});
  expect_shape_error([&] { conv1d(x3, Tensor::zeros({4, 3, 3}), Tensor(), 1, -1); }, {"padding -1"});
  expect_shape_error([&] { conv1d(x3, Tensor::zeros({4, 3, 13}), Tensor(), 1, 1); }, {"13", "10"});
  expect_shape_error([&] { max_pool1d(x23, 4, 1); }, {"(2, 3)", "kernel 4"});
  expect_shape_error([&] { max_pool1d(x23, 2, 0); }, {"(2, 3)", "stride 0"});
  expect_shape_error([&] { dropout(x23, 1.0f, true, {}); }, {"1.0"});
  expect_shape_error([&] { dropout(x23, -0.1f, true, {}); }, {"-0.1"});
  expect_shape_error([&] { add(x23, x32); }, {"(2, 3)", "(3, 2)"});
  expect_shape_error([&] { mul(x23, x32); }, {"(2, 3)", "(3, 2)"});
  expect_shape_error([&] { reshape(x23, {4, 2}); }, {"(2, 3)", "(4, 2)"});
  expect_shape_error([&] { reshape(x23, {-1, 4}); }, {"(2, 3)", "(-1, 4)"});
  expect_shape_error([&] { reshape(x23, {-1, -1}); }, {"(-1, -1)"});
  expect_shape_error([&] { reshape(x23, {-2, -3}); }, {"(-2, -3)"});
  expect_shape_error([&] { flatten(x23, 2); }, {"(2, 3)"});
  expect_shape_error([&] { transpose(x23, 0, 2); }, {"(2, 3)"});
  expect_shape_error([&] { transpose(x23, -3, 0); }, {"(2, 3)"});
  expect_shape_error([&] { log_softmax(x3); }, {"(2, 3, 10)"});
  expect_shape_error([&] { nll_loss(x23, Tensor::zeros({3})); }, {"(2, 3)", "(3,)"});
  expect_shape_error([&] { nll_loss(x23, Tensor::from_vector({2}, {0, 3})); }, {"target[1]", "0..2"});
  expect_shape_error([&] { nll_loss(x23, Tensor::from_vector({2}, {0.5f, 1})); }, {"target[0]"});
  expect_shape_error([&] { nll_loss(x23, Tensor::from_vector({2}, {-1, 1})); }, {"target[0]"});
  expect_shape_error([&] { bce_with_logits(x23, Tensor::zeros({2})); }, {"(2, 3)", "(2,)"});
  expect_shape_error([&] { bce_with_logits(Tensor::zeros({4}), Tensor::zeros({3})); }, {"(4,)", "(3,)"});
  expect_shape_error([&] { sum(Tensor::zeros({0, 3})); }, {"(0, 3)"});
  expect_shape_error([&] { mean(Tensor::zeros({0})); }, {"(0,)"});
  expect_shape_error([&] { relu(Tensor()); }, {"relu"});
}
