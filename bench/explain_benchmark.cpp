#include "bench/explain_benchmark.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/machine.h"
#include "bench/record.h"
#include "bench/timing.h"
#include "engine/autograd.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "io/formats/simulate.h"
#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "models/explain.h"
#include "models/registry.h"
#include "models/trainer.h"

namespace dc::bench {
namespace {

using nlohmann::ordered_json;
namespace ex = dc::explain;

const char* kHelp = R"(usage: deepchrome bench --only explain [--genes N] [--restarts N] [--iterations N] [--ig-steps N]
                       [--repeats N] [--ig-repeats N] [--model M] [--threads N] [--out FILE]

Times the explain methods (`deepchrome explain`) on DeepChrome and AttentiveChrome, built
with the registry's default hyperparameters and untrained weights (seed 1: what explain
costs does not depend on the weights' values), on the test split of a simulated cell:
  class_maps            both classes' maps together (restarts x iterations of RMSprop)
  grad_input            gradient x input of every gene for its own label
  integrated_gradients  the same genes, integrated gradients (--ig-steps points per gene)
Each method is validated before it is timed (finite differences, completeness, the class
map recipe; a failure is reported as "valid": false, nothing is timed and the command exits
1), then timed next to a reference timed in the same run: plain training passes (forward in
training mode, loss, backward into the parameters) over the same genes at the same batch
size (128 rows), or, for the class maps, `iterations` such passes of a batch of 2 x restarts.
Each record carries the issue's target (`target_s`, for 2 cores); a benchmark never passes
or fails on time. Prints one JSON document. About 2-3 minutes on 2 cores at the defaults,
most of it integrated gradients (AttentiveChrome's alone ~1 minute); --genes 660 takes
about 20 s.

  --genes N       genes of the test split (default 6600, a full-size cell's; the simulated
                  cell has 3 N genes)
  --restarts N    class maps: restarts per class (default 5)
  --iterations N  class maps: RMSprop iterations (default 1000)
  --ig-steps N    integrated gradients: points on the path (default 32)
  --repeats N     timed runs of each method and reference; the median is reported (default 3)
  --ig-repeats N  timed runs of integrated gradients (default 1)
  --model M       deepchrome or attentivechrome only
  --threads N     CPU threads (default: all cores)
  --out FILE      also write the JSON to FILE
)";

// The issue's sizes and targets (seconds on 2 cores); the targets apply at these sizes only.
constexpr int kIssueGenes = 6600, kIssueRestarts = 5, kIssueIterations = 1000, kIssueSteps = 32;
constexpr int kBatch = 128;  // explain's attribution batch (rows per forward/backward)
constexpr uint64_t kModelSeed = 1, kDataSeed = 7;

double target_class_maps_s(const std::string& model) { return model == "deepchrome" ? 2.0 : 10.0; }
double target_grad_input_s(const std::string& model) { return model == "deepchrome" ? 2.0 : 5.0; }

struct Timing {
  double median = 0, min = 0;
};

// `repeats` timed calls of f (no separate warm-up: the validation ran the same code first).
Timing time_repeats(const std::function<void()>& f, int repeats) {
  std::vector<double> v;
  for (int i = 0; i < repeats; ++i) v.push_back(time_once(f));
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front()};
}

// P(cls) of one gene through the model (eval mode), in double.
double probability(Model& model, const float* x, int cls) {
  NoGradGuard no_grad;
  const Tensor t = Tensor::from_vector({1, kInputMarks, kInputBins}, std::vector<float>(x, x + ex::kMapSize));
  return model.class_probability(model.forward(t, false, 0).output, cls).item();
}

// The genes in the order explain attributes them: the high genes for class 1, then the low
// ones for class 0 (each gene once, for its own label).
struct ClassGenes {
  std::vector<size_t> of[2];
};

std::vector<float> attribute_all(Model& model, const DataView& data, const ClassGenes& genes, ex::Method method, int steps) {
  ex::AttributionOptions o;
  o.steps = steps;
  o.batch_size = kBatch;
  std::vector<float> out;
  for (int c : {1, 0}) {
    const std::vector<float> a = ex::attribute(model, data, genes.of[c], c, method, o);
    out.insert(out.end(), a.begin(), a.end());
  }
  return out;
}

// The reference: plain training passes over `rows` example rows (forward in training mode,
// the model's loss, backward into the parameters, gradients cleared) in batches of `batch`,
// the rows gathered from `data` by `index` (cycled when rows > index.size()).
void training_passes(Model& model, Optimizer& params, const DataView& data, const std::vector<size_t>& index, size_t rows,
                     size_t batch) {
  std::vector<size_t> chosen(batch);
  Tensor x, y;
  uint64_t step = 0;
  for (size_t r0 = 0; r0 < rows; r0 += batch) {
    const size_t n = std::min(batch, rows - r0);
    for (size_t i = 0; i < n; ++i) chosen[i] = index[(r0 + i) % index.size()];
    gather_batch(data, chosen.data(), n, x, y);
    params.zero_grad();
    const Tensor out = model.forward(x, true, ++step).output;
    model.loss(out, y).backward();
  }
}

// What validating gradient x input found.
struct GradInputCheck {
  double batched_error = 0;  // the largest relative difference of (a) below
  double ray_error = 0;      // the largest relative difference of (b) below
  bool ok = false;
};

// Gradient x input, two ways:
//  (a) explain's attributions of the first 32 genes of each class, in batches as timed,
//      against the same gradients taken another way: one gene at a time, autograd through
//      the model's NLL (-log P(class)): x * (-P * d(-log P)/dx). Relative to the gene's
//      largest |attribution|; within 1e-3 (float rounding only).
//  (b) the gradient itself: a gene's attributions add up to the derivative of P along the
//      ray t x at t = 1, against finite differences of P(t x) (delta 0.05; the central,
//      forward or backward one, whichever is closest: ReLU and max-pool models have kinks
//      near count inputs, and one inside the step spoils that difference only) on two genes
//      per class; within 5% (P is float: for an untrained model its changes are small).
GradInputCheck check_grad_input(Model& model, const DataView& data, const ClassGenes& genes) {
  GradInputCheck r;
  for (int c : {0, 1}) {
    std::vector<size_t> few(genes.of[c].begin(), genes.of[c].begin() + std::min<size_t>(32, genes.of[c].size()));
    ex::AttributionOptions o;
    o.batch_size = kBatch;
    const std::vector<float> attr = ex::attribute(model, data, few, c, ex::Method::GradientTimesInput, o);
    for (size_t j = 0; j < few.size(); ++j) {
      const float* xg = data.x + few[j] * ex::kMapSize;
      Tensor x = Tensor::from_vector({1, kInputMarks, kInputBins}, std::vector<float>(xg, xg + ex::kMapSize));
      x.set_requires_grad(true);
      const Tensor out = model.forward(x, false, 0).output;
      const double p = model.class_probability(out, c).item();
      model.nll(out, Tensor::full({1}, static_cast<float>(c))).backward();
      const std::vector<float> g = x.grad().to_vector();
      double top = 0, diff = 0;
      for (int i = 0; i < ex::kMapSize; ++i) {
        const double want = xg[i] * -p * g[i], got = attr[j * ex::kMapSize + i];
        top = std::max(top, std::fabs(want));
        diff = std::max(diff, std::fabs(got - want));
      }
      r.batched_error = std::max(r.batched_error, diff / std::max(top, 1e-30));
    }
    for (size_t j = 0; j < std::min<size_t>(2, few.size()); ++j) {
      const float* xg = data.x + few[j] * ex::kMapSize;
      const double total = std::accumulate(attr.begin() + j * ex::kMapSize, attr.begin() + (j + 1) * ex::kMapSize, 0.0);
      const double delta = 0.05;
      auto along = [&](double t) {
        std::vector<float> x(xg, xg + ex::kMapSize);
        for (float& v : x) v = static_cast<float>(v * t);
        return probability(model, x.data(), c);
      };
      const double p = along(1), up = along(1 + delta), down = along(1 - delta);
      double best = 1e30;
      for (const double slope : {(up - down) / (2 * delta), (up - p) / delta, (p - down) / delta})
        best = std::min(best, std::fabs(total - slope) / std::max(std::fabs(total), 1e-6));
      r.ray_error = std::max(r.ray_error, best);
    }
  }
  r.ok = r.batched_error <= 1e-3 && r.ray_error <= 0.05;
  return r;
}

// Integrated gradients' completeness: the attributions of a gene add up to P(x) - P(0).
// Checked on the two genes of each class (of its first 16) whose P(x) - P(0) is largest,
// where a relative error is well measured. Returns the largest
// |sum - (P(x) - P(0))| / |P(x) - P(0)|.
double completeness_error(Model& model, const DataView& data, const ClassGenes& genes, int steps) {
  double worst = 0;
  const std::vector<float> zero(ex::kMapSize, 0.0f);
  for (int c : {0, 1}) {
    const double p0 = probability(model, zero.data(), c);
    std::vector<std::pair<double, size_t>> by_change;  // (|P(x) - P(0)|, gene)
    for (size_t j = 0; j < std::min<size_t>(16, genes.of[c].size()); ++j) {
      const size_t g = genes.of[c][j];
      by_change.push_back({std::fabs(probability(model, data.x + g * ex::kMapSize, c) - p0), g});
    }
    std::stable_sort(by_change.begin(), by_change.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<size_t> few;
    for (size_t j = 0; j < std::min<size_t>(2, by_change.size()); ++j) few.push_back(by_change[j].second);
    ex::AttributionOptions o;
    o.steps = steps;
    o.batch_size = kBatch;
    const std::vector<float> attr = ex::attribute(model, data, few, c, ex::Method::IntegratedGradients, o);
    for (size_t j = 0; j < few.size(); ++j) {
      const double total = std::accumulate(attr.begin() + j * ex::kMapSize, attr.begin() + (j + 1) * ex::kMapSize, 0.0);
      const double delta = probability(model, data.x + few[j] * ex::kMapSize, c) - p0;
      worst = std::max(worst, std::fabs(total - delta) / std::max(std::fabs(delta), 1e-6));
    }
  }
  return worst;
}

// Integrated gradients of the first 8 genes of each class in batches as timed (several
// genes' paths per batch) against the same genes one at a time: the largest difference,
// relative to the gene's largest |attribution| (float rounding only).
double ig_batched_error(Model& model, const DataView& data, const ClassGenes& genes, int steps) {
  double worst = 0;
  ex::AttributionOptions o;
  o.steps = steps;
  o.batch_size = kBatch;
  for (int c : {0, 1}) {
    const std::vector<size_t> few(genes.of[c].begin(), genes.of[c].begin() + std::min<size_t>(8, genes.of[c].size()));
    const std::vector<float> batched = ex::attribute(model, data, few, c, ex::Method::IntegratedGradients, o);
    for (size_t j = 0; j < few.size(); ++j) {
      const std::vector<float> alone = ex::attribute(model, data, {few[j]}, c, ex::Method::IntegratedGradients, o);
      double top = 0, diff = 0;
      for (int i = 0; i < ex::kMapSize; ++i) {
        top = std::max(top, static_cast<double>(std::fabs(alone[i])));
        diff = std::max(diff, static_cast<double>(std::fabs(batched[j * ex::kMapSize + i] - alone[i])));
      }
      worst = std::max(worst, diff / std::max(top, 1e-30));
    }
  }
  return worst;
}

// The class-map recipe on a short run: the objective goes down from the first iteration,
// every map lies in [0, 1] with maximum 1 (or is all zero), and a second run gives the same
// maps. Returns the largest |difference| between the two runs (0 expected).
double check_class_maps(Model& model, int restarts, int iterations, bool* ok, std::string* what) {
  ex::ClassMapOptions one;
  one.restarts = restarts;
  one.iterations = 1;
  ex::ClassMapOptions some = one;
  some.iterations = std::min(iterations, 20);
  const ex::ClassMaps first = ex::class_maps(model, one), a = ex::class_maps(model, some), b = ex::class_maps(model, some);
  *ok = true;
  double diff = 0;
  for (const auto& [x, y] : {std::pair{&a.low, &b.low}, std::pair{&a.high, &b.high}}) {
    for (size_t r = 0; r < x->restarts.size(); ++r) {
      const ex::Map& m = x->restarts[r];
      const double lo = *std::min_element(m.begin(), m.end()), hi = *std::max_element(m.begin(), m.end());
      if (lo < 0 || (hi != 1.0 && hi != 0.0)) *ok = false;
      for (size_t i = 0; i < m.size(); ++i) diff = std::max(diff, std::fabs(m[i] - y->restarts[r][i]));
    }
  }
  if (diff != 0) *ok = false;
  if (some.iterations > 1 && !(a.high.objective < first.high.objective)) *ok = false;
  char text[256];
  std::snprintf(text, sizeof text,
                "the recipe on %d iterations: objective %.4g after 1 iteration, %.4g after %d; every map in [0, 1] with "
                "maximum 1; max_error: the largest difference between two identical runs",
                some.iterations, first.high.objective, a.high.objective, some.iterations);
  *what = text;
  return diff;
}

struct Settings {
  int genes = kIssueGenes, restarts = kIssueRestarts, iterations = kIssueIterations, steps = kIssueSteps;
  int repeats = 3, ig_repeats = 1;  // integrated gradients take ~32 x longer than the rest: once by default
  int threads = 0;
};

// One record: the common fields (bench/record.h) and this benchmark's own.
ordered_json record_json(const BenchRecord& r, const std::string& model, const std::string& method, int threads,
                         const ordered_json& sizes, const Timing& t, const Timing& ref, int repeats) {
  ordered_json j;
  j["name"] = model + "." + method;
  j["model"] = model;
  j["method"] = method;
  for (const auto& [k, v] : sizes.items()) j[k] = v;
  j["threads"] = threads;
  j["repeats"] = repeats;
  if (r.valid) {
    j["seconds"] = t.median;
    j["seconds_min"] = t.min;
    j["reference_seconds"] = ref.median;
    j["times_reference"] = t.median / ref.median;
  }
  const nlohmann::json common = r.to_json();  // (kept alive while its items are copied)
  for (const auto& [k, v] : common.items()) j[k] = v;
  return j;
}

// Adds the issue's target to a record: target_s, what it is for, and target_s / seconds
// when this run used the issue's sizes (informational: nothing fails on time).
void add_target(ordered_json& j, double target_s, const std::string& target, bool issue_sizes) {
  j["target_s"] = target_s;
  j["target"] = target;
  if (!issue_sizes) {
    j["target_applies"] = false;
  } else if (j.contains("seconds")) {
    j["target_applies"] = true;
    j["target_over_seconds"] = target_s / j["seconds"].get<double>();
  }
}

ordered_json bench_model(const std::string& name, const io::Split& split, const ClassGenes& genes, const Settings& s,
                         int threads, bool* all_valid) {
  std::unique_ptr<Model> model = create_model(model_defaults(name), kModelSeed);
  const DataView data = split.view();
  const std::string weights = "untrained weights (registry defaults, seed 1): a timing, not an explanation";
  const bool issue_genes = s.genes == kIssueGenes;
  ordered_json records = ordered_json::array();
  std::fprintf(stderr, "bench explain: %s\n", name.c_str());

  // The references: training passes over the attributed genes, batch 128; and `iterations`
  // passes of a batch of 2 x restarts uniform inputs (the class maps' batch).
  Sgd params(model->parameters(), SgdOptions{});
  std::vector<size_t> all = genes.of[1];
  all.insert(all.end(), genes.of[0].begin(), genes.of[0].end());
  training_passes(*model, params, data, all, std::min<size_t>(all.size(), 4 * kBatch), kBatch);  // warm-up
  const Timing gene_pass = time_repeats([&] { training_passes(*model, params, data, all, all.size(), kBatch); }, s.repeats);
  const int B = 2 * s.restarts;
  std::vector<float> start(static_cast<size_t>(B) * ex::kMapSize);
  for (size_t i = 0; i < start.size(); ++i) start[i] = uniform01(kModelSeed, 91, i);
  std::vector<int8_t> start_labels(static_cast<size_t>(B));
  for (int r = 0; r < B; ++r) start_labels[static_cast<size_t>(r)] = r < s.restarts ? 0 : 1;
  const DataView starts{start.data(), start_labels.data(), static_cast<size_t>(B)};
  std::vector<size_t> batch_index(static_cast<size_t>(B));
  std::iota(batch_index.begin(), batch_index.end(), size_t{0});
  const Timing map_pass = time_repeats(
      [&] {
        for (int it = 0; it < s.iterations; ++it) training_passes(*model, params, starts, batch_index, batch_index.size(), batch_index.size());
      },
      s.repeats);
  params.zero_grad();

  // Class maps.
  {
    BenchRecord r;
    r.op = "class_maps";
    r.shape = "2 classes x " + std::to_string(s.restarts) + " restarts x " + std::to_string(s.iterations) + " iterations";
    r.device = "cpu";
    r.pass = "call";
    r.note = weights;
    bool ok = false;
    r.max_error = check_class_maps(*model, s.restarts, s.iterations, &ok, &r.validated_against);
    r.valid = ok;
    Timing t;
    if (ok) {
      ex::ClassMapOptions o;
      o.restarts = s.restarts;
      o.iterations = s.iterations;
      t = time_repeats([&] { ex::class_maps(*model, o); }, s.repeats);
      r.ms = 1e3 * t.median;
      r.reference = std::to_string(s.iterations) + " training passes (forward, loss, backward into the parameters) of a batch of " +
                    std::to_string(B) + " inputs";
      r.reference_ms = 1e3 * map_pass.median;
    }
    ordered_json j = record_json(r, name, "class_maps", threads, {{"restarts", s.restarts}, {"iterations", s.iterations}}, t, map_pass,
                                 s.repeats);
    add_target(j, target_class_maps_s(name), "both classes, 5 restarts x 1000 iterations, 2 cores",
               s.restarts == kIssueRestarts && s.iterations == kIssueIterations);
    *all_valid = *all_valid && ok;
    records.push_back(j);
  }

  // Gradient x input over every gene, for its own label.
  const std::string gene_reference =
      "a training pass (forward, loss, backward into the parameters) over the same genes, batch " + std::to_string(kBatch);
  double grad_input_s = 0;
  {
    BenchRecord r;
    r.op = "grad_input";
    r.shape = std::to_string(split.size()) + " genes";
    r.device = "cpu";
    r.pass = "call";
    r.note = weights;
    const GradInputCheck check = check_grad_input(*model, data, genes);
    r.max_error = check.batched_error;
    r.validated_against =
        "32 genes per class against x * -P * d(-log P)/dx taken one gene at a time (max_error: relative to the gene's "
        "largest attribution, within 1e-3); each of 2 genes per class adds up to dP(t x)/dt at t = 1 by finite "
        "differences (ray_error, within 5%)";
    r.valid = check.ok;
    Timing t;
    if (r.valid) {
      t = time_repeats([&] { attribute_all(*model, data, genes, ex::Method::GradientTimesInput, 1); }, s.repeats);
      r.ms = 1e3 * t.median;
      r.reference = gene_reference;
      r.reference_ms = 1e3 * gene_pass.median;
      grad_input_s = t.median;
    }
    ordered_json j = record_json(r, name, "grad_input", threads, {{"genes", split.size()}, {"batch_size", kBatch}}, t, gene_pass,
                                 s.repeats);
    j["ray_error"] = check.ray_error;
    add_target(j, target_grad_input_s(name), "6600 genes, 2 cores", issue_genes);
    *all_valid = *all_valid && r.valid;
    records.push_back(j);
  }

  // Integrated gradients over the same genes. ReLU models are piecewise linear along the
  // path, and on count inputs (up to ~200) the midpoint rule needs far more than 32 points
  // for 1%: completeness is checked at the timed count, then at 8 and 64 times it until it
  // holds (the method converging to P(x) - P(0)); the timed count's error is reported.
  {
    BenchRecord r;
    r.op = "integrated_gradients";
    r.shape = std::to_string(split.size()) + " genes x " + std::to_string(s.steps) + " steps";
    r.device = "cpu";
    r.pass = "call";
    r.note = weights;
    const double at_timed_steps = completeness_error(*model, data, genes, s.steps);
    int check_steps = s.steps;
    r.max_error = at_timed_steps;
    for (int more : {8, 64}) {
      if (r.max_error <= 0.01) break;
      check_steps = s.steps * more;
      r.max_error = completeness_error(*model, data, genes, check_steps);
    }
    const double batched = ig_batched_error(*model, data, genes, s.steps);
    r.validated_against = "completeness at " + std::to_string(check_steps) +
                          " steps on the 2 genes per class (of their first 16) with the largest |P(x) - P(0)|: "
                          "|sum - (P(x) - P(0))| / |P(x) - P(0)| within 1%; 8 genes per class in batches as timed "
                          "against one at a time (batched_error, relative to the gene's largest attribution, within 1e-3)";
    r.valid = r.max_error <= 0.01 && batched <= 1e-3;
    Timing t;
    if (r.valid) {
      t = time_repeats([&] { attribute_all(*model, data, genes, ex::Method::IntegratedGradients, s.steps); }, s.ig_repeats);
      r.ms = 1e3 * t.median;
      r.reference = gene_reference;
      r.reference_ms = 1e3 * gene_pass.median;
    }
    ordered_json j = record_json(r, name, "integrated_gradients", threads,
                                 {{"genes", split.size()}, {"steps", s.steps}, {"batch_size", kBatch}}, t, gene_pass, s.ig_repeats);
    j["completeness_error_at_timed_steps"] = at_timed_steps;
    j["batched_error"] = batched;
    // The issue's budget: at most 32 x the gradient x input of the same run.
    if (grad_input_s > 0) {
      if (r.valid) j["over_grad_input"] = t.median / grad_input_s;
      add_target(j, 32 * grad_input_s, "32 x grad_input of this run (32 steps)", s.steps == kIssueSteps);
    }
    *all_valid = *all_valid && r.valid;
    records.push_back(j);
  }
  return records;
}

}  // namespace

int run_explain_benchmark(const std::vector<std::string>& args) {
  Settings s;
  std::string out, only_model;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) throw InputError("bench: option " + a + " needs a value");
      return args[++i];
    };
    auto number = [&](int lo, int hi) {
      const std::string v = next();
      try {
        size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used == v.size() && n >= lo && n <= hi) return static_cast<int>(n);
      } catch (const std::exception&) {
      }
      throw InputError("bench: option " + a + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                       "], got '" + v + "'");
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--only") {
      if (next() != "explain") throw InputError("bench: --only explain takes no other part");
    } else if (a == "--genes") {
      s.genes = number(10, 1'000'000);
    } else if (a == "--restarts") {
      s.restarts = number(1, 1000);
    } else if (a == "--iterations") {
      s.iterations = number(1, 1'000'000);
    } else if (a == "--ig-steps") {
      s.steps = number(1, 4096);
    } else if (a == "--repeats") {
      s.repeats = number(1, 100);
    } else if (a == "--ig-repeats") {
      s.ig_repeats = number(1, 100);
    } else if (a == "--threads") {
      s.threads = number(1, 1024);
    } else if (a == "--model") {
      only_model = next();
      if (only_model != "deepchrome" && only_model != "attentivechrome")
        throw InputError("bench: --model expects deepchrome or attentivechrome, got '" + only_model + "'");
    } else if (a == "--out") {
      out = next();
    } else {
      throw InputError("bench: unknown option '" + a + "' for --only explain (see deepchrome bench --only explain --help)");
    }
  }
  if (s.threads > 0) set_num_threads(s.threads);
  const int threads = num_threads();

  ordered_json doc;
  doc["benchmark"] = "explain";
  doc["machine"] = {{"cpu", cpu_model()}, {"cores", std::thread::hardware_concurrency()}, {"threads", threads},
                    {"load_average_at_start", load_average()}};
  // The test split of a simulated cell of 3 x genes genes (19800 -> 6600 per split).
  io::SimulateOptions so;
  so.genes = 3 * s.genes;
  so.seed = kDataSeed;
  const io::SimulatedCell cell = io::simulate_cell_data("bench", so);
  const io::Split& split = cell.test;
  ClassGenes genes;
  for (int c : {0, 1}) genes.of[c] = ex::genes_of_class(split.view(), c);
  if (genes.of[0].empty() || genes.of[1].empty())
    throw InputError("bench: --only explain needs genes of both classes; --genes " + std::to_string(s.genes) + " gave " +
                     std::to_string(genes.of[1].size()) + " high and " + std::to_string(genes.of[0].size()) + " low");
  doc["data"] = {{"simulated", true}, {"seed", kDataSeed}, {"split", "test"}, {"genes", split.size()},
                 {"high", genes.of[1].size()}, {"low", genes.of[0].size()}};
  doc["weights"] = "untrained: the registry's default hyperparameters, parameters drawn at seed 1 (what explain costs "
                   "does not depend on the weights' values)";
  doc["options"] = {{"restarts", s.restarts}, {"iterations", s.iterations}, {"ig_steps", s.steps},
                    {"batch_size", kBatch}, {"repeats", s.repeats}, {"ig_repeats", s.ig_repeats},
                    {"statistic", "median of the repeats"}};
  bool all_valid = true;
  ordered_json records = ordered_json::array();
  for (const char* name : {"deepchrome", "attentivechrome"}) {
    if (!only_model.empty() && only_model != name) continue;
    for (auto& r : bench_model(name, split, genes, s, threads, &all_valid)) records.push_back(r);
  }
  doc["records"] = records;
  doc["machine"]["load_average_at_end"] = load_average();
  const std::string text = doc.dump(2) + "\n";
  std::fputs(text.c_str(), stdout);
  if (!out.empty()) io::write_file_atomic(out, text);
  if (!all_valid) {
    std::fprintf(stderr, "deepchrome bench: some explain methods failed their validation (\"valid\": false above)\n");
    return 1;
  }
  return 0;
}

}  // namespace dc::bench
