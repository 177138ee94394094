#include "io/experiment/sweep.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "io/experiment/paper.h"
#include "io/figures/svg.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

namespace dc::io {
namespace {

using nlohmann::json;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? std::nan("") : s / static_cast<double>(v.size());
}

double median_of(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string cell_name(const std::string& cell) {
  const PaperCell* p = find_paper_cell(cell);
  return p ? p->name : "";
}

// The DeepChrome paper's AUROC for cell i of the summary, NaN when none applies.
double paper_auroc(const SweepSummary& s, size_t i) {
  if (s.simulated[i]) return std::nan("");
  const PaperCell* p = find_paper_cell(s.cells[i]);
  return p ? p->deepchrome_auroc : std::nan("");
}

std::string num(double v, const char* format = "%.4f") { return std::isnan(v) ? "" : fmt(format, v); }

// One field of a CSV row, quoted when it holds a comma, quote or line break (grid values
// are JSON, e.g. [10,5]).
std::string csv_field(const std::string& f) {
  if (f.find_first_of(",\"\n") == std::string::npos) return f;
  std::string out = "\"";
  for (char ch : f) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

const RunResult& result(const SweepSummary& s, size_t cell, size_t model, size_t point, size_t seed) {
  return s.results[((cell * s.models.size() + model) * s.axes.points() + point) * s.axes.seed_count() + seed];
}

// Per model: the cells' (chosen, seed-mean) figures, and the paper's figure for the same cells.
struct ModelStats {
  std::vector<double> valid, test, aupr, paper, diff;
  int done = 0;
};
ModelStats model_stats(const SweepSummary& s, size_t m) {
  ModelStats st;
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const CellModelStats r = cell_model_stats(s, c, m);
    if (r.status != "done") continue;
    ++st.done;
    st.valid.push_back(r.valid_mean);
    st.test.push_back(r.test_mean);
    st.aupr.push_back(r.aupr_mean);
    const double p = paper_auroc(s, c);
    if (!std::isnan(p)) {
      st.paper.push_back(p);
      st.diff.push_back(r.test_mean - p);
    }
  }
  return st;
}

}  // namespace

std::string SweepAxes::variant(size_t point, size_t seed) const {
  std::string v;
  if (!grid_points.empty()) v = "grid" + std::to_string(point);
  if (!seeds.empty()) v += (v.empty() ? "" : "-") + std::string("seed") + std::to_string(seeds[seed]);
  return v;
}

std::string SweepAxes::point_label(size_t point) const {
  std::string out;
  if (grid_points.empty()) return out;
  for (size_t k = 0; k < grid_keys.size(); ++k) out += (k ? ", " : "") + grid_keys[k] + "=" + grid_points[point][k].dump();
  return out;
}

std::string job_file_name(const SweepJob& job) {
  return job.cell + "." + job.model + (job.variant.empty() ? "" : "." + job.variant) + ".json";
}

namespace {

// sweep.seeds: a non-empty list of distinct integers >= 0.
std::vector<int64_t> parse_seeds(const json& v, const std::string& path) {
  const std::string at = path + ": sweep.seeds";
  if (!v.is_array()) throw InputError(at + ": expected a list of integer seeds, e.g. [1, 2, 3], got " + v.dump());
  if (v.empty()) throw InputError(at + ": the list is empty; give at least one seed, e.g. [1, 2, 3], or leave sweep.seeds out");
  std::vector<int64_t> seeds;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string here = at + "[" + std::to_string(i) + "]";
    const json& x = v[i];
    if (!x.is_number_integer() || (x.is_number_unsigned() && x.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
      throw InputError(here + ": expected an integer seed, got " + x.dump());
    const int64_t seed = x.get<int64_t>();
    if (seed < 0) throw InputError(here + ": a seed must be >= 0, got " + x.dump());
    const auto dup = std::find(seeds.begin(), seeds.end(), seed);
    if (dup != seeds.end())
      throw InputError(here + ": seed " + x.dump() + " is listed twice (also sweep.seeds[" + std::to_string(dup - seeds.begin()) + "])");
    seeds.push_back(seed);
  }
  return seeds;
}

std::string grid_at(const std::string& key) { return "sweep.grid[\"" + key + "\"]"; }

// sweep.grid, nested objects read as dotted keys: key -> non-empty list of values (sorted by key).
std::vector<std::pair<std::string, json>> flatten_grid(const json& node, const std::string& prefix, const std::string& path) {
  std::vector<std::pair<std::string, json>> out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object()) {
      for (auto& kv : flatten_grid(it.value(), key, path)) out.push_back(std::move(kv));
      continue;
    }
    if (!it.value().is_array())
      throw InputError(path + ": " + grid_at(key) + ": expected a list of values to try, e.g. [0.0001, 0.0003], got " + it.value().dump());
    if (it.value().empty()) throw InputError(path + ": " + grid_at(key) + ": the list is empty; give at least one value");
    out.emplace_back(key, it.value());
  }
  return out;
}

// Sets the dotted `key` of `doc` to `value`, creating objects on the way.
void set_dotted(json& doc, const std::string& key, const json& value) {
  json* node = &doc;
  size_t start = 0;
  for (size_t dot = key.find('.'); dot != std::string::npos; start = dot + 1, dot = key.find('.', start)) {
    json& next = (*node)[key.substr(start, dot - start)];
    if (!next.is_object()) next = json::object();
    node = &next;
  }
  (*node)[key.substr(start)] = value;
}

// Whether the dotted `key` names a value in `resolved`; `known` gets the keys where the walk stopped.
bool has_dotted(const json& resolved, const std::string& key, std::string& known, std::string& parent) {
  const json* node = &resolved;
  size_t start = 0;
  parent.clear();
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(part)) {
      known.clear();
      if (node->is_object())
        for (auto it = node->begin(); it != node->end(); ++it) known += (known.empty() ? "" : ", ") + it.key();
      return false;
    }
    node = &(*node)[part];
    if (dot == std::string::npos) return !node->is_object();
    parent = key.substr(0, dot);
    start = dot + 1;
  }
}

}  // namespace

