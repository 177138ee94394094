#include "io/figures/svg.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "kernels/base/error.h"

namespace dc::io::figures {
namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr const char* kTextColour = "#222";

// Length of the valid UTF-8 sequence starting at s[i], 0 when it is not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Overlong forms, surrogates, beyond U+10FFFF, and the non-characters XML forbids.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0xFFFE || cp == 0xFFFF) return 0;
  return n;
}

Rgb lerp(const Rgb& a, const Rgb& b, double t) {
  auto mix = [t](uint8_t x, uint8_t y) { return static_cast<uint8_t>(std::lround(x + (y - x) * t)); };
  return {mix(a.r, b.r), mix(a.g, b.g), mix(a.b, b.b)};
}

// Piecewise-linear interpolation through evenly spaced anchors, t in [0, 1].
template <size_t N>
Rgb interpolate(const Rgb (&anchors)[N], double t) {
  t = std::clamp(std::isnan(t) ? 0.0 : t, 0.0, 1.0);
  const double pos = t * (N - 1);
  const size_t i = std::min(static_cast<size_t>(pos), N - 2);
  return lerp(anchors[i], anchors[i + 1], pos - static_cast<double>(i));
}

// viridis at 0, 1/9, ..., 1.
constexpr Rgb kViridis[] = {{0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89}, {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e},
                            {0x1f, 0x9e, 0x89}, {0x35, 0xb7, 0x79}, {0x6d, 0xcd, 0x59}, {0xb4, 0xde, 0x2c}, {0xfd, 0xe7, 0x25}};
// RdBu (11 classes) from blue (-1) through white (0) to red (+1).
constexpr Rgb kBlueWhiteRed[] = {{0x05, 0x30, 0x61}, {0x21, 0x66, 0xac}, {0x43, 0x93, 0xc3}, {0x92, 0xc5, 0xde},
                                 {0xd1, 0xe5, 0xf0}, {0xf7, 0xf7, 0xf7}, {0xfd, 0xdb, 0xc7}, {0xf4, 0xa5, 0x82},
                                 {0xd6, 0x60, 0x4d}, {0xb2, 0x18, 0x2b}, {0x67, 0x00, 0x1f}};

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default:
          if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') out += kReplacement;
          else if (u == 0x7F) out += kReplacement;
          else out += c;
      }
      ++i;
      continue;
    }
    const size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string format_number(double v, int decimals) {
  if (!std::isfinite(v)) throw Error("figure: a non-finite number reached the SVG writer");
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  std::string s(buf, res.ptr);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string format_fixed(double v, int decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  std::string s(buf, res.ptr);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.000" -> "0.000"
  return s;
}

std::string Rgb::hex() const {
  static const char* digits = "0123456789abcdef";
  std::string s = "#";
  for (uint8_t c : {r, g, b}) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

Rgb sequential_colour(double t) { return interpolate(kViridis, t); }

Rgb diverging_colour(double t) { return interpolate(kBlueWhiteRed, (std::clamp(std::isnan(t) ? 0.0 : t, -1.0, 1.0) + 1) / 2); }

const char* series_colour(size_t i) {
  static const char* colours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"};
  return colours[i % 8];
}

Ticks nice_ticks(double lo, double hi, int target, double min_step) {
  Ticks t;
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw Error("figure: axis range is not finite");
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (raw <= step * 1.0000001) break;
  }
  step = std::max(step, min_step);
  t.step = step;
  t.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  // Ticks on whole multiples of the step inside [lo, hi] (a small tolerance keeps the ends).
  // Values rounded to the ticks' decimals (3 x 0.2 is 0.6, not 0.6000000000000001).
  const double eps = step * 1e-6, scale = std::pow(10.0, t.decimals);
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1) {
    const double v = std::round(k * step * scale) / scale;
    t.values.push_back(v == 0 ? 0.0 : v);  // no -0
  }
  return t;
}

std::string tick_label(double v, const Ticks& ticks) { return format_fixed(v, ticks.decimals); }

double title_width(std::string_view title) { return text_width(title, 15) * 1.1 + 40; }

double text_width(std::string_view text, double size) {
  double em = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: counted with its lead byte
    if (c >= 0x80) em += 0.6;
    else if (std::string_view("iljtfI.,:;|!'()[] ").find(static_cast<char>(c)) != std::string_view::npos) em += 0.3;
    else if (std::string_view("mwMW@").find(static_cast<char>(c)) != std::string_view::npos) em += 0.88;
    else if (c >= 'A' && c <= 'Z') em += 0.68;
    else if (c == '_' || c == '-' || c == 'r') em += 0.4;
    else em += 0.56;
  }
  return em * size;
}

