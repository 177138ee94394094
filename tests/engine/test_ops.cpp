// Every op through the public API: forward values against the double reference kernels,
// gradients (backward of sum(op(...) * r)) against the reference backward kernels, and
// the shape errors each op raises.
#include <cmath>
#include <string>
#include <vector>

#include "engine_util.h"
#include "kernels/cpu/conv1d.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/pool.h"

using namespace dc;
using namespace dc::test;
using dc::GradMode;

namespace {

constexpr double kTol = 1e-5;

}  // namespace

// ---- layers -----------------------------------------------------------------------------

TEST_CASE("op linear: forward and gradients vs reference") {
  struct Case {
    int N, IN, OUT;
    bool bias;
  };
  for (const Case c : {Case{1, 900, 625, true}, Case{4, 7, 5, true}, Case{4, 7, 5, false}, Case{64, 125, 2, true},
                       Case{3, 1, 1, false}}) {
    INFO("N=" << c.N << " IN=" << c.IN << " OUT=" << c.OUT << " bias=" << c.bias);
    const double k = 1 / std::sqrt(static_cast<double>(c.IN));
    Tensor x = random_param({c.N, c.IN}, 1), w = random_param({c.OUT, c.IN}, 2, -k, k);
    Tensor b = c.bias ? random_param({c.OUT}, 3, -k, k) : Tensor();
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{c.N, c.OUT});
    const dc::cpu::LinearShape s{c.N, c.IN, c.OUT};
    const auto xd = to_double(x), wd = to_double(w), bd = c.bias ? to_double(b) : std::vector<double>();
    std::vector<double> yref(static_cast<size_t>(c.N) * c.OUT);
    dc::cpu::linear_forward_reference(yref.data(), xd.data(), wd.data(), c.bias ? bd.data() : nullptr, s);
    expect_close(y.to_vector(), yref, kTol, kTol, "y");

    const auto r = backward_probe(y, 4);
    std::vector<double> dx(xd.size()), dw(wd.size()), db(static_cast<size_t>(c.OUT));
    dc::cpu::linear_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                       GradMode::Overwrite, r.data(), xd.data(), wd.data(), s);
    expect_close(grad_of(x), dx, kTol, kTol, "dx");
    expect_close(grad_of(w), dw, kTol, kTol, "dw");
    if (c.bias) expect_close(grad_of(b), db, kTol, kTol, "db");
  }
}

TEST_CASE("op conv1d: forward and gradients vs reference (stride, padding)") {
  struct Case {
    int N, CIN, L, COUT, K, stride, pad;
    bool bias;
  };
  for (const Case c : {Case{2, 3, 11, 4, 3, 2, 1, true}, Case{2, 5, 100, 50, 10, 1, 0, true},
                       Case{1, 1, 8, 2, 3, 1, 2, false}, Case{3, 2, 9, 3, 1, 3, 0, true}}) {
    INFO("N=" << c.N << " CIN=" << c.CIN << " L=" << c.L << " COUT=" << c.COUT << " K=" << c.K
              << " stride=" << c.stride << " pad=" << c.pad << " bias=" << c.bias);
    const dc::cpu::Conv1dShape s{c.N, c.CIN, c.L, c.COUT, c.K, c.stride, c.pad};
    const double k = 1 / std::sqrt(static_cast<double>(c.CIN * c.K));
    Tensor x = random_param({c.N, c.CIN, c.L}, 1), w = random_param({c.COUT, c.CIN, c.K}, 2, -k, k);
    Tensor b = c.bias ? random_param({c.COUT}, 3, -k, k) : Tensor();
    Tensor y = conv1d(x, w, b, c.stride, c.pad);
    CHECK(y.shape() == Shape{c.N, c.COUT, (c.L + 2 * c.pad - c.K) / c.stride + 1});
    const auto xd = to_double(x), wd = to_double(w), bd = c.bias ? to_double(b) : std::vector<double>();
    std::vector<double> yref(static_cast<size_t>(y.numel()));
    dc::cpu::conv1d_forward_reference(yref.data(), xd.data(), wd.data(), c.bias ? bd.data() : nullptr, s);
    expect_close(y.to_vector(), yref, kTol, kTol, "y");

    const auto r = backward_probe(y, 4);
    std::vector<double> dx(xd.size()), dw(wd.size()), db(static_cast<size_t>(c.COUT));
    dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                       GradMode::Overwrite, r.data(), xd.data(), wd.data(), s);
    expect_close(grad_of(x), dx, kTol, kTol, "dx");
    expect_close(grad_of(w), dw, kTol, kTol, "dw");
    if (c.bias) expect_close(grad_of(b), db, kTol, kTol, "db");
  }
}