SweepConfig load_sweep_config(const std::string& path, const std::vector<std::string>& overrides, int hardware_threads) {
  json user = load_json_file(path);
  if (!user.is_object()) throw InputError(path + ": expected a JSON object at the top level");
  for (const auto& o : overrides) apply_override(user, o);
  json sweep = json::object();
  if (user.contains("sweep")) {
    sweep = user["sweep"];
    user.erase("sweep");
  }
  // The axes are validated here, key by key (merge_validated knows no free-form keys).
  json seeds_json, grid_json;
  if (sweep.is_object() && sweep.contains("seeds")) {
    seeds_json = sweep["seeds"];
    sweep.erase("seeds");
  }
  if (sweep.is_object() && sweep.contains("grid")) {
    grid_json = sweep["grid"];
    sweep.erase("grid");
  }
  json settings = {{"parallel_runs", 1}, {"models", json::array()}, {"seeds", json::array()}, {"grid", json::object()}};
  try {
    merge_validated(settings, sweep, "sweep");
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }

  SweepConfig s;
  s.source = path;
  s.parallel_runs = settings["parallel_runs"].get<int>();
  if (s.parallel_runs < 1) throw InputError(path + ": sweep.parallel_runs: must be >= 1");
  if (!seeds_json.is_null()) s.axes.seeds = parse_seeds(seeds_json, path);
  std::vector<std::pair<std::string, json>> grid;
  if (!grid_json.is_null()) {
    if (!grid_json.is_object())
      throw InputError(path + ": sweep.grid: expected an object of config keys and the values to try, e.g. "
                              "{\"train.lr\": [0.0001, 0.0003]}, got " + grid_json.dump());
    grid = flatten_grid(grid_json, "", path);
  }

  // One resolved experiment per model entry: the entry's "model" and "train" sections
  // replace the top-level ones (whole sections, so one recipe never leaks into another).
  std::vector<json> variants;
  std::vector<std::string> where;
  if (settings["models"].empty()) {
    variants.push_back(user);
    where.push_back(path);
  }
  for (size_t i = 0; i < settings["models"].size(); ++i) {
    const json& entry = settings["models"][i];
    const std::string at = "sweep.models[" + std::to_string(i) + "]";
    if (!entry.is_object()) throw InputError(path + ": " + at + ": expected an object with \"model\" and/or \"train\"");
    json doc = user;
    for (auto it = entry.begin(); it != entry.end(); ++it) {
      if (it.key() != "model" && it.key() != "train")
        throw InputError(path + ": " + at + "." + it.key() + ": unknown key (known keys here: model, train)");
      doc[it.key()] = it.value();
    }
    variants.push_back(std::move(doc));
    where.push_back(path + ": " + at);
  }

  json resolved_models = json::array();
  std::vector<ExperimentConfig> configs;
  for (size_t i = 0; i < variants.size(); ++i) {
    configs.push_back(resolve_config(variants[i], where[i]));
    const ExperimentConfig& c = configs.back();
    const std::string name = c.model.at("name").get<std::string>();
    if (std::find(s.models.begin(), s.models.end(), name) != s.models.end())
      throw InputError(where[i] + ": model \"" + name + "\" is listed twice (run folders are named after the model)");
    s.models.push_back(name);
    resolved_models.push_back({{"model", c.resolved["model"]}, {"train", c.resolved["train"]}});
  }

  // The grid: each key a model/train key of every model, each value valid on its own.
  for (const auto& [key, values] : grid) {
    const std::string at = path + ": " + grid_at(key);
    if (key.rfind("model.", 0) != 0 && key.rfind("train.", 0) != 0)
      throw InputError(at + ": only \"model.\" and \"train.\" keys can be grid axes (e.g. \"train.lr\")");
    if (key == "model.name") throw InputError(at + ": list the models in sweep.models instead");
    if (key == "train.seed") throw InputError(at + ": list the seeds in sweep.seeds instead");
    for (size_t m = 0; m < configs.size(); ++m) {
      std::string known, parent;
      if (!has_dotted(configs[m].resolved, key, known, parent))
        throw InputError(at + ": not a config key" + (configs.size() > 1 ? " of model \"" + s.models[m] + "\"" : std::string()) +
                         (known.empty() ? std::string() : " (known keys" + (parent.empty() ? "" : " under " + parent) + ": " + known + ")"));
      for (size_t j = 0; j < values.size(); ++j) {
        json doc = variants[m];
        set_dotted(doc, key, values[j]);
        resolve_config(doc, at + "[" + std::to_string(j) + "]" +
                                (configs.size() > 1 ? " (model \"" + s.models[m] + "\")" : std::string()));
      }
    }
    s.axes.grid_keys.push_back(key);
  }
  if (!grid.empty()) {
    std::vector<size_t> digit(grid.size(), 0);  // odometer over the value lists, last key fastest
    while (true) {
      json point = json::array();
      for (size_t k = 0; k < grid.size(); ++k) point.push_back(grid[k].second[digit[k]]);
      s.axes.grid_points.push_back(std::move(point));
      size_t k = grid.size();
      while (k > 0 && ++digit[k - 1] == grid[k - 1].second.size()) digit[--k] = 0;
      if (k == 0) break;
    }
  }

  const ExperimentConfig& base = configs.front();
  s.output_dir = base.output_dir;
  s.data_root = base.data.root;
  s.device = base.device;
  s.cells = base.data.cells;
  std::set<std::string> seen;
  for (const auto& cell : s.cells)
    if (!seen.insert(cell).second) throw InputError(path + ": data.cells: \"" + cell + "\" is listed twice");
  s.threads_total = base.threads > 0 ? base.threads : std::max(1, hardware_threads);
  s.threads_per_run = std::max(1, s.threads_total / s.parallel_runs);

  s.resolved = base.resolved;
  s.resolved.erase("model");
  s.resolved.erase("train");
  s.resolved["sweep"] = {{"parallel_runs", s.parallel_runs}, {"models", resolved_models}};
  if (!s.axes.seeds.empty()) s.resolved["sweep"]["seeds"] = s.axes.seeds;
  if (!grid.empty()) {
    s.resolved["sweep"]["grid"] = json::object();
    for (const auto& [key, values] : grid) s.resolved["sweep"]["grid"][key] = values;
  }

  // Every (model, grid point, seed) resolved once; cells only change data.cells.
  const size_t n_points = s.axes.points(), n_seeds = s.axes.seed_count();
  std::vector<json> resolved_runs;
  for (size_t m = 0; m < configs.size(); ++m)
    for (size_t g = 0; g < n_points; ++g)
      for (size_t k = 0; k < n_seeds; ++k) {
        if (!s.axes.any()) {
          resolved_runs.push_back(configs[m].resolved);
          continue;
        }
        json doc = variants[m];
        for (size_t i = 0; i < s.axes.grid_keys.size(); ++i) set_dotted(doc, s.axes.grid_keys[i], s.axes.grid_points[g][i]);
        if (!s.axes.seeds.empty()) set_dotted(doc, "train.seed", s.axes.seeds[k]);
        const std::string variant = s.axes.variant(g, k);
        if (seen.count(variant))
          throw InputError(path + ": data.cells: \"" + variant + "\" is also the name of a run variant folder; rename that cell type's folder");
        json r = resolve_config(doc, where[m] + " (" + variant + ")").resolved;
        r["output_dir"] = s.output_dir + "/" + variant;
        resolved_runs.push_back(std::move(r));
      }

  for (const auto& cell : s.cells) {
    for (size_t m = 0; m < configs.size(); ++m) {
      for (size_t g = 0; g < n_points; ++g) {
        for (size_t k = 0; k < n_seeds; ++k) {
          SweepJob job;
          job.cell = cell;
          job.model = s.models[m];
          job.point = g;
          job.seed_index = k;
          job.variant = s.axes.variant(g, k);
          job.label = job.model;
          if (!s.axes.grid_points.empty()) job.label += " grid" + std::to_string(g);
          if (!s.axes.seeds.empty()) job.label += " seed" + std::to_string(s.axes.seeds[k]);
          job.run_dir = s.output_dir + (job.variant.empty() ? "" : "/" + job.variant) + "/" + cell + "/" + job.model;
          job.config = resolved_runs[(m * n_points + g) * n_seeds + k];
          job.config["data"]["cells"] = {cell};
          job.config["threads"] = s.threads_per_run;
          s.jobs.push_back(std::move(job));
        }
      }
    }
  }
  return s;
}