Svg::Svg(double width, double height) : width_(width), height_(height) {
  const std::string w = format_number(width), h = format_number(height);
  out_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\" fill=\"" + kTextColour + "\">\n";
  out_ += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

void Svg::open_rect(double x, double y, double w, double h, std::string_view attrs) {
  out_ += "<rect x=\"" + format_number(x) + "\" y=\"" + format_number(y) + "\" width=\"" + format_number(std::max(0.0, w)) +
          "\" height=\"" + format_number(std::max(0.0, h)) + "\"";
  if (!attrs.empty()) (out_ += ' ') += attrs;
}

void Svg::rect(double x, double y, double w, double h, std::string_view attrs) {
  open_rect(x, y, w, h, attrs);
  out_ += "/>\n";
}

void Svg::rect_with_tooltip(double x, double y, double w, double h, std::string_view attrs, std::string_view tooltip) {
  open_rect(x, y, w, h, attrs);
  out_ += "><title>";
  out_ += xml_escape(tooltip);
  out_ += "</title></rect>\n";
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view attrs) {
  out_ += "<line x1=\"" + format_number(x1) + "\" y1=\"" + format_number(y1) + "\" x2=\"" + format_number(x2) + "\" y2=\"" +
          format_number(y2) + "\"";
  if (!attrs.empty()) (out_ += ' ') += attrs;
  out_ += "/>\n";
}

void Svg::circle(double cx, double cy, double r, std::string_view attrs, std::string_view tooltip) {
  out_ += "<circle cx=\"" + format_number(cx) + "\" cy=\"" + format_number(cy) + "\" r=\"" + format_number(r) + "\"";
  if (!attrs.empty()) (out_ += ' ') += attrs;
  if (tooltip.empty()) out_ += "/>\n";
  else out_ += "><title>" + xml_escape(tooltip) + "</title></circle>\n";
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, std::string_view attrs) {
  struct Vertex {
    double x, y;
    std::string sx, sy;  // as written
  };
  std::vector<Vertex> kept;
  auto between = [](double a, double b, double c) { return (a <= b && b <= c) || (a >= b && b >= c); };
  for (const auto& [x, y] : points) {
    Vertex v{x, y, format_number(x, 1), format_number(y, 1)};  // 0.1 px: finer than any screen
    if (!kept.empty() && kept.back().sx == v.sx && kept.back().sy == v.sy) continue;
    // The middle of three points on one horizontal or vertical line adds nothing when the
    // line does not turn back at it.
    if (kept.size() >= 2) {
      const Vertex& a = kept[kept.size() - 2];
      const Vertex& b = kept.back();
      if ((a.sx == b.sx && b.sx == v.sx && between(a.y, b.y, v.y)) || (a.sy == b.sy && b.sy == v.sy && between(a.x, b.x, v.x)))
        kept.pop_back();
    }
    kept.push_back(std::move(v));
  }
  out_ += "<polyline points=\"";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i) out_ += ' ';
    out_ += kept[i].sx + "," + kept[i].sy;
  }
  out_ += "\" fill=\"none\"";
  if (!attrs.empty()) (out_ += ' ') += attrs;
  out_ += "/>\n";
}

void Svg::text(double x, double y, std::string_view content, const Font& font) {
  out_ += "<text x=\"" + format_number(x) + "\" y=\"" + format_number(y) + "\"";
  if (std::string_view(font.anchor) != "start") out_ += std::string(" text-anchor=\"") + font.anchor + "\"";
  if (font.size != 12) out_ += " font-size=\"" + format_number(font.size) + "\"";
  if (font.bold) out_ += " font-weight=\"bold\"";
  if (font.fill) out_ += std::string(" fill=\"") + font.fill + "\"";
  if (font.rotate != 0)
    out_ += " transform=\"rotate(" + format_number(font.rotate) + " " + format_number(x) + " " + format_number(y) + ")\"";
  out_ += '>';
  out_ += xml_escape(content);
  out_ += "</text>\n";
}

void Svg::open_group(std::string_view attrs) {
  out_ += "<g";
  if (!attrs.empty()) (out_ += ' ') += attrs;
  out_ += ">\n";
  ++open_groups_;
}

void Svg::close_group() {
  if (open_groups_ == 0) throw Error("figure: close_group without an open group");
  --open_groups_;
  out_ += "</g>\n";
}

void Svg::no_data(double x, double y, double w, double h, std::string_view message) {
  rect(x, y, w, h, "fill=\"#f4f4f4\" stroke=\"#bbb\"");
  text(x + w / 2, y + h / 2 + 4, message, {.size = 13, .anchor = "middle", .fill = "#777"});
}

std::string Svg::finish() {
  while (open_groups_ > 0) close_group();
  out_ += "</svg>\n";
  return std::move(out_);
}

std::string no_data_svg(std::string_view title, std::string_view message, double width, double height) {
  Svg svg(width, height);
  svg.text(width / 2, 24, title, {.size = 15, .anchor = "middle", .bold = true});
  svg.no_data(20, 40, width - 40, height - 60, message);
  return svg.finish();
}

}  // namespace dc::io::figures
