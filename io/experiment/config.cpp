#include "io/experiment/config.h"

#include <fstream>
#include <sstream>

#include "kernels/base/error.h"
#include "models/model.h"
#include "models/registry.h"

namespace dc::io {
namespace {

using nlohmann::json;

std::string kind(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  if (v.is_boolean()) return "boolean";
  if (v.is_string()) return "string";
  if (v.is_array()) return "list";
  if (v.is_object()) return "object";
  return "null";
}

std::string type_name(const json& v) {
  const std::string k = kind(v);
  if (k == "null") return k;
  return (k == "integer" || k == "object" ? "an " : "a ") + k;
}

std::string join(const std::string& where, const std::string& key) { return where.empty() ? key : where + "." + key; }

// JSON strings are UTF-8; a --set key or plain-string value that is not cannot be written
// back into config.json (nlohmann refuses to serialise it).
bool is_utf8(const std::string& text) {
  try {
    (void)json(text).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// Whether `value` may replace `def` (same JSON kind; an integer is a valid number, and a
// list must hold elements of the default list's element kind).
bool compatible(const json& def, const json& value) {
  if (def.is_number_float()) return value.is_number();
  if (def.is_number_integer()) return value.is_number_integer();
  if (def.is_array()) {
    if (!value.is_array()) return false;
    if (def.empty()) return true;
    for (const auto& e : value)
      if (!compatible(def.front(), e)) return false;
    return true;
  }
  return def.type() == value.type();
}

std::string expected_name(const json& def) {
  if (def.is_array() && !def.empty()) return "a list of " + kind(def.front()) + "s";
  return type_name(def);
}

}  // namespace

json default_config() {
  return {
      {"data", {{"root", "data/sim"}, {"cells", {"S01"}}, {"cache", true}, {"cache_dir", ""}}},
      {"model", model_defaults("deepchrome")},
      {"train",
       {{"optimizer", "sgd"},
        {"lr", 1e-3},
        {"lr_decay", 0.0},
        {"momentum", 0.0},
        {"weight_decay", 0.0},
        {"beta1", 0.9},
        {"beta2", 0.999},
        {"eps", 1e-8},
        {"clip_grad_norm", 0.0},
        {"batch_size", 1},
        {"epochs", 100},
        {"patience", 0},
        {"seed", 1}}},
      {"explain", {{"enabled", false}, {"methods", json::array()}, {"restarts", 5}, {"iterations", 1000}, {"ig_steps", 32}}},
      {"device", "cpu"},
      {"threads", 0},
      {"output_dir", "runs/default"},
  };
}

json load_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the file");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // Translate the byte offset into line:column.
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
    }
    std::string what = e.what();
    const size_t p = what.find("parse error");
    if (p != std::string::npos) what = what.substr(p);
    throw InputError(path + ":" + std::to_string(line) + ":" + std::to_string(col) + ": invalid JSON: " + what);
  } catch (const json::exception& e) {  // e.g. out_of_range 406: a number too large for a double
    std::string what = e.what();
    const size_t p = what.find("] ");
    if (p != std::string::npos) what = what.substr(p + 2);
    throw InputError(path + ": invalid JSON: " + what);
  }
}

void merge_validated(json& base, const json& user, const std::string& where) {
  if (!user.is_object())
    throw InputError((where.empty() ? std::string("config") : where) + ": expected an object, got " + type_name(user));
  for (auto it = user.begin(); it != user.end(); ++it) {
    const std::string key = join(where, it.key());
    if (!base.contains(it.key())) {
      std::string known;
      for (auto b = base.begin(); b != base.end(); ++b) known += (known.empty() ? "" : ", ") + b.key();
      throw InputError(key + ": unknown key (known keys here: " + known + ")");
    }
    json& def = base[it.key()];
    if (def.is_object()) {
      merge_validated(def, it.value(), key);
    } else {
      if (!compatible(def, it.value()))
        throw InputError(key + ": expected " + expected_name(def) + ", got " + type_name(it.value()) + " " +
                         it.value().dump());
      def = it.value();
    }
  }
}

void apply_override(json& doc, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set " + assignment + ": expected KEY=VALUE, e.g. --set train.lr=0.01");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  if (!is_utf8(assignment)) throw InputError("--set " + json(assignment).dump(-1, ' ', false, json::error_handler_t::replace) +
                                             ": not valid UTF-8 text");
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // not JSON: a plain string
  json* node = &doc;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw InputError("--set " + assignment + ": empty key in '" + path + "'");
    if (!node->is_object()) throw InputError("--set " + assignment + ": '" + path.substr(0, start - 1) + "' is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    if (!node->contains(key)) (*node)[key] = json::object();
    node = &(*node)[key];
    start = dot + 1;
  }
}

json resolve_model_config(const json& user_model, const std::string& where) {
  if (!user_model.is_object()) throw InputError(where + ": expected an object, got " + type_name(user_model));
  std::string name = "deepchrome";
  if (user_model.contains("name")) {
    if (!user_model["name"].is_string()) throw InputError(where + ".name: expected a string, got " + type_name(user_model["name"]));
    name = user_model["name"].get<std::string>();
  }
  json model;
  try {
    model = model_defaults(name);
  } catch (const InputError& e) {
    throw InputError(where + ".name: " + e.what());
  }
  merge_validated(model, user_model, where);
  return model;
}

