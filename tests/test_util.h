// Helpers shared by the test suites: random fills, checks under the one tolerance rule
// (engine/op_table.h: |a - r| <= atol + rtol * |r|, reporting the worst element and the
// first failure), and a central-difference gradient checker.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/op_table.h"
#include "engine/parallel.h"
#include "kernels/base/grad.h"
#include "kernels/base/philox.h"

namespace dc::test {

template <class T>
std::vector<T> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::vector<T> v(n);
  CounterRng rng(seed, 42);
  for (auto& x : v) x = static_cast<T>(lo + (hi - lo) * rng.uniform());
  return v;
}

// A kernel's gradient output over a whole vector: written (Overwrite) or added to (Accumulate).
template <class T>
GradOut<T> out(std::vector<T>& v) {
  return {v.data(), GradMode::Overwrite};
}
template <class T>
GradOut<T> acc(std::vector<T>& v) {
  return {v.data(), GradMode::Accumulate};
}

// Checks every element under the one tolerance rule (engine/op_table.h); on failure
// reports the first failing index and the worst error.
template <class A, class R>
void expect_close(const A* actual, const R* reference, size_t n, double atol, double rtol, const std::string& what) {
  const std::vector<double> a(actual, actual + n), r(reference, reference + n);
  const optable::Comparison c = optable::compare(a, r, {atol, rtol});
  INFO(c.describe(what));
  CHECK(c.ok);
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

// Central differences of f at the listed elements of `x` only (for shapes where the full
// gradient would be too slow): returns df/dx[idx[j]] for each j.
inline std::vector<double> numeric_gradient_at(std::vector<double>& x, const std::vector<size_t>& idx,
                                               const std::function<double()>& f, double eps = 1e-6) {
  std::vector<double> g(idx.size());
  for (size_t j = 0; j < idx.size(); ++j) {
    const size_t i = idx[j];
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = f();
    x[i] = keep - eps;
    const double down = f();
    x[i] = keep;
    g[j] = (up - down) / (2 * eps);
  }
  return g;
}

// All of 0..n-1 when n <= max_count, else max_count distinct indices spread over the range
// (first and last always included).
inline std::vector<size_t> sample_indices(size_t n, size_t max_count, uint64_t seed) {
  std::vector<size_t> idx;
  if (n <= max_count) {
    for (size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  CounterRng rng(seed, 7);
  const double step = static_cast<double>(n - 1) / static_cast<double>(max_count - 1);
  for (size_t j = 0; j < max_count; ++j) {
    // One index per stratum, jittered inside it, so they stay distinct and sorted.
    const size_t lo = static_cast<size_t>(j * step), hi = j + 1 < max_count ? static_cast<size_t>((j + 1) * step) : n;
    idx.push_back(j == 0 ? 0 : (j + 1 == max_count ? n - 1 : lo + rng.below(std::max<size_t>(1, hi - lo))));
  }
  return idx;
}

template <class T>
std::vector<T> pick(const std::vector<T>& v, const std::vector<size_t>& idx) {
  std::vector<T> out;
  for (size_t i : idx) out.push_back(v[i]);
  return out;
}

template <class To, class From>
std::vector<To> convert(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

// Sets the OpenMP thread count for a scope and restores the previous one.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : previous_(dc::num_threads()) { dc::set_num_threads(n); }
  ~ThreadCount() { dc::set_num_threads(previous_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int previous_;
};

// Bitwise equality of two float buffers (so NaN == NaN and -0 != +0).
inline bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    uint32_t x, y;
    std::memcpy(&x, &a[i], 4);
    std::memcpy(&y, &b[i], 4);
    if (x != y) return false;
  }
  return true;
}

}  // namespace dc::test
