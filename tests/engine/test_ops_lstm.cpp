// The lstm op through the public API: forward against the double reference kernel,
// gradients (backward of sum(y * r)) against the reference backward, shared weights,
// gradient accumulation over two calls, the no-grad path and the shape errors.
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops_rnn.h"
#include "engine_util.h"
#include "kernels/contract/lstm.h"

using namespace dc;
using namespace dc::test;
using dc::GradMode;

namespace {

constexpr double kFwdTol = 2e-6, kFwdRel = 2e-5, kGradTol = 1e-5, kGradRel = 1e-4;

LstmWeights random_weights(int G, int I, int H, int D, uint64_t seed, bool requires_grad = true) {
  const double k = 1 / std::sqrt(static_cast<double>(H));
  LstmWeights w;
  for (int p = 0; p < G * D; ++p) {
    auto make = [&](const Shape& shape, uint64_t sd) {
      return requires_grad ? random_param(shape, sd, -k, k) : random_tensor(shape, sd, -k, k);
    };
    w.w_ih.push_back(make({4 * H, I}, seed + 4 * p));
    w.w_hh.push_back(make({4 * H, H}, seed + 4 * p + 1));
    w.b_ih.push_back(make({4 * H}, seed + 4 * p + 2));
    w.b_hh.push_back(make({4 * H}, seed + 4 * p + 3));
  }
  return w;
}

// The weights in double, each kind concatenated over the pairs.
struct Flat {
  std::vector<double> w_ih, w_hh, b_ih, b_hh;
};

Flat flatten_weights(const LstmWeights& w) {
  Flat f;
  auto append = [](std::vector<double>& dst, const Tensor& t) {
    const auto v = to_double(t);
    dst.insert(dst.end(), v.begin(), v.end());
  };
  for (size_t p = 0; p < w.w_ih.size(); ++p) {
    append(f.w_ih, w.w_ih[p]);
    append(f.w_hh, w.w_hh[p]);
    append(f.b_ih, w.b_ih[p]);
    append(f.b_hh, w.b_hh[p]);
  }
  return f;
}

kernels::LstmParams<double> params_of(const Flat& f, kernels::LstmShape s) {
  kernels::LstmParams<double> p;
  const size_t G4 = 4 * static_cast<size_t>(s.H);
  for (int q = 0; q < s.P(); ++q) {
    p.w_ih.push_back(f.w_ih.data() + q * G4 * s.I);
    p.w_hh.push_back(f.w_hh.data() + q * G4 * s.H);
    p.b_ih.push_back(f.b_ih.data() + q * G4);
    p.b_hh.push_back(f.b_hh.data() + q * G4);
  }
  return p;
}

struct RefResult {
  std::vector<double> y, dx;
  Flat dw;
};

// Reference forward, and backward for dL/dy = r when r is given.
RefResult reference(const std::vector<double>& x, const Flat& w, kernels::LstmShape s, const std::vector<double>* r) {
  RefResult out;
  out.y.resize(static_cast<size_t>(s.G) * s.BT() * s.D * s.H);
  std::vector<double> ws(static_cast<size_t>(kernels::lstm_workspace_size(s)));
  const auto params = params_of(w, s);
  kernels::lstm_forward_reference(out.y.data(), ws.data(), x.data(), params, s);
  if (!r) return out;
  out.dx.resize(x.size());
  out.dw = {std::vector<double>(w.w_ih.size()), std::vector<double>(w.w_hh.size()), std::vector<double>(w.b_ih.size()),
            std::vector<double>(w.b_hh.size())};
  kernels::LstmParamGrads<double> g;
  const size_t G4 = 4 * static_cast<size_t>(s.H);
  for (int q = 0; q < s.P(); ++q) {
    g.w_ih.push_back({out.dw.w_ih.data() + q * G4 * s.I, GradMode::Overwrite});
    g.w_hh.push_back({out.dw.w_hh.data() + q * G4 * s.H, GradMode::Overwrite});
    g.b_ih.push_back({out.dw.b_ih.data() + q * G4, GradMode::Overwrite});
    g.b_hh.push_back({out.dw.b_hh.data() + q * G4, GradMode::Overwrite});
  }
  kernels::lstm_backward_reference<double>({out.dx.data(), GradMode::Overwrite}, g, r->data(), x.data(), out.y.data(),
                                          params, ws.data(), s);
  return out;
}

Flat grads_of(const LstmWeights& w) {
  Flat f;
  auto append = [](std::vector<double>& dst, const Tensor& t) {
    const auto v = grad_of(t);
    dst.insert(dst.end(), v.begin(), v.end());
  };
  for (size_t p = 0; p < w.w_ih.size(); ++p) {
    append(f.w_ih, w.w_ih[p]);
    append(f.w_hh, w.w_hh[p]);
    append(f.b_ih, w.b_ih[p]);
    append(f.b_hh, w.b_hh[p]);
  }
  return f;
}

void expect_grads(const Flat& got, const Flat& ref) {
  expect_close(got.w_ih, ref.w_ih, kGradTol, kGradRel, "dw_ih");
  expect_close(got.w_hh, ref.w_hh, kGradTol, kGradRel, "dw_hh");
  expect_close(got.b_ih, ref.b_ih, kGradTol, kGradRel, "db_ih");
  expect_close(got.b_hh, ref.b_hh, kGradTol, kGradRel, "db_hh");
}

}  // namespace

