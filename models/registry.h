// The model registry: one row per model, {name, one-line summary, config keys with their
// defaults, constructor}. It feeds model creation, config validation (io/config.cpp checks
// every user key against the defaults), `deepchrome models` (and through it the README's
// model list, which a test compares with it) and `train --help`. Adding a model is one
// file (the model) plus one row here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/model.h"

namespace dc {

struct ModelInfo {
  std::string name;
  std::string summary;  // one line: what the model is and where it comes from
  nlohmann::json (*defaults)();  // every hyperparameter with its default, including "name"
  std::unique_ptr<Model> (*create)(const nlohmann::json& config, uint64_t seed);
};

// Every model, in the order the help and the README list them.
const std::vector<ModelInfo>& model_registry();
// The row of `name`; throws dc::InputError naming the known models when there is none.
const ModelInfo& model_info(const std::string& name);

std::vector<std::string> model_names();
nlohmann::json model_defaults(const std::string& name);
// Builds a model from a complete config (model_defaults merged with the user's keys;
// io/ validates user keys against model_defaults before calling this).
std::unique_ptr<Model> create_model(const nlohmann::json& config, uint64_t seed);

}  // namespace dc