TEST_CASE("op max_pool1d: 2-d and 3-d inputs, forward and gradient vs reference") {
  struct Case {
    Shape shape;
    int K, stride;
  };
  for (const Case& c : {Case{{2, 3, 10}, 2, 2}, Case{{2, 3, 10}, 3, 1}, Case{{4, 11}, 4, 3}, Case{{7}, 7, 1},
                        Case{{2, 5, 91}, 5, 5}}) {
    INFO("x " << shape_str(c.shape) << " K=" << c.K << " stride=" << c.stride);
    Tensor x = random_param(c.shape, 5);
    Tensor y = max_pool1d(x, c.K, c.stride);
    Shape want = c.shape;
    want.back() = (c.shape.back() - c.K) / c.stride + 1;
    CHECK(y.shape() == want);
    const int L = static_cast<int>(c.shape.back());
    const dc::cpu::Pool1dShape s{static_cast<int>(x.numel() / L), L, c.K, c.stride};
    const auto xd = to_double(x);
    std::vector<double> yref(static_cast<size_t>(y.numel()));
    std::vector<int32_t> am(yref.size());
    dc::cpu::maxpool1d_forward(yref.data(), am.data(), xd.data(), s);
    expect_close(y.to_vector(), yref, 0, 0, "y");  // a max is exact
    const auto r = backward_probe(y, 6);
    std::vector<double> dx(xd.size());
    dc::cpu::maxpool1d_backward(dx.data(), GradMode::Overwrite, r.data(), am.data(), s);
    expect_close(grad_of(x), dx, 1e-7, 1e-7, "dx");
  }
  // Hand case: x = [1, 3, 2, 5, 4], K=2 stride 2 -> [3, 5]; ties -> first position.
  Tensor x = Tensor::from_vector({1, 5}, {1, 3, 2, 5, 4}).set_requires_grad(true);
  Tensor y = max_pool1d(x, 2, 2);
  CHECK(y.to_vector() == std::vector<float>{3, 5});
  sum(y).backward();
  CHECK(grad_of(x) == std::vector<double>{0, 1, 0, 1, 0});
  Tensor t = Tensor::from_vector({4}, {2, 2, 2, 2}).set_requires_grad(true);
  sum(max_pool1d(t, 2, 2)).backward();
  CHECK(grad_of(t) == std::vector<double>{1, 0, 1, 0});
}

