// `deepchrome explain`: what a trained model learned (models/explain.h), written as CSVs,
// figures and a report (io/experiment/explain_report.h). Also run by `train` for every run
// of a config with explain.enabled (cli/train.cpp).
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "engine/autograd.h"
#include "io/experiment/config.h"
#include "io/experiment/explain_report.h"
#include "io/experiment/report.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome explain --checkpoint RUN_DIR [--data CELL_DIR] [--split test] [--methods LIST]
                          [--out DIR] [--restarts 5] [--iterations 1000] [--ig-steps 32]
                          [--per-gene FILE] [--seed 1] [--threads N] [--device cpu|cuda]

Shows what the model saved in RUN_DIR learned, with every method that applies to it:
  class-map             DeepChrome's class-model visualisation: from random inputs in [0, 1],
                        minimise -log P(class) + 0.009 ||X||^2 by RMSprop (lr 0.1) for 1000
                        iterations, clamp to [0, 1], divide by the maximum; mean and spread
                        over --restarts starts, for class high and class low
  grad-input            gradient x input of P(class), mean over the split's genes of that class
  integrated-gradients  the same with integrated gradients against the all-zero input
  attention             the mean attention paid to the genes of each class (attention models)
Writes into --out (default RUN_DIR/explain): the maps as CSV (mark,b1..b100), the mean
attention, mark_importance.csv, SVG figures, report.html (the run's report with every figure),
truth.csv on simulated data (each method's agreement with what the simulator planted), and
explain.json (options, timings; written last).

  --checkpoint RUN_DIR  a run folder (config.json + model.safetensors)
  --data CELL_DIR       a cell type folder in the DeepChrome layout (default: the run's cell)
  --split NAME          train, valid or test (default test): the genes to attribute
  --methods LIST        comma-separated (default: every method that applies)
  --restarts N          class maps: random starts (default 5)
  --iterations N        class maps: RMSprop iterations (default 1000)
  --ig-steps N          integrated gradients: points on the path (default 32)
  --per-gene FILE       gene ids (one per line): also write their own maps,
                        <method>_genes_<class>.csv as gene_id,mark,b1..b100
  --seed N              class maps' random starts (default 1)
  --threads N, --device D   as for train
)";

const std::vector<std::string> kMethods = {"class-map", "grad-input", "integrated-gradients", "attention"};

bool file_exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int positive(const ArgParser& p, const std::string& name, int fallback) {
  const auto v = p.value(name);
  if (!v) return fallback;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v->size() || n < 1 || n > 1'000'000) throw InputError("explain: --" + name + " expects a positive integer, got '" + *v + "'");
  return static_cast<int>(n);
}

std::vector<std::string> read_gene_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the file (--per-gene expects gene ids, one per line)");
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) ids.push_back(line);
  }
  if (ids.empty()) throw InputError(path + ": no gene ids (expected one per line)");
  return ids;
}

