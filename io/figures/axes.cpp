#include "io/figures/axes.h"

#include <algorithm>
#include <cmath>

namespace dc::io::figures {
namespace {

constexpr double kLegendRow = 18, kLegendSwatch = 22, kLegendGap = 18, kLegendFont = 12;

double entry_width(const LegendEntry& e) { return kLegendSwatch + 6 + text_width(e.label, kLegendFont) + kLegendGap; }

}  // namespace

Ticks covering_ticks(double lo, double hi, int target, double min_step) {
  Ticks t = nice_ticks(lo, hi, target, min_step);
  const double eps = t.step * 1e-6;
  const double scale = std::pow(10.0, t.decimals);
  auto clean = [&](double v) {
    v = std::round(v * scale) / scale;
    return v == 0 ? 0.0 : v;
  };
  if (t.values.empty() || t.values.front() > lo + eps) t.values.insert(t.values.begin(), clean(std::floor((lo + eps) / t.step) * t.step));
  if (t.values.back() < hi - eps) t.values.push_back(clean(std::ceil((hi - eps) / t.step) * t.step));
  return t;
}

void draw_axes(Svg& svg, const Axes& a, const Ticks& x, const Ticks& y, const std::string& x_title, const std::string& y_title) {
  double widest_y = 0;
  for (double v : y.values) {
    if (v < a.y_lo - 1e-9 || v > a.y_hi + 1e-9) continue;
    svg.line(a.left, a.Y(v), a.right(), a.Y(v), "stroke=\"#e6e6e6\"");
    const std::string label = tick_label(v, y);
    svg.text(a.left - 6, a.Y(v) + 4, label, {.size = 11, .anchor = "end"});
    widest_y = std::max(widest_y, text_width(label, 11));
  }
  for (double v : x.values) {
    if (v < a.x_lo - 1e-9 || v > a.x_hi + 1e-9) continue;
    svg.line(a.X(v), a.top, a.X(v), a.bottom(), "stroke=\"#e6e6e6\"");
    svg.line(a.X(v), a.bottom(), a.X(v), a.bottom() + 4, "stroke=\"#444\"");
    svg.text(a.X(v), a.bottom() + 17, tick_label(v, x), {.size = 11, .anchor = "middle"});
  }
  svg.rect(a.left, a.top, a.width, a.height, "fill=\"none\" stroke=\"#444\"");
  if (!x_title.empty()) svg.text(a.left + a.width / 2, a.bottom() + 36, x_title, {.size = 12, .anchor = "middle"});
  if (!y_title.empty())
    svg.text(a.left - widest_y - 14, a.top + a.height / 2, y_title, {.size = 12, .anchor = "middle", .rotate = -90});
}

double legend_height(const std::vector<LegendEntry>& entries, double max_width) {
  if (entries.empty()) return 0;
  double x = 0, rows = 1;
  for (const auto& e : entries) {
    const double w = entry_width(e);
    if (x > 0 && x + w > max_width) {
      rows += 1;
      x = 0;
    }
    x += w;
  }
  return rows * kLegendRow;
}

double draw_legend(Svg& svg, const std::vector<LegendEntry>& entries, double x0, double y0, double max_width) {
  if (entries.empty()) return 0;
  double x = 0, y = y0 + kLegendRow / 2;
  svg.open_group("class=\"legend\"");
  for (const auto& e : entries) {
    const double w = entry_width(e);
    if (x > 0 && x + w > max_width) {
      y += kLegendRow;
      x = 0;
    }
    const double sx = x0 + x;
    switch (e.kind) {
      case LegendEntry::Box: svg.rect(sx + 5, y - 6, 12, 12, "fill=\"" + e.colour + "\""); break;
      case LegendEntry::DashedLine:
        svg.line(sx, y, sx + kLegendSwatch, y, "stroke=\"" + e.colour + "\" stroke-width=\"1.5\" stroke-dasharray=\"5,4\"");
        break;
      case LegendEntry::Line: svg.line(sx, y, sx + kLegendSwatch, y, "stroke=\"" + e.colour + "\" stroke-width=\"2.5\""); break;
    }
    svg.text(sx + kLegendSwatch + 6, y + 4, e.label, {.size = kLegendFont});
    x += w;
  }
  svg.close_group();
  return y + kLegendRow / 2 - y0;
}

}  // namespace dc::io::figures