TEST_CASE("op lstm: forward and gradients vs reference") {
  struct Case {
    int G, B, T, I, H;
    bool bidirectional;
  };
  for (const Case c : {Case{5, 16, 100, 1, 32, true}, Case{1, 16, 5, 64, 16, true}, Case{2, 3, 4, 2, 3, true},
                       Case{3, 2, 6, 1, 5, false}}) {
    const int D = c.bidirectional ? 2 : 1;
    INFO("G=" << c.G << " B=" << c.B << " T=" << c.T << " I=" << c.I << " H=" << c.H << " D=" << D);
    const kernels::LstmShape s{c.G, c.B, c.T, c.I, c.H, D};
    Tensor x = random_param({c.G, c.B, c.T, c.I}, 1, -2, 2);
    LstmWeights w = random_weights(c.G, c.I, c.H, D, 10);
    Tensor y = lstm(x, w, c.H, c.bidirectional);
    CHECK(y.shape() == Shape{c.G, c.B, c.T, D * c.H});
    const auto probe = backward_probe(y, 4);
    const RefResult ref = reference(to_double(x), flatten_weights(w), s, &probe);
    expect_close(y.to_vector(), ref.y, kFwdTol, kFwdRel, "y");
    expect_close(grad_of(x), ref.dx, kGradTol, kGradRel, "dx");
    expect_grads(grads_of(w), ref.dw);
  }
}

TEST_CASE("op lstm: only the weights, or only x, require a gradient") {
  const kernels::LstmShape s{2, 3, 5, 2, 4, 2};
  Tensor x = random_tensor({2, 3, 5, 2}, 1);
  LstmWeights w = random_weights(2, 2, 4, 2, 20);
  Tensor y = lstm(x, w, 4, true);
  CHECK(y.requires_grad());
  auto probe = backward_probe(y, 5);
  const RefResult ref = reference(to_double(x), flatten_weights(w), s, &probe);
  CHECK(!x.grad().defined());
  expect_grads(grads_of(w), ref.dw);

  Tensor x2 = random_param({2, 3, 5, 2}, 2);
  LstmWeights w2 = random_weights(2, 2, 4, 2, 30, false);
  Tensor y2 = lstm(x2, w2, 4, true);
  probe = backward_probe(y2, 6);
  const RefResult ref2 = reference(to_double(x2), flatten_weights(w2), s, &probe);
  expect_close(grad_of(x2), ref2.dx, kGradTol, kGradRel, "dx");
  CHECK(!w2.w_hh[0].grad().defined());
}

TEST_CASE("op lstm: no graph under NoGradGuard or without parameters; same values") {
  Tensor x = random_param({5, 2, 10, 1}, 1);
  LstmWeights w = random_weights(5, 1, 32, 2, 40);
  const Tensor y = lstm(x, w, 32, true);
  Tensor y_ng;
  {
    NoGradGuard guard;
    y_ng = lstm(x, w, 32, true);
  }
  CHECK(!y_ng.requires_grad());
  CHECK(y_ng.impl()->grad_fn == nullptr);
  CHECK(bit_identical(y.to_vector(), y_ng.to_vector()));
  const Tensor y_const = lstm(x.detach(), random_weights(5, 1, 32, 2, 40, false), 32, true);
  CHECK(!y_const.requires_grad());
  CHECK(bit_identical(y.to_vector(), y_const.to_vector()));
}

