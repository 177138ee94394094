// The self-attention ops through the public API beyond what the op table checks
// (tests/engine/test_op_table.cpp): a small attention block built from all of them against
// double finite differences, bmm(x, x), the same-shape add / mul keeping their plain path,
// and the shape errors each op raises.
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops_transformer.h"
#include "engine_util.h"
#include "kernels/contract/bmm.h"
#include "kernels/contract/broadcast.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/layer_norm.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/softmax.h"

using namespace dc;
using namespace dc::test;
namespace k = dc::kernels;

TEST_CASE("a small self-attention block: gradients vs double finite differences") {
  // x (B, T, D) + pos (T, D) -> q, k, v = linear -> softmax(q k^T * 0.5) v + residual
  //   -> layer_norm -> gelu -> linear -> exp(log_softmax) -> sum(p * r)
  const int B = 2, T = 5, D = 4, CLS = 2;
  Tensor x = random_param({B, T, D}, 1), pos = random_param({T, D}, 2, -0.5, 0.5);
  Tensor wq = random_param({D, D}, 3, -0.5, 0.5), wk = random_param({D, D}, 4, -0.5, 0.5),
         wv = random_param({D, D}, 5, -0.5, 0.5), bq = random_param({D}, 6, -0.2, 0.2);
  Tensor g = random_param({D}, 7, 0.5, 1.5), beta = random_param({D}, 8, -0.5, 0.5);
  Tensor wo = random_param({CLS, D}, 9, -0.5, 0.5), bo = random_param({CLS}, 10, -0.2, 0.2);
  const Tensor r = random_tensor({B * T, CLS}, 11), half = Tensor::scalar(0.5f);

  const Tensor h = add(x, pos);
  const Tensor h2 = reshape(h, {B * T, D});
  const Tensor q = reshape(linear(h2, wq, bq), {B, T, D}), kk = reshape(linear(h2, wk, Tensor()), {B, T, D}),
               v = reshape(linear(h2, wv, Tensor()), {B, T, D});
  const Tensor w = softmax(mul(bmm(q, kk, false, true), half));
  REQUIRE(w.shape() == Shape{B, T, T});
  const Tensor n = layer_norm(add(bmm(w, v), h), g, beta);
  const Tensor p = dc::exp(log_softmax(linear(reshape(gelu(n), {B * T, D}), wo, bo)));
  Tensor loss = sum(mul(p, r));
  loss.backward();

  // The same function in double with the reference kernels.
  const Tensor* params[] = {&x, &pos, &wq, &wk, &wv, &bq, &g, &beta, &wo, &bo};
  const char* names[] = {"x", "pos", "wq", "wk", "wv", "bq", "g", "beta", "wo", "bo"};
  std::vector<std::vector<double>> pd;
  for (const Tensor* t : params) pd.push_back(to_double(*t));
  const std::vector<double> rd = to_double(r);
  auto f = [&]() {
    const size_t nx = static_cast<size_t>(B) * T * D;
    std::vector<double> hd(nx), qd(nx), kd(nx), vd(nx), s(static_cast<size_t>(B) * T * T), ctx(nx), nd(nx);
    k::broadcast_forward_reference(hd.data(), pd[0].data(), pd[1].data(), k::broadcast_view({B, T, D}, {T, D}), k::Binary::Add);
    k::linear_forward_reference(qd.data(), hd.data(), pd[2].data(), pd[5].data(), {B * T, D, D});
    k::linear_forward_reference<double>(kd.data(), hd.data(), pd[3].data(), nullptr, {B * T, D, D});
    k::linear_forward_reference<double>(vd.data(), hd.data(), pd[4].data(), nullptr, {B * T, D, D});
    k::bmm_forward_reference(s.data(), qd.data(), kd.data(), {B, T, T, D, k::Trans::No, k::Trans::Yes});
    for (double& e : s) e *= 0.5;
    k::softmax_forward_reference(s.data(), s.data(), B * T, T);
    k::bmm_forward_reference(ctx.data(), s.data(), vd.data(), {B, T, D, T});
    for (size_t i = 0; i < nx; ++i) ctx[i] += hd[i];
    k::layer_norm_forward_reference<double>(nd.data(), nullptr, nullptr, ctx.data(), pd[6].data(), pd[7].data(),
                                            {B * T, D, 1e-5f});
    k::gelu_forward_reference(nd.data(), nd.data(), static_cast<int64_t>(nx));
    std::vector<double> lo(static_cast<size_t>(B) * T * CLS), lp(lo.size());
    k::linear_forward_reference(lo.data(), nd.data(), pd[8].data(), pd[9].data(), {B * T, D, CLS});
    k::log_softmax_forward_reference(lp.data(), lo.data(), B * T, CLS);
    k::activation_forward_reference(lp.data(), lp.data(), static_cast<int64_t>(lp.size()), k::Activation::Exp);
    double total = 0;
    for (size_t i = 0; i < lp.size(); ++i) total += lp[i] * rd[i];
    return total;
  };
  CHECK(loss.item() == doctest::Approx(f()).epsilon(1e-5));
  for (size_t i = 0; i < pd.size(); ++i) {
    INFO(names[i]);
    const auto idx = sample_indices(pd[i].size(), 40, static_cast<uint64_t>(i));
    // Float forward/backward against a double FD: tolerance set by float rounding.
    expect_close(pick(grad_of(*params[i]), idx), numeric_gradient_at(pd[i], idx, f), 2e-5, 1e-3, names[i]);
  }
}

