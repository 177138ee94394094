// Training on CUDA against the CPU from the same seed: one full step (forward, backward,
// clipping, optimizer update) of DeepChrome and AttentiveChrome, the caching allocator's
// promise (after a warm-up step, steps make no raw device allocation), whole train_model
// runs, predict / collect_attention on the device, and a checkpoint written from device
// parameters.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "engine/optim.h"
#include "engine/tensor.h"
#include "io/formats/dataset.h"
#include "io/experiment/report.h"
#include "kernels/cuda/runtime.h"
#include "models/model.h"
#include "models/registry.h"
#include "models/trainer.h"
#include "test_util.h"

namespace {

using namespace dc;
namespace cu = dc::kernels::cuda;
namespace fs = std::filesystem;

constexpr Device kCpu = Device::CPU;
constexpr Device kCuda = Device::CUDA;
constexpr int kExample = kInputMarks * kInputBins;

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// |got - want| <= rtol * (|want| + 5% of the largest |want|); the reference must not be all zeros.
void expect_matches(const std::vector<float>& got, const std::vector<float>& want, double rtol, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  const double scale = max_abs(want);
  CHECK(scale > 0);
  test::expect_close(got, want, rtol * 0.05 * scale, rtol, what);
}

// Genes with DeepChrome-like counts; label 1 genes have more H3K4me3 (mark 3) near the
// middle bins, so a model can learn something (and AUROC is far from a coin toss).
io::Split make_split(size_t n, uint64_t seed) {
  io::Split s;
  s.path = "synthetic";  // (appended piecewise: GCC 12's -Wrestrict misfires on "literal" + std::string)
  s.path += std::to_string(seed);
  const std::vector<float> u = test::random_vector<float>(n * kExample, seed, 0.0, 1.0);
  for (size_t g = 0; g < n; ++g) {
    std::string id = std::to_string(seed);
    id += '_';
    id += std::to_string(g);
    s.gene_ids.push_back(id);
    const int8_t label = static_cast<int8_t>((g * 7 + seed) % 2);
    s.labels.push_back(label);
    for (int m = 0; m < kInputMarks; ++m)
      for (int b = 0; b < kInputBins; ++b) {
        float v = std::floor(u[g * kExample + static_cast<size_t>(m * kInputBins + b)] * 6.0f);
        if (label && m == 3 && b >= 40 && b < 60) v += 8.0f;
        s.x.push_back(v);
      }
  }
  return s;
}

// A batch of `n` examples of `split` starting at `first`, on the host.
void host_batch(const io::Split& split, size_t first, size_t n, Tensor& x, Tensor& labels) {
  std::vector<size_t> index(n);
  for (size_t i = 0; i < n; ++i) index[i] = first + i;
  gather_batch(split.view(), index.data(), n, x, labels);
}

std::vector<std::vector<float>> param_values(const Model& m) {
  std::vector<std::vector<float>> v;
  for (const auto& p : m.parameters()) v.push_back(p.tensor.to_vector());
  return v;
}

struct StepResult {
  float loss = 0;
  double norm = 0;
  std::vector<std::vector<float>> grads;  // before clipping
};

// One training step as train_model takes it (the norm is read back here, for the test).
StepResult train_step(Model& model, Optimizer& opt, const Tensor& x, const Tensor& labels, uint64_t step, double clip,
                      bool read_back = true) {
  const Device d = model.device();
  StepResult r;
  opt.zero_grad();
  Tensor loss = model.loss(model.forward(x.to(d), true, step).output, labels.to(d));
  REQUIRE(loss.device() == d);
  loss.backward();
  if (read_back) {
    r.loss = loss.item();
    for (const auto& p : model.parameters()) {
      const Tensor g = p.tensor.grad();
      REQUIRE(g.defined());
      REQUIRE(g.device() == d);
      r.grads.push_back(g.to_vector());
    }
  }
  if (clip > 0) {
    if (read_back) r.norm = clip_grad_norm(model.parameters(), clip);
    else clip_grad_norm_no_sync(model.parameters(), clip);
  }
  opt.step();
  return r;
}

// Creates the model twice from one seed, moves one to CUDA, checks the copy is exact.
std::pair<std::unique_ptr<Model>, std::unique_ptr<Model>> model_pair(const std::string& name, uint64_t seed) {
  const nlohmann::json config = model_defaults(name);
  std::unique_ptr<Model> cpu_model = create_model(config, seed), gpu_model = create_model(config, seed);
  gpu_model->to(kCuda);
  CHECK(cpu_model->device() == kCpu);
  CHECK(gpu_model->device() == kCuda);
  for (const auto& p : gpu_model->parameters()) REQUIRE(p.tensor.device() == kCuda);
  CHECK(param_values(*gpu_model) == param_values(*cpu_model));  // init on the CPU, then an exact copy
  return {std::move(cpu_model), std::move(gpu_model)};
}

void compare_step(const Model& cpu_model, const Model& gpu_model, const StepResult& c, const StepResult& g,
                  const std::vector<std::vector<float>>& before) {
  CHECK(g.loss == doctest::Approx(c.loss).epsilon(1e-4));
  CHECK(std::isfinite(c.loss));
  REQUIRE(g.grads.size() == c.grads.size());
  const auto after_cpu = param_values(cpu_model), after_gpu = param_values(gpu_model);
  int moved = 0;
  for (size_t i = 0; i < c.grads.size(); ++i) {
    const std::string& name = cpu_model.parameters()[i].name;
    expect_matches(g.grads[i], c.grads[i], 1e-3, "gradient of " + name);
    expect_matches(after_gpu[i], after_cpu[i], 1e-4, name + " after the step");
    moved += after_gpu[i] != before[i];
  }
  CHECK(moved == static_cast<int>(c.grads.size()));  // the update reached every parameter on the device
}

}  // namespace

