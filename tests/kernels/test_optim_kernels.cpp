// Fused optimizer kernels (torch semantics, kernels/contract/optim.h) against hand-worked
// steps and a hand-written double formula; gradient-norm clipping.
#include <cmath>
#include <vector>

#include "kernels/contract/optim.h"
#include "test_util.h"

namespace k = dc::kernels;
using namespace dc::test;

TEST_CASE("sgd_update, momentum 0: plain and with weight decay (hand-computed)") {
  // p = [1, -2], g = [0.5, 0.25], lr = 0.1: p -= 0.1 g -> [0.95, -2.025]
  std::vector<double> p = {1, -2};
  const std::vector<double> g = {0.5, 0.25};
  k::sgd_update_reference(p.data(), g.data(), static_cast<double*>(nullptr), 2, 0.1, 0.0, 0.0, true);
  CHECK(p[0] == doctest::Approx(0.95).epsilon(1e-15));
  CHECK(p[1] == doctest::Approx(-2.025).epsilon(1e-15));
  // weight decay 0.1: g' = g + 0.1 p = [0.6, 0.05]; p -= 0.1 g' -> [0.94, -2.005]
  p = {1, -2};
  k::sgd_update_reference(p.data(), g.data(), static_cast<double*>(nullptr), 2, 0.1, 0.0, 0.1, false);
  CHECK(p[0] == doctest::Approx(0.94).epsilon(1e-15));
  CHECK(p[1] == doctest::Approx(-2.005).epsilon(1e-15));
  // No gradient: only the decay acts, p *= 1 - lr wd = 0.99.
  p = {1, -2};
  k::sgd_update_reference(p.data(), static_cast<const double*>(nullptr), static_cast<double*>(nullptr), 2, 0.1, 0.0, 0.1,
                      false);
  CHECK(p[0] == doctest::Approx(0.99).epsilon(1e-15));
  CHECK(p[1] == doctest::Approx(-1.98).epsilon(1e-15));
}

TEST_CASE("sgd_update, momentum 0.9: the first step sets the buffer to the gradient") {
  // p = 1, constant g = 0.5, lr = 0.1, momentum 0.9
  // step 1: buf = 0.5 (not 0.9 * garbage + 0.5), p = 1 - 0.05 = 0.95
  // step 2: buf = 0.45 + 0.5 = 0.95, p = 0.95 - 0.095 = 0.855
  // step 3: buf = 0.855 + 0.5 = 1.355, p = 0.855 - 0.1355 = 0.7195
  std::vector<float> p = {1.0f}, buf = {NAN};
  const std::vector<float> g = {0.5f};
  const float want_p[] = {0.95f, 0.855f, 0.7195f}, want_buf[] = {0.5f, 0.95f, 1.355f};
  for (int t = 0; t < 3; ++t) {
    CAPTURE(t);
    k::cpu::sgd_update(p.data(), g.data(), buf.data(), 1, 0.1f, 0.9f, 0.0f, t == 0);
    CHECK(buf[0] == doctest::Approx(want_buf[t]).epsilon(1e-6));
    CHECK(p[0] == doctest::Approx(want_p[t]).epsilon(1e-6));
  }
}

TEST_CASE("sgd_update vs the double formula: momentum, weight decay, 3 steps, float") {
  const int n = 1000;
  auto p = random_vector<float>(n, 1);
  std::vector<float> buf(n, 0.0f);
  std::vector<double> pd = convert<double>(p), bd(n, 0.0);
  const double lr = 0.05, mom = 0.9, wd = 0.01;
  for (int t = 0; t < 3; ++t) {
    const auto g = random_vector<float>(n, 10 + t);
    k::cpu::sgd_update(p.data(), g.data(), buf.data(), n, static_cast<float>(lr), static_cast<float>(mom),
                        static_cast<float>(wd), t == 0);
    for (int i = 0; i < n; ++i) {
      const double gi = g[i] + wd * pd[i];
      bd[i] = t == 0 ? gi : mom * bd[i] + gi;
      pd[i] -= lr * bd[i];
    }
  }
  expect_close(p, pd, 1e-6, 1e-6, "p");
  expect_close(buf, bd, 1e-6, 1e-6, "momentum buffer");
}

