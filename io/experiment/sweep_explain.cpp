// Mark importance across a sweep's cell types (see sweep_explain.h): read each explained
// run's mark_importance.csv, lay the figures out as cell types x marks per model, method
// and class, and write them as one CSV and one heatmap per table.
#include "io/experiment/sweep_explain.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "io/experiment/paper.h"
#include "io/figures/plots.h"
#include "io/formats/atomic_file.h"
#include "kernels/base/error.h"

namespace dc::io {
namespace {

const char* const kClasses[2] = {"high", "low"};  // the order of rows and tables

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string marks_header() {
  std::string h;
  for (const char* m : kMarkNames) h += std::string(",") + m;
  return h;
}

// As explain's own CSV writes them (%.6g), so a value read and written again keeps its text.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out(1);
  for (char ch : line) {
    if (ch == ',')
      out.emplace_back();
    else
      out.back() += ch;
  }
  return out;
}

bool explain_enabled(const SweepJob& job) {
  const auto it = job.config.find("explain");
  return it != job.config.end() && it->is_object() && it->value("enabled", false);
}

std::string cell_label(const std::string& cell) {
  const PaperCell* p = find_paper_cell(cell);
  return p ? cell + " " + p->name : cell;
}

}  // namespace

std::vector<MarkImportanceRow> parse_mark_importance_csv(const std::string& text, const std::string& path) {
  std::vector<MarkImportanceRow> rows;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    if (line_no == 1) {
      if (line != "method,class" + marks_header())
        throw InputError(where + "expected the header \"method,class" + marks_header() + "\", got \"" + line + "\"");
      continue;
    }
    if (line.empty()) continue;
    const std::vector<std::string> f = split_fields(line);
    if (f.size() != 2 + kMarks)
      throw InputError(where + "expected " + std::to_string(2 + kMarks) + " fields, got " + std::to_string(f.size()));
    MarkImportanceRow r;
    r.method = f[0];
    r.cls = f[1];
    if (r.method.empty()) throw InputError(where + "the method is empty");
    if (r.cls != "high" && r.cls != "low") throw InputError(where + "class \"" + r.cls + "\": expected high or low");
    for (int m = 0; m < kMarks; ++m) {
      const std::string& s = f[static_cast<size_t>(2 + m)];
      double v = 0;
      const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v))
        throw InputError(where + kMarkNames[m] + ": \"" + s + "\" is not a number");
      r.values[static_cast<size_t>(m)] = v;
    }
    for (const MarkImportanceRow& seen : rows)
      if (seen.method == r.method && seen.cls == r.cls)
        throw InputError(where + "method " + r.method + ", class " + r.cls + " appears twice");
    rows.push_back(r);
  }
  if (line_no == 0) throw InputError(path + ": the file is empty");
  return rows;
}

size_t MarkImportanceTable::missing() const { return static_cast<size_t>(std::count(present.begin(), present.end(), false)); }

MarkImportanceSweep gather_mark_importance(const SweepConfig& s) {
  MarkImportanceSweep out;
  out.cells = s.cells;
  out.models = s.models;
  out.explained.assign(s.models.size(), 0);
  for (const SweepJob& job : s.jobs) out.enabled |= explain_enabled(job);
  if (!out.enabled) return out;

  const size_t n_cells = s.cells.size(), n_models = s.models.size();
  const size_t n_points = s.axes.points(), n_seeds = s.axes.seed_count();
  constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  // With axes: the runs' results, to find each (cell, model)'s chosen grid point.
  SweepSummary results;
  results.cells = s.cells;
  results.models = s.models;
  results.axes = s.axes;
  for (const SweepJob& job : s.jobs) {
    RunResult r{job.cell, job.model};
    if (s.axes.any() && exists(job.run_dir + "/metrics.json")) {
      try {
        r = read_run_result(job);
      } catch (const InputError&) {  // an interrupted run: not finished
      }
    }
    results.results.push_back(r);
  }
  for (size_t m = 0; m < n_models; ++m) {
    const size_t first_table = out.tables.size();
    std::vector<std::array<std::vector<int>, 2>> counts;  // per table: runs summed into each value
    for (size_t c = 0; c < n_cells; ++c) {
      const size_t point = s.axes.any() ? cell_model_stats(results, c, m).point : 0;
      bool explained = false;
      for (size_t k = 0; k < n_seeds; ++k) {
        const SweepJob& job = s.jobs[((c * n_models + m) * n_points + point) * n_seeds + k];  // see SweepConfig::jobs
        if (!explain_enabled(job) || !exists(job.run_dir + "/explain/explain.json")) continue;
        explained = true;
        const std::string path = job.run_dir + "/explain/mark_importance.csv";
        for (const MarkImportanceRow& row : parse_mark_importance_csv(read_file(path), path)) {
          auto it = std::find_if(out.tables.begin() + static_cast<std::ptrdiff_t>(first_table), out.tables.end(),
                                 [&](const MarkImportanceTable& t) { return t.method == row.method; });
          if (it == out.tables.end()) {  // a method first seen here
            MarkImportanceTable t;
            t.model = s.models[m];
            t.method = row.method;
            for (auto& v : t.values) v.assign(n_cells * kMarks, 0.0);
            t.present.assign(n_cells, false);
            out.tables.push_back(std::move(t));
            counts.push_back({std::vector<int>(n_cells, 0), std::vector<int>(n_cells, 0)});
            it = out.tables.end() - 1;
          }
          const size_t k_cls = row.cls == "high" ? 0 : 1;
          const size_t t = static_cast<size_t>(it - out.tables.begin()) - first_table;
          for (size_t j = 0; j < kMarks; ++j) it->values[k_cls][c * kMarks + j] += row.values[j];
          ++counts[t][k_cls][c];
        }
      }
      out.explained[m] += explained;
    }
    // The mean over the explained seeds (one run without seeds: its own figures); NaN where none.
    for (size_t t = first_table; t < out.tables.size(); ++t)
      for (size_t k_cls = 0; k_cls < 2; ++k_cls)
        for (size_t c = 0; c < n_cells; ++c) {
          const int n = counts[t - first_table][k_cls][c];
          for (size_t j = 0; j < kMarks; ++j) {
            double& v = out.tables[t].values[k_cls][c * kMarks + j];
            v = n == 0 ? kNone : n == 1 ? v : v / n;
          }
        }
    // A cell type counts as present for a method once both classes are there.
    for (size_t t = first_table; t < out.tables.size(); ++t)
      for (size_t c = 0; c < n_cells; ++c)
        out.tables[t].present[c] = !std::isnan(out.tables[t].values[0][c * kMarks]) && !std::isnan(out.tables[t].values[1][c * kMarks]);
  }
  return out;
}

