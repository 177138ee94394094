// The program's figures as SVG text, from plain data (no models, no engine):
//   bin_heatmap_svg       a marks x bins map around the TSS (class maps, attributions, attention)
//   category_heatmap_svg  a rows x columns map, e.g. cell types x marks across a sweep
//   grouped_bars_svg      bars per group and series, e.g. mark importance per class and method
//   training_curves_svg   train loss and valid AUROC per epoch, best epoch marked
//   roc_svg / pr_svg      ROC and precision-recall curves with their areas in the legend
//
// Every function returns one standalone <svg> (see io/figures/svg.h): the same data give
// the same bytes. Data of the wrong shape is a programming error (dc::Error naming the
// figure and the sizes); empty data or data without a single finite value draws a figure
// that says "no data"; single non-finite values are drawn as missing (grey heatmap cells,
// gaps in lines, absent bars) and the figure says so.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/metrics.h"

namespace dc::io::figures {

enum class ColourScale {
  Auto,        // Diverging when any value is negative, else Sequential
  Sequential,  // viridis from 0 (or the minimum, when negative) to the maximum
  Diverging,   // blue - white - red, symmetric about 0: [-max|v|, +max|v|]
};

// A fixed range for a colour scale, e.g. 0..1 for shares, so that figures of one kind
// compare at a glance; values outside it take the colour of the nearer end.
struct ValueRange {
  double lo = 0, hi = 1;
};

// One map of a multi-panel heatmap: rows x columns values, row-major.
struct HeatmapPanel {
  std::string title;  // e.g. "class high"
  std::vector<double> values;
};

// Marks x bins around the TSS. Bin 1 covers [kb_from, kb_from + step), the last bin ends at
// kb_to; with the data release's 100 bins of 100 bp, bins 1..100 span TSS-5kb..TSS+5kb and
// the TSS lies between bins 50 and 51. Panels are stacked vertically on one colour scale.
struct BinHeatmap {
  std::string title;
  std::vector<std::string> rows;  // marks, top to bottom
  int bins = 100;
  double kb_from = -5, kb_to = 5;
  std::vector<HeatmapPanel> panels;  // each rows.size() * bins values
  std::string value_label;           // the colour bar's caption, e.g. "mean attention α"
  ColourScale scale = ColourScale::Auto;
};
std::string bin_heatmap_svg(const BinHeatmap& map);

// Rows x columns with categorical labels, panels side by side on one colour scale, each
// cell with a tooltip "row · column: value" (e.g. 56 cell types x 5 marks, class high | low).
struct CategoryHeatmap {
  std::string title;
  std::vector<std::string> rows, columns;
  std::vector<HeatmapPanel> panels;  // each rows.size() * columns.size() values
  std::string value_label;
  ColourScale scale = ColourScale::Auto;
  std::optional<ValueRange> range;  // none: the colour scale spans the data (as `scale` says)
};
std::string category_heatmap_svg(const CategoryHeatmap& map);

// Bars for each group (along x) and series (side by side within a group, in the legend).
struct GroupedBars {
  std::string title, y_label;
  std::vector<std::string> groups;  // e.g. the 5 marks
  std::vector<std::string> series;  // e.g. "class-map high", "grad-input high", ...
  std::vector<double> values;       // series-major: values[s * groups.size() + g]
};
std::string grouped_bars_svg(const GroupedBars& bars);

// Two panels: train loss and valid AUROC against the epoch; best_epoch (0: none) marked.
struct TrainingCurves {
  std::string title;
  std::vector<int> epochs;
  std::vector<double> train_loss, valid_auroc;  // one per epoch
  int best_epoch = 0;
};
std::string training_curves_svg(const TrainingCurves& curves);

struct RocSeries {
  std::string label;  // legend: "<label> (AUROC 0.812)"
  RocCurve curve;
  double auroc = 0;
};
// ROC curves with the chance diagonal.
std::string roc_svg(const std::string& title, const std::vector<RocSeries>& series);

struct PrSeries {
  std::string label;  // legend: "<label> (AUPR 0.801)"
  PrCurve curve;
  double aupr = 0;
};
// Precision-recall curves drawn as the steps whose area is the average precision, with the
// baseline of a random ranking at `prevalence` (the fraction of positives; NaN: none drawn).
std::string pr_svg(const std::string& title, const std::vector<PrSeries>& series, double prevalence);

}  // namespace dc::io::figures
