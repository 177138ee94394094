// PyTorch parity: tools/make_fixtures.py (torch 1.13) stored initial weights, a batch, the
// outputs, the loss, every parameter gradient, and the parameters after 3 SGD steps and 3
// clipped Adam steps. Our models must match at relative error <= 1e-4, measured per tensor
// as max|ours - torch| / max|torch|.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/optim.h"
#include "engine/tensor.h"
#include "io/formats/safetensors.h"
#include "models/model.h"
#include "models/registry.h"
#include "test_util.h"

namespace {

using namespace dc;

constexpr double kMaxRelErr = 1e-4;

double rel_err(const Tensor& ours, const Tensor& ref) {
  REQUIRE(ours.shape() == ref.shape());
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(ours.data()[i]) - ref.data()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref.data()[i])));
  }
  return scale == 0 ? diff : diff / scale;
}

struct Fixture {
  io::SafetensorsFile file;
  std::unique_ptr<Model> model;
  const Tensor& get(const std::string& name) const {
    auto it = file.tensors.find(name);
    REQUIRE_MESSAGE(it != file.tensors.end(), "fixture tensor missing: " << name);
    return it->second;
  }
  void reset_params() {
    for (auto& p : model->parameters()) p.tensor.copy_from(get("param." + p.name));
  }
  Tensor loss() { return model->loss(model->forward(get("input.x"), false, 0).output, get("input.labels")); }
};

Fixture load_fixture(const std::string& name) {
  Fixture f;
  f.file = io::load_safetensors(std::string(DC_TEST_DATA_DIR) + "/fixtures/" + name + ".safetensors");
  f.model = create_model(model_defaults(name), 99);
  size_t params = 0;
  for (const auto& [key, t] : f.file.tensors) params += key.rfind("param.", 0) == 0;
  REQUIRE(params == f.model->parameters().size());
  f.reset_params();
  return f;
}

void check_model(const std::string& name) {
  CAPTURE(name);
  Fixture f = load_fixture(name);

  SUBCASE("forward, loss and every parameter gradient") {
    Tensor logp = f.model->forward(f.get("input.x"), false, 0).output;
    CHECK(rel_err(logp, f.get("output.logp")) <= kMaxRelErr);
    Tensor loss = f.model->loss(logp, f.get("input.labels"));
    CHECK(std::fabs(loss.item() - f.get("output.loss").data()[0]) <= kMaxRelErr * std::fabs(f.get("output.loss").data()[0]));
    loss.backward();
    for (const auto& p : f.model->parameters()) {
      CAPTURE(p.name);
      REQUIRE(p.tensor.grad().defined());
      const double e = rel_err(p.tensor.grad(), f.get("grad." + p.name));
      CAPTURE(e);
      CHECK(e <= kMaxRelErr);
    }
  }

  SUBCASE("3 SGD steps: momentum, weight decay, torch7 lr decay") {
    Sgd opt(f.model->parameters(), SgdOptions{0.05, 0.1, 0.9, 0.01});
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      f.loss().backward();
      opt.step();
    }
    int compared = 0;
    for (const auto& p : f.model->parameters()) {
      if (!f.file.tensors.count("sgd." + p.name)) continue;
      CAPTURE(p.name);
      const double e = rel_err(p.tensor, f.get("sgd." + p.name));
      CAPTURE(e);
      CHECK(e <= kMaxRelErr);
      ++compared;
    }
    CHECK(compared >= 2);
  }

  SUBCASE("3 Adam steps with gradient-norm clipping at 0.5") {
    Adam opt(f.model->parameters(), AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0});
    const Tensor& norms = f.get("clipnorm.adam");
    for (int s = 0; s < 3; ++s) {
      opt.zero_grad();
      f.loss().backward();
      const double norm = clip_grad_norm(f.model->parameters(), 0.5);
      CHECK(std::fabs(norm - norms.data()[s]) <= kMaxRelErr * norms.data()[s]);
      opt.step();
    }
    int compared = 0;
    for (const auto& p : f.model->parameters()) {
      if (!f.file.tensors.count("adam." + p.name)) continue;
      CAPTURE(p.name);
      const double e = rel_err(p.tensor, f.get("adam." + p.name));
      CAPTURE(e);
      CHECK(e <= kMaxRelErr);
      ++compared;
    }
    CHECK(compared >= 2);
  }
}

}  // namespace

TEST_CASE("PyTorch parity: deepchrome") { check_model("deepchrome"); }
TEST_CASE("PyTorch parity: linear baseline") { check_model("linear"); }
TEST_CASE("PyTorch parity: mlp baseline") { check_model("mlp"); }