std::string mark_importance_cells_csv(const MarkImportanceSweep& m) {
  std::string out = "model,method,class,cell" + marks_header() + "\n";
  for (const MarkImportanceTable& t : m.tables)
    for (size_t k = 0; k < 2; ++k)
      for (size_t c = 0; c < m.cells.size(); ++c) {
        if (!t.present[c]) continue;
        out += t.model + "," + t.method + "," + kClasses[k] + "," + m.cells[c];
        for (int j = 0; j < kMarks; ++j) {
          out += ',';
          out += number(t.values[k][c * kMarks + static_cast<size_t>(j)]);
        }
        out += "\n";
      }
  return out;
}

std::vector<NamedFigure> mark_importance_figures(const MarkImportanceSweep& m) {
  std::vector<NamedFigure> out;
  for (const MarkImportanceTable& t : m.tables) {
    const size_t missing = t.missing();
    for (size_t k = 0; k < 2; ++k) {
      figures::CategoryHeatmap h;
      h.title = "Mark importance per cell type: " + t.model + ", " + t.method + ", class " + kClasses[k];
      if (missing)
        h.title += " (" + std::to_string(missing) + " of " + std::to_string(m.cells.size()) + " cell types not explained yet)";
      for (const std::string& cell : m.cells) h.rows.push_back(cell_label(cell));
      h.columns.assign(kMarkNames, kMarkNames + kMarks);
      h.panels.push_back({"", t.values[k]});
      h.value_label = "share";  // of the map's positive part (explain_report.h)
      h.scale = figures::ColourScale::Sequential;
      h.range = figures::ValueRange{0, 1};
      out.push_back({"mark_importance_" + t.model + "_" + t.method + "_" + kClasses[k] + ".svg", figures::category_heatmap_svg(h)});
    }
  }
  return out;
}

size_t write_mark_importance_outputs(const std::string& dir, const MarkImportanceSweep& m) {
  if (!m.enabled) return 0;
  write_file_atomic(dir + "/mark_importance_cells.csv", mark_importance_cells_csv(m));
  const std::vector<NamedFigure> figs = mark_importance_figures(m);
  for (const NamedFigure& f : figs) write_file_atomic(dir + "/" + f.file, f.svg);
  return 1 + figs.size();
}

std::string mark_importance_md(const MarkImportanceSweep& m) {
  if (!m.enabled) return "";
  std::string out = "\n## Mark importance across cell types\n\n";
  out += "Each explained run's `explain/mark_importance.csv`, gathered: `mark_importance_cells.csv` (one row per model, "
         "method, class and cell type) and one heatmap per model, method and class (cell types x marks, each mark's "
         "share of the map's positive part).";
  for (size_t i = 0; i < m.models.size(); ++i)
    out += (i ? "," : " Explained so far:") + std::string(" `") + m.models[i] + "` " + std::to_string(m.explained[i]) +
           " of " + std::to_string(m.cells.size()) + " cell types";
  out += ".\n";
  for (const MarkImportanceTable& t : m.tables)
    for (size_t k = 0; k < 2; ++k) {
      const std::string file = "mark_importance_" + t.model + "_" + t.method + "_" + kClasses[k] + ".svg";
      out += "\n### " + t.model + ", " + t.method + ", class " + kClasses[k] + "\n\n![" + t.model + " " + t.method + " " +
             kClasses[k] + "](" + file + ")\n";
    }
  return out;
}

std::string mark_importance_status(const MarkImportanceSweep& m) {
  if (!m.enabled) return "";
  std::string s = "mark importance across cell types: mark_importance_cells.csv and " + std::to_string(2 * m.tables.size()) +
                  " figures (";
  for (size_t i = 0; i < m.models.size(); ++i)
    s += (i ? ", " : "") + m.models[i] + ": " + std::to_string(m.explained[i]) + " of " + std::to_string(m.cells.size()) +
         " cell types explained";
  return s + ")";
}

}  // namespace dc::io
