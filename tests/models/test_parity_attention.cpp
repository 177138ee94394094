// PyTorch parity for AttentiveChrome and its LSTM baselines: tools/make_attention_fixtures.py
// (torch 1.13) stored initial weights, a batch, the logits, the BCE loss, the attention
// weights (alpha over bins, beta over marks), every parameter gradient, and the parameters
// after 2 clipped Adam steps. Ours must match at relative error <= 1e-4 per tensor
// (max|ours - torch| / max|torch|).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/base/error.h"
#include "engine/optim.h"
#include "io/formats/safetensors.h"
#include "models/model.h"
#include "models/registry.h"

namespace {

using namespace dc;

constexpr double kMaxRelErr = 1e-4;

double rel_err(const Tensor& ours, const Tensor& ref) {
  REQUIRE(ours.numel() == ref.numel());
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(ours.data()[i]) - ref.data()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref.data()[i])));
  }
  return scale == 0 ? diff : diff / scale;
}

void check_model(const std::string& model_name, const std::string& file) {
  CAPTURE(model_name);
  const io::SafetensorsFile f = io::load_safetensors(std::string(DC_TEST_DATA_DIR) + "/fixtures/" + file + ".safetensors");
  auto get = [&](const std::string& name) -> const Tensor& {
    auto it = f.tensors.find(name);
    REQUIRE_MESSAGE(it != f.tensors.end(), "fixture tensor missing: " << name);
    return it->second;
  };
  auto model = create_model(model_defaults(model_name), 5);
  size_t params = 0;
  for (const auto& [key, t] : f.tensors) params += key.rfind("param.", 0) == 0;
  REQUIRE(params == model->parameters().size());
  for (auto& p : model->parameters()) {
    CAPTURE(p.name);
    REQUIRE(get("param." + p.name).shape() == p.tensor.shape());
    p.tensor.copy_from(get("param." + p.name));
  }
  const Tensor& x = get("input.x");
  const Tensor& labels = get("input.labels");

  SUBCASE("logits, loss, attention and every parameter gradient") {
    const ModelOutput out = model->forward(x, true, 0);
    const Tensor logit = out.output;
    CHECK(rel_err(logit, get("output.logit")) <= kMaxRelErr);
    if (f.tensors.count("output.alpha")) {
      REQUIRE(out.bin_attention.defined());
      CHECK(rel_err(out.bin_attention, get("output.alpha")) <= kMaxRelErr);
    }
    if (f.tensors.count("output.beta")) {
      REQUIRE(out.mark_attention.defined());
      CHECK(rel_err(out.mark_attention, get("output.beta")) <= kMaxRelErr);
    }
    Tensor loss = model->loss(logit, labels);
    CHECK(std::fabs(loss.item() - get("output.loss").data()[0]) <= kMaxRelErr * std::fabs(get("output.loss").data()[0]));
    loss.backward();
    for (const auto& p : model->parameters()) {
      CAPTURE(p.name);
      REQUIRE(p.tensor.grad().defined());
      const double e = rel_err(p.tensor.grad(), get("grad." + p.name));
      CAPTURE(e);
      CHECK(e <= kMaxRelErr);
    }
  }

  SUBCASE("2 Adam steps with gradient-norm clipping at 1.0") {
    Adam opt(model->parameters(), AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0});
    const Tensor& norms = get("clipnorm.adam");
    for (int s = 0; s < 2; ++s) {
      opt.zero_grad();
      model->loss(model->forward(x, true, 0).output, labels).backward();
      const double norm = clip_grad_norm(model->parameters(), 1.0);
      CHECK(std::fabs(norm - norms.data()[s]) <= kMaxRelErr * norms.data()[s]);
      opt.step();
    }
    for (const auto& p : model->parameters()) {
      if (!f.tensors.count("adam." + p.name)) continue;
      CAPTURE(p.name);
      const double e = rel_err(p.tensor, get("adam." + p.name));
      CAPTURE(e);
      CHECK(e <= kMaxRelErr);
    }
  }
}

}  // namespace

TEST_CASE("PyTorch parity: attentivechrome") { check_model("attentivechrome", "attentivechrome"); }
TEST_CASE("PyTorch parity: lstm baseline") { check_model("lstm", "lstm"); }
TEST_CASE("PyTorch parity: lstm-attn baseline") { check_model("lstm-attn", "lstm_attn"); }

TEST_CASE("attentivechrome: the double-sigmoid loss is an explicit option only") {
  CHECK(model_defaults("attentivechrome")["loss"] == "bce");
  auto cfg = model_defaults("attentivechrome");
  cfg["loss"] = "sigmoid_twice";
  CHECK_THROWS_AS(create_model(cfg, 1), InputError);
  cfg["loss"] = "bce_after_sigmoid";
  auto a = create_model(cfg, 1), b = create_model(model_defaults("attentivechrome"), 1);
  Tensor x = Tensor::full({2, 5, 100}, 1.0f), y = Tensor::from_vector({2}, {0, 1});
  // Same weights, same logits, different losses.
  const float la = a->loss(a->forward(x, false, 0).output, y).item(), lb = b->loss(b->forward(x, false, 0).output, y).item();
  CHECK(la != lb);
}
