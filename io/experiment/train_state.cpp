#include "io/experiment/train_state.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "io/formats/safetensors.h"
#include "kernels/base/error.h"
#include "kernels/base/hash.h"

namespace dc::io {
namespace {

using nlohmann::json;

constexpr int kStateVersion = 1;
constexpr const char* kStateKey = "deepchrome.train_state";

// JSON has no NaN: an undefined AUROC is written as null and read back as NaN.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
double number_of(const json& j) { return j.is_null() ? std::nan("") : j.get<double>(); }

// FNV-1a over the bytes of a split: ids, labels and values.
uint64_t split_hash(const Split& s, uint64_t h) {
  for (const auto& id : s.gene_ids) h = fnv1a(id + "\n", h);
  h = fnv1a(std::string_view(reinterpret_cast<const char*>(s.labels.data()), s.labels.size()), h);
  return fnv1a(std::string_view(reinterpret_cast<const char*>(s.x.data()), s.x.size() * sizeof(float)), h);
}

std::string hex(uint64_t v) {
  std::string out(16, '0');
  for (int i = 0; i < 16; ++i) out[i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
  return out;
}

// Flattens nested objects into "a.b.c" -> value (arrays and scalars are leaves).
void flatten(const json& j, const std::string& prefix, std::map<std::string, json>& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    out[prefix] = j;
  }
}

std::vector<Parameter> with_prefix(const std::map<std::string, Tensor>& tensors, const std::string& prefix) {
  std::vector<Parameter> out;
  for (const auto& [name, t] : tensors)
    if (name.compare(0, prefix.size(), prefix) == 0) out.push_back({name.substr(prefix.size()), t});
  return out;
}

}  // namespace

json run_identity(const json& resolved_config, int threads, const std::string& device, const CellData& data) {
  json config = resolved_config;
  config.erase("output_dir");
  config.erase("explain");
  if (config.contains("data") && config["data"].is_object())
    for (const char* key : {"root", "cache", "cache_dir"}) config["data"].erase(key);
  uint64_t h = kFnvOffsetBasis;
  for (const Split* s : {&data.train, &data.valid, &data.test}) h = split_hash(*s, h);
  (void)device;  // the config's "device" says it
  return {{"config", config},
          {"threads_used", threads},
          {"data", {{"genes", {data.train.size(), data.valid.size(), data.test.size()}}, {"fnv1a", hex(h)}}}};
}

std::string describe_identity_mismatch(const json& saved, const json& now) {
  std::map<std::string, json> a, b;
  flatten(saved, "", a);
  flatten(now, "", b);
  std::vector<std::string> items;
  auto text = [](const std::map<std::string, json>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("(absent)") : it->second.dump();
  };
  std::map<std::string, bool> keys;
  for (const auto& [k, v] : a) keys[k] = true;
  for (const auto& [k, v] : b) keys[k] = true;
  for (const auto& [k, unused] : keys) {
    (void)unused;
    auto ia = a.find(k), ib = b.find(k);
    if (ia != a.end() && ib != b.end() && ia->second == ib->second) continue;
    const std::string name = k.rfind("config.", 0) == 0 ? k.substr(7) : k;
    items.push_back(name + ": " + text(a, k) + " in the checkpoint, " + text(b, k) + " now");
  }
  std::string out;
  for (size_t i = 0; i < items.size() && i < 8; ++i) out += (i ? "; " : "") + items[i];
  if (items.size() > 8) out += "; and " + std::to_string(items.size() - 8) + " more";
  return out;
}

int train_state_threads(const std::string& path) {
  try {
    const SafetensorsFile file = load_safetensors(path);
    auto it = file.metadata.find(kStateKey);
    if (it == file.metadata.end()) return 0;
    const json s = json::parse(it->second);
    const json& threads = s.at("identity").at("config").at("threads");
    return threads.is_number_integer() ? std::max(0, threads.get<int>()) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

void save_train_state(const std::string& path, const TrainCheckpoint& c, const json& identity) {
  std::vector<NamedTensor> tensors;
  for (const auto& p : c.weights) tensors.push_back({"weights." + p.name, p.tensor});
  for (const auto& p : c.best) tensors.push_back({"best." + p.name, p.tensor});
  for (const auto& p : c.optimizer_state) tensors.push_back({"optimizer." + p.name, p.tensor});
  const TrainResult& r = c.result;
  if (!r.test_prob_high.empty()) {
    Tensor prob = Tensor::empty({static_cast<int64_t>(r.test_prob_high.size())});
    std::copy(r.test_prob_high.begin(), r.test_prob_high.end(), prob.data());
    tensors.push_back({"best_test_prob_high", prob});
  }
  json epochs = json::array();
  for (const auto& e : r.epochs)
    epochs.push_back({e.epoch, number(e.train_loss), number(e.valid_auroc), number(e.valid_aupr),
                      number(e.test_auroc), number(e.test_aupr), number(e.seconds)});
  const json state = {{"version", kStateVersion},
                      {"identity", identity},
                      {"epochs_done", c.epochs_done},
                      {"forward_steps", c.forward_steps},
                      {"optimizer_steps", c.optimizer_steps},
                      {"best_valid", number(c.best_valid)},
                      {"since_best", c.since_best},
                      {"best_epoch", r.best_epoch},
                      {"best_metrics", {number(r.valid_auroc), number(r.valid_aupr), number(r.test_auroc), number(r.test_aupr)}},
                      {"train_seconds", number(r.train_seconds)},
                      {"epochs", epochs}};
  save_safetensors(path, tensors, {{kStateKey, state.dump()}});
}

TrainCheckpoint load_train_state(const std::string& path, const json& identity) {
  SafetensorsFile file = load_safetensors(path);
  auto it = file.metadata.find(kStateKey);
  if (it == file.metadata.end()) throw InputError(path + ": not a training state (no " + kStateKey + " metadata)");
  TrainCheckpoint c;
  try {
    const json s = json::parse(it->second);
    if (s.at("version").get<int>() != kStateVersion)
      throw InputError(path + ": training state version " + s.at("version").dump() + ", this program reads " +
                       std::to_string(kStateVersion));
    const std::string diff = describe_identity_mismatch(s.at("identity"), identity);
    if (!diff.empty())
      throw InputError(path + ": this training state belongs to a different run (" + diff +
                       "); run without --resume to start over, or restore the run's settings");
    c.epochs_done = s.at("epochs_done").get<int>();
    c.forward_steps = s.at("forward_steps").get<uint64_t>();
    c.optimizer_steps = s.at("optimizer_steps").get<int64_t>();
    c.best_valid = number_of(s.at("best_valid"));
    c.since_best = s.at("since_best").get<int>();
    TrainResult& r = c.result;
    r.best_epoch = s.at("best_epoch").get<int>();
    const json& m = s.at("best_metrics");
    r.valid_auroc = number_of(m.at(0));
    r.valid_aupr = number_of(m.at(1));
    r.test_auroc = number_of(m.at(2));
    r.test_aupr = number_of(m.at(3));
    r.train_seconds = number_of(s.at("train_seconds"));
    for (const json& e : s.at("epochs")) {
      EpochRecord rec;
      rec.epoch = e.at(0).get<int>();
      rec.train_loss = number_of(e.at(1));
      rec.valid_auroc = number_of(e.at(2));
      rec.valid_aupr = number_of(e.at(3));
      rec.test_auroc = number_of(e.at(4));
      rec.test_aupr = number_of(e.at(5));
      rec.seconds = number_of(e.at(6));
      r.epochs.push_back(rec);
    }
    if (c.epochs_done < 1 || static_cast<int>(r.epochs.size()) != c.epochs_done)
      throw InputError(path + ": the epoch log has " + std::to_string(r.epochs.size()) + " records for " +
                       std::to_string(c.epochs_done) + " finished epochs");
  } catch (const json::exception& e) {
    throw InputError(path + ": damaged training state (" + e.what() + ")");
  }
  c.weights = with_prefix(file.tensors, "weights.");
  c.best = with_prefix(file.tensors, "best.");
  c.optimizer_state = with_prefix(file.tensors, "optimizer.");
  auto prob = file.tensors.find("best_test_prob_high");
  if (prob != file.tensors.end()) {
    const float* p = prob->second.data();
    c.result.test_prob_high.assign(p, p + prob->second.numel());
  }
  return c;
}

}  // namespace dc::io
