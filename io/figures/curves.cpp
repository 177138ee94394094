// Line figures: training curves (loss and valid AUROC per epoch), ROC and precision-recall.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "kernels/base/error.h"
#include "io/figures/axes.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"

namespace dc::io::figures {
namespace {

using Points = std::vector<std::pair<double, double>>;

// Finite (x, y) runs of a series: a non-finite y ends a run (a gap in the line).
std::vector<Points> finite_runs(const Axes& a, const std::vector<int>& x, const std::vector<double>& y) {
  std::vector<Points> runs(1);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(y[i])) {
      if (!runs.back().empty()) runs.emplace_back();
      continue;
    }
    runs.back().emplace_back(a.X(x[i]), a.Y(y[i]));
  }
  if (runs.back().empty()) runs.pop_back();
  return runs;
}

// One training-curve panel: the series, its markers, and the best epoch.
void epoch_panel(Svg& svg, const Axes& a, const Ticks& xt, const Ticks& yt, const TrainingCurves& c,
                 const std::vector<double>& y, const std::string& name, const char* colour) {
  svg.text(a.left, a.top - 10, name, {.size = 13, .bold = true});
  draw_axes(svg, a, xt, yt, "epoch", name);
  if (c.best_epoch > 0) {
    const double x = a.X(c.best_epoch);
    svg.line(x, a.top, x, a.bottom(), "class=\"best-epoch\" stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"5,4\"");
  }
  const std::string stroke = std::string("stroke=\"") + colour + "\" stroke-width=\"2\"";
  for (const Points& run : finite_runs(a, c.epochs, y)) svg.polyline(run, stroke);
  if (c.epochs.size() <= 40) {
    svg.open_group(std::string("fill=\"") + colour + "\"");
    for (size_t i = 0; i < c.epochs.size(); ++i)
      if (std::isfinite(y[i]))
        svg.circle(a.X(c.epochs[i]), a.Y(y[i]), 3, "", "epoch " + std::to_string(c.epochs[i]) + ": " + format_fixed(y[i], 4));
    svg.close_group();
  }
  // The best epoch's value, ringed.
  for (size_t i = 0; i < c.epochs.size(); ++i)
    if (c.epochs[i] == c.best_epoch && std::isfinite(y[i]))
      svg.circle(a.X(c.epochs[i]), a.Y(y[i]), 6, std::string("fill=\"none\" stroke=\"#111\" stroke-width=\"1.5\""),
                 "best epoch " + std::to_string(c.best_epoch) + ": " + format_fixed(y[i], 4));
}

// y range of a panel: the finite values, padded by 5%, on whole ticks.
bool value_ticks(const std::vector<double>& y, double clamp_lo, double clamp_hi, Ticks& ticks) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : y)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (lo > hi) return false;
  const double pad = hi > lo ? (hi - lo) * 0.05 : std::max(0.01, std::fabs(hi) * 0.05);
  ticks = covering_ticks(std::max(clamp_lo, lo - pad), std::min(clamp_hi, hi + pad), 5);
  return true;
}

// A square unit plot (rates and precision/recall are in [0, 1]) with its legend below.
struct UnitPlot {
  Axes axes;
  double width = 0, height = 0, legend_y = 0;
};
UnitPlot unit_plot(const std::vector<LegendEntry>& legend, const std::string& title) {
  UnitPlot p;
  Axes& a = p.axes;
  a.left = 68;
  a.top = 44;
  a.width = a.height = 300;
  p.width = std::ceil(std::max(a.right() + 24, title_width(title)));
  p.legend_y = a.bottom() + 46;
  p.height = std::ceil(p.legend_y + legend_height(legend, p.width - a.left) + 10);
  return p;
}

const Ticks kUnitTicks = {{0, 0.2, 0.4, 0.6, 0.8, 1.0}, 0.2, 1};

}  // namespace

std::string training_curves_svg(const TrainingCurves& c) {
  if (c.train_loss.size() != c.epochs.size() || c.valid_auroc.size() != c.epochs.size())
    throw Error("training curves: " + std::to_string(c.epochs.size()) + " epochs, " + std::to_string(c.train_loss.size()) +
                " losses, " + std::to_string(c.valid_auroc.size()) + " AUROCs");
  Ticks loss_ticks, auroc_ticks;
  if (c.epochs.empty() || !value_ticks(c.train_loss, -std::numeric_limits<double>::infinity(),
                                       std::numeric_limits<double>::infinity(), loss_ticks))
    return no_data_svg(c.title, "no data: no finite training loss", 760, 200);
  const bool have_auroc = value_ticks(c.valid_auroc, 0, 1, auroc_ticks);

  const auto [first, last] = std::minmax_element(c.epochs.begin(), c.epochs.end());
  const double span = *last - *first;
  const double pad = std::max(0.5, span * 0.03);
  const Ticks xt = nice_ticks(*first - pad, *last + pad, 6, 1);

  Axes loss;
  loss.left = 78;
  loss.top = 70;
  loss.width = 290;
  loss.height = 220;
  loss.x_lo = *first - pad;
  loss.x_hi = *last + pad;
  loss.y_lo = loss_ticks.values.front();
  loss.y_hi = loss_ticks.values.back();
  Axes auroc = loss;
  auroc.left = loss.right() + 100;
  const double width = std::ceil(std::max(auroc.right() + 24, title_width(c.title))), height = std::ceil(loss.bottom() + 50);

  Svg svg(width, height);
  svg.text(width / 2, 24, c.title, {.size = 15, .anchor = "middle", .bold = true});
  if (c.best_epoch > 0) svg.text(width / 2, 44, "best validation epoch: " + std::to_string(c.best_epoch) + " (dashed line)",
                                 {.size = 12, .anchor = "middle", .fill = "#555"});
  epoch_panel(svg, loss, xt, loss_ticks, c, c.train_loss, "train loss", series_colour(0));
  if (have_auroc) {
    auroc.y_lo = auroc_ticks.values.front();
    auroc.y_hi = auroc_ticks.values.back();
    epoch_panel(svg, auroc, xt, auroc_ticks, c, c.valid_auroc, "valid AUROC", series_colour(1));
  } else {
    svg.text(auroc.left, auroc.top - 10, "valid AUROC", {.size = 13, .bold = true});
    svg.no_data(auroc.left, auroc.top, auroc.width, auroc.height, "no finite valid AUROC");
  }
  return svg.finish();
}

