// Helpers shared by the test suites: random fills, the one tolerance rule
// |a - r| <= atol + rtol * |r| (reporting the worst element and the first failure), and
// a central-difference gradient checker.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/rng.h"

namespace dc::test {

template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::vector<T> v(n);
  CounterRng rng(seed, 42);
  for (auto& x : v) x = static_cast<T>(lo + (hi - lo) * rng.uniform());
  return v;
}

// Checks every element; on failure reports the first failing index and the worst error.
template <class A, class R>
void expect_close(const A* actual, const R* reference, size_t n, double atol, double rtol, const std::string& what) {
  size_t first_bad = n, worst = 0;
  double worst_err = 0;
  for (size_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(actual[i]), r = static_cast<double>(reference[i]);
    const double err = std::fabs(a - r);
    const bool ok = err <= atol + rtol * std::fabs(r) && std::isfinite(a) == std::isfinite(r);
    if (!ok && first_bad == n) first_bad = i;
    if (err > worst_err || (!ok && first_bad == i)) { worst_err = err; worst = i; }
  }
  INFO(what << ": " << n << " elements, max |err| " << worst_err << " at [" << worst << "]");
  if (first_bad < n)
    INFO("first mismatch at [" << first_bad << "]: got " << static_cast<double>(actual[first_bad]) << ", expected "
                               << static_cast<double>(reference[first_bad]));
  CHECK(first_bad == n);
}

template <class A, class R>
void expect_close(const std::vector<A>& actual, const std::vector<R>& reference, double atol, double rtol,
                  const std::string& what) {
  REQUIRE(actual.size() == reference.size());
  expect_close(actual.data(), reference.data(), actual.size(), atol, rtol, what);
}

// Central differences of a scalar function f over the elements of `x` (modified in place
// and restored): returns df/dx.
inline std::vector<double> numeric_gradient(std::vector<double>& x, const std::function<double()>& f, double eps = 1e-6) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = f();
    x[i] = keep - eps;
    const double down = f();
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

// <y, r>: the scalar the gradient checks differentiate (so dL/dy = r).
inline double dot(const std::vector<double>& y, const std::vector<double>& r) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += y[i] * r[i];
  return s;
}

}  // namespace dc::test
