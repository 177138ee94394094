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

const RunResult& result(const SweepSummary& s, size_t cell, size_t model) { return s.results[cell * s.models.size() + model]; }

// Per model: test AUROC of the finished runs, and the paper's figure for the same cells.
struct ModelStats {
  std::vector<double> valid, test, aupr, paper, diff;
  int done = 0;
};
ModelStats model_stats(const SweepSummary& s, size_t m) {
  ModelStats st;
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const RunResult& r = result(s, c, m);
    if (r.status != "done") continue;
    ++st.done;
    st.valid.push_back(r.valid_auroc);
    st.test.push_back(r.test_auroc);
    st.aupr.push_back(r.test_aupr);
    const double p = paper_auroc(s, c);
    if (!std::isnan(p)) {
      st.paper.push_back(p);
      st.diff.push_back(r.test_auroc - p);
    }
  }
  return st;
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
  json settings = {{"parallel_runs", 1}, {"models", json::array()}};
  try {
    merge_validated(settings, sweep, "sweep");
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }

  SweepConfig s;
  s.source = path;
  s.parallel_runs = settings["parallel_runs"].get<int>();
  if (s.parallel_runs < 1) throw InputError(path + ": sweep.parallel_runs: must be >= 1");

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

  for (const auto& cell : s.cells) {
    for (size_t m = 0; m < configs.size(); ++m) {
      SweepJob job;
      job.cell = cell;
      job.model = s.models[m];
      job.run_dir = s.output_dir + "/" + cell + "/" + job.model;
      job.config = configs[m].resolved;
      job.config["data"]["cells"] = {cell};
      job.config["threads"] = s.threads_per_run;
      s.jobs.push_back(std::move(job));
    }
  }
  return s;
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

std::string summary_csv(const SweepSummary& s) {
  std::string out = "cell,cell_name,model,status,best_epoch,valid_auroc,test_auroc,test_aupr,paper_auroc,diff_vs_paper\n";
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const double paper = paper_auroc(s, c);
    for (size_t m = 0; m < s.models.size(); ++m) {
      const RunResult& r = result(s, c, m);
      const bool done = r.status == "done";
      out += s.cells[c] + "," + cell_name(s.cells[c]) + "," + s.models[m] + "," + r.status + ",";
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
  for (const char* stat : {"mean", "median"}) {
    for (size_t m = 0; m < s.models.size(); ++m) {
      const ModelStats st = model_stats(s, m);
      auto f = [&](const std::vector<double>& v) { return std::string(stat) == "mean" ? mean_of(v) : median_of(v); };
      out += std::string(stat) + ",," + s.models[m] + "," + std::to_string(st.done) + "/" + std::to_string(s.cells.size()) +
             ",," + num(f(st.valid)) + "," + num(f(st.test)) + "," + num(f(st.aupr)) + "," + num(f(st.paper)) + "," +
             num(f(st.diff), "%+.4f") + "\n";
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

  out += "| cell | name | paper |";
  std::string rule = "|---|---|---:|";
  for (const auto& m : s.models) {
    out += " " + m + " | Δ |";
    rule += "---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (size_t c = 0; c < s.cells.size(); ++c) {
    const double paper = paper_auroc(s, c);
    out += "| " + s.cells[c] + " | " + cell_name(s.cells[c]) + " | " + num(paper) + " |";
    for (size_t m = 0; m < s.models.size(); ++m) {
      const RunResult& r = result(s, c, m);
      out += ' ';
      out += r.status == "done" ? num(r.test_auroc) : r.status;
      out += " | ";
      out += r.status == "done" ? num(r.test_auroc - paper, "%+.4f") : std::string();
      out += " |";
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
    }
    out += "\n";
  }

  out += "\n## Per model\n\n";
  out += "| model | runs done | mean test AUROC | median | min | max | mean valid AUROC | mean test AUPR | paper mean | paper median |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t m = 0; m < s.models.size(); ++m) {
    const ModelStats st = model_stats(s, m);
    const PaperSummary* p = n_sim == s.cells.size() ? nullptr : paper_summary(s.models[m]);
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
    for (size_t m = 0; m < s.models.size(); ++m)
      if (result(s, c, m).status == "done") widen(result(s, c, m).test_auroc);
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
      const RunResult& r = result(s, c, m);
      if (r.status != "done") continue;
      const double p = paper_auroc(s, c);
      if (any_paper && std::isnan(p)) continue;
      const double x = any_paper ? X(p) : Xi(c);
      svg.circle(x, Y(r.test_auroc), 4, "",
                 s.cells[c] + " " + cell_name(s.cells[c]) + " " + s.models[m] + ": " + num(r.test_auroc) +
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

}  // namespace dc::io
