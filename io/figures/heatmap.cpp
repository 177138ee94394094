// Heatmaps: marks x bins around the TSS, and rows x columns of categories; both with a
// colour bar and several panels on one colour scale.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "kernels/base/error.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"

namespace dc::io::figures {
namespace {

constexpr const char* kMissingColour = "#d0d0d0";

// The value -> colour map one figure uses for all its panels.
struct ColourMap {
  bool diverging = false;
  double lo = 0, hi = 1;
  bool any_missing = false;

  std::string colour(double v) const {
    if (!std::isfinite(v)) return kMissingColour;
    if (diverging) return diverging_colour(v / hi).hex();
    return sequential_colour((v - lo) / (hi - lo)).hex();
  }
};

// Returns false when no panel holds a finite value (nothing to draw). A fixed `range` replaces
// the data's minimum and maximum.
bool make_colour_map(const std::vector<HeatmapPanel>& panels, ColourScale scale, const std::optional<ValueRange>& range,
                     ColourMap& map) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& p : panels)
    for (double v : p.values) {
      if (!std::isfinite(v)) {
        map.any_missing = true;
        continue;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (lo > hi) return false;
  if (range) {
    if (!std::isfinite(range->lo) || !std::isfinite(range->hi) || !(range->lo < range->hi))
      throw Error("heatmap: the fixed colour range " + std::to_string(range->lo) + " .. " + std::to_string(range->hi) +
                  " is not an interval");
    lo = range->lo;
    hi = range->hi;
  }
  map.diverging = scale == ColourScale::Diverging || (scale == ColourScale::Auto && lo < 0);
  if (map.diverging) {
    const double m = std::max(std::fabs(lo), std::fabs(hi));
    map.lo = m > 0 ? -m : -1;
    map.hi = m > 0 ? m : 1;
  } else {
    map.lo = std::min(0.0, lo);
    map.hi = hi > map.lo ? hi : map.lo + 1;
  }
  return true;
}

void check_panels(const char* figure, const std::vector<HeatmapPanel>& panels, size_t rows, size_t cols) {
  for (const auto& p : panels)
    if (p.values.size() != rows * cols)
      throw Error(std::string(figure) + ": panel \"" + p.title + "\" has " + std::to_string(p.values.size()) + " values for " +
                  std::to_string(rows) + " x " + std::to_string(cols));
}

// Colour bar at (x, y), h tall: 64 stripes from the map's top value down, ticks, caption.
void colour_bar(Svg& svg, const ColourMap& map, double x, double y, double h, const std::string& caption) {
  constexpr int kStripes = 64;
  constexpr double kWidth = 14;
  const double stripe = h / kStripes;
  svg.open_group("shape-rendering=\"crispEdges\"");
  for (int i = 0; i < kStripes; ++i) {
    const double v = map.hi - (i + 0.5) / kStripes * (map.hi - map.lo);
    svg.rect(x, y + i * stripe, kWidth, stripe + 0.3, "fill=\"" + map.colour(v) + "\"");
  }
  svg.close_group();
  svg.rect(x, y, kWidth, h, "fill=\"none\" stroke=\"#444\"");
  const Ticks ticks = nice_ticks(map.lo, map.hi, 5);
  double widest = 0;
  for (double v : ticks.values) {
    const double ty = y + (map.hi - v) / (map.hi - map.lo) * h;
    svg.line(x + kWidth, ty, x + kWidth + 4, ty, "stroke=\"#444\"");
    const std::string label = tick_label(v, ticks);
    svg.text(x + kWidth + 7, ty + 4, label, {.size = 11});
    widest = std::max(widest, text_width(label, 11));
  }
  if (!caption.empty()) svg.text(x + kWidth + 20 + widest, y + h / 2, caption, {.size = 12, .anchor = "middle", .rotate = -90});
  if (map.any_missing) {
    svg.rect(x, y + h + 10, kWidth, 10, std::string("fill=\"") + kMissingColour + "\" stroke=\"#444\"");
    svg.text(x + kWidth + 6, y + h + 19, "no value", {.size = 11});
  }
}

double colour_bar_width(const ColourMap& map, const std::string& caption) {
  double widest = text_width("no value", 11);
  const Ticks ticks = nice_ticks(map.lo, map.hi, 5);
  for (double v : ticks.values) widest = std::max(widest, text_width(tick_label(v, ticks), 11));
  return 14 + 7 + widest + (caption.empty() ? 0 : 22);
}

double widest_label(const std::vector<std::string>& labels, double size) {
  double w = 0;
  for (const auto& s : labels) w = std::max(w, text_width(s, size));
  return w;
}

std::string value_text(double v) { return std::isfinite(v) ? format_number(v, 4) : "no value"; }

}  // namespace

std::string bin_heatmap_svg(const BinHeatmap& m) {
  if (m.bins < 1) throw Error("bin heatmap \"" + m.title + "\": bins must be >= 1");
  if (!(m.kb_to > m.kb_from)) throw Error("bin heatmap \"" + m.title + "\": kb_to must exceed kb_from");
  check_panels("bin heatmap", m.panels, m.rows.size(), static_cast<size_t>(m.bins));
  ColourMap map;
  if (m.rows.empty() || m.panels.empty() || !make_colour_map(m.panels, m.scale, std::nullopt, map))
    return no_data_svg(m.title, "no data: the map holds no finite value", 760, 200);

  const double row_h = 22, plot_w = 600, panel_gap = 30;
  const double left = std::ceil(widest_label(m.rows, 12)) + 20;
  const double top = 44 + (m.panels.front().title.empty() ? 0 : 14);
  const double panel_h = row_h * static_cast<double>(m.rows.size());
  const double plots_h = panel_h * static_cast<double>(m.panels.size()) + panel_gap * static_cast<double>(m.panels.size() - 1);
  const double bar_x = left + plot_w + 24;
  const double width = std::ceil(std::max(bar_x + colour_bar_width(map, m.value_label) + 16, title_width(m.title)));
  const double height = top + plots_h + 62;
  const double cell_w = plot_w / m.bins;
  auto X = [&](double kb) { return left + (kb - m.kb_from) / (m.kb_to - m.kb_from) * plot_w; };

  Svg svg(width, height);
  svg.text(width / 2, 24, m.title, {.size = 15, .anchor = "middle", .bold = true});
  for (size_t p = 0; p < m.panels.size(); ++p) {
    const HeatmapPanel& panel = m.panels[p];
    const double y0 = top + static_cast<double>(p) * (panel_h + panel_gap);
    if (!panel.title.empty()) svg.text(left, y0 - 8, panel.title, {.size = 12, .bold = true});
    svg.open_group("class=\"cells\" shape-rendering=\"crispEdges\"");
    for (size_t r = 0; r < m.rows.size(); ++r)
      for (int b = 0; b < m.bins; ++b) {
        const double v = panel.values[r * m.bins + b];
        const double kb_step = (m.kb_to - m.kb_from) / m.bins;
        const std::string tip = m.rows[r] + ", bin " + std::to_string(b + 1) + " (" + format_number(m.kb_from + b * kb_step, 2) +
                                " to " + format_number(m.kb_from + (b + 1) * kb_step, 2) + " kb): " + value_text(v);
        // Cells overlap their right neighbour by a fraction of a pixel: no hairline seams.
        svg.rect_with_tooltip(left + b * cell_w, y0 + static_cast<double>(r) * row_h, cell_w + 0.25, row_h,
                              "fill=\"" + map.colour(v) + "\"", tip);
      }
    svg.close_group();
    svg.rect(left, y0, plot_w, panel_h, "fill=\"none\" stroke=\"#444\"");
    for (size_t r = 0; r < m.rows.size(); ++r)
      svg.text(left - 8, y0 + (static_cast<double>(r) + 0.5) * row_h + 4, m.rows[r], {.size = 12, .anchor = "end"});
  }

  // Distance to the TSS along the bottom, ticks every kb (or a nicer step for wide spans).
  const double axis_y = top + plots_h;
  const Ticks ticks = nice_ticks(m.kb_from, m.kb_to, 10);
  for (double kb : ticks.values) {
    svg.line(X(kb), axis_y, X(kb), axis_y + 5, "stroke=\"#444\"");
    std::string label(kb > 0 ? 1 : 0, '+');  // "+1" right of the TSS, "TSS" at 0
    label += kb == 0 ? std::string("TSS") : tick_label(kb, ticks);
    svg.text(X(kb), axis_y + 18, label, {.size = 11, .anchor = "middle", .bold = kb == 0});
  }
  svg.text(left + plot_w / 2, axis_y + 40, "position relative to the transcription start site (kb)", {.size = 12, .anchor = "middle"});

  // The TSS: a dashed line (white halo, so it shows on dark and light cells) across all panels.
  if (m.kb_from < 0 && m.kb_to > 0) {
    const double x = X(0);
    svg.open_group("class=\"tss\"");
    svg.line(x, top - 4, x, axis_y + 4, "stroke=\"white\" stroke-width=\"3\"");
    svg.line(x, top - 4, x, axis_y + 4, "stroke=\"#111\" stroke-width=\"1.2\" stroke-dasharray=\"4,3\"");
    svg.close_group();
  }
  colour_bar(svg, map, bar_x, top, std::max(plots_h, 100.0), m.value_label);
  return svg.finish();
}

std::string category_heatmap_svg(const CategoryHeatmap& m) {
  check_panels("category heatmap", m.panels, m.rows.size(), m.columns.size());
  ColourMap map;
  if (m.rows.empty() || m.columns.empty() || m.panels.empty() || !make_colour_map(m.panels, m.scale, m.range, map))
    return no_data_svg(m.title, "no data: the map holds no finite value", 480, 200);

  const size_t n_rows = m.rows.size(), n_cols = m.columns.size();
  const double row_h = n_rows > 40 ? 13 : 18, col_w = 34, panel_gap = 24;
  const double row_font = row_h > 13 ? 12 : 10.5;
  // Row labels may be long cell type names; text_width is an estimate, so leave some slack.
  const double left = std::ceil(widest_label(m.rows, row_font) * 1.1) + 16;
  const double panel_w = col_w * static_cast<double>(n_cols);
  double panels_w = 0;
  for (size_t p = 0; p < m.panels.size(); ++p) panels_w += std::max(panel_w, text_width(m.panels[p].title, 12)) + (p ? panel_gap : 0);
  const double top = 60;
  const double plot_h = row_h * static_cast<double>(n_rows);
  const double label_h = widest_label(m.columns, 11) * 0.72 + 16;  // column labels at -45 degrees
  const double bar_x = left + panels_w + 24;
  const double width = std::ceil(std::max(bar_x + colour_bar_width(map, m.value_label) + 16, title_width(m.title)));
  const double bar_h = std::clamp(plot_h, 100.0, 260.0);
  // Room below the colour bar for its last tick and the "no value" key (few rows).
  const double height = std::ceil(std::max(top + plot_h + label_h + 12, top + bar_h + (map.any_missing ? 30 : 12)));

  Svg svg(width, height);
  svg.text(width / 2, 24, m.title, {.size = 15, .anchor = "middle", .bold = true});
  double x0 = left;
  for (size_t p = 0; p < m.panels.size(); ++p) {
    const HeatmapPanel& panel = m.panels[p];
    if (!panel.title.empty()) svg.text(x0 + panel_w / 2, top - 10, panel.title, {.size = 12, .anchor = "middle", .bold = true});
    svg.open_group("class=\"cells\" stroke=\"white\" stroke-width=\"0.5\"");
    for (size_t r = 0; r < n_rows; ++r)
      for (size_t c = 0; c < n_cols; ++c) {
        const double v = panel.values[r * n_cols + c];
        svg.rect_with_tooltip(x0 + static_cast<double>(c) * col_w, top + static_cast<double>(r) * row_h, col_w, row_h,
                              "fill=\"" + map.colour(v) + "\"",
                              m.rows[r] + " \xC2\xB7 " + m.columns[c] + (panel.title.empty() ? "" : " (" + panel.title + ")") +
                                  ": " + value_text(v));
      }
    svg.close_group();
    svg.rect(x0, top, panel_w, plot_h, "fill=\"none\" stroke=\"#444\"");
    for (size_t c = 0; c < n_cols; ++c) {
      const double cx = x0 + (static_cast<double>(c) + 0.5) * col_w, cy = top + plot_h + 8;
      svg.text(cx + 4, cy + 6, m.columns[c], {.size = 11, .anchor = "end", .rotate = -45});
    }
    x0 += std::max(panel_w, text_width(panel.title, 12)) + panel_gap;
  }
  for (size_t r = 0; r < n_rows; ++r)
    svg.text(left - 6, top + (static_cast<double>(r) + 0.5) * row_h + row_font * 0.35, m.rows[r], {.size = row_font, .anchor = "end"});
  colour_bar(svg, map, bar_x, top, bar_h, m.value_label);
  return svg.finish();
}

}  // namespace dc::io::figures
