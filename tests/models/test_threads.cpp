// Training gives the same bits whatever the thread count and however the threads wait
// (kernels/cpu/thread_pool.h: adaptive, spin or block): DeepChrome at batch 1 (the paper's
// SGD recipe, where the kernels split fc1's rows across threads) and batch 8, and
// AttentiveChrome (Adam, clipping) at batch 8.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "engine/parallel.h"
#include "io/formats/simulate.h"
#include "kernels/cpu/thread_pool.h"
#include "models/model.h"
#include "models/registry.h"
#include "models/trainer.h"

using namespace dc;
namespace cpu = dc::kernels::cpu;

namespace {

struct Outcome {
  std::vector<float> test_prob_high;
  std::vector<std::vector<float>> parameters;
  double train_loss = 0;
};

Outcome train_once(const io::SimulatedCell& cell, const std::string& name, int batch, int threads, cpu::WaitPolicy policy) {
  set_num_threads(threads);
  cpu::set_wait_policy(policy);
  auto model = create_model(model_defaults(name), 5);
  TrainOptions o;
  const bool deepchrome = name == "deepchrome";
  o.optimizer = deepchrome ? "sgd" : "adam";
  o.lr = deepchrome ? 1e-3 : 1e-3;
  o.clip_grad_norm = deepchrome ? 0 : 1.0;
  o.batch_size = batch;
  o.epochs = 1;
  o.seed = 5;
  const TrainResult r = train_model(*model, cell.train.view(), cell.valid.view(), cell.test.view(), o);
  Outcome out;
  out.test_prob_high = r.test_prob_high;
  out.train_loss = r.epochs.back().train_loss;
  for (const Parameter& p : model->parameters()) out.parameters.push_back(p.tensor.to_vector());
  set_num_threads(0);
  cpu::set_wait_policy(cpu::WaitPolicy::Adaptive);
  return out;
}

// A machine busy for 10 regions in every 40 (4 runnable threads: at least 2 of other
// processes): the adaptive team narrows to the leader alone within a few regions and widens
// back some 15 regions after the load is gone, many times an epoch.
std::atomic<int> g_probes{0};
int busy_then_idle() { return g_probes.fetch_add(1) % 40 < 10 ? 4 : 0; }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

TEST_CASE("training: bit-identical across 1, 2 and 3 threads and every wait policy") {
  io::SimulateOptions so;
  so.genes = 150;  // 50 training genes
  so.seed = 9;
  const io::SimulatedCell cell = io::simulate_cell_data("T09", so);
  struct Setting {
    const char* model;
    int batch;
  };
  for (const Setting s : {Setting{"deepchrome", 1}, Setting{"deepchrome", 8}, Setting{"attentivechrome", 8}}) {
    CAPTURE(s.model);
    CAPTURE(s.batch);
    const Outcome one = train_once(cell, s.model, s.batch, 1, cpu::WaitPolicy::Adaptive);
    for (int threads : {2, 3})
      for (cpu::WaitPolicy policy : {cpu::WaitPolicy::Adaptive, cpu::WaitPolicy::Spin, cpu::WaitPolicy::Block}) {
        CAPTURE(threads);
        CAPTURE(static_cast<int>(policy));
        const Outcome other = train_once(cell, s.model, s.batch, threads, policy);
        CHECK(other.train_loss == one.train_loss);
        CHECK(same_bits(other.test_prob_high, one.test_prob_high));
        REQUIRE(other.parameters.size() == one.parameters.size());
        for (size_t i = 0; i < one.parameters.size(); ++i) CHECK(same_bits(other.parameters[i], one.parameters[i]));
      }
  }
}

TEST_CASE("training: bit-identical while the adaptive team narrows and widens mid-epoch") {
  io::SimulateOptions so;
  so.genes = 150;
  so.seed = 9;
  const io::SimulatedCell cell = io::simulate_cell_data("T09", so);
  for (const char* model : {"deepchrome", "attentivechrome"}) {
    CAPTURE(model);
    const int batch = std::string(model) == "deepchrome" ? 1 : 8;
    const Outcome one = train_once(cell, model, batch, 1, cpu::WaitPolicy::Adaptive);
    cpu::set_runnable_probe(&busy_then_idle, 0);
    g_probes = 0;
    const uint64_t narrowed = cpu::wait_stats().narrowed;
    const Outcome shifting = train_once(cell, model, batch, 2, cpu::WaitPolicy::Adaptive);
    const uint64_t narrowed_regions = cpu::wait_stats().narrowed - narrowed;
    const int regions = g_probes.load();
    cpu::set_runnable_probe(nullptr);
    CHECK(narrowed_regions > 0);                                   // it did narrow
    CHECK(narrowed_regions < static_cast<uint64_t>(regions));      // and did not stay narrow
    CHECK(shifting.train_loss == one.train_loss);
    CHECK(same_bits(shifting.test_prob_high, one.test_prob_high));
    REQUIRE(shifting.parameters.size() == one.parameters.size());
    for (size_t i = 0; i < one.parameters.size(); ++i) CHECK(same_bits(shifting.parameters[i], one.parameters[i]));
  }
}
