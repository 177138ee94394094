// The SVG canvas every figure of the program is drawn on, and the small pieces figures
// share: XML escaping, fixed number formatting, colour scales, axis ticks.
//
// Output is deterministic: the same calls give the same bytes (numbers are written with
// std::to_chars in a fixed format, never through the locale). A figure is one standalone
// <svg> element without an XML declaration and without id attributes, so the same text is
// a valid .svg file and can be inlined any number of times into one HTML page.
// Every text that may come from the user (gene ids, cell names, titles) goes through
// xml_escape(); attribute strings passed to the canvas are the figures' own constants.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dc::io::figures {

// Escapes & < > " ' and replaces what XML 1.0 cannot hold (control characters other than
// tab/newline/CR, invalid UTF-8 bytes) by U+FFFD, so the result is always well-formed text.
std::string xml_escape(std::string_view text);

// `v` with at most `decimals` decimals, trailing zeros and a trailing dot dropped, "-0" as
// "0" ("12.5", "3", "-0.25"). Non-finite values are a programming error here (dc::Error):
// figures check their data before drawing.
std::string format_number(double v, int decimals = 2);
// `v` with exactly `decimals` decimals ("0.800"), for values read as numbers (legends, tables).
std::string format_fixed(double v, int decimals);

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  std::string hex() const;  // "#rrggbb"
};
// Sequential scale (viridis: dark purple -> yellow) at t in [0, 1] (clamped).
Rgb sequential_colour(double t);
// Diverging scale (blue -> white -> red, ColorBrewer RdBu reversed) at t in [-1, 1] (clamped):
// negative values blue, 0 white, positive red.
Rgb diverging_colour(double t);
// Categorical colours for series (Okabe-Ito, colour-blind safe), cycling after 8.
const char* series_colour(size_t i);

// About `target` "nice" tick values (1, 2 or 5 x 10^k apart) covering [lo, hi], and the
// decimals needed to print them. `min_step` bounds the spacing from below (1 for epochs).
struct Ticks {
  std::vector<double> values;
  double step = 1;
  int decimals = 0;
};
Ticks nice_ticks(double lo, double hi, int target = 5, double min_step = 0);
// A tick's label: the ticks' decimals, all alike ("0.50", "0.55", "0.60").
std::string tick_label(double v, const Ticks& ticks);

// Estimated width in pixels of `text` in a sans-serif font of `size` px (for layout only).
double text_width(std::string_view text, double size);
// Width a figure needs for its bold 15 px title, margins included.
double title_width(std::string_view title);

struct Font {
  double size = 12;
  const char* anchor = "start";  // start, middle, end
  bool bold = false;
  double rotate = 0;             // degrees about (x, y)
  const char* fill = nullptr;    // default: the canvas's text colour
};

// One <svg> document under construction.
class Svg {
 public:
  // Opens the document: width x height px, a white background.
  Svg(double width, double height);

  double width() const { return width_; }
  double height() const { return height_; }

  // `attrs` are extra raw attributes (e.g. `fill="#444"`), never user text.
  void rect(double x, double y, double w, double h, std::string_view attrs);
  void line(double x1, double y1, double x2, double y2, std::string_view attrs);
  // A <circle>, with a hover tooltip (<title>, escaped) when `tooltip` is not empty.
  void circle(double cx, double cy, double r, std::string_view attrs, std::string_view tooltip = {});
  // A <polyline> through `points`; points that coincide once written, or that lie inside a
  // straight horizontal or vertical run (not where it turns back), are left out: the
  // drawing is the same, the file smaller.
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view attrs);
  // Escaped text at (x, y) (baseline).
  void text(double x, double y, std::string_view content, const Font& font = {});
  // A rect with a hover tooltip (heatmap cells).
  void rect_with_tooltip(double x, double y, double w, double h, std::string_view attrs, std::string_view tooltip);
  void open_group(std::string_view attrs);
  void close_group();
  // A grey frame with `message` in its middle, for panels that have nothing to draw.
  void no_data(double x, double y, double w, double h, std::string_view message = "no data");

  // Closes the document and returns it; the canvas is empty afterwards.
  std::string finish();

 private:
  void open_rect(double x, double y, double w, double h, std::string_view attrs);  // "<rect ..." unclosed

  std::string out_;
  double width_, height_;
  int open_groups_ = 0;
};

// A whole figure that only says why there is nothing to draw (empty or non-finite input).
std::string no_data_svg(std::string_view title, std::string_view message, double width = 480, double height = 200);

}  // namespace dc::io::figures
