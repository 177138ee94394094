#include "io/experiment/explain_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "io/figures/html_report.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

namespace dc::io {
namespace {

namespace fig = io::figures;

const char* kClassName[2] = {"low", "high"};

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string bins_header() {
  std::string h;
  for (int b = 1; b <= kBins; ++b) h += ",b" + std::to_string(b);
  return h;
}

std::vector<std::string> mark_names() { return std::vector<std::string>(kMarkNames, kMarkNames + kMarks); }

std::string mark_importance_csv(const ExplainResult& r) {
  std::string s = "method,class";
  for (const char* m : kMarkNames) s += std::string(",") + m;
  s += "\n";
  auto row = [&](const std::string& method, const char* cls, const std::vector<double>& imp) {
    s += method + "," + cls;
    for (double v : imp) (s += ',') += number(v);
    s += "\n";
  };
  for (const MethodMaps& m : r.methods) {
    row(m.method, "high", explain::mark_importance(m.high));
    row(m.method, "low", explain::mark_importance(m.low));
  }
  if (r.attention.available && !r.attention.marks[1].empty()) {  // beta is a distribution over the marks already
    row("attention", "high", r.attention.marks[1]);
    row("attention", "low", r.attention.marks[0]);
  }
  return s;
}

std::string attention_bins_csv(const explain::AttentionMeans& a) {
  std::string s = "class,mark" + bins_header() + "\n";
  for (int c : {1, 0})
    for (int row = 0; row < a.rows; ++row) {
      s += std::string(kClassName[c]) + "," + (a.rows == 1 ? "all" : kMarkNames[row]);
      for (int b = 0; b < kBins; ++b) (s += ',') += number(a.bins[c][static_cast<size_t>(row) * kBins + b]);
      s += "\n";
    }
  return s;
}

std::string attention_marks_csv(const explain::AttentionMeans& a) {
  std::string s = "class";
  for (const char* m : kMarkNames) s += std::string(",") + m;
  s += "\n";
  for (int c : {1, 0}) {
    s += kClassName[c];
    for (double v : a.marks[c]) (s += ',') += number(v);
    s += "\n";
  }
  return s;
}

std::string genes_csv(const GeneMaps& g) {
  std::string s = "gene_id,mark" + bins_header() + "\n";
  for (size_t j = 0; j < g.gene_ids.size(); ++j)
    for (int m = 0; m < kMarks; ++m) {
      s += g.gene_ids[j] + "," + kMarkNames[m];
      for (int b = 0; b < kBins; ++b) (s += ',') += number(g.maps[j * explain::kMapSize + static_cast<size_t>(m) * kBins + b]);
      s += "\n";
    }
  return s;
}

std::string truth_csv(const std::vector<TruthComparison>& t) {
  std::string s = "method,class,spearman_rho,tss_mark,peak_bin,planted_peak_bin,peak_within_5_bins\n";
  for (const TruthComparison& c : t) {
    s += c.method + "," + c.cls + "," + number(c.rho) + "," + c.mark + ",";
    if (c.mark.empty()) s += ",,\n";
    else
      s += std::to_string(c.peak_bin) + "," + std::to_string(c.planted_peak_bin) + "," +
           (std::abs(c.peak_bin - c.planted_peak_bin) <= 5 ? "yes" : "no") + "\n";
  }
  return s;
}

const char* method_title(const std::string& method) {
  if (method == "class-map") return "Class maps (the input the model finds most typical of each class)";
  if (method == "grad-input") return "Gradient x input of P(class), mean over the genes of the class";
  if (method == "integrated-gradients") return "Integrated gradients of P(class), mean over the genes of the class";
  return "";
}

std::string method_heatmap(const MethodMaps& m) {
  fig::BinHeatmap h;
  h.title = method_title(m.method);
  h.rows = mark_names();
  h.panels = {{"class high", m.high}, {"class low", m.low}};
  h.value_label = m.method == "class-map" ? "map value (max = 1)" : "attribution";
  h.scale = m.method == "class-map" ? fig::ColourScale::Sequential : fig::ColourScale::Diverging;
  return fig::bin_heatmap_svg(h);
}

std::string importance_bars(const ExplainResult& r) {
  fig::GroupedBars b;
  b.title = "Mark importance per method and class";
  b.y_label = "share of the positive evidence";
  b.groups = mark_names();
  for (const MethodMaps& m : r.methods)
    for (int c : {1, 0}) {
      b.series.push_back(m.method + " " + kClassName[c]);
      const std::vector<double> imp = explain::mark_importance(c == 1 ? m.high : m.low);
      b.values.insert(b.values.end(), imp.begin(), imp.end());
    }
  if (r.attention.available && !r.attention.marks[1].empty())
    for (int c : {1, 0}) {
      b.series.push_back(std::string("attention ") + kClassName[c]);
      b.values.insert(b.values.end(), r.attention.marks[c].begin(), r.attention.marks[c].end());
    }
  return fig::grouped_bars_svg(b);
}

// The run's report, or (for a folder without metrics: an imported published model) a bare
// one naming the model.
fig::RunReport run_report_or_bare(const std::string& run_dir, const std::string& model) {
  try {
    return fig::load_run_report(run_dir);
  } catch (const InputError&) {
    fig::RunReport r;
    r.run_dir = run_dir;
    r.model = model;
    return r;
  }
}

}  // namespace

std::string map_csv(const explain::Map& map) {
  std::string s = "mark" + bins_header() + "\n";
  for (int m = 0; m < kMarks; ++m) {
    s += kMarkNames[m];
    for (int b = 0; b < kBins; ++b) (s += ',') += number(map[static_cast<size_t>(m) * kBins + b]);
    s += "\n";
  }
  return s;
}

std::vector<TruthComparison> compare_with_truth(const ExplainResult& r) {
  std::vector<TruthComparison> out;
  if (!r.truth) return out;
  const nlohmann::json& t = *r.truth;
  std::vector<double> effect(kMarks, 0.0);
  std::vector<int> peak(kMarks, 0), width(kMarks, 0);
  try {
    for (const auto& m : t.at("marks")) {
      const std::string name = m.at("mark").get<std::string>();
      const auto it = std::find(kMarkNames, kMarkNames + kMarks, name);
      if (it == kMarkNames + kMarks) throw InputError("truth.json: unknown mark '" + name + "'");
      const size_t i = static_cast<size_t>(it - kMarkNames);
      effect[i] = m.at("total_effect").get<double>();
      peak[i] = m.at("peak_bin").get<int>();
      width[i] = m.at("bins").at(1).get<int>() - m.at("bins").at(0).get<int>() + 1;
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("truth.json: unexpected content (") + e.what() + ")");
  }
  auto add = [&](const std::string& method, int c, const explain::Map& map, const std::vector<double>& importance) {
    TruthComparison tc;
    tc.method = method;
    tc.cls = kClassName[c];
    std::vector<double> planted(kMarks);
    for (int m = 0; m < kMarks; ++m) planted[m] = c == 1 ? effect[m] : -effect[m];
    tc.rho = explain::spearman(importance, planted);
    // A TSS-centred mark of this class: planted for it, narrow (< 30 bins), peaking within 5
    // bins of the TSS (between bins 50 and 51).
    for (int m = 0; m < kMarks && !map.empty(); ++m)
      if (planted[m] > 0 && width[m] < 30 && std::abs(peak[m] - 50.5) <= 5) {
        const auto row = map.begin() + static_cast<std::ptrdiff_t>(m) * kBins;
        tc.mark = kMarkNames[m];
        tc.peak_bin = static_cast<int>(std::max_element(row, row + kBins) - row) + 1;
        tc.planted_peak_bin = peak[m];
        break;
      }
    out.push_back(tc);
  };
  for (const MethodMaps& m : r.methods)
    for (int c : {1, 0}) {
      const explain::Map& map = c == 1 ? m.high : m.low;
      add(m.method, c, map, explain::mark_importance(map));
    }
  if (r.attention.available && !r.attention.marks[1].empty())
    for (int c : {1, 0}) add("attention", c, {}, r.attention.marks[c]);
  return out;
}

void write_explain_outputs(const std::string& out_dir, const std::string& run_dir, const ExplainResult& r) {
  ensure_directory(out_dir);
  const std::string d = out_dir + "/";
  fig::ReportSection learned{"What the model learned",
                             "Marks top to bottom in the data release's order; bins 1..100 span TSS-5 kb .. TSS+5 kb "
                             "(the TSS lies between bins 50 and 51). Computed by `deepchrome explain`.",
                             {},
                             {}};
  nlohmann::json files = nlohmann::json::array();
  auto write = [&](const std::string& name, const std::string& text) {
    write_file_atomic(d + name, text);
    files.push_back(name);
  };
  for (const MethodMaps& m : r.methods) {
    write(m.file_prefix + "_high.csv", map_csv(m.high));
    write(m.file_prefix + "_low.csv", map_csv(m.low));
    if (!m.high_sd.empty()) {
      write(m.file_prefix + "_high_sd.csv", map_csv(m.high_sd));
      write(m.file_prefix + "_low_sd.csv", map_csv(m.low_sd));
    }
    const std::string svg = method_heatmap(m);
    write(m.file_prefix + ".svg", svg);
    learned.figures.push_back({method_title(m.method), m.file_prefix + "_high.csv / " + m.file_prefix + "_low.csv", svg});
  }
  for (const GeneMaps& g : r.genes) write(g.file_prefix + "_genes_" + kClassName[g.cls] + ".csv", genes_csv(g));
  if (r.attention.available) {
    write("attention_bins_mean.csv", attention_bins_csv(r.attention));
    fig::BinHeatmap h;
    h.title = "Mean attention over the bins (alpha)";
    h.rows = r.attention.rows == 1 ? std::vector<std::string>{"all marks"} : mark_names();
    h.panels = {{"class high", r.attention.bins[1]}, {"class low", r.attention.bins[0]}};
    h.value_label = "mean attention α";
    h.scale = fig::ColourScale::Sequential;
    const std::string svg = fig::bin_heatmap_svg(h);
    write("attention_bins.svg", svg);
    learned.figures.push_back({h.title, "attention_bins_mean.csv", svg});
    if (!r.attention.marks[1].empty()) {
      write("attention_marks_mean.csv", attention_marks_csv(r.attention));
      fig::GroupedBars b;
      b.title = "Mean attention over the marks (beta)";
      b.y_label = "mean attention β";
      b.groups = mark_names();
      b.series = {"class high", "class low"};
      b.values = r.attention.marks[1];
      b.values.insert(b.values.end(), r.attention.marks[0].begin(), r.attention.marks[0].end());
      const std::string svg_b = fig::grouped_bars_svg(b);
      write("attention_marks.svg", svg_b);
      learned.figures.push_back({b.title, "attention_marks_mean.csv", svg_b});
    }
  }
  const std::string importance = mark_importance_csv(r);
  write("mark_importance.csv", importance);
  if (!r.methods.empty() || (r.attention.available && !r.attention.marks[1].empty())) {
    const std::string svg = importance_bars(r);
    write("mark_importance.svg", svg);
    learned.figures.push_back({"Mark importance", "mark_importance.csv", svg});
  }
  learned.tables.push_back(fig::table_from_csv("Mark importance", "the positive part of each map summed over the bins, normalised",
                                               importance, "mark_importance.csv"));
  if (r.truth) {
    const std::string t = truth_csv(compare_with_truth(r));
    write("truth.csv", t);
    learned.tables.push_back(fig::table_from_csv(
        "Against the simulator's planted effects",
        "Spearman's rho between each method's mark importance and the planted evidence for the class (truth.json); "
        "where the TSS-centred mark peaks in the map against where it was planted",
        t, "truth.csv"));
  }
  fig::RunReport report = run_report_or_bare(run_dir, r.model);
  report.sections.push_back(std::move(learned));
  fig::write_report_html(d + "report.html", report);
  files.push_back("report.html");
  nlohmann::json info = r.info;
  info["files"] = files;
  write_file_atomic(d + "explain.json", info.dump(2) + "\n");  // last: the explain is complete
}

}  // namespace dc::io
