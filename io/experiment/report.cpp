#include "models/registry.h"
#include "io/experiment/report.h"

#include <charconv>
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/experiment/config.h"
#include "io/formats/safetensors.h"

namespace dc::io {
namespace {

using nlohmann::json;

double round_to(double v, double scale) { return std::round(v * scale) / scale; }

}  // namespace

json metrics_json(const RunInfo& info, const TrainResult& r, int64_t parameter_count) {
  json epochs = json::array();
  for (const auto& e : r.epochs)
    epochs.push_back({{"epoch", e.epoch},
                      {"train_loss", e.train_loss},
                      {"valid_auroc", e.valid_auroc},
                      {"valid_aupr", e.valid_aupr},
                      {"test_auroc", e.test_auroc},
                      {"test_aupr", e.test_aupr},
                      {"seconds", round_to(e.seconds, 1e4)}});
  return {{"model", info.model},
          {"cell", info.cell},
          {"best_epoch", r.best_epoch},
          {"valid_auroc", r.valid_auroc},
          {"valid_aupr", r.valid_aupr},
          {"test_auroc", r.test_auroc},
          {"test_aupr", r.test_aupr},
          {"train_seconds", round_to(r.train_seconds, 1e4)},
          {"epochs_run", static_cast<int>(r.epochs.size())},
          {"parameters", parameter_count},
          {"device", info.device},
          {"threads", info.threads},
          {"epochs", epochs}};
}

std::string predictions_csv(const Split& split, const std::vector<float>& prob_high) {
  if (prob_high.size() != split.size())
    throw Error("predictions: " + std::to_string(prob_high.size()) + " scores for " + std::to_string(split.size()) + " genes");
  std::string out = split.has_labels ? "gene_id,label,prob_high\n" : "gene_id,prob_high\n";
  out.reserve(out.size() + split.size() * 24);
  char buf[64];
  for (size_t i = 0; i < split.size(); ++i) {
    out += split.gene_ids[i];
    out += ',';
    if (split.has_labels) {
      out += static_cast<char>('0' + split.labels[i]);
      out += ',';
    }
    const auto res = std::to_chars(buf, buf + sizeof buf, prob_high[i]);  // shortest round-trip form
    out.append(buf, res.ptr);
    out += '\n';
  }
  return out;
}

namespace {
void append_float(std::string& out, float v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 6);
  out.append(buf, res.ptr);
}
}  // namespace

std::string attention_bins_csv(const Split& split, const AttentionExport& a) {
  if (!a.available || a.bins.size() != split.size() * static_cast<size_t>(a.rows) * kBins)
    throw Error("attention export: " + std::to_string(a.bins.size()) + " values for " + std::to_string(split.size()) + " genes");
  std::string out = "gene_id,mark";
  for (int t = 1; t <= kBins; ++t) out += ",a" + std::to_string(t);
  out += '\n';
  out.reserve(out.size() + a.bins.size() * 10);
  const float* p = a.bins.data();
  for (size_t g = 0; g < split.size(); ++g)
    for (int r = 0; r < a.rows; ++r) {
      out += split.gene_ids[g];
      out += ',';
      out += a.rows == kMarks ? kMarkNames[r] : "all";
      for (int t = 0; t < kBins; ++t) {
        out += ',';
        append_float(out, *p++);
      }
      out += '\n';
    }
  return out;
}

std::string attention_marks_csv(const Split& split, const AttentionExport& a) {
  if (a.marks.size() != split.size() * static_cast<size_t>(kMarks))
    throw Error("attention export: " + std::to_string(a.marks.size()) + " mark weights for " + std::to_string(split.size()) + " genes");
  std::string out = "gene_id";
  for (const char* m : kMarkNames) out += std::string(",") + m;
  out += '\n';
  for (size_t g = 0; g < split.size(); ++g) {
    out += split.gene_ids[g];
    for (int m = 0; m < kMarks; ++m) {
      out += ',';
      append_float(out, a.marks[g * kMarks + m]);
    }
    out += '\n';
  }
  return out;
}

void write_run_outputs(const std::string& dir, const RunInfo& info, const Model& model, const TrainResult& result,
                       const Split& test, const AttentionExport* attention) {
  ensure_directory(dir);
  if (attention && attention->available) {
    write_file_atomic(dir + "/attention_bins.csv", attention_bins_csv(test, *attention));
    if (!attention->marks.empty()) write_file_atomic(dir + "/attention_marks.csv", attention_marks_csv(test, *attention));
  }
  write_file_atomic(dir + "/config.json", info.resolved_config.dump(2) + "\n");
  const std::map<std::string, std::string> metadata = {{"deepchrome.cell", info.cell},
                                                       {"deepchrome.best_epoch", std::to_string(result.best_epoch)}};
  if (model.device() == Device::CPU) {
    save_model_weights(dir + "/model.safetensors", model, metadata);
  } else {
    // The checkpoint is written from host memory: a model trained on a device is saved
    // from a host copy of its parameters (same names, order and config).
    std::unique_ptr<Model> host = create_model(model.config(), 0);
    for (size_t i = 0; i < model.parameters().size(); ++i) host->parameters()[i].tensor.copy_from(model.parameters()[i].tensor);
    save_model_weights(dir + "/model.safetensors", *host, metadata);
  }
  write_file_atomic(dir + "/predictions.csv", predictions_csv(test, result.test_prob_high));
  write_file_atomic(dir + "/metrics.json", metrics_json(info, result, model.parameter_count()).dump(2) + "\n");
}

Checkpoint load_checkpoint(const std::string& dir) {
  const std::string config_path = dir + "/config.json", weights_path = dir + "/model.safetensors";
  Checkpoint c;
  c.config = load_json_file(config_path);
  if (!c.config.is_object() || !c.config.contains("model"))
    throw InputError(config_path + ": no \"model\" section (is " + dir + " a run folder written by `deepchrome train`?)");
  json model_config;
  try {
    model_config = resolve_model_config(c.config["model"], "model");
  } catch (const InputError& e) {
    throw InputError(config_path + ": " + e.what());
  }
  c.model = create_model(model_config, 0);
  load_model_weights(weights_path, *c.model);
  return c;
}

}  // namespace dc::io
