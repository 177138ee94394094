// `deepchrome train CONFIG [--set key=value]...`: trains the configured model on every
// listed cell type and writes each run's outputs (see io/report.h).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "models/registry.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "kernels/base/error.h"
#include "engine/parallel.h"
#include "io/experiment/config.h"
#include "io/formats/dataset.h"
#include "io/experiment/report.h"
#include "io/experiment/train_state.h"
#include "io/formats/atomic_file.h"
#include "engine/device.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome train CONFIG [--set KEY=VALUE]... [--resume] [--quiet]

Trains the model of the JSON config CONFIG on each cell type in data.cells and writes
<output_dir>/<cell>/<model>/{metrics.json, model.safetensors, config.json, predictions.csv}.
After every epoch the run's state is saved in <output_dir>/<cell>/<model>/train_state.safetensors
(removed when the cell's run is complete).

  --set KEY=VALUE  override a config key, e.g. --set train.epochs=5 --set data.cells='["S01","S02"]'
                   (VALUE is read as JSON when it parses, else as a string; repeatable)
  --resume         continue an interrupted run from its last finished epoch (same command, same
                   config: the outputs are the same bytes as an uninterrupted run's, timings
                   aside); cells already finished are kept; without a saved state a cell starts
                   from scratch. A state written with a different config is refused.
  --quiet          no per-epoch output

Config keys (defaults):
  data.root "data/sim", data.cells ["S01"], data.cache true, data.cache_dir ""
  model.name (below), plus that model's keys
  train.optimizer "sgd" | "adam", lr 1e-3, lr_decay 0, momentum 0, weight_decay 0,
        beta1 0.9, beta2 0.999, eps 1e-8, clip_grad_norm 0 (off), batch_size 1, epochs 100,
        patience 0 (off), seed 1
  device "cpu" | "cuda" (one NVIDIA GPU; needs a build with the CUDA backend),
  threads 0 (all cores), output_dir "runs/default"

Models (model.name; `deepchrome models` lists the same):
)";

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The result-table row of a run finished earlier, from its metrics.json.
TrainResult finished_result(const std::string& metrics_path) {
  const nlohmann::json m = io::load_json_file(metrics_path);
  TrainResult r;
  try {
    r.best_epoch = m.at("best_epoch").get<int>();
    r.valid_auroc = m.at("valid_auroc").is_number() ? m.at("valid_auroc").get<double>() : 0;
    r.test_auroc = m.at("test_auroc").is_number() ? m.at("test_auroc").get<double>() : 0;
    r.test_aupr = m.at("test_aupr").is_number() ? m.at("test_aupr").get<double>() : 0;
    r.train_seconds = m.at("train_seconds").get<double>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(metrics_path + ": " + e.what());
  }
  return r;
}

}  // namespace

void watch_sweep_lifeline() {
  const char* v = std::getenv(kLifelineEnv);
  if (!v) return;
  char* end = nullptr;
  const long fd = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || fd < 0 || fd > 1 << 20 || ::fcntl(static_cast<int>(fd), F_GETFD) < 0) return;
  ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  std::thread([fd] {
    char c;
    for (;;) {
      const ssize_t n = ::read(static_cast<int>(fd), &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // end-of-file: the sweep is gone (nothing ever writes to it)
    }
    ::kill(::getpid(), SIGKILL);  // as the parent-death signal would: no half-written outputs are renamed into place
  }).detach();
}

void apply_device_and_threads(const io::ExperimentConfig& c) {
  if (c.device == "cuda") require_device(Device::CUDA, "device \"cuda\"");
  if (c.threads > 0) set_num_threads(c.threads);
}

