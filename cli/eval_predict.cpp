// `deepchrome eval` and `deepchrome predict`: use a saved run folder (config.json +
// model.safetensors) on labelled splits or on new genes.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/options.h"
#include "cli/commands.h"
#include "kernels/base/error.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "io/experiment/report.h"
#include "models/metrics.h"
#include "engine/device.h"

namespace dc::cli {

namespace {

const char* kEvalHelp = R"(usage: deepchrome eval --checkpoint DIR --data PATH [--split NAME] [--json] [--threads N] [--device D]

Evaluates the model saved in DIR (a run folder: config.json + model.safetensors) and prints
AUROC and AUPR.

  --checkpoint DIR  a run folder written by `deepchrome train`
  --data PATH       a cell type folder (with classification/{train,valid,test}.csv) or one CSV file
  --split NAME      train, valid, test or all (default all; ignored for a CSV file)
  --json            print the metrics as JSON
  --threads N       CPU threads (default: all cores)
  --device D        cpu (default) or cuda
)";

const char* kPredictHelp = R"(usage: deepchrome predict --checkpoint DIR --csv FILE --out FILE [--threads N] [--device D]

Scores every gene of FILE (DeepChrome CSV layout; the Label column is optional) with the
model saved in DIR and writes gene_id[,label],prob_high to --out (atomically).
--device D runs the model on cpu (default) or cuda.
)";

bool is_directory(const std::string& path) {
  struct stat st{};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

int cmd_eval(const Args& args) {
  ArgParser p("eval", args, {"checkpoint", "data", "split", "threads", "device"}, {"help", "json"});
  if (p.flag("help")) {
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("eval: unexpected argument '" + p.positionals()[0] + "'");
  apply_threads_option(p);
  const Device device = device_option(p);
  const std::string checkpoint = p.required("checkpoint"), data = p.required("data");
  const std::string split_name = p.value("split").value_or("all");
  if (split_name != "all" && split_name != "train" && split_name != "valid" && split_name != "test")
    throw InputError("eval: --split expects train, valid, test or all, got '" + split_name + "'");
  io::Checkpoint ck = io::load_checkpoint(checkpoint);
  ck.model->to(device);

  std::vector<std::pair<std::string, io::Split>> splits;
  if (is_directory(data)) {
    for (const char* s : {"train", "valid", "test"})
      if (split_name == "all" || split_name == s) splits.emplace_back(s, io::load_split(data + "/classification/" + s + ".csv"));
  } else {
    splits.emplace_back("file", io::load_split(data));
  }

  nlohmann::json out = {{"checkpoint", checkpoint}, {"data", data}, {"model", ck.model->name()}};
  for (auto& [name, split] : splits) {
    if (!split.has_labels) throw InputError(split.path + ": has no Label column, so it cannot be evaluated (use `deepchrome predict`)");
    const std::vector<float> prob = predict(*ck.model, split.view());
    const double roc = auroc(prob, split.labels), pr = aupr(prob, split.labels);
    out[name] = {{"genes", split.size()}, {"auroc", roc}, {"aupr", pr}};
  }
  if (p.flag("json")) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s on %s\n%-6s %7s %8s %8s\n", checkpoint.c_str(), data.c_str(), "split", "genes", "auroc", "aupr");
    for (auto& [name, split] : splits)
      std::printf("%-6s %7zu %8.4f %8.4f\n", name.c_str(), split.size(), out[name]["auroc"].get<double>(),
                  out[name]["aupr"].get<double>());
  }
  return 0;
}

int cmd_predict(const Args& args) {
  ArgParser p("predict", args, {"checkpoint", "csv", "out", "threads", "device"}, {"help"});
  if (p.flag("help")) {
    std::fputs(kPredictHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("predict: unexpected argument '" + p.positionals()[0] + "'");
  apply_threads_option(p);
  const Device device = device_option(p);
  const std::string checkpoint = p.required("checkpoint"), csv = p.required("csv"), out = p.required("out");
  io::Checkpoint ck = io::load_checkpoint(checkpoint);
  ck.model->to(device);
  io::LoadOptions load;
  load.allow_unlabeled = true;
  load.use_cache = false;  // new genes are usually scored once
  const io::Split split = io::load_split(csv, load);
  const std::vector<float> prob = predict(*ck.model, split.view());
  io::write_file_atomic(out, io::predictions_csv(split, prob));
  std::printf("wrote %s (%zu genes)\n", out.c_str(), split.size());
  return 0;
}

}  // namespace dc::cli
