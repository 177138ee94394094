// A training run's outputs, written into <output_dir>/<cell>/<model>/:
//   config.json       the resolved config (data.cells narrowed to this cell), to repeat it
//   model.safetensors the best-validation epoch's weights
//   predictions.csv   gene_id,label,prob_high for every test gene
//   metrics.json      best epoch, valid/test AUROC and AUPR, per-epoch records
// Every file is written atomically, metrics.json last: a folder holding metrics.json is a
// finished run. A checkpoint folder (config.json + model.safetensors) can be loaded back.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/formats/dataset.h"
#include "models/model.h"
#include "models/trainer.h"

namespace dc::io {

struct RunInfo {
  std::string cell, model;
  nlohmann::json resolved_config;  // of this run
  std::string device = "cpu";
  int threads = 1;
};

nlohmann::json metrics_json(const RunInfo& info, const TrainResult& result, int64_t parameter_count);

// `attention` (optional) adds attention_bins.csv / attention_marks.csv for the test genes.
void write_run_outputs(const std::string& dir, const RunInfo& info, const Model& model, const TrainResult& result,
                       const Split& test, const AttentionExport* attention = nullptr);

// attention_bins.csv: gene_id,mark,a1..a100 (one row per mark, or mark "all" for one
// attention over every mark); attention_marks.csv: gene_id,<the 5 mark names>.
std::string attention_bins_csv(const Split& split, const AttentionExport& a);
std::string attention_marks_csv(const Split& split, const AttentionExport& a);

// gene_id,label,prob_high (label column omitted when the split has none).
std::string predictions_csv(const Split& split, const std::vector<float>& prob_high);

struct Checkpoint {
  nlohmann::json config;  // the run's config.json
  std::unique_ptr<Model> model;
};
// Loads <dir>/config.json and <dir>/model.safetensors (errors name the file).
Checkpoint load_checkpoint(const std::string& dir);

}  // namespace dc::io