ExperimentConfig resolve_config(const json& user, const std::string& source) {
  try {
    if (!user.is_object()) throw InputError("config: expected a JSON object at the top level, got " + type_name(user));
    json doc = default_config();
    // The model section is validated against the chosen model's own defaults.
    json user_rest = user;
    // "explain": true / false is short for {"enabled": true / false}.
    if (user_rest.contains("explain") && user_rest["explain"].is_boolean())
      user_rest["explain"] = json{{"enabled", user_rest["explain"].get<bool>()}};
    json user_model = json::object();
    if (user_rest.contains("model")) {
      user_model = user_rest["model"];
      user_rest.erase("model");
    }
    merge_validated(doc, user_rest, "");
    doc["model"] = resolve_model_config(user_model, "model");

    ExperimentConfig c;
    const json& d = doc["data"];
    c.data.root = d["root"].get<std::string>();
    c.data.cells = d["cells"].get<std::vector<std::string>>();
    c.data.cache = d["cache"].get<bool>();
    c.data.cache_dir = d["cache_dir"].get<std::string>();
    if (c.data.cells.empty()) throw InputError("data.cells: the list is empty; name at least one cell type, e.g. [\"S01\"]");
    for (const auto& cell : c.data.cells)
      if (cell.empty() || cell.find('/') != std::string::npos)
        throw InputError("data.cells: '" + cell + "' is not a cell type name (a folder name under data.root)");
    c.model = doc["model"];

    const json& t = doc["train"];
    TrainOptions& o = c.train;
    o.optimizer = t["optimizer"].get<std::string>();
    if (o.optimizer != "sgd" && o.optimizer != "adam")
      throw InputError("train.optimizer: expected \"sgd\" or \"adam\", got \"" + o.optimizer + "\"");
    o.lr = t["lr"].get<double>();
    o.lr_decay = t["lr_decay"].get<double>();
    o.momentum = t["momentum"].get<double>();
    o.weight_decay = t["weight_decay"].get<double>();
    o.beta1 = t["beta1"].get<double>();
    o.beta2 = t["beta2"].get<double>();
    o.eps = t["eps"].get<double>();
    o.clip_grad_norm = t["clip_grad_norm"].get<double>();
    o.batch_size = t["batch_size"].get<int>();
    o.epochs = t["epochs"].get<int>();
    o.patience = t["patience"].get<int>();
    const int64_t seed = t["seed"].get<int64_t>();
    if (!(o.lr > 0)) throw InputError("train.lr: must be > 0");
    if (o.lr_decay < 0 || o.momentum < 0 || o.weight_decay < 0 || o.clip_grad_norm < 0)
      throw InputError("train: lr_decay, momentum, weight_decay and clip_grad_norm must be >= 0");
    if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1 || !(o.eps > 0))
      throw InputError("train: beta1 and beta2 must be in [0, 1) and eps > 0");
    if (o.batch_size < 1) throw InputError("train.batch_size: must be >= 1");
    if (o.epochs < 1) throw InputError("train.epochs: must be >= 1");
    if (o.patience < 0) throw InputError("train.patience: must be >= 0 (0 = no early stopping)");
    if (seed < 0) throw InputError("train.seed: must be >= 0");
    o.seed = static_cast<uint64_t>(seed);

    const json& e = doc["explain"];
    c.explain.enabled = e["enabled"].get<bool>();
    c.explain.methods = e["methods"].get<std::vector<std::string>>();
    c.explain.restarts = e["restarts"].get<int>();
    c.explain.iterations = e["iterations"].get<int>();
    c.explain.ig_steps = e["ig_steps"].get<int>();
    for (const std::string& m : c.explain.methods)
      if (m != "class-map" && m != "grad-input" && m != "integrated-gradients" && m != "attention")
        throw InputError("explain.methods: unknown method \"" + m +
                         "\" (methods: class-map, grad-input, integrated-gradients, attention)");
    if (c.explain.restarts < 1 || c.explain.iterations < 1 || c.explain.ig_steps < 1)
      throw InputError("explain: restarts, iterations and ig_steps must be >= 1");

    c.device = doc["device"].get<std::string>();
    if (c.device != "cpu" && c.device != "cuda") throw InputError("device: expected \"cpu\" or \"cuda\", got \"" + c.device + "\"");
    c.train.device = c.device == "cuda" ? Device::CUDA : Device::CPU;
    c.threads = doc["threads"].get<int>();
    if (c.threads < 0) throw InputError("threads: must be >= 0 (0 = all cores)");
    c.output_dir = doc["output_dir"].get<std::string>();
    if (c.output_dir.empty()) throw InputError("output_dir: must not be empty");
    c.resolved = doc;
    return c;
  } catch (const InputError& e) {
    throw InputError(source + ": " + e.what());
  }
}

ExperimentConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  json user = load_json_file(path);
  if (!user.is_object()) throw InputError(path + ": expected a JSON object at the top level");
  for (const auto& o : overrides) apply_override(user, o);
  return resolve_config(user, path);
}

}  // namespace dc::io
