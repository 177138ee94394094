// Mark importance across a sweep's cell types: the DeepChrome paper's cell type x mark
// picture, gathered from every explained run's explain/mark_importance.csv (see
// io/experiment/explain_report.h; explain.json, written last, marks an explained run).
//
// With explain on (the config's "explain" section), the sweep writes beside its summary:
//   mark_importance_cells.csv                      model,method,class,cell,H3K27me3,...,H3K9me3:
//       one row per explained (model, method, class, cell), the run's own figures; rows by
//       model (sweep order), method (the order of the runs' files), class high then low,
//       cell (sweep order)
//   mark_importance_<model>_<method>_<class>.svg   cell types x marks heatmap on 0..1; cell
//       types not explained yet are grey rows and counted in the title
// With seeds / a grid (io/experiment/sweep.h), a (cell, model)'s figures are the mean over the
// explained seeds of its chosen grid point (the one summary.md shows: the highest mean valid
// AUROC over its finished seeds), so the picture matches the AUROCs beside it; a cell type
// counts as explained once one of those seeds is.
// Like the rest of the summary these are a pure function of the runs' files, so a resumed
// sweep ends with the same bytes as an uninterrupted one. With explain off: no files.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "io/experiment/sweep.h"
#include "io/formats/dataset.h"

namespace dc::io {

// One row of a run's mark_importance.csv.
struct MarkImportanceRow {
  std::string method, cls;  // cls: "high" or "low"
  std::array<double, kMarks> values{};
};
// Parses a run's mark_importance.csv (header method,class,<the five marks in the release's
// order>). InputError naming `path` and the line for anything else.
std::vector<MarkImportanceRow> parse_mark_importance_csv(const std::string& text, const std::string& path);

// One model and method across the sweep's cell types.
struct MarkImportanceTable {
  std::string model, method;
  // [0] class high, [1] class low: cells x kMarks values, cell-major; NaN for a cell type
  // without this method's figures (not explained yet).
  std::array<std::vector<double>, 2> values;
  std::vector<bool> present;  // per cell type
  size_t missing() const;     // cell types without figures
};

struct MarkImportanceSweep {
  bool enabled = false;  // some model of the sweep explains its runs
  std::vector<std::string> cells, models;
  std::vector<MarkImportanceTable> tables;  // by model (sweep order), then method
  std::vector<size_t> explained;            // per model: cell types with an explained run
};

// Reads every explained run of the sweep (no runs read when explain is off).
MarkImportanceSweep gather_mark_importance(const SweepConfig& s);

std::string mark_importance_cells_csv(const MarkImportanceSweep& m);

struct NamedFigure {
  std::string file, svg;
};
// mark_importance_<model>_<method>_{high,low}.svg for every table.
std::vector<NamedFigure> mark_importance_figures(const MarkImportanceSweep& m);

// Writes the CSV and the figures into `dir`, each atomically; nothing when explain is off.
// Returns the number of files written.
size_t write_mark_importance_outputs(const std::string& dir, const MarkImportanceSweep& m);

// The section summary.md ends with when explain is on: the CSV and every figure, linked
// (Markdown images, relative to the sweep's output directory), with how many cell types each
// model has explained; empty when explain is off.
std::string mark_importance_md(const MarkImportanceSweep& m);

// For the console, e.g. "mark importance across cell types: mark_importance_cells.csv and 6
// figures (deepchrome: 3 of 3 cell types explained)"; empty when explain is off.
std::string mark_importance_status(const MarkImportanceSweep& m);

}  // namespace dc::io
