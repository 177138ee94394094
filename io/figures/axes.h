// Cartesian axes for the line and bar figures: the value -> pixel mapping of one plot area,
// its grid, ticks, frame and axis titles, and a legend drawn as rows of entries.
#pragma once

#include <string>
#include <vector>

#include "io/figures/svg.h"

namespace dc::io::figures {

// Ticks that cover [lo, hi] with whole steps: the returned range runs from the first to the
// last tick, both outside or on the data.
Ticks covering_ticks(double lo, double hi, int target = 5, double min_step = 0);

struct Axes {
  double left = 0, top = 0, width = 1, height = 1;  // plot area, px
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;    // data range shown

  double X(double v) const { return left + (v - x_lo) / (x_hi - x_lo) * width; }
  double Y(double v) const { return top + (1 - (v - y_lo) / (y_hi - y_lo)) * height; }
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// Light grid lines and labels at the ticks (x ticks skipped when `x` has no values), the
// frame, and the axis titles (x below, y rotated on the left).
void draw_axes(Svg& svg, const Axes& a, const Ticks& x, const Ticks& y, const std::string& x_title, const std::string& y_title);

struct LegendEntry {
  std::string label;
  std::string colour;
  enum Kind { Line, DashedLine, Box } kind = Line;
};
// Entries left to right from (x, y), wrapping before `max_width`; returns the height used.
double draw_legend(Svg& svg, const std::vector<LegendEntry>& entries, double x, double y, double max_width);
// The height draw_legend would use.
double legend_height(const std::vector<LegendEntry>& entries, double max_width);

}  // namespace dc::io::figures
