// Experiment configs: one JSON file, validated against the full set of defaults.
//
// Every key the user writes must exist in the defaults (or in the chosen model's defaults)
// and have a compatible type; errors name the key path, e.g. `train.batch_size: expected an
// integer, got "64"`. `--set a.b=value` overrides are applied to the user's document before
// validation (value parsed as JSON when it parses, else taken as a string).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/trainer.h"

namespace dc::io {

struct DataConfig {
  std::string root = "data/sim";
  std::vector<std::string> cells = {"S01"};
  bool cache = true;       // use the binary cache
  std::string cache_dir;   // empty: beside each CSV
};

// After training, what the best model learned (`deepchrome explain`), into <run>/explain/.
struct ExplainConfig {
  bool enabled = false;
  std::vector<std::string> methods;  // empty: every method that applies to the model
  int restarts = 5, iterations = 1000, ig_steps = 32;
};

struct ExperimentConfig {
  DataConfig data;
  ExplainConfig explain;
  nlohmann::json model;    // complete: model_defaults(name) merged with the user's keys
  TrainOptions train;
  std::string device = "cpu";
  int threads = 0;         // 0: all available cores
  std::string output_dir = "runs/default";
  nlohmann::json resolved; // every key, as written to config.json
};

// The full default document (model section: DeepChrome's defaults).
nlohmann::json default_config();

// Reads a JSON file; syntax errors name the file, line and column.
nlohmann::json load_json_file(const std::string& path);

// Recursively merges `user` into `base` (in place). Every key of `user` must exist in
// `base` with a compatible type; `where` is the key path prefix used in messages.
void merge_validated(nlohmann::json& base, const nlohmann::json& user, const std::string& where);

// Applies "a.b.c=value" to `doc`, creating intermediate objects.
void apply_override(nlohmann::json& doc, const std::string& assignment);

// Validates and resolves a user document (`source` names it in messages).
ExperimentConfig resolve_config(const nlohmann::json& user, const std::string& source);

// load_json_file + overrides + resolve_config.
ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// Resolves the "model" section alone (used when loading checkpoints).
nlohmann::json resolve_model_config(const nlohmann::json& user_model, const std::string& where);

}  // namespace dc::io