TEST_CASE("cuda training: one DeepChrome SGD step (batch 4, dropout on) matches the CPU") {
  auto [cpu_model, gpu_model] = model_pair("deepchrome", 7);
  const io::Split data = make_split(4, 11);
  Tensor x, labels;
  host_batch(data, 0, 4, x, labels);
  const auto before = param_values(*cpu_model);
  Sgd cpu_opt(cpu_model->parameters(), {1e-2, 1e-7, 0, 0}), gpu_opt(gpu_model->parameters(), {1e-2, 1e-7, 0, 0});
  const StepResult c = train_step(*cpu_model, cpu_opt, x, labels, 5, 0);
  const StepResult g = train_step(*gpu_model, gpu_opt, x, labels, 5, 0);
  compare_step(*cpu_model, *gpu_model, c, g, before);

  // dropout is on: another step's masks give another loss (on both devices alike)
  const StepResult c2 = train_step(*cpu_model, cpu_opt, x, labels, 6, 0);
  const StepResult g2 = train_step(*gpu_model, gpu_opt, x, labels, 6, 0);
  CHECK(g2.loss == doctest::Approx(c2.loss).epsilon(1e-4));
  CHECK(c2.loss != c.loss);
}

TEST_CASE("cuda training: one AttentiveChrome Adam step (batch 16, clipping 1.0) matches the CPU") {
  auto [cpu_model, gpu_model] = model_pair("attentivechrome", 3);
  const io::Split data = make_split(16, 12);
  Tensor x, labels;
  host_batch(data, 0, 16, x, labels);
  const auto before = param_values(*cpu_model);
  const AdamOptions ao{1e-4, 0.9, 0.999, 1e-8, 0};
  Adam cpu_opt(cpu_model->parameters(), ao), gpu_opt(gpu_model->parameters(), ao);
  const StepResult c = train_step(*cpu_model, cpu_opt, x, labels, 0, 1.0);
  const StepResult g = train_step(*gpu_model, gpu_opt, x, labels, 0, 1.0);
  INFO("gradient norm (cpu) " << c.norm);
  CHECK(c.norm > 0);
  CHECK(g.norm == doctest::Approx(c.norm).epsilon(1e-4));
  compare_step(*cpu_model, *gpu_model, c, g, before);

  // and with a threshold below the norm, so that the clipping scales the gradients
  const auto before2 = param_values(*cpu_model);
  const StepResult c2 = train_step(*cpu_model, cpu_opt, x, labels, 1, c.norm * 0.25);
  const StepResult g2 = train_step(*gpu_model, gpu_opt, x, labels, 1, c.norm * 0.25);
  CHECK(c2.norm > c.norm * 0.25);
  CHECK(g2.norm == doctest::Approx(c2.norm).epsilon(1e-4));
  compare_step(*cpu_model, *gpu_model, c2, g2, before2);
}

