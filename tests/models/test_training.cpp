// The trainer end to end: a smoke run on the original 10-gene toy split, a learning check
// on a small simulated cell, determinism, best-epoch bookkeeping and divergence handling.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "kernels/base/error.h"
#include "engine/parallel.h"
#include "io/formats/dataset.h"
#include "io/formats/simulate.h"
#include "models/model.h"
#include "models/registry.h"
#include "models/trainer.h"

using namespace dc;

namespace {

io::Split toy(const char* split) {
  io::LoadOptions o;
  o.use_cache = false;
  return io::load_split(std::string(DC_TEST_DATA_DIR) + "/toy/" + split + ".csv", o);
}

}  // namespace

TEST_CASE("smoke: every model trains on the toy split") {
  const io::Split train = toy("train"), valid = toy("valid"), test = toy("test");
  for (const char* name : {"deepchrome", "linear", "mlp"}) {
    CAPTURE(name);
    auto model = create_model(model_defaults(name), 3);
    TrainOptions o;
    o.epochs = 3;
    o.batch_size = 1;
    o.lr = 1e-3;
    o.lr_decay = 1e-7;
    TrainResult r = train_model(*model, train.view(), valid.view(), test.view(), o);
    REQUIRE(r.epochs.size() == 3);
    CHECK(r.best_epoch >= 1);
    CHECK(r.best_epoch <= 3);
    CHECK(r.test_prob_high.size() == test.size());
    for (float p : r.test_prob_high) CHECK((p >= 0 && p <= 1));
    for (const auto& e : r.epochs) CHECK(std::isfinite(e.train_loss));
    // The best epoch's figures are the ones reported.
    CHECK(r.valid_auroc == r.epochs[r.best_epoch - 1].valid_auroc);
    CHECK(r.test_auroc == r.epochs[r.best_epoch - 1].test_auroc);
    // The model holds the best epoch's weights: predicting again reproduces its test scores.
    const std::vector<float> again = predict(*model, test.view());
    for (size_t i = 0; i < again.size(); ++i) CHECK(again[i] == doctest::Approx(r.test_prob_high[i]).epsilon(1e-6));
  }
}

TEST_CASE("DeepChrome learns a small simulated cell: loss falls, AUROC well above chance") {
  io::SimulateOptions so;
  so.genes = 900;
  so.seed = 11;
  const io::SimulatedCell cell = io::simulate_cell_data("T01", so);
  auto model = create_model(model_defaults("deepchrome"), 1);
  TrainOptions o;
  o.epochs = 4;
  o.batch_size = 1;
  o.lr = 1e-3;
  o.lr_decay = 1e-7;
  TrainResult r = train_model(*model, cell.train.view(), cell.valid.view(), cell.test.view(), o);
  CAPTURE(r.epochs.front().train_loss);
  CAPTURE(r.epochs.back().train_loss);
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
  CHECK(r.epochs.back().train_loss < 0.69);  // below chance (ln 2)
  CHECK(r.test_auroc > 0.65);
}

TEST_CASE("training is reproducible: same seed, same numbers; other seed, other numbers") {
  io::SimulateOptions so;
  so.genes = 150;
  so.seed = 3;
  const io::SimulatedCell cell = io::simulate_cell_data("T02", so);
  auto run = [&](uint64_t seed, int threads) {
    set_num_threads(threads);
    auto model = create_model(model_defaults("deepchrome"), seed);
    TrainOptions o;
    o.epochs = 2;
    o.batch_size = 8;
    o.seed = seed;
    TrainResult r = train_model(*model, cell.train.view(), cell.valid.view(), cell.test.view(), o);
    set_num_threads(0);
    return r;
  };
  const TrainResult a = run(1, 2), b = run(1, 2), c = run(2, 2), d = run(1, 1);
  CHECK(a.epochs.back().train_loss == b.epochs.back().train_loss);
  CHECK(a.test_prob_high == b.test_prob_high);
  CHECK(a.epochs.back().train_loss != c.epochs.back().train_loss);
  // Thread count does not change the numbers either.
  CHECK(a.test_prob_high == d.test_prob_high);
}

TEST_CASE("a diverging run stops with an error naming the epoch and batch") {
  const io::Split train = toy("train"), valid = toy("valid"), test = toy("test");
  auto model = create_model(model_defaults("linear"), 1);
  TrainOptions o;
  o.epochs = 5;
  o.lr = 1e38;  // raw counts * huge steps overflow the weights to inf -> NaN loss
  bool threw = false;
  try {
    train_model(*model, train.view(), valid.view(), test.view(), o);
  } catch (const Error& e) {
    threw = true;
    const std::string msg = e.what();
    CHECK(msg.find("training diverged at epoch 1, batch ") != std::string::npos);
    // The huge step overflows the weights: the one weight tensor of the linear model is named.
    CHECK(msg.find("the first parameter holding a non-finite value is fc.weight (weights, element ") != std::string::npos);
    CHECK(msg.find("made non-finite by an earlier update") != std::string::npos);
  }
  CHECK(threw);
}

namespace {
std::string divergence_of(Model& model, const DataView& train, const DataView& eval, const TrainOptions& o) {
  try {
    train_model(model, train, eval, eval, o);
  } catch (const InputError&) {
    return "(an InputError)";
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("NaN/Inf guard: the first non-finite weight or gradient is named with its epoch and batch") {
  const io::Split train = toy("train"), valid = toy("valid");
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 2;
  SUBCASE("a non-finite weight, found before the first step") {
    auto model = create_model(model_defaults("deepchrome"), 1);
    // (A NaN before a ReLU can vanish, max(NaN, 0) being 0: the output layer's bias cannot hide.)
    Tensor w = model->parameters().back().tensor;
    REQUIRE(model->parameters().back().name == "out.bias");
    w.data()[1] = std::nanf("");
    const std::string msg = divergence_of(*model, train.view(), valid.view(), o);
    INFO(msg);
    CHECK(msg.find("training diverged at epoch 1, batch 1: the loss is NaN") != std::string::npos);
    CHECK(msg.find("is out.bias (weights, element 1 of 2: nan), before any update") != std::string::npos);
  }
  SUBCASE("finite weights, an input that overflows: the first non-finite gradient is named") {
    io::Split bad = train;
    const size_t gene = 3;  // whichever batch it falls in
    for (size_t i = 0; i < io::kValuesPerGene; ++i) bad.x[gene * io::kValuesPerGene + i] = 3e38f;
    auto model = create_model(model_defaults("linear"), 1);
    const std::string msg = divergence_of(*model, bad.view(), valid.view(), o);
    INFO(msg);
    CHECK(msg.find("training diverged at epoch 1, batch ") != std::string::npos);
    CHECK(msg.find("the loss is") != std::string::npos);
    CHECK(msg.find("is fc.weight (gradient, element ") != std::string::npos);
  }
}

TEST_CASE("model configs: defaults, unknown model, bad sizes") {
  CHECK(model_defaults("deepchrome")["conv_channels"] == 50);
  CHECK_THROWS_AS(model_defaults("resnet"), InputError);
  auto cfg = model_defaults("deepchrome");
  cfg["conv_kernel"] = 200;
  CHECK_THROWS_AS(create_model(cfg, 1), InputError);
  auto dc_model = create_model(model_defaults("deepchrome"), 1);
  // conv 50*5*10+50, fc1 900*625+625, fc2 625*125+125, out 125*2+2
  CHECK(dc_model->parameter_count() == 2550 + 563125 + 78250 + 252);
}