bool has_attention(Model& model) {
  NoGradGuard no_grad;
  const Tensor x = Tensor::zeros({1, kInputMarks, kInputBins}, model.device());
  return model.forward(x, false, 0).bin_attention.defined();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void explain_run(const std::string& run_dir, const ExplainOptions& o, Model* trained, bool quiet) {
  // Everything the user gave is checked before anything is computed or written.
  io::Checkpoint ck;
  Model* model = trained;
  nlohmann::json config;
  if (!model) {
    ck = io::load_checkpoint(run_dir);
    ck.model->to(o.device);
    model = ck.model.get();
    config = ck.config;
  } else {
    config = io::load_json_file(run_dir + "/config.json");
  }
  std::string data_dir = o.data;
  if (data_dir.empty()) {
    try {
      data_dir = io::cell_dir(config.at("data").at("root").get<std::string>(), config.at("data").at("cells").at(0).get<std::string>());
    } catch (const nlohmann::json::exception&) {
      throw InputError(run_dir + "/config.json: no data.root / data.cells to find the run's data; give --data CELL_DIR");
    }
  }
  if (o.split != "train" && o.split != "valid" && o.split != "test")
    throw InputError("explain: --split expects train, valid or test, got '" + o.split + "'");
  const std::string csv = data_dir + "/classification/" + o.split + ".csv";
  if (!file_exists(csv))
    throw InputError(data_dir + ": not a cell type folder in the DeepChrome layout (no classification/" + o.split + ".csv)");
  const bool attention_model = has_attention(*model);
  std::vector<std::string> methods = o.methods;
  if (methods.empty())
    for (const std::string& m : kMethods)
      if (m != "attention" || attention_model) methods.push_back(m);
  for (const std::string& m : methods) {
    if (std::find(kMethods.begin(), kMethods.end(), m) == kMethods.end())
      throw InputError("explain: unknown method '" + m + "' (methods: class-map, grad-input, integrated-gradients, attention)");
    if (m == "attention" && !attention_model)
      throw InputError("explain: method 'attention' needs a model with attention; '" + model->name() +
                       "' has none (attentivechrome and lstm-attn have)");
  }
  std::vector<std::string> wanted_ids;
  if (!o.per_gene_file.empty()) wanted_ids = read_gene_ids(o.per_gene_file);
  const io::Split split = io::load_split(csv);
  std::vector<size_t> wanted;
  for (const std::string& id : wanted_ids) {
    const auto it = std::find(split.gene_ids.begin(), split.gene_ids.end(), id);
    if (it == split.gene_ids.end()) throw InputError(o.per_gene_file + ": gene '" + id + "' is not in " + csv);
    wanted.push_back(static_cast<size_t>(it - split.gene_ids.begin()));
  }
  const DataView view = split.view();
  for (int c : {0, 1})
    if (explain::genes_of_class(view, c).empty())
      throw InputError(csv + ": no gene of class " + std::to_string(c) + " to attribute (the split needs both labels)");

  io::ExplainResult r;
  r.model = model->name();
  nlohmann::json timings = nlohmann::json::object();
  auto done = [&](const std::string& method, std::chrono::steady_clock::time_point t0) {
    const double s = seconds_since(t0);
    timings[method] = s;
    if (!quiet) std::printf("explain %s: %s in %.2f s\n", model->name().c_str(), method.c_str(), s);
  };
  for (const std::string& m : methods) {
    const auto t0 = std::chrono::steady_clock::now();
    if (m == "class-map") {
      explain::ClassMapOptions co;
      co.restarts = o.restarts;
      co.iterations = o.iterations;
      co.seed = o.seed;
      const explain::ClassMaps maps = explain::class_maps(*model, co);
      r.methods.push_back({m, "class_map", maps.high.mean, maps.low.mean, maps.high.sd, maps.low.sd});
    } else if (m == "attention") {
      r.attention = explain::attention_means(*model, view);
    } else {
      const bool ig = m == "integrated-gradients";
      const explain::Method method = ig ? explain::Method::IntegratedGradients : explain::Method::GradientTimesInput;
      explain::AttributionOptions ao;
      ao.steps = o.ig_steps;
      io::MethodMaps maps{m, ig ? "ig" : "attribution", {}, {}, {}, {}};
      for (int c : {1, 0}) {
        const std::vector<float> per_gene =
            explain::attribute(*model, view, explain::genes_of_class(view, c), c, method, ao);
        (c == 1 ? maps.high : maps.low) = explain::mean_map(per_gene);
        if (!wanted.empty()) {
          io::GeneMaps g{maps.file_prefix, c, wanted_ids, explain::attribute(*model, view, wanted, c, method, ao)};
          r.genes.push_back(std::move(g));
        }
      }
      r.methods.push_back(std::move(maps));
    }
    done(m, t0);
  }
  const std::string truth_path = data_dir + "/truth.json";
  if (file_exists(truth_path)) r.truth = io::load_json_file(truth_path);
  r.info = {{"generator", "deepchrome explain"},
            {"run", run_dir},
            {"model", model->name()},
            {"data", data_dir},
            {"split", o.split},
            {"genes", split.size()},
            {"methods", methods},
            {"class_map", {{"restarts", o.restarts}, {"iterations", o.iterations}, {"lambda", 0.009}, {"lr", 0.1}, {"seed", o.seed}}},
            {"integrated_gradients", {{"steps", o.ig_steps}, {"baseline", "zeros"}}},
            {"device", device_name(model->device())},
            {"seconds", timings}};
  const std::string out = o.out.empty() ? run_dir + "/explain" : o.out;
  io::write_explain_outputs(out, run_dir, r);
  if (!quiet) {
    std::printf("explain: wrote %s/ (report.html, mark_importance.csv, ...)\n", out.c_str());
    for (const io::TruthComparison& t : io::compare_with_truth(r)) {
      std::printf("  %-22s class %-4s  Spearman rho vs planted %+.2f", t.method.c_str(), t.cls.c_str(), t.rho);
      if (!t.mark.empty()) std::printf("; %s peaks at bin %d (planted %d)", t.mark.c_str(), t.peak_bin, t.planted_peak_bin);
      std::printf("\n");
    }
  }
}

int cmd_explain(const Args& args) {
  ArgParser p("explain", args,
              {"checkpoint", "data", "split", "methods", "out", "restarts", "iterations", "ig-steps", "per-gene", "seed", "threads",
               "device"},
              {"help", "quiet"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("explain: unexpected argument '" + p.positionals()[0] + "'");
  apply_threads_option(p);
  ExplainOptions o;
  o.device = device_option(p);
  o.data = p.value("data").value_or("");
  o.split = p.value("split").value_or("test");
  o.out = p.value("out").value_or("");
  if (const auto m = p.value("methods")) {
    std::stringstream ss(*m);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) o.methods.push_back(item);
    if (o.methods.empty()) throw InputError("explain: --methods is empty");
  }
  o.restarts = positive(p, "restarts", 5);
  o.iterations = positive(p, "iterations", 1000);
  o.ig_steps = positive(p, "ig-steps", 32);
  o.seed = static_cast<uint64_t>(positive(p, "seed", 1));
  o.per_gene_file = p.value("per-gene").value_or("");
  explain_run(p.required("checkpoint"), o, nullptr, p.flag("quiet"));
  return 0;
}

}  // namespace dc::cli