std::string roc_svg(const std::string& title, const std::vector<RocSeries>& series) {
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < series.size(); ++i) {
    const RocCurve& c = series[i].curve;
    if (c.fpr.size() != c.tpr.size()) throw Error("ROC figure: series \"" + series[i].label + "\" has fpr and tpr of different lengths");
    legend.push_back({series[i].label + " (AUROC " + format_fixed(series[i].auroc, 3) + ")", series_colour(i), LegendEntry::Line});
  }
  legend.push_back({"chance (AUROC 0.5)", "#888", LegendEntry::DashedLine});
  bool any = false;
  for (const auto& s : series) any |= !s.curve.fpr.empty();
  if (!any) return no_data_svg(title, "no data: no ROC curve to draw");

  UnitPlot p = unit_plot(legend, title);
  const Axes& a = p.axes;
  Svg svg(p.width, p.height);
  svg.text(p.width / 2, 24, title, {.size = 15, .anchor = "middle", .bold = true});
  draw_axes(svg, a, kUnitTicks, kUnitTicks, "false positive rate (1 \xE2\x88\x92 specificity)", "true positive rate (sensitivity)");
  svg.line(a.X(0), a.Y(0), a.X(1), a.Y(1), "class=\"chance\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"");
  for (size_t i = 0; i < series.size(); ++i) {
    Points pts;
    const RocCurve& c = series[i].curve;
    for (size_t k = 0; k < c.fpr.size(); ++k)
      if (std::isfinite(c.fpr[k]) && std::isfinite(c.tpr[k])) pts.emplace_back(a.X(c.fpr[k]), a.Y(c.tpr[k]));
    svg.polyline(pts, std::string("class=\"curve\" stroke=\"") + series_colour(i) + "\" stroke-width=\"2\" stroke-linejoin=\"round\"");
  }
  draw_legend(svg, legend, a.left, p.legend_y, p.width - a.left);
  return svg.finish();
}

std::string pr_svg(const std::string& title, const std::vector<PrSeries>& series, double prevalence) {
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < series.size(); ++i) {
    const PrCurve& c = series[i].curve;
    if (c.precision.size() != c.recall.size())
      throw Error("PR figure: series \"" + series[i].label + "\" has precision and recall of different lengths");
    legend.push_back({series[i].label + " (AUPR " + format_fixed(series[i].aupr, 3) + ")", series_colour(i), LegendEntry::Line});
  }
  const bool baseline = std::isfinite(prevalence) && prevalence >= 0 && prevalence <= 1;
  if (baseline) legend.push_back({"random (prevalence " + format_fixed(prevalence, 3) + ")", "#888", LegendEntry::DashedLine});
  bool any = false;
  for (const auto& s : series) any |= !s.curve.recall.empty();
  if (!any) return no_data_svg(title, "no data: no precision-recall curve to draw");

  UnitPlot p = unit_plot(legend, title);
  const Axes& a = p.axes;
  Svg svg(p.width, p.height);
  svg.text(p.width / 2, 24, title, {.size = 15, .anchor = "middle", .bold = true});
  draw_axes(svg, a, kUnitTicks, kUnitTicks, "recall (sensitivity)", "precision");
  if (baseline)
    svg.line(a.X(0), a.Y(prevalence), a.X(1), a.Y(prevalence),
             "class=\"chance\" stroke=\"#888\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"");
  for (size_t i = 0; i < series.size(); ++i) {
    // scikit-learn's order is recall decreasing, ending at (0, 1). Walking it backwards,
    // precision P_k holds from the previous recall up to R_k: the steps whose area is the
    // average precision.
    const PrCurve& c = series[i].curve;
    Points pts;
    double prev_recall = 0;
    for (size_t k = c.recall.size(); k-- > 0;) {
      const double r = c.recall[k], pr = c.precision[k];
      if (!std::isfinite(r) || !std::isfinite(pr)) continue;
      pts.emplace_back(a.X(prev_recall), a.Y(pr));
      pts.emplace_back(a.X(r), a.Y(pr));
      prev_recall = r;
    }
    svg.polyline(pts, std::string("class=\"curve\" stroke=\"") + series_colour(i) + "\" stroke-width=\"2\" stroke-linejoin=\"round\"");
  }
  draw_legend(svg, legend, a.left, p.legend_y, p.width - a.left);
  return svg.finish();
}

}  // namespace dc::io::figures
