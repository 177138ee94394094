// Grouped bar plot: one cluster of bars per group (e.g. mark), one bar per series (e.g.
// method and class) in series order, a legend on top, bars up or down from zero.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/base/error.h"
#include "io/figures/axes.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"

namespace dc::io::figures {

std::string grouped_bars_svg(const GroupedBars& b) {
  const size_t G = b.groups.size(), S = b.series.size();
  if (b.values.size() != G * S)
    throw Error("grouped bars \"" + b.title + "\": " + std::to_string(b.values.size()) + " values for " + std::to_string(S) +
                " series x " + std::to_string(G) + " groups");
  double lo = 0, hi = 0;
  bool any = false, any_missing = false;
  for (double v : b.values) {
    if (!std::isfinite(v)) {
      any_missing = true;
      continue;
    }
    any = true;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (G == 0 || S == 0 || !any) return no_data_svg(b.title, "no data: no finite value to plot", 560, 200);
  if (hi == lo) hi = lo + 1;  // all zero

  const double bar_w = std::clamp(120.0 / static_cast<double>(S), 8.0, 28.0), group_gap = 22;
  const double group_w = bar_w * static_cast<double>(S) + group_gap;
  const double widest_group = [&] {
    double w = 0;
    for (const auto& g : b.groups) w = std::max(w, text_width(g, 12));
    return w;
  }();
  const bool rotate_labels = widest_group > group_w - 4;
  const Ticks yt = covering_ticks(lo, hi, 5);
  double widest_tick = 0;
  for (double v : yt.values) widest_tick = std::max(widest_tick, text_width(tick_label(v, yt), 11));

  Axes a;
  a.left = std::ceil(widest_tick) + 40;
  a.width = std::max(300.0, group_w * static_cast<double>(G));
  const double width = std::ceil(std::max(a.left + a.width + 20, title_width(b.title)));
  std::vector<LegendEntry> legend;
  for (size_t s = 0; s < S; ++s) legend.push_back({b.series[s], series_colour(s), LegendEntry::Box});
  const double legend_h = legend_height(legend, width - a.left - 10);
  a.top = 40 + legend_h + 12;
  a.height = 240;
  a.x_lo = 0;
  a.x_hi = static_cast<double>(G);
  a.y_lo = yt.values.front();
  a.y_hi = yt.values.back();
  const double label_h = rotate_labels ? widest_group * 0.6 + 20 : 28;
  const double height = std::ceil(a.bottom() + label_h + 10);

  Svg svg(width, height);
  svg.text(width / 2, 24, b.title, {.size = 15, .anchor = "middle", .bold = true});
  draw_legend(svg, legend, a.left, 38, width - a.left - 10);
  draw_axes(svg, a, Ticks{}, yt, "", b.y_label);
  const double slot = a.width / static_cast<double>(G);
  for (size_t s = 0; s < S; ++s) {
    svg.open_group(std::string("class=\"bars\" fill=\"") + series_colour(s) + "\"");
    for (size_t g = 0; g < G; ++g) {
      const double x = a.left + slot * static_cast<double>(g) + (slot - bar_w * static_cast<double>(S)) / 2 +
                       bar_w * static_cast<double>(s);
      const double v = b.values[s * G + g];
      const std::string tip = b.series[s] + " \xC2\xB7 " + b.groups[g] + ": " + (std::isfinite(v) ? format_number(v, 4) : "no value");
      if (!std::isfinite(v)) {
        svg.text(x + bar_w / 2, a.Y(0) - 3, "n/a", {.size = 9, .anchor = "middle", .fill = "#888"});
        continue;
      }
      const double y0 = a.Y(0), y1 = a.Y(v);
      svg.rect_with_tooltip(x + 1, std::min(y0, y1), bar_w - 2, std::fabs(y1 - y0), "", tip);
    }
    svg.close_group();
  }
  if (a.y_lo < 0) svg.line(a.left, a.Y(0), a.right(), a.Y(0), "stroke=\"#444\"");
  for (size_t g = 0; g < G; ++g) {
    const double cx = a.left + slot * (static_cast<double>(g) + 0.5);
    if (rotate_labels) svg.text(cx + 4, a.bottom() + 14, b.groups[g], {.size = 12, .anchor = "end", .rotate = -35});
    else svg.text(cx, a.bottom() + 18, b.groups[g], {.size = 12, .anchor = "middle"});
  }
  if (any_missing) svg.text(a.right(), height - 6, "n/a: no value", {.size = 10, .anchor = "end", .fill = "#888"});
  return svg.finish();
}

}  // namespace dc::io::figures
