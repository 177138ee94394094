// Helpers for the engine tests: random tensors, double views of float tensors, the
// "scalar probe" loss sum(y * r) whose gradient w.r.t. y is r, and an error matcher.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "kernels/base/error.h"
#include "engine/ops.h"
#include "engine/tensor.h"
#include "test_util.h"

namespace dc::test {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return Tensor::from_vector(shape, random_vector<float>(static_cast<size_t>(shape_numel(shape)), seed, lo, hi));
}

inline Tensor random_param(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Tensor t = random_tensor(shape, seed, lo, hi);
  t.set_requires_grad(true);
  return t;
}

inline std::vector<double> to_double(const Tensor& t) { return convert<double>(t.to_vector()); }

// Runs backward on sum(y * r) for a fixed random r (shape of y) and returns r in double.
inline std::vector<double> backward_probe(const Tensor& y, uint64_t seed) {
  const Tensor r = random_tensor(y.shape(), seed);
  Tensor loss = sum(mul(y, r));
  loss.backward();
  return to_double(r);
}

// The gradient of a tensor in double; fails the check (and returns zeros) when undefined.
inline std::vector<double> grad_of(const Tensor& t) {
  const Tensor g = t.grad();
  CHECK(g.defined());
  if (!g.defined()) return std::vector<double>(static_cast<size_t>(t.numel()), 0.0);
  CHECK(g.shape() == t.shape());
  return to_double(g);
}

// Expects f() to throw an E (a dc::Error kind) whose message contains every one of `needles`.
template <class E, class F>
void expect_throws(F&& f, const std::vector<std::string>& needles) {
  bool thrown = false;
  std::string message;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    message = e.what();
  }
  INFO("message: " << message);
  CHECK(thrown);
  for (const auto& n : needles) {
    INFO("expected to find: " << n);
    CHECK(message.find(n) != std::string::npos);
  }
}

template <class F>
void expect_shape_error(F&& f, const std::vector<std::string>& needles) {
  expect_throws<ShapeError>(std::forward<F>(f), needles);
}

}  // namespace dc::test