TEST_CASE("cuda training: after a warm-up step, training steps make no raw device allocation") {
  for (const char* name : {"deepchrome", "attentivechrome"}) {
    CAPTURE(name);
    std::unique_ptr<Model> model = create_model(model_defaults(name), 5);
    model->to(kCuda);
    const bool deepchrome = std::string(name) == "deepchrome";
    std::unique_ptr<Optimizer> opt;
    if (deepchrome) opt = std::make_unique<Sgd>(model->parameters(), SgdOptions{1e-3, 1e-7, 0, 0});
    else opt = std::make_unique<Adam>(model->parameters(), AdamOptions{1e-4, 0.9, 0.999, 1e-8, 0});
    const int batch = deepchrome ? 4 : 16;
    const double clip = deepchrome ? 0 : 1.0;
    const io::Split data = make_split(static_cast<size_t>(3 * batch), 13);
    Tensor x, labels;
    host_batch(data, 0, static_cast<size_t>(batch), x, labels);
    train_step(*model, *opt, x, labels, 0, clip, false);  // warm-up: fills the allocator's cache and the kernels' scratch
    const size_t raw_before = cu::raw_malloc_count();
    for (uint64_t step = 1; step <= 2; ++step) {
      host_batch(data, static_cast<size_t>(step) * batch, static_cast<size_t>(batch), x, labels);
      train_step(*model, *opt, x, labels, step, clip, false);
    }
    cu::synchronize();
    CHECK(cu::raw_malloc_count() == raw_before);
    // the steps did run: the parameters are finite and the loss is a number
    for (const auto& p : model->parameters())
      for (float v : p.tensor.to_vector()) REQUIRE(std::isfinite(v));
  }
}