int cmd_train(const Args& args) {
  ArgParser p("train", args, {"set"}, {"help", "quiet", "resume"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    std::fputs(model_list_text("  ").c_str(), stdout);
    return 0;
  }
  if (p.positionals().size() != 1) throw InputError("train: expected one CONFIG file (see deepchrome train --help)");
  watch_sweep_lifeline();
  const io::ExperimentConfig c = io::load_config(p.positionals()[0], p.all("set"));
  apply_device_and_threads(c);
  const bool quiet = p.flag("quiet"), resume = p.flag("resume");
  io::LoadOptions load;
  load.use_cache = c.data.cache;
  load.cache_dir = c.data.cache_dir;

  // Check every cell's files exist before spending time on the first one.
  for (const auto& cell : c.data.cells) {
    const std::string dir = io::cell_dir(c.data.root, cell);
    for (const char* split : {"train", "valid", "test"}) {
      const std::string path = dir + "/classification/" + split + ".csv";
      if (FILE* f = std::fopen(path.c_str(), "rb")) {
        std::fclose(f);
      } else {
        throw InputError(path + ": cannot open the file (data.root is \"" + c.data.root + "\"; run `deepchrome simulate --out " +
                         c.data.root + " --cells " + cell + "` to make simulated data)");
      }
    }
  }

  struct Row {
    std::string cell;
    TrainResult r;
  };
  std::vector<Row> rows;
  const std::string model_name = c.model.at("name").get<std::string>();
  for (const auto& cell : c.data.cells) {
    const std::string out = c.output_dir + "/" + cell + "/" + model_name;
    const std::string state_path = out + "/" + io::kTrainStateFile;
    nlohmann::json run_config = c.resolved;
    run_config["data"]["cells"] = {cell};
    if (resume && !file_exists(state_path) && file_exists(out + "/metrics.json") && !c.explain.enabled) {
      // Finished before the interruption: kept as it is (when it is this config's run).
      const nlohmann::json done_config = io::load_json_file(out + "/config.json");
      if (done_config != run_config)
        throw InputError(out + ": holds a finished run with a different config.json; run without --resume to redo it");
      rows.push_back({cell, finished_result(out + "/metrics.json")});
      if (!quiet) std::printf("%s: finished earlier, kept %s\n", cell.c_str(), out.c_str());
      continue;
    }
    const io::CellData data = io::load_cell(io::cell_dir(c.data.root, cell), load);
    const nlohmann::json identity = io::run_identity(run_config, num_threads(), c.device, data);
    std::optional<TrainCheckpoint> saved;
    if (resume && file_exists(state_path)) saved = io::load_train_state(state_path, identity);
    io::ensure_directory(out);
    io::remove_stale_temp_files(out);  // what a killed run was writing: never renamed into place
    if (!saved) std::remove(state_path.c_str());  // a fresh start: an older state must not be resumed later
    std::unique_ptr<Model> model = create_model(c.model, c.train.seed);
    if (!quiet)
      std::printf("%s: %s (%lld parameters), %zu / %zu / %zu train / valid / test genes, %d threads%s\n", cell.c_str(),
                  model_name.c_str(), static_cast<long long>(model->parameter_count()), data.train.size(), data.valid.size(),
                  data.test.size(), num_threads(), c.device == "cuda" ? ", device cuda" : "");
    if (!quiet && saved)
      std::printf("%s: resuming after epoch %d of %d from %s\n", cell.c_str(), saved->epochs_done, c.train.epochs,
                  state_path.c_str());
    Progress progress(cell + " " + model_name, c.train.epochs, quiet);
    TrainCallbacks cb;
    cb.on_batch = [&](int e, int done, int total, double loss) { progress.batch(e, done, total, loss); };
    cb.on_epoch = [&](const EpochRecord& r) { progress.epoch(r); };
    cb.on_checkpoint = [&](const TrainCheckpoint& state) { io::save_train_state(state_path, state, identity); };
    TrainResult r = train_model(*model, data.train.view(), data.valid.view(), data.test.view(), c.train, cb,
                                saved ? &*saved : nullptr);

    io::RunInfo info;
    info.cell = cell;
    info.model = model_name;
    info.resolved_config = run_config;
    info.device = c.device;
    info.threads = num_threads();
    // The best epoch's weights are back in the model: export its attention on the test genes.
    const AttentionExport attention = collect_attention(*model, data.test.view());
    io::write_run_outputs(out, info, *model, r, data.test, &attention);
    if (!quiet)
      std::printf("%s: wrote %s/{metrics.json,model.safetensors,config.json,predictions.csv%s}\n", cell.c_str(), out.c_str(),
                  !attention.available ? "" : attention.marks.empty() ? ",attention_bins.csv" : ",attention_bins.csv,attention_marks.csv");
    if (c.explain.enabled) {  // what the best model learned, on the test genes
      ExplainOptions eo;
      eo.methods = c.explain.methods;
      eo.data = io::cell_dir(c.data.root, cell);
      eo.restarts = c.explain.restarts;
      eo.iterations = c.explain.iterations;
      eo.ig_steps = c.explain.ig_steps;
      eo.seed = c.train.seed;
      eo.device = c.train.device;
      if (!eo.methods.empty() && std::find(eo.methods.begin(), eo.methods.end(), "attention") != eo.methods.end() &&
          !attention.available)  // a config names methods for every model of a sweep: attention only where it applies
        eo.methods.erase(std::find(eo.methods.begin(), eo.methods.end(), "attention"));
      if (!c.explain.methods.empty() && eo.methods.empty()) eo.methods = {"grad-input"};
      explain_run(out, eo, model.get(), quiet);
    }
    std::remove(state_path.c_str());  // the run is complete: nothing left to resume
    rows.push_back({cell, std::move(r)});
  }

  std::printf("\n%-12s %-12s %10s %12s %11s %10s %12s\n", "cell", "model", "best_epoch", "valid_auroc", "test_auroc",
              "test_aupr", "train_s");
  for (const auto& row : rows)
    std::printf("%-12s %-12s %10d %12.4f %11.4f %10.4f %12.1f\n", row.cell.c_str(), model_name.c_str(), row.r.best_epoch,
                row.r.valid_auroc, row.r.test_auroc, row.r.test_aupr, row.r.train_seconds);
  return 0;
}

}  // namespace dc::cli