static double model_cost_factor(const std::string& model) {
  if (model == "linear") return 0.25;
  if (model == "mlp") return 0.5;
  if (model == "lstm" || model == "lstm-attn") return 4;
  if (model == "attentivechrome") return 10;
  return 1;  // deepchrome and anything new
}

std::vector<size_t> plan_order(const SweepConfig& s, const std::vector<size_t>& jobs, const std::vector<double>& cell_size) {
  std::vector<double> cost(s.jobs.size(), 0);
  for (size_t j : jobs) {
    const SweepJob& job = s.jobs.at(j);
    const size_t c = static_cast<size_t>(std::find(s.cells.begin(), s.cells.end(), job.cell) - s.cells.begin());
    const double size = c < cell_size.size() ? cell_size[c] : 0;
    cost[j] = job.config["train"]["epochs"].get<double>() * size * model_cost_factor(job.model);
  }
  std::vector<size_t> order = jobs;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  return order;
}

std::vector<double> train_file_sizes(const SweepConfig& s) {
  std::vector<double> sizes;
  for (const auto& cell : s.cells) {
    struct stat st {};
    const std::string path = cell_dir(s.data_root, cell) + "/classification/train.csv";
    sizes.push_back(::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0.0);
  }
  return sizes;
}

RunState run_state(const SweepJob& job) {
  if (!exists(job.run_dir)) return RunState::Missing;
  const std::string metrics = job.run_dir + "/metrics.json", config = job.run_dir + "/config.json";
  if (!exists(metrics) || !exists(config)) return RunState::Partial;
  json m, c;
  try {
    m = json::parse(read_file(metrics));
    c = json::parse(read_file(config));
  } catch (const std::exception&) {
    return RunState::Partial;
  }
  if (!m.is_object() || !m.contains("test_auroc")) return RunState::Partial;
  // With explain on, a run is finished once its explain is (explain.json is written last).
  if (job.config.contains("explain") && job.config["explain"].value("enabled", false) &&
      !exists(job.run_dir + "/explain/explain.json"))
    return RunState::Partial;
  for (const char* section : {"model", "train"}) {
    if (!c.contains(section) || c[section] != job.config[section])
      throw InputError(job.run_dir + ": holds a finished run with a different \"" + section +
                       "\" section than this sweep's config; use another output_dir or remove that folder");
  }
  return RunState::Finished;
}