TEST_CASE("cuda training: train_model on CUDA follows the CPU run; checkpoints are written from the device") {
  const io::Split train = make_split(40, 21), valid = make_split(20, 22), test = make_split(20, 23);
  for (const char* name : {"deepchrome", "attentivechrome"}) {
    CAPTURE(name);
    const bool deepchrome = std::string(name) == "deepchrome";
    TrainOptions o;
    o.optimizer = deepchrome ? "sgd" : "adam";
    o.lr = deepchrome ? 1e-2 : 1e-3;
    o.clip_grad_norm = deepchrome ? 0 : 1.0;
    o.batch_size = deepchrome ? 4 : 16;  // 40 genes: 10 full batches, or 2 and a partial one of 8
    o.epochs = 2;
    o.seed = 9;
    std::unique_ptr<Model> cpu_model = create_model(model_defaults(name), 4), gpu_model = create_model(model_defaults(name), 4);
    int gpu_batch_calls = 0;
    TrainCallbacks cb;
    cb.on_batch = [&](int, int done, int total, double loss) {
      ++gpu_batch_calls;
      CHECK(std::isfinite(loss));
      CHECK(done <= total);
    };
    const TrainResult c = train_model(*cpu_model, train.view(), valid.view(), test.view(), o);
    o.device = kCuda;
    const TrainResult g = train_model(*gpu_model, train.view(), valid.view(), test.view(), o, cb);
    CHECK(gpu_model->device() == kCuda);  // it stays on the device
    CHECK(gpu_batch_calls >= 2);          // at least at each epoch's end
    REQUIRE(g.epochs.size() == c.epochs.size());
    for (size_t e = 0; e < c.epochs.size(); ++e) {
      CAPTURE(e);
      CHECK(g.epochs[e].train_loss == doctest::Approx(c.epochs[e].train_loss).epsilon(1e-3));
      CHECK(g.epochs[e].valid_auroc == doctest::Approx(c.epochs[e].valid_auroc).epsilon(0.02));
    }
    CHECK(g.best_epoch == c.best_epoch);
    REQUIRE(g.test_prob_high.size() == test.size());
    test::expect_close(g.test_prob_high, c.test_prob_high, 2e-3, 0, "test P(high)");
    const auto pc = param_values(*cpu_model), pg = param_values(*gpu_model);
    for (size_t i = 0; i < pc.size(); ++i) expect_matches(pg[i], pc[i], 1e-3, cpu_model->parameters()[i].name + " after training");

    // the run's outputs, written from the device parameters, load back exactly
    const fs::path dir = fs::temp_directory_path() / ("deepchrome-cuda-test-" + std::to_string(getpid()) + "-" + name);
    io::RunInfo info;
    info.cell = "synthetic";
    info.model = name;
    info.resolved_config = {{"model", gpu_model->config()}};
    info.device = "cuda";
    const AttentionExport attention = collect_attention(*gpu_model, test.view());
    io::write_run_outputs(dir.string(), info, *gpu_model, g, test, &attention);
    io::Checkpoint ck = io::load_checkpoint(dir.string());
    CHECK(ck.model->device() == kCpu);
    CHECK(param_values(*ck.model) == pg);
    CHECK(fs::exists(dir / "predictions.csv"));
    CHECK(fs::exists(dir / "attention_bins.csv") == !deepchrome);
    fs::remove_all(dir);
  }
}

TEST_CASE("cuda training: predict and collect_attention on the device match the CPU") {
  const io::Split data = make_split(37, 31);  // batches of 8: a partial last batch
  for (const char* name : {"deepchrome", "attentivechrome", "lstm-attn", "lstm", "mlp"}) {
    CAPTURE(name);
    auto [cpu_model, gpu_model] = model_pair(name, 8);
    const std::vector<float> pc = predict(*cpu_model, data.view(), 8), pg = predict(*gpu_model, data.view(), 8);
    REQUIRE(pg.size() == data.size());
    test::expect_close(pg, pc, 1e-5, 1e-4, "P(high)");
    const AttentionExport ac = collect_attention(*cpu_model, data.view(), 8), ag = collect_attention(*gpu_model, data.view(), 8);
    CHECK(ag.available == ac.available);
    CHECK(ag.rows == ac.rows);
    if (!ac.available) continue;
    expect_matches(ag.bins, ac.bins, 1e-4, "attention over the bins");
    REQUIRE(ag.marks.size() == ac.marks.size());
    if (!ac.marks.empty()) expect_matches(ag.marks, ac.marks, 1e-4, "attention over the marks");
  }
}

TEST_CASE("cuda training: a model on CUDA refuses host inputs with a clear error") {
  std::unique_ptr<Model> model = create_model(model_defaults("deepchrome"), 1);
  model->to(kCuda);
  const io::Split data = make_split(2, 41);
  Tensor x, labels;
  host_batch(data, 0, 2, x, labels);
  bool thrown = false;
  try {
    model->forward(x, false, 0);
  } catch (const Error& e) {
    thrown = true;
    const std::string m = e.what();
    CHECK(m.find("conv1d") != std::string::npos);
    CHECK(m.find("cpu") != std::string::npos);
    CHECK(m.find("cuda") != std::string::npos);
  }
  CHECK(thrown);
}