TEST_CASE("op lstm: a weight shared by several slots gets the sum of their gradients") {
  // Both directions of each group use the same tensors.
  const kernels::LstmShape s{2, 3, 4, 2, 3, 2};
  LstmWeights one = random_weights(2, 2, 3, 1, 50);
  LstmWeights shared;
  for (int g = 0; g < 2; ++g)
    for (int d = 0; d < 2; ++d) {
      shared.w_ih.push_back(one.w_ih[g]);
      shared.w_hh.push_back(one.w_hh[g]);
      shared.b_ih.push_back(one.b_ih[g]);
      shared.b_hh.push_back(one.b_hh[g]);
    }
  Tensor x = random_param({2, 3, 4, 2}, 3);
  Tensor y = lstm(x, shared, 3, true);
  auto probe = backward_probe(y, 7);
  const RefResult ref = reference(to_double(x), flatten_weights(shared), s, &probe);
  // Expected: per group, the forward-slot gradient plus the reverse-slot gradient.
  const size_t G4 = 12;
  auto fold = [&](const std::vector<double>& v, size_t per_pair) {
    std::vector<double> out(2 * per_pair);
    for (size_t g = 0; g < 2; ++g)
      for (size_t k = 0; k < per_pair; ++k) out[g * per_pair + k] = v[(2 * g) * per_pair + k] + v[(2 * g + 1) * per_pair + k];
    return out;
  };
  const Flat got = grads_of(one);
  expect_close(got.w_ih, fold(ref.dw.w_ih, G4 * 2), kGradTol, kGradRel, "dw_ih");
  expect_close(got.w_hh, fold(ref.dw.w_hh, G4 * 3), kGradTol, kGradRel, "dw_hh");
  expect_close(got.b_ih, fold(ref.dw.b_ih, G4), kGradTol, kGradRel, "db_ih");
  expect_close(got.b_hh, fold(ref.dw.b_hh, G4), kGradTol, kGradRel, "db_hh");
  expect_close(grad_of(x), ref.dx, kGradTol, kGradRel, "dx");
}

TEST_CASE("op lstm: two calls with the same weights accumulate their gradients") {
  const kernels::LstmShape s{1, 4, 5, 3, 8, 2};
  LstmWeights w = random_weights(1, 3, 8, 2, 60);
  Tensor x1 = random_tensor({1, 4, 5, 3}, 4), x2 = random_tensor({1, 4, 5, 3}, 5);
  Tensor y1 = lstm(x1, w, 8, true), y2 = lstm(x2, w, 8, true);
  const Tensor r1 = random_tensor(y1.shape(), 8), r2 = random_tensor(y2.shape(), 9);
  add(sum(mul(y1, r1)), sum(mul(y2, r2))).backward();
  const auto rd1 = to_double(r1), rd2 = to_double(r2);
  const Flat fw = flatten_weights(w);
  const RefResult a = reference(to_double(x1), fw, s, &rd1), b = reference(to_double(x2), fw, s, &rd2);
  auto plus = [](const std::vector<double>& u, const std::vector<double>& v) {
    std::vector<double> o(u.size());
    for (size_t i = 0; i < u.size(); ++i) o[i] = u[i] + v[i];
    return o;
  };
  expect_grads(grads_of(w), {plus(a.dw.w_ih, b.dw.w_ih), plus(a.dw.w_hh, b.dw.w_hh), plus(a.dw.b_ih, b.dw.b_ih),
                             plus(a.dw.b_hh, b.dw.b_hh)});
}

TEST_CASE("op lstm: shape errors quote the actual shapes") {
  Tensor x = random_tensor({5, 2, 10, 1}, 1);
  const LstmWeights w = random_weights(5, 1, 32, 2, 70);
  expect_shape_error([&] { lstm(random_tensor({2, 10, 1}, 1), w, 32, true); }, {"lstm", "(G, B, T, I)", "(2, 10, 1)"});
  expect_shape_error([&] { lstm(Tensor(), w, 32, true); }, {"lstm", "undefined"});
  expect_shape_error([&] { lstm(x, w, 0, true); }, {"lstm", "hidden", "0"});
  expect_shape_error([&] { lstm(random_tensor({5, 0, 10, 1}, 1), w, 32, true); }, {"lstm", "(5, 0, 10, 1)"});
  // 5 groups x 2 directions = 10 weight sets, but unidirectional wants 5
  expect_shape_error([&] { lstm(x, w, 32, false); }, {"lstm", "w_ih", "5", "10"});
  LstmWeights bad = w;
  bad.w_hh.pop_back();
  expect_shape_error([&] { lstm(x, bad, 32, true); }, {"lstm", "w_hh", "10", "9"});
  bad = w;
  bad.w_ih[3] = random_tensor({128, 2}, 2);
  expect_shape_error([&] { lstm(x, bad, 32, true); }, {"lstm", "w_ih[3]", "group 1", "reverse", "(128, 1)", "(128, 2)"});
  bad = w;
  bad.w_hh[0] = random_tensor({128, 16}, 2);
  expect_shape_error([&] { lstm(x, bad, 32, true); }, {"w_hh[0]", "forward", "(128, 32)", "(128, 16)"});
  bad = w;
  bad.b_hh[9] = random_tensor({64}, 2);
  expect_shape_error([&] { lstm(x, bad, 32, true); }, {"b_hh[9]", "(128,)", "(64,)"});
  bad = w;
  bad.b_ih[1] = Tensor();
  expect_shape_error([&] { lstm(x, bad, 32, true); }, {"b_ih[1]", "undefined"});
  // the weights fit hidden 32, not 16
  expect_shape_error([&] { lstm(x, w, 16, true); }, {"w_ih[0]", "(64, 1)", "(128, 1)"});
}