RunResult read_run_result(const SweepJob& job) {
  const std::string path = job.run_dir + "/metrics.json";
  RunResult r;
  r.cell = job.cell;
  r.model = job.model;
  try {
    const json m = json::parse(read_file(path));
    r.best_epoch = m.at("best_epoch").get<int>();
    r.valid_auroc = m.at("valid_auroc").get<double>();
    r.test_auroc = m.at("test_auroc").get<double>();
    r.test_aupr = m.at("test_aupr").get<double>();
    r.train_seconds = m.value("train_seconds", 0.0);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(path + ": not a readable metrics file (" + e.what() + ")");
  }
  r.status = "done";
  return r;
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return std::nan("");
  const double mean = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

CellModelStats cell_model_stats(const SweepSummary& s, size_t c, size_t m) {
  const size_t n_points = s.axes.points(), n_seeds = s.axes.seed_count();
  CellModelStats st;
  bool any_failed = false;
  double best = 0;
  for (size_t g = 0; g < n_points; ++g) {
    std::vector<double> valid;
    for (size_t k = 0; k < n_seeds; ++k) {
      const RunResult& r = result(s, c, m, g, k);
      if (r.status == "done") valid.push_back(r.valid_auroc);
      any_failed |= r.status == "failed";
    }
    const double mean = mean_of(valid);
    st.point_valid.push_back(mean);
    // Strictly greater: a tie keeps the earlier grid point.
    if (!valid.empty() && (st.done == 0 || mean > best)) {
      best = mean;
      st.point = g;
      st.done = valid.size();
    }
  }
  std::vector<double> valid, test, aupr;
  for (size_t k = 0; k < n_seeds; ++k) {
    const RunResult& r = result(s, c, m, st.point, k);
    if (r.status != "done") continue;
    valid.push_back(r.valid_auroc);
    test.push_back(r.test_auroc);
    aupr.push_back(r.test_aupr);
  }
  st.valid_mean = mean_of(valid);
  st.test_mean = mean_of(test);
  st.aupr_mean = mean_of(aupr);
  st.valid_sd = sample_sd(valid);
  st.test_sd = sample_sd(test);
  st.aupr_sd = sample_sd(aupr);
  st.status = st.done > 0 ? "done" : any_failed ? "failed" : "pending";
  if (!s.axes.any()) {
    st.status = result(s, c, m, 0, 0).status;
    st.best_epoch = result(s, c, m, 0, 0).best_epoch;
  }
  return st;
}

std::string summary_csv(const SweepSummary& s) {
  const SweepAxes& ax = s.axes;
  const bool grid = !ax.grid_points.empty(), seeds = !ax.seeds.empty();
  std::string out = "cell,cell_name,model,";
  if (grid) {
    out += "grid_point,";
    for (const auto& key : ax.grid_keys) out += csv_field(key) + ",";
    out += "chosen,";
  }
  if (seeds) out += "seed,";
  out += "status,best_epoch,valid_auroc,test_auroc,test_aupr,paper_auroc,diff_vs_paper\n";
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const double paper = paper_auroc(s, c);
    for (size_t m = 0; m < s.models.size(); ++m) {
      const size_t chosen = grid ? cell_model_stats(s, c, m).point : 0;
      for (size_t g = 0; g < ax.points(); ++g) {
        for (size_t k = 0; k < ax.seed_count(); ++k) {
          const RunResult& r = result(s, c, m, g, k);
          const bool done = r.status == "done";
          out += s.cells[c] + "," + cell_name(s.cells[c]) + "," + s.models[m] + ",";
          if (grid) {
            out += std::to_string(g) + ",";
            for (const auto& v : ax.grid_points[g]) out += csv_field(v.dump()) + ",";
            out += std::string(g == chosen ? "yes" : "") + ",";
          }
          if (seeds) out += std::to_string(ax.seeds[k]) + ",";
          out += r.status + ",";
          out += done ? std::to_string(r.best_epoch) : "";
          for (const std::string& field : {done ? num(r.valid_auroc) : std::string(), done ? num(r.test_auroc) : std::string(),
                                           done ? num(r.test_aupr) : std::string(), num(paper),
                                           done ? num(r.test_auroc - paper, "%+.4f") : std::string()}) {
            out += ',';
            out += field;
          }
          out += '\n';
        }
      }
    }
  }
  // The axis columns of the mean / median rows are empty.
  const std::string axis_blanks(grid ? ax.grid_keys.size() + 2 : 0, ',');
  const std::string seed_blank = seeds ? "," : "";
  for (const char* stat : {"mean", "median"}) {
    for (size_t m = 0; m < s.models.size(); ++m) {
      const ModelStats st = model_stats(s, m);
      auto f = [&](const std::vector<double>& v) { return std::string(stat) == "mean" ? mean_of(v) : median_of(v); };
      out += std::string(stat) + ",," + s.models[m] + "," + axis_blanks + seed_blank + std::to_string(st.done) + "/" +
             std::to_string(s.cells.size()) + ",," + num(f(st.valid)) + "," + num(f(st.test)) + "," + num(f(st.aupr)) + "," +
             num(f(st.paper)) + "," + num(f(st.diff), "%+.4f") + "\n";
    }
  }
  return out;
}