TEST_CASE("op bmm(x, x): both gradients land in x's one buffer") {
  // y = x x^T per batch entry: dx = dy x + dy^T x.
  Tensor x = random_param({2, 3, 4}, 1);
  const Tensor y = bmm(x, x, false, true);
  REQUIRE(y.shape() == Shape{2, 3, 3});
  const std::vector<double> dy = backward_probe(y, 2), xd = to_double(x);
  std::vector<double> da(xd.size()), db(xd.size());
  k::bmm_backward_reference(GradOut<double>{da.data(), GradMode::Overwrite}, GradOut<double>{db.data(), GradMode::Overwrite},
                            dy.data(), xd.data(), xd.data(), {2, 3, 3, 4, k::Trans::No, k::Trans::Yes});
  for (size_t i = 0; i < da.size(); ++i) da[i] += db[i];
  expect_close(grad_of(x), da, 1e-6, 1e-6, "dx");
}

TEST_CASE("op add / mul: equal shapes keep the plain elementwise path, bit for bit") {
  const Tensor a = random_tensor({64, 900}, 1), b = random_tensor({64, 900}, 2);
  for (k::Binary op : {k::Binary::Add, k::Binary::Mul}) {
    std::vector<float> want(static_cast<size_t>(a.numel()));
    k::cpu::binary_forward(want.data(), a.data(), b.data(), a.numel(), op);
    const Tensor y = op == k::Binary::Add ? add(a, b) : mul(a, b);
    CHECK(bit_identical(y.to_vector(), want));
  }
  // Different shapes broadcast to the larger one, either way round.
  CHECK(add(Tensor::zeros({2, 3}), Tensor::zeros({3})).shape() == Shape{2, 3});
  CHECK(mul(Tensor::zeros({5, 1, 4}), Tensor::zeros({3, 1})).shape() == Shape{5, 3, 4});
  CHECK(add(Tensor::scalar(2.0f), Tensor::full({2}, 1.0f)).to_vector() == std::vector<float>{3, 3});
}

TEST_CASE("self-attention ops: shape errors quote the actual shapes") {
  const Tensor a = Tensor::zeros({2, 3, 4}), b = Tensor::zeros({2, 5, 6});
  expect_shape_error([&] { bmm(a, b); }, {"(2, 3, 4)", "(2, 5, 6)", "K 4 vs 5"});
  expect_shape_error([&] { bmm(a, Tensor::zeros({3, 4, 2})); }, {"B 2 vs 3"});
  expect_shape_error([&] { bmm(a, b, true, false); }, {"(transposed)", "K 3 vs 5"});
  expect_shape_error([&] { bmm(Tensor::zeros({3, 4}), b); }, {"(3, 4)", "3-d"});
  expect_shape_error([&] { bmm(Tensor::zeros({2, 0, 4}), Tensor::zeros({2, 4, 1})); }, {"empty", "(2, 0, 4)"});
  expect_shape_error([&] { softmax(Tensor::zeros({})); }, {"()"});
  expect_shape_error([&] { softmax(Tensor::zeros({3, 0})); }, {"(3, 0)"});
  expect_shape_error([&] { layer_norm(a, Tensor::zeros({3}), Tensor::zeros({4})); }, {"(2, 3, 4)", "weight (4)", "(3,)"});
  expect_shape_error([&] { layer_norm(a, Tensor::zeros({4}), Tensor()); }, {"undefined"});
  expect_shape_error([&] { layer_norm(a, Tensor::zeros({4}), Tensor::zeros({4}), 0.0f); }, {"eps"});
  expect_shape_error([&] { add(Tensor::zeros({5, 2, 3}), Tensor::zeros({4, 3})); },
                     {"(5, 2, 3)", "(4, 3)", "sizes 2 and 4 at dimension -2"});
  expect_shape_error([&] { mul(Tensor::zeros({0, 3}), Tensor::zeros({3})); }, {"empty"});
  expect_shape_error([&] { gelu(Tensor()); }, {"gelu"});
}