TEST_CASE("adam_update: first step moves by about lr * sign(g) (hand-computed)") {
  // Step 1: m = (1 - b1) g, v = (1 - b2) g^2; m / bc1 = g and sqrt(v) / sqrt(bc2) = |g|, so
  // p -= lr g / (|g| + eps): p = 1, g = 0.5, lr = 0.1 -> 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9 + 2e-9
  std::vector<double> p = {1.0, -1.0}, m = {0, 0}, v = {0, 0};
  const std::vector<double> g = {0.5, -2.0};
  k::adam_update_reference(p.data(), g.data(), m.data(), v.data(), 2, 0.1, 0.9, 0.999, 1e-8, 0.0, 1);
  CHECK(m[0] == doctest::Approx(0.05).epsilon(1e-14));
  CHECK(v[0] == doctest::Approx(0.00025).epsilon(1e-12));
  CHECK(p[0] == doctest::Approx(1 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
  CHECK(p[1] == doctest::Approx(-1 + 0.1 * 2.0 / (2.0 + 1e-8)).epsilon(1e-14));
}

TEST_CASE("adam_update vs the hand-written double formula for 3 steps (torch semantics)") {
  // torch.optim.Adam (amsgrad off): g' = g + wd p; m = b1 m + (1 - b1) g'; v = b2 v + (1 - b2) g'^2;
  // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
  struct Opts {
    double lr, b1, b2, eps, wd;
  };
  for (const Opts o : {Opts{1e-3, 0.9, 0.999, 1e-8, 0.0}, Opts{0.01, 0.8, 0.99, 1e-6, 0.05}}) {
    CAPTURE(o.lr);
    const int n = 500;
    auto p = random_vector<float>(n, 3);
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    auto pd = convert<double>(p);
    std::vector<double> md(n, 0.0), vd(n, 0.0);
    // The double kernel too, against the same formula (tight).
    auto pk = pd;
    std::vector<double> mk(n, 0.0), vk(n, 0.0);
    for (int t = 1; t <= 3; ++t) {
      const auto g = random_vector<float>(n, 20 + t);
      const auto gd = convert<double>(g);
      k::cpu::adam_update(p.data(), g.data(), m.data(), v.data(), n, static_cast<float>(o.lr), static_cast<float>(o.b1),
                           static_cast<float>(o.b2), static_cast<float>(o.eps), static_cast<float>(o.wd), t);
      k::adam_update_reference(pk.data(), gd.data(), mk.data(), vk.data(), n, o.lr, o.b1, o.b2, o.eps, o.wd, t);
      for (int i = 0; i < n; ++i) {
        const double gi = gd[i] + o.wd * pd[i];
        md[i] = o.b1 * md[i] + (1 - o.b1) * gi;
        vd[i] = o.b2 * vd[i] + (1 - o.b2) * gi * gi;
        const double bc1 = 1 - std::pow(o.b1, t), bc2 = 1 - std::pow(o.b2, t);
        pd[i] -= o.lr / bc1 * md[i] / (std::sqrt(vd[i]) / std::sqrt(bc2) + o.eps);
      }
    }
    expect_close(pk, pd, 1e-14, 1e-12, "p (double kernel)");
    expect_close(mk, md, 1e-14, 1e-12, "m (double kernel)");
    expect_close(vk, vd, 1e-14, 1e-12, "v (double kernel)");
    // Float: the parameters move by ~lr per step; compare to a fraction of that.
    expect_close(p, pd, 1e-3 * o.lr + 1e-7, 1e-6, "p (float)");
    expect_close(m, md, 1e-6, 1e-5, "m (float)");
    expect_close(v, vd, 1e-7, 1e-5, "v (float)");
  }
}

TEST_CASE("adam_update: a null gradient counts as zero (moments decay, p keeps moving)") {
  std::vector<double> p = {1.0}, m = {0.0}, v = {0.0};
  const std::vector<double> g = {0.5};
  k::adam_update_reference(p.data(), g.data(), m.data(), v.data(), 1, 0.1, 0.9, 0.999, 1e-8, 0.0, 1);
  const double p1 = p[0], m1 = m[0], v1 = v[0];
  k::adam_update_reference(p.data(), static_cast<const double*>(nullptr), m.data(), v.data(), 1, 0.1, 0.9, 0.999, 1e-8,
                       0.0, 2);
  CHECK(m[0] == doctest::Approx(0.9 * m1).epsilon(1e-15));
  CHECK(v[0] == doctest::Approx(0.999 * v1).epsilon(1e-15));
  const double bc1 = 1 - 0.81, bc2 = 1 - 0.999 * 0.999;
  CHECK(p[0] == doctest::Approx(p1 - 0.1 / bc1 * m[0] / (std::sqrt(v[0]) / std::sqrt(bc2) + 1e-8)).epsilon(1e-14));
}

TEST_CASE("sum_squares_accumulate and clip_scale (the CPU twins of the device clipping)") {
  const std::vector<float> g = {3, 4, 0, -12};
  double total = 1;
  k::cpu::sum_squares_accumulate(&total, g.data(), 4);
  CHECK(total == 170.0);  // 1 + 9 + 16 + 144
  // Accumulated in double: 1e20^2 overflows float but not double.
  const std::vector<float> big = {1e20f, 1e20f};
  double big_total = 0;
  k::cpu::sum_squares_accumulate(&big_total, big.data(), 2);
  CHECK(big_total == doctest::Approx(2e40).epsilon(1e-6));
  // total 169: norm 13; max_norm 6.5 -> factor 6.5 / (13 + 1e-6) just below 0.5.
  std::vector<float> s = {2, -4, 8};
  const double t169 = 169;
  k::cpu::clip_scale(s.data(), 3, &t169, 6.5);
  const float f = static_cast<float>(6.5 / (13 + 1e-6));
  CHECK(s == std::vector<float>{2 * f, -4 * f, 8 * f});
  // A factor of 1 or more leaves the gradient alone.
  std::vector<float> u = {2, -4, 8};
  k::cpu::clip_scale(u.data(), 3, &t169, 14.0);
  CHECK(u == std::vector<float>{2, -4, 8});
}

TEST_CASE("rmsprop_update: torch7 optim.rmsprop, m from 0 (hand-computed), the CPU kernel as the reference") {
  // g = 2, alpha 0.99: m = 0.01 * 4 = 0.04, sqrt 0.2; p -= 0.1 * 2 / (0.2 + 1e-8) = ~1.0
  std::vector<double> p = {3.0}, m = {0.0};
  const std::vector<double> g = {2.0};
  k::rmsprop_update_reference(p.data(), g.data(), m.data(), 1, 0.1, 0.99, 1e-8);
  CHECK(m[0] == doctest::Approx(0.04).epsilon(1e-15));
  CHECK(p[0] == doctest::Approx(3.0 - 0.2 / (0.2 + 1e-8)).epsilon(1e-15));
  // Second step, g = -1: m = 0.99 * 0.04 + 0.01 = 0.0496; p += 0.1 / (sqrt(0.0496) + 1e-8)
  const std::vector<double> g2 = {-1.0};
  const double p1 = p[0];
  k::rmsprop_update_reference(p.data(), g2.data(), m.data(), 1, 0.1, 0.99, 1e-8);
  CHECK(m[0] == doctest::Approx(0.0496).epsilon(1e-15));
  CHECK(p[0] == doctest::Approx(p1 + 0.1 / (std::sqrt(0.0496) + 1e-8)).epsilon(1e-15));
  // The float kernel over many elements (split across threads) against the float reference.
  const size_t n = 300000;
  auto pf = random_vector<float>(n, 1), gf = random_vector<float>(n, 2);
  std::vector<float> mf(n, 0.0f), pr = pf, mr = mf;
  for (int step = 0; step < 3; ++step) {
    k::cpu::rmsprop_update(pf.data(), gf.data(), mf.data(), static_cast<int64_t>(n), 0.1f, 0.99f, 1e-8f);
    k::rmsprop_update_reference(pr.data(), gf.data(), mr.data(), static_cast<int64_t>(n), 0.1f, 0.99f, 1e-8f);
  }
  CHECK(bit_identical(pf, pr));
  CHECK(bit_identical(mf, mr));
}