std::string summary_md(const SweepSummary& s) {
  size_t n_sim = 0;
  for (bool b : s.simulated) n_sim += b;
  std::string out = "# Sweep summary\n\n";
  out += "Config `" + s.source + "`, data `" + s.data_root + "`, " + std::to_string(s.cells.size()) + " cell types, models: ";
  for (size_t m = 0; m < s.models.size(); ++m) out += (m ? ", " : "") + std::string("`") + s.models[m] + "`";
  out += ".\n\n";
  if (n_sim == s.cells.size())
    out += "**The data are simulated** (`deepchrome simulate` stand-ins under the cell types' names). The papers' "
           "figures are for the real data, so the paper columns are left empty.\n\n";
  else if (n_sim > 0)
    out += "**" + std::to_string(n_sim) + " of the cell types are simulated**; their paper columns are left empty.\n\n";
  out += "Test AUROC of the best-validation epoch. *paper* is the DeepChrome paper's test AUROC for the cell type "
         "(its supplementary table); Δ = ours − paper.\n\n";
  const SweepAxes& ax = s.axes;
  const bool grid = !ax.grid_points.empty(), seeds = !ax.seeds.empty();
  if (ax.any()) {
    out += "Each cell type and model ran ";
    if (grid) out += "at " + std::to_string(ax.points()) + " grid points (below)" + (seeds ? std::string(" x ") : std::string());
    if (seeds) {
      out += std::to_string(ax.seeds.size()) + " seeds (";
      for (size_t k = 0; k < ax.seeds.size(); ++k) out += (k ? ", " : "") + std::to_string(ax.seeds[k]);
      out += ")";
    }
    out += ". ";
    if (seeds) out += "A figure is the mean ± the sample standard deviation (n−1) over the finished seeds";
    else out += "A figure is the run's";
    if (grid)
      out += std::string(seeds ? "," : "") + " at the grid point (column *grid*) with the highest mean valid AUROC" +
             (seeds ? " over its finished seeds" : "") + " (never chosen by test AUROC; ties: the first grid point)";
    out += "; Δ and the mean / median rows use those " + std::string(seeds ? "means" : "figures") + ".\n\n";
  }

  out += "| cell | name | paper |";
  std::string rule = "|---|---|---:|";
  for (const auto& m : s.models) {
    out += " " + m + " | Δ |" + (grid ? " grid |" : "");
    rule += grid ? "---:|---:|---:|" : "---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const double paper = paper_auroc(s, c);
    out += "| " + s.cells[c] + " | " + cell_name(s.cells[c]) + " | " + num(paper) + " |";
    for (size_t m = 0; m < s.models.size(); ++m) {
      const CellModelStats r = cell_model_stats(s, c, m);
      const bool done = r.status == "done";
      std::string figure = done ? num(r.test_mean) : r.status;
      if (done && !std::isnan(r.test_sd)) figure += " ± " + num(r.test_sd);
      if (done && seeds && r.done < ax.seeds.size())
        figure += " (" + std::to_string(r.done) + "/" + std::to_string(ax.seeds.size()) + " seeds)";
      out += ' ' + figure + " | ";
      out += done ? num(r.test_mean - paper, "%+.4f") : std::string();
      out += " |";
      if (grid) {
        out += ' ';
        if (done) out += std::to_string(r.point);
        out += " |";
      }
    }
    out += "\n";
  }
  for (const char* stat : {"mean", "median"}) {
    const bool is_mean = std::string(stat) == "mean";
    std::vector<double> paper;
    for (size_t c = 0; c < s.cells.size(); ++c)
      if (!std::isnan(paper_auroc(s, c))) paper.push_back(paper_auroc(s, c));
    out += "| **" + std::string(stat) + "** | | " + num(is_mean ? mean_of(paper) : median_of(paper)) + " |";
    for (size_t m = 0; m < s.models.size(); ++m) {
      const ModelStats st = model_stats(s, m);
      out += " **" + num(is_mean ? mean_of(st.test) : median_of(st.test)) + "** | " +
             num(is_mean ? mean_of(st.diff) : median_of(st.diff), "%+.4f") + " |";
      if (grid) out += " |";
    }
    out += "\n";
  }

  if (grid) {
    out += "\n## Grid points\n\n| grid point |";
    std::string grule = "|---:|";
    for (const auto& key : ax.grid_keys) {
      out += " " + key + " |";
      grule += "---:|";
    }
    for (const auto& m : s.models) {
      out += " " + m + ": chosen for |";
      grule += "---:|";
    }
    out += "\n" + grule + "\n";
    for (size_t g = 0; g < ax.points(); ++g) {
      out += "| ";
      out += std::to_string(g);
      out += " |";
      for (const auto& v : ax.grid_points[g]) out += ' ' + v.dump() + " |";
      for (size_t m = 0; m < s.models.size(); ++m) {
        size_t n = 0;
        for (size_t c = 0; c < s.cells.size(); ++c) {
          const CellModelStats r = cell_model_stats(s, c, m);
          n += r.status == "done" && r.point == g;
        }
        out += ' ';
        out += std::to_string(n);
        out += " of ";
        out += std::to_string(s.cells.size());
        out += " cell types |";
      }
      out += "\n";
    }
  }

  out += "\n## Per model\n\n";
  out += "| model | runs done | mean test AUROC | median | min | max | mean valid AUROC | mean test AUPR | paper mean | paper median |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t m = 0; m < s.models.size(); ++m) {
    const ModelStats st = model_stats(s, m);
    const PaperSummary* p = n_sim == s.cells.size() ? nullptr : paper_summary(s.models[m]);  // over chosen means with axes
    const double lo = st.test.empty() ? std::nan("") : *std::min_element(st.test.begin(), st.test.end());
    const double hi = st.test.empty() ? std::nan("") : *std::max_element(st.test.begin(), st.test.end());
    out += "| " + s.models[m] + " | " + std::to_string(st.done) + "/" + std::to_string(s.cells.size()) + " | " +
           num(mean_of(st.test)) + " | " + num(median_of(st.test)) + " | " + num(lo) + " | " + num(hi) + " | " +
           num(mean_of(st.valid)) + " | " + num(mean_of(st.aupr)) + " | " + (p ? num(p->mean) : "") + " | " +
           (p ? num(p->median) : "") + " |\n";
  }
  if (n_sim < s.cells.size())
    out += "\nPublished means and medians are over all 56 cell types (DeepChrome: Bioinformatics 2016; AttentiveChrome and "
           "the LSTM baseline: NeurIPS 2017, whose table also gives AttentiveChrome's min 0.7215 and max 0.9177).\n";
  return out;
}