TEST_CASE("op dropout: training mask vs reference, eval and p = 0 are the identity") {
  const DropoutKey key{2024, 9};
  for (float p : {0.25f, 0.5f}) {
    CAPTURE(p);
    Tensor x = random_param({8, 50}, 1);
    Tensor y = dropout(x, p, true, key);
    const auto xd = to_double(x);
    std::vector<double> yref(xd.size());
    dc::cpu::dropout_forward(yref.data(), xd.data(), static_cast<int64_t>(xd.size()), p, {key.seed, key.stream});
    expect_close(y.to_vector(), yref, 1e-6, 1e-6, "y");
    const auto r = backward_probe(y, 2);
    std::vector<double> dx(xd.size());
    dc::cpu::dropout_backward(dx.data(), GradMode::Overwrite, r.data(), static_cast<int64_t>(xd.size()), p,
                              {key.seed, key.stream});
    const auto g = grad_of(x);
    expect_close(g, dx, 1e-6, 1e-6, "dx");
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
  for (const auto& [p, training] : {std::pair{0.5f, false}, std::pair{0.0f, true}}) {
    CAPTURE(p);
    x.zero_grad();
    Tensor y = dropout(x, p, training, key);
    CHECK(y.to_vector() == x.to_vector());
    const auto r = backward_probe(y, 4);
    CHECK(grad_of(x) == r);
  }
}

// ---- elementwise --------------------------------------------------------------------------

TEST_CASE("op relu / tanh / sigmoid: forward and gradients vs reference") {
  using dc::cpu::Activation;
  struct Case {
    const char* name;
    Activation a;
    Tensor (*op)(const Tensor&);
  };
  for (const Case& c : {Case{"relu", Activation::Relu, &dc::relu}, Case{"tanh", Activation::Tanh, &dc::tanh},
                        Case{"sigmoid", Activation::Sigmoid, &dc::sigmoid}}) {
    INFO(c.name);
    Tensor x = random_param({3, 4, 5}, 7, -3, 3);
    Tensor y = c.op(x);
    CHECK(y.shape() == x.shape());
    const auto xd = to_double(x);
    std::vector<double> yref(xd.size());
    dc::cpu::activation_forward(yref.data(), xd.data(), static_cast<int64_t>(xd.size()), c.a);
    expect_close(y.to_vector(), yref, 1e-6, 1e-6, "y");
    const auto r = backward_probe(y, 8);
    std::vector<double> dx(xd.size());
    dc::cpu::activation_backward(dx.data(), GradMode::Overwrite, r.data(), yref.data(), static_cast<int64_t>(xd.size()),
                                 c.a);
    expect_close(grad_of(x), dx, 1e-6, 1e-6, "dx");
  }
}

TEST_CASE("op add / mul: forward and gradients") {
  Tensor a = random_param({4, 6}, 1), b = random_param({4, 6}, 2);
  const auto av = to_double(a), bv = to_double(b);
  Tensor s = add(a, b);
  Tensor p = mul(a, b);
  for (size_t i = 0; i < av.size(); ++i) {
    CHECK(s.to_vector()[i] == static_cast<float>(av[i] + bv[i]));
    CHECK(p.to_vector()[i] == static_cast<float>(av[i] * bv[i]));
  }
  // loss = sum(s * r1) + sum(p * r2): da = r1 + r2 b, db = r1 + r2 a
  Tensor r1 = random_tensor({4, 6}, 3), r2 = random_tensor({4, 6}, 4);
  add(sum(mul(s, r1)), sum(mul(p, r2))).backward();
  const auto r1v = to_double(r1), r2v = to_double(r2);
  std::vector<double> da(av.size()), db(av.size());
  for (size_t i = 0; i < av.size(); ++i) {
    da[i] = r1v[i] + r2v[i] * bv[i];
    db[i] = r1v[i] + r2v[i] * av[i];
  }
  expect_close(grad_of(a), da, 1e-6, 1e-6, "da");
  expect_close(grad_of(b), db, 1e-6, 1e-6, "db");
  // Only one operand requires grad.
  Tensor c = random_tensor({4, 6}, 5);
  Tensor q = random_param({4, 6}, 6);
  const auto rr = backward_probe(mul(c, q), 7);
  const auto cv = to_double(c);
  std::vector<double> dq(cv.size());
  for (size_t i = 0; i < cv.size(); ++i) dq[i] = rr[i] * cv[i];
  expect_close(grad_of(q), dq, 1e-7, 1e-7, "dq");
  CHECK_FALSE(c.grad().defined());
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

// ---- softmax, losses, reductions ----------------------------------------------------------

TEST_CASE("op log_softmax: forward and gradient vs reference") {
  Tensor x = random_param({6, 5}, 1, -4, 4);
  Tensor y = log_softmax(x);
  const auto xd = to_double(x);
  std::vector<double> yref(xd.size());
  dc::cpu::log_softmax_forward(yref.data(), xd.data(), 6, 5);
  expect_close(y.to_vector(), yref, 1e-6, 1e-6, "y");
  const auto r = backward_probe(y, 2);
  std::vector<double> dx(xd.size());
  dc::cpu::log_softmax_backward(dx.data(), GradMode::Overwrite, r.data(), yref.data(), 6, 5);
  expect_close(grad_of(x), dx, 1e-6, 1e-6, "dx");
}

TEST_CASE("op nll_loss: value and gradient; log_softmax + nll = softmax - onehot") {
  Tensor x = random_param({4, 3}, 1, -2, 2);
  const Tensor target = Tensor::from_vector({4}, {2, 0, 1, 2});
  Tensor logp = log_softmax(x);
  Tensor loss = nll_loss(logp, target);
  CHECK(loss.dim() == 0);
  const auto lp = to_double(logp), t = to_double(target);
  CHECK(loss.item() == doctest::Approx(dc::cpu::nll_loss_forward(lp.data(), t.data(), 4, 3)).epsilon(1e-6));
  loss.backward();
  // d/dx of mean_r -log softmax(x_r)[t_r] = (softmax(x_r) - onehot(t_r)) / R
  const auto g = grad_of(x);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 3; ++c)
      CHECK(g[r * 3 + c] == doctest::Approx((std::exp(lp[r * 3 + c]) - (c == static_cast<int>(t[r]) ? 1 : 0)) / 4)
                                 .epsilon(1e-6));
  // nll_loss directly on a leaf: -1/R at the targets.
  Tensor l2 = random_param({2, 3}, 5);
  nll_loss(l2, Tensor::from_vector({2}, {1, 0})).backward();
  CHECK(grad_of(l2) == std::vector<double>{0, -0.5, 0, -0.5, 0, 0});
  // A scaled loss scales the gradient (dloss reaches the kernel).
  Tensor l3 = random_param({2, 3}, 6);
  Tensor three = Tensor::full({}, 3.0f);
  mul(nll_loss(l3, Tensor::from_vector({2}, {1, 0})), three).backward();
  CHECK(grad_of(l3) == std::vector<double>{0, -1.5, 0, -1.5, 0, 0});
}

TEST_CASE("op bce_with_logits: logits (R) and (R, 1), including large |z|") {
  const std::vector<float> z = {-100, -3, -0.5f, 0, 0.7f, 4, 100};
  const std::vector<float> t = {0, 1, 0, 1, 0.3f, 1, 1};
  const auto zd = convert<double>(z), td = convert<double>(t);
  const double want = dc::cpu::bce_with_logits_forward(zd.data(), td.data(), 7);
  std::vector<double> dz(7);
  dc::cpu::bce_with_logits_backward(dz.data(), GradMode::Overwrite, 1.0, zd.data(), td.data(), 7);
  for (const Shape& shape : {Shape{7}, Shape{7, 1}}) {
    INFO("logits " << shape_str(shape));
    Tensor logits = Tensor::from_vector(shape, z).set_requires_grad(true);
    Tensor loss = bce_with_logits(logits, Tensor::from_vector({7}, t));
    CHECK(std::isfinite(loss.item()));
    CHECK(loss.item() == doctest::Approx(want).epsilon(1e-6));
    loss.backward();
    CHECK(logits.grad().shape() == shape);
    expect_close(grad_of(logits), dz, 1e-7, 1e-6, "dz");
  }
}

TEST_CASE("op sum / mean: values and gradients") {
  Tensor x = Tensor::from_vector({2, 2}, {1, 2, 3, 4.5f}).set_requires_grad(true);
  Tensor s = sum(x);
  CHECK(s.dim() == 0);
  CHECK(s.item() == 10.5f);
  s.backward();
  CHECK(grad_of(x) == std::vector<double>{1, 1, 1, 1});
  x.zero_grad();
  Tensor m = mean(x);
  CHECK(m.item() == doctest::Approx(2.625).epsilon(1e-7));
  m.backward();
  CHECK(grad_of(x) == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  // Upstream scale reaches the fill: d/dx 2 * mean(x) = 2 / n.
  x.zero_grad();
  mul(mean(x), Tensor::scalar(2.0f)).backward();
  CHECK(grad_of(x) == std::vector<double>{0.5, 0.5, 0.5, 0.5});
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
    dc::cpu::conv1d_forward_reference(c.data(), p[0].data(), p[1].data(), p[2].data(), {N, CIN, L, C1, K, 1, PAD});
    dc::cpu::activation_forward(c.data(), c.data(), static_cast<int64_t>(c.size()), dc::cpu::Activation::Relu);
    std::vector<int32_t> am(pooled.size());
    dc::cpu::maxpool1d_forward(pooled.data(), am.data(), c.data(), {N * C1, L1, 3, 3});
    std::vector<double> h1(static_cast<size_t>(N) * H), o(static_cast<size_t>(N) * CLS), lp(o.size());
    dc::cpu::linear_forward_reference(h1.data(), pooled.data(), p[3].data(), p[4].data(), {N, F, H});
    dc::cpu::activation_forward(h1.data(), h1.data(), static_cast<int64_t>(h1.size()), dc::cpu::Activation::Tanh);
    dc::cpu::linear_forward_reference(o.data(), h1.data(), p[5].data(), p[6].data(), {N, H, CLS});
    dc::cpu::log_softmax_forward(lp.data(), o.data(), N, CLS);
    return dc::cpu::nll_loss_forward(lp.data(), td.data(), N, CLS);
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