std::string auroc_vs_paper_svg(const SweepSummary& s) {
  using figures::Font;
  bool any_paper = false;
  for (size_t c = 0; c < s.cells.size(); ++c) any_paper |= !std::isnan(paper_auroc(s, c));

  // Axis range: every plotted AUROC, padded, in steps of 0.05.
  double lo = 1, hi = 0;
  auto widen = [&](double v) {
    if (std::isnan(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (size_t c = 0; c < s.cells.size(); ++c) {
    if (any_paper) widen(paper_auroc(s, c));
    for (size_t m = 0; m < s.models.size(); ++m) {
      const CellModelStats r = cell_model_stats(s, c, m);
      if (r.status != "done") continue;
      widen(r.test_mean);
      if (!std::isnan(r.test_sd)) {
        widen(r.test_mean - r.test_sd);
        widen(r.test_mean + r.test_sd);
      }
    }
  }
  if (lo > hi) { lo = 0.5; hi = 1.0; }
  lo = std::max(0.0, std::floor((lo - 0.01) / 0.05) * 0.05);
  hi = std::min(1.0, std::ceil((hi + 0.01) / 0.05) * 0.05);
  if (hi - lo < 0.1) hi = std::min(1.0, lo + 0.1);

  const double W = 560, H = 520, left = 70, right = 20, top = 50, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  const double n_x = std::max<double>(1, static_cast<double>(s.cells.size()));
  auto X = [&](double v) { return left + (v - lo) / (hi - lo) * pw; };
  auto Xi = [&](size_t i) { return left + (static_cast<double>(i) + 0.5) / n_x * pw; };
  auto Y = [&](double v) { return top + (1 - (v - lo) / (hi - lo)) * ph; };

  figures::Svg svg(W, H);
  const std::string title = any_paper ? "Test AUROC per cell type: ours vs the DeepChrome paper"
                                      : "Test AUROC per cell type (simulated data: no paper figures to compare)";
  svg.text(W / 2, 24, title, {.size = 15, .anchor = "middle", .bold = true});
  if (s.axes.any())
    svg.text(W / 2, 40,
             std::string(s.axes.seeds.empty() ? "one run" : "mean ± sample sd (n−1) over " + std::to_string(s.axes.seeds.size()) + " seeds") +
                 (s.axes.grid_points.empty() ? "" : " at each cell type's grid point of best mean valid AUROC"),
             {.size = 11, .anchor = "middle"});
  // Grid and ticks every 0.05.
  for (double v = lo; v <= hi + 1e-9; v += 0.05) {
    svg.line(left, Y(v), left + pw, Y(v), "stroke=\"#e6e6e6\"");
    svg.text(left - 6, Y(v) + 4, figures::format_fixed(v, 2), {.size = 11, .anchor = "end"});
    if (any_paper) {
      svg.line(X(v), top, X(v), top + ph, "stroke=\"#e6e6e6\"");
      svg.text(X(v), top + ph + 18, figures::format_fixed(v, 2), {.size = 11, .anchor = "middle"});
    }
  }
  svg.rect(left, top, pw, ph, "fill=\"none\" stroke=\"#444\"");
  if (any_paper) {
    svg.line(X(lo), Y(lo), X(hi), Y(hi), "stroke=\"#888\" stroke-dasharray=\"5,4\"");
    svg.text(left + pw / 2, H - 18, "DeepChrome paper test AUROC", {.anchor = "middle"});
  } else {
    svg.text(left + pw / 2, H - 18, "cell type (in config order)", {.anchor = "middle"});
  }
  svg.text(22, top + ph / 2, "our test AUROC", {.anchor = "middle", .rotate = -90});

  for (size_t m = 0; m < s.models.size(); ++m) {
    const std::string colour = figures::series_colour(m);
    svg.open_group("fill=\"" + colour + "\" fill-opacity=\"0.75\"");
    for (size_t c = 0; c < s.cells.size(); ++c) {
      const CellModelStats r = cell_model_stats(s, c, m);
      if (r.status != "done") continue;
      const double p = paper_auroc(s, c);
      if (any_paper && std::isnan(p)) continue;
      const double x = any_paper ? X(p) : Xi(c);
      const bool bar = !std::isnan(r.test_sd);
      if (bar) svg.line(x, Y(r.test_mean - r.test_sd), x, Y(r.test_mean + r.test_sd), "stroke=\"" + colour + "\"");
      svg.circle(x, Y(r.test_mean), 4, "",
                 s.cells[c] + " " + cell_name(s.cells[c]) + " " + s.models[m] + ": " + num(r.test_mean) +
                     (bar ? " ± " + num(r.test_sd) : "") +
                     (s.axes.grid_points.empty() ? "" : " (grid point " + std::to_string(r.point) + ")") +
                     (any_paper ? " (paper " + num(p) + ")" : ""));
    }
    svg.close_group();
    // Legend.
    const double ly = top + 16 + 18 * static_cast<double>(m);
    svg.circle(left + 14, ly - 4, 4, "fill=\"" + colour + "\"");
    svg.text(left + 24, ly, s.models[m]);
  }
  return svg.finish();
}

std::string summary_brief(const SweepSummary& s) {
  std::string out;
  for (size_t m = 0; m < s.models.size(); ++m) {
    const ModelStats st = model_stats(s, m);
    if (st.test.empty()) continue;
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-16s mean test AUROC %.4f over %zu cell types\n", s.models[m].c_str(), mean_of(st.test),
                  st.test.size());
    out += buf;
  }
  return out;
}

}  // namespace dc::io
