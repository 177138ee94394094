// The SVG figures and report.html: well-formed XML (a strict checker, tests/xml_check.h),
// the exact structure drawn (cells, bars, points, the TSS line), escaping of user text,
// deterministic bytes, "no data" figures, and the run-folder loader's means and errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "io/figures/html_report.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"
#include "io/experiment/sweep.h"
#include "models/metrics.h"
#include "xml_check.h"

namespace fs = std::filesystem;
namespace fig = dc::io::figures;
namespace xml = dc::test::xml;

namespace {

const std::vector<std::string> kMarks = {"H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3"};
const std::string kNasty = "<b>&\"x\" 'y'";  // user text that must come back unchanged

xml::Document parse_ok(const std::string& svg) {
  xml::Document d = xml::parse(svg);
  INFO("XML error: " << d.error);
  REQUIRE(d.ok());
  return d;
}

double num(const xml::Node* n, const char* attr) { return std::stod(n->attr(attr)); }

bool has_text(const xml::Node& root, const std::string& text) {
  for (const xml::Node* t : xml::elements(root, "text"))
    if (t->all_text() == text) return true;
  return false;
}

// The plot area of a line/bar figure: its frame, the first unfilled rect with a dark stroke.
struct Frame {
  double x, y, w, h;
};
std::vector<Frame> frames(const xml::Node& root) {
  std::vector<Frame> out;
  for (const xml::Node* r : xml::elements(root, "rect"))
    if (r->attr("fill") == "none" && r->attr("stroke") == "#444") out.push_back({num(r, "x"), num(r, "y"), num(r, "width"), num(r, "height")});
  return out;
}

std::vector<std::pair<double, double>> polyline_points(const xml::Node* p) {
  std::vector<std::pair<double, double>> pts;
  const std::string s = p->attr("points");
  size_t i = 0;
  while (i < s.size()) {
    size_t sp = s.find(' ', i);
    if (sp == std::string::npos) sp = s.size();
    const std::string pair = s.substr(i, sp - i);
    const size_t comma = pair.find(',');
    pts.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
    i = sp + 1;
  }
  return pts;
}

fig::BinHeatmap example_map() {
  fig::BinHeatmap m;
  m.title = "class map";
  m.rows = kMarks;
  m.value_label = "activation";
  for (const char* name : {"class high", "class low"}) {
    fig::HeatmapPanel p;
    p.title = name;
    for (int r = 0; r < 5; ++r)
      for (int b = 0; b < 100; ++b) p.values.push_back((r * 100 + b) / 499.0);
    m.panels.push_back(p);
  }
  return m;
}

}  // namespace

TEST_CASE("the XML checker rejects what is not well-formed") {
  CHECK(xml::parse("<svg><g><rect/></g></svg>").ok());
  CHECK(xml::parse("<!DOCTYPE html>\n<html><p a=\"1\" b='2'>x &amp; &#955; &#x3bb;</p></html>").ok());
  for (const char* bad : {"<svg><g></svg>", "<svg>a & b</svg>", "<svg a=\"1\" a=\"2\"/>", "<svg a=1/>", "<svg/><svg/>",
                          "<svg a=\"<\"/>", "<svg>&nbsp;</svg>", "<svg", "text", "<svg>\x01</svg>", "<svg>\xC3</svg>",
                          "<svg a=\"1\"b=\"2\"/>", "<svg><text>1 < 2</text></svg>"}) {
    CAPTURE(bad);
    CHECK_FALSE(xml::parse(bad).ok());
  }
  CHECK(xml::parse("<t>&lt;&amp;&quot;&#39;</t>").root->text == "<&\"'");
}

TEST_CASE("xml_escape: markup characters, control characters and invalid UTF-8") {
  CHECK(fig::xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(fig::xml_escape("\xCE\xB1 \xE2\x88\x92") == "\xCE\xB1 \xE2\x88\x92");  // α and − kept
  CHECK(fig::xml_escape(std::string("a\x01" "b", 3)) == "a\xEF\xBF\xBD" "b");
  CHECK(fig::xml_escape("gene\xFF") == "gene\xEF\xBF\xBD");       // a stray byte
  CHECK(fig::xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");  // an overlong '/'
  CHECK(fig::xml_escape("tab\tnewline\n") == "tab\tnewline\n");
  const std::string wrapped = "<t>" + fig::xml_escape(std::string("x\x02\xFE<&", 5)) + "</t>";
  CHECK(xml::parse(wrapped).ok());
}

TEST_CASE("numbers are written in one fixed format") {
  CHECK(fig::format_number(12.5) == "12.5");
  CHECK(fig::format_number(3.0) == "3");
  CHECK(fig::format_number(-0.0001) == "0");
  CHECK(fig::format_number(-0.25) == "-0.25");
  CHECK(fig::format_number(1.005, 1) == "1");
  CHECK(fig::format_number(2.0 / 3) == "0.67");
  CHECK(fig::format_fixed(0.8, 3) == "0.800");
  CHECK(fig::format_fixed(-0.0001, 2) == "0.00");
  CHECK_THROWS_AS(fig::format_number(std::nan("")), dc::Error);
}

TEST_CASE("nice ticks: 1, 2, 5 x 10^k, covering the range") {
  CHECK(fig::nice_ticks(0, 1, 5).values == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});
  const fig::Ticks kb = fig::nice_ticks(-5, 5, 10);
  CHECK(kb.values.size() == 11);
  CHECK(kb.values.front() == -5);
  CHECK(kb.values[5] == 0);
  CHECK(kb.decimals == 0);
  const fig::Ticks one_epoch = fig::nice_ticks(0.5, 1.5, 6, 1);  // epochs: whole numbers only
  CHECK(one_epoch.values == std::vector<double>{1});
  const fig::Ticks auroc = fig::nice_ticks(0.72, 0.8, 5);
  CHECK(auroc.step == doctest::Approx(0.02));
  CHECK(auroc.decimals == 2);
  CHECK(fig::tick_label(0.7, auroc) == "0.70");
}

TEST_CASE("colour scales: viridis ends, diverging white at 0") {
  CHECK(fig::sequential_colour(0).hex() == "#440154");
  CHECK(fig::sequential_colour(1).hex() == "#fde725");
  CHECK(fig::sequential_colour(7).hex() == "#fde725");  // clamped
  CHECK(fig::diverging_colour(0).hex() == "#f7f7f7");
  CHECK(fig::diverging_colour(-1).hex() == "#053061");
  CHECK(fig::diverging_colour(1).hex() == "#67001f");
}

TEST_CASE("bin heatmap: 5 x 100 cells per panel, TSS between bins 50 and 51, kb axis, colour bar") {
  const fig::BinHeatmap m = example_map();
  const std::string svg = fig::bin_heatmap_svg(m);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  const xml::Document d = parse_ok(svg);
  const auto panels = xml::with_class(*d.root, "g", "cells");
  REQUIRE(panels.size() == 2);
  for (const xml::Node* p : panels) CHECK(xml::elements(*p, "rect").size() == 500);
  // Cells left to right, bin by bin: bin 51's left edge is the TSS line.
  const auto cells = xml::elements(*panels[0], "rect");
  const double x_bin1 = num(cells[0], "x"), x_bin51 = num(cells[50], "x"), x_bin100 = num(cells[99], "x");
  const double cell_w = (x_bin100 - x_bin1) / 99;
  CHECK(x_bin51 == doctest::Approx(x_bin1 + 50 * cell_w).epsilon(1e-4));
  const auto tss = xml::with_class(*d.root, "g", "tss");
  REQUIRE(tss.size() == 1);
  for (const xml::Node* line : xml::elements(*tss[0], "line")) {
    CHECK(num(line, "x1") == doctest::Approx(x_bin51).epsilon(1e-4));
    CHECK(num(line, "x2") == doctest::Approx(x_bin51).epsilon(1e-4));
    // It spans both panels.
    CHECK(num(line, "y1") < num(cells[0], "y"));
    CHECK(num(line, "y2") > num(xml::elements(*panels[1], "rect").back(), "y"));
  }
  // The first cell holds the minimum (0 -> viridis start), the last of row 5 the maximum.
  CHECK(cells[0]->attr("fill") == "#440154");
  CHECK(cells[499]->attr("fill") == "#fde725");
  CHECK(cells[0]->all_text() == "H3K27me3, bin 1 (-5 to -4.9 kb): 0");
  CHECK(cells[250]->all_text() == "H3K4me1, bin 51 (0 to 0.1 kb): " + fig::format_number(250 / 499.0, 4));
  // Labels: marks, panel titles, the kb axis with the TSS at 0, the colour bar's caption.
  for (const auto& mark : kMarks) CHECK(has_text(*d.root, mark));
  for (const char* t : {"class high", "class low", "-5", "-1", "TSS", "+1", "+5", "activation", "class map"}) {
    CAPTURE(t);
    CHECK(has_text(*d.root, t));
  }
  // Same data, same bytes; different data, different bytes.
  CHECK(fig::bin_heatmap_svg(m) == svg);
  fig::BinHeatmap other = m;
  other.panels[1].values[7] = 0.5;
  CHECK(fig::bin_heatmap_svg(other) != svg);
}

TEST_CASE("bin heatmap: signed maps get the diverging scale, symmetric about 0") {
  fig::BinHeatmap m = example_map();
  m.panels.resize(1);
  for (double& v : m.panels[0].values) v = 0;
  m.panels[0].values[0] = 2;     // +max -> darkest red
  m.panels[0].values[1] = -2;    // -max -> darkest blue
  m.panels[0].values[2] = -1;    // half way to blue
  const xml::Document d = parse_ok(fig::bin_heatmap_svg(m));
  const auto cells = xml::elements(*xml::with_class(*d.root, "g", "cells")[0], "rect");
  CHECK(cells[0]->attr("fill") == "#67001f");
  CHECK(cells[1]->attr("fill") == "#053061");
  CHECK(cells[2]->attr("fill") == fig::diverging_colour(-0.5).hex());
  CHECK(cells[3]->attr("fill") == "#f7f7f7");
  // Forced sequential: the same map from its minimum (-2) to its maximum.
  m.scale = fig::ColourScale::Sequential;
  const xml::Document s = parse_ok(fig::bin_heatmap_svg(m));
  const auto seq = xml::elements(*xml::with_class(*s.root, "g", "cells")[0], "rect");
  CHECK(seq[1]->attr("fill") == "#440154");
  CHECK(seq[0]->attr("fill") == "#fde725");
}

TEST_CASE("bin heatmap: user text escaped, missing values grey, empty or all-NaN maps say no data") {
  fig::BinHeatmap m = example_map();
  m.title = kNasty;
  m.rows[2] = kNasty + " row";
  m.panels[0].title = kNasty + " panel";
  m.panels[0].values[3] = std::nan("");
  m.panels[1].values[4] = INFINITY;
  const xml::Document d = parse_ok(fig::bin_heatmap_svg(m));
  CHECK(has_text(*d.root, kNasty));
  CHECK(has_text(*d.root, kNasty + " row"));
  CHECK(has_text(*d.root, kNasty + " panel"));
  CHECK(xml::elements(*xml::with_class(*d.root, "g", "cells")[0], "rect")[3]->attr("fill") == "#d0d0d0");
  CHECK(xml::elements(*xml::with_class(*d.root, "g", "cells")[1], "rect")[4]->attr("fill") == "#d0d0d0");
  CHECK(has_text(*d.root, "no value"));

  for (double& v : m.panels[0].values) v = std::nan("");
  for (double& v : m.panels[1].values) v = -INFINITY;
  const xml::Document none = parse_ok(fig::bin_heatmap_svg(m));
  CHECK(xml::with_class(*none.root, "g", "cells").empty());
  CHECK(none.root->all_text().find("no data") != std::string::npos);
  m.panels.clear();
  CHECK(parse_ok(fig::bin_heatmap_svg(m)).root->all_text().find("no data") != std::string::npos);

  fig::BinHeatmap wrong = example_map();
  wrong.panels[1].values.pop_back();
  CHECK_THROWS_AS(fig::bin_heatmap_svg(wrong), dc::Error);
}

TEST_CASE("category heatmap: 56 cell types x 5 marks, two panels, tooltips") {
  fig::CategoryHeatmap m;
  m.title = "mark importance across cell types";
  m.columns = kMarks;
  for (int c = 0; c < 56; ++c) m.rows.push_back(std::string("E").append(std::to_string(100 + c)).append(" cell_").append(std::to_string(c)));
  m.rows[3] = kNasty;
  for (const char* cls : {"class high", "class low"}) {
    fig::HeatmapPanel p;
    p.title = cls;
    for (int i = 0; i < 56 * 5; ++i) p.values.push_back((i % 7) / 6.0);
    m.panels.push_back(p);
  }
  m.value_label = "share of importance";
  const std::string svg = fig::category_heatmap_svg(m);
  const xml::Document d = parse_ok(svg);
  const auto panels = xml::with_class(*d.root, "g", "cells");
  REQUIRE(panels.size() == 2);
  for (const xml::Node* p : panels) {
    const auto cells = xml::elements(*p, "rect");
    REQUIRE(cells.size() == 280);
    CHECK(xml::elements(*p, "title").size() == 280);
    // Row r, column c at index r * 5 + c: same row -> same y, next column -> further right.
    CHECK(num(cells[5 * 3 + 1], "y") == num(cells[5 * 3 + 4], "y"));
    CHECK(num(cells[5 * 3 + 4], "x") > num(cells[5 * 3 + 1], "x"));
    CHECK(num(cells[5 * 4], "y") > num(cells[5 * 3], "y"));
  }
  CHECK(xml::elements(*panels[0], "rect")[3 * 5 + 2]->all_text() == kNasty + " \xC2\xB7 H3K4me1 (class high): 0.5");
  CHECK(has_text(*d.root, kNasty));
  for (const auto& mark : kMarks) {
    int n = 0;
    for (const xml::Node* t : xml::elements(*d.root, "text")) n += t->all_text() == mark;
    CHECK(n == 2);  // one column label per panel
  }
  CHECK(fig::category_heatmap_svg(m) == svg);
}

TEST_CASE("category heatmap: a fixed colour range colours shares alike in every figure") {
  fig::CategoryHeatmap m;
  m.title = "shares";
  m.rows = {"E003", "E004"};
  m.columns = {"H3K4me3", "H3K27me3"};
  m.panels.push_back({"", {0.5, 0.25, 0.0, 0.25}});
  auto fills = [](const std::string& svg) {
    std::vector<std::string> out;
    const xml::Document d = parse_ok(svg);
    for (const xml::Node* r : xml::elements(*xml::with_class(*d.root, "g", "cells").at(0), "rect")) out.push_back(r->attr("fill"));
    return out;
  };
  // From the data: 0.5 is the top of the scale.
  CHECK(fills(fig::category_heatmap_svg(m))[0] == fig::sequential_colour(1.0).hex());
  m.range = fig::ValueRange{0, 1};
  const std::string svg = fig::category_heatmap_svg(m);
  const std::vector<std::string> f = fills(svg);
  CHECK(f[0] == fig::sequential_colour(0.5).hex());
  CHECK(f[1] == fig::sequential_colour(0.25).hex());
  CHECK(f[2] == fig::sequential_colour(0.0).hex());
  CHECK(has_text(*parse_ok(svg).root, "1.0"));  // the colour bar reaches 1
  m.range = fig::ValueRange{1, 1};
  CHECK_THROWS_AS(fig::category_heatmap_svg(m), dc::Error);
}

TEST_CASE("grouped bars: one bar per series and group, heights proportional, negative bars below zero") {
  fig::GroupedBars b;
  b.title = "mark importance";
  b.y_label = "share";
  b.groups = kMarks;
  b.series = {"class-map high", "grad-input high", kNasty};
  b.values = {0.1, 0.2, 0.3, 0.4, 0.0,  /**/ 0.2, 0.2, 0.2, 0.2, 0.2,  /**/ -0.1, 0.05, std::nan(""), 0.1, 0.25};
  const xml::Document d = parse_ok(fig::grouped_bars_svg(b));
  const auto series = xml::with_class(*d.root, "g", "bars");
  REQUIRE(series.size() == 3);
  CHECK(xml::elements(*series[0], "rect").size() == 5);
  CHECK(xml::elements(*series[1], "rect").size() == 5);
  CHECK(xml::elements(*series[2], "rect").size() == 4);  // the NaN draws no bar ...
  CHECK(has_text(*series[2], "n/a"));                     // ... but says so
  CHECK(series[0]->attr("fill") != series[1]->attr("fill"));
  const auto s0 = xml::elements(*series[0], "rect");
  CHECK(num(s0[3], "height") == doctest::Approx(4 * num(s0[0], "height")).epsilon(1e-3));
  CHECK(num(s0[4], "height") == 0);
  // Bars of one group sit side by side, in series order.
  const auto s1 = xml::elements(*series[1], "rect");
  CHECK(num(s1[0], "x") > num(s0[0], "x"));
  CHECK(num(s1[0], "x") < num(s0[1], "x"));
  // The negative bar hangs from the zero line: its top is where positive bars end.
  const auto s2 = xml::elements(*series[2], "rect");
  const double zero = num(s0[0], "y") + num(s0[0], "height");
  CHECK(num(s2[0], "y") == doctest::Approx(zero).epsilon(1e-3));
  CHECK(num(s2[0], "height") == doctest::Approx(num(s0[0], "height")).epsilon(1e-3));
  CHECK(s2[0]->all_text() == kNasty + " \xC2\xB7 H3K27me3: -0.1");
  for (const auto& t : {std::string("class-map high"), kNasty, std::string("H3K9me3"), std::string("share")}) CHECK(has_text(*d.root, t));

  b.values.pop_back();
  CHECK_THROWS_AS(fig::grouped_bars_svg(b), dc::Error);
  b.values.assign(15, std::nan(""));
  CHECK(parse_ok(fig::grouped_bars_svg(b)).root->all_text().find("no data") != std::string::npos);
}

TEST_CASE("training curves: one point per epoch in both panels, best epoch marked, NaN makes a gap") {
  fig::TrainingCurves c;
  c.title = "training";
  c.epochs = {1, 2, 3, 4, 5};
  c.train_loss = {0.7, 0.6, 0.55, 0.5, 0.48};
  c.valid_auroc = {0.70, 0.75, 0.78, 0.77, 0.76};
  c.best_epoch = 3;
  const xml::Document d = parse_ok(fig::training_curves_svg(c));
  const auto lines = xml::elements(*d.root, "polyline");
  REQUIRE(lines.size() == 2);
  const auto loss = polyline_points(lines[0]), auroc = polyline_points(lines[1]);
  REQUIRE(loss.size() == 5);
  REQUIRE(auroc.size() == 5);
  // Within the panel: loss falls (y grows downwards), AUROC peaks at epoch 3.
  for (int i = 1; i < 5; ++i) CHECK(loss[i].second > loss[i - 1].second);
  CHECK(auroc[2].second < auroc[1].second);
  CHECK(auroc[2].second < auroc[3].second);
  const auto best = xml::with_class(*d.root, "line", "best-epoch");
  REQUIRE(best.size() == 2);
  CHECK(num(best[0], "x1") == doctest::Approx(loss[2].first).epsilon(1e-4));
  CHECK(num(best[1], "x1") == doctest::Approx(auroc[2].first).epsilon(1e-4));
  // Points map onto the panel frames: epoch ticks are whole numbers.
  const auto f = frames(*d.root);
  REQUIRE(f.size() == 2);
  CHECK(loss[0].first > f[0].x);
  CHECK(loss[4].first < f[0].x + f[0].w);
  CHECK(auroc[0].first > f[1].x);
  for (const char* t : {"1", "2", "3", "4", "5", "train loss", "valid AUROC", "epoch"}) CHECK(has_text(*d.root, t));
  CHECK_FALSE(has_text(*d.root, "2.5"));

  c.train_loss[2] = std::nan("");
  const xml::Document gap = parse_ok(fig::training_curves_svg(c));
  CHECK(xml::elements(*gap.root, "polyline").size() == 3);  // loss in two runs, AUROC in one

  fig::TrainingCurves one;
  one.epochs = {1};
  one.train_loss = {0.69};
  one.valid_auroc = {0.6};
  one.best_epoch = 1;
  const xml::Document single = parse_ok(fig::training_curves_svg(one));
  CHECK(xml::elements(*single.root, "circle").size() == 4);  // a dot and the best-epoch ring per panel
  one.train_loss = {std::nan("")};
  CHECK(parse_ok(fig::training_curves_svg(one)).root->all_text().find("no data") != std::string::npos);
  one.epochs.clear();
  CHECK_THROWS_AS(fig::training_curves_svg(one), dc::Error);
}

TEST_CASE("ROC figure: the curve's points, the diagonal, AUROC in the legend") {
  const std::vector<float> s = {0.1f, 0.4f, 0.35f, 0.8f};
  const std::vector<int8_t> y = {0, 0, 1, 1};
  const xml::Document d = parse_ok(fig::roc_svg("test ROC", {{kNasty, dc::roc_curve(s, y), dc::auroc(s, y)}}));
  const auto f = frames(*d.root);
  REQUIRE(f.size() == 1);
  const auto curves = xml::with_class(*d.root, "polyline", "curve");
  REQUIRE(curves.size() == 1);
  std::vector<std::pair<double, double>> data;
  for (auto [px, py] : polyline_points(curves[0])) data.emplace_back((px - f[0].x) / f[0].w, 1 - (py - f[0].y) / f[0].h);
  const std::vector<std::pair<double, double>> want = {{0, 0}, {0, 0.5}, {0.5, 0.5}, {0.5, 1}, {1, 1}};
  REQUIRE(data.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(data[i].first == doctest::Approx(want[i].first).epsilon(1e-4));
    CHECK(data[i].second == doctest::Approx(want[i].second).epsilon(1e-4));
  }
  const auto chance = xml::with_class(*d.root, "line", "chance");
  REQUIRE(chance.size() == 1);
  CHECK(num(chance[0], "x1") == doctest::Approx(f[0].x));
  CHECK(num(chance[0], "y1") == doctest::Approx(f[0].y + f[0].h));
  CHECK(num(chance[0], "x2") == doctest::Approx(f[0].x + f[0].w));
  CHECK(num(chance[0], "y2") == doctest::Approx(f[0].y));
  CHECK(has_text(*d.root, kNasty + " (AUROC 0.750)"));
  CHECK(has_text(*d.root, "chance (AUROC 0.5)"));
  CHECK(parse_ok(fig::roc_svg("empty", {})).root->all_text().find("no data") != std::string::npos);
}

TEST_CASE("PR figure: steps whose area is the average precision, the prevalence baseline") {
  const std::vector<float> s = {0.1f, 0.4f, 0.35f, 0.8f};
  const std::vector<int8_t> y = {0, 0, 1, 1};
  const xml::Document d = parse_ok(fig::pr_svg("test PR", {{"model", dc::pr_curve(s, y), dc::aupr(s, y)}}, 0.5));
  const auto f = frames(*d.root);
  REQUIRE(f.size() == 1);
  const auto curves = xml::with_class(*d.root, "polyline", "curve");
  REQUIRE(curves.size() == 1);
  std::vector<std::pair<double, double>> data;
  for (auto [px, py] : polyline_points(curves[0])) data.emplace_back((px - f[0].x) / f[0].w, 1 - (py - f[0].y) / f[0].h);
  // Thresholds 0.8 (R .5, P 1), 0.4 (R .5, P .5), 0.35 (R 1, P 2/3), 0.1 (R 1, P .5).
  const std::vector<std::pair<double, double>> want = {{0, 1}, {0.5, 1}, {0.5, 0.5}, {0.5, 2.0 / 3}, {1, 2.0 / 3}, {1, 0.5}};
  REQUIRE(data.size() == want.size());
  double area = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(data[i].first == doctest::Approx(want[i].first).epsilon(1e-3));
    CHECK(data[i].second == doctest::Approx(want[i].second).epsilon(1e-3));
    if (i) area += (data[i].first - data[i - 1].first) * data[i].second;  // horizontal runs only
  }
  CHECK(area == doctest::Approx(5.0 / 6).epsilon(1e-3));
  const auto baseline = xml::with_class(*d.root, "line", "chance");
  REQUIRE(baseline.size() == 1);
  CHECK(num(baseline[0], "y1") == doctest::Approx(f[0].y + f[0].h / 2));
  CHECK(has_text(*d.root, "model (AUPR 0.833)"));
  CHECK(has_text(*d.root, "random (prevalence 0.500)"));
}

TEST_CASE("the sweep's AUROC figure is drawn on the same canvas and is well-formed") {
  dc::io::SweepSummary s;
  s.cells = {"E003", "E004"};
  s.models = {kNasty};
  s.simulated = {false, false};
  dc::io::RunResult r;
  r.cell = "E003";
  r.model = kNasty;
  r.status = "done";
  r.test_auroc = 0.8;
  s.results = {r, dc::io::RunResult{"E004", kNasty}};
  const xml::Document d = parse_ok(dc::io::auroc_vs_paper_svg(s));
  CHECK(has_text(*d.root, kNasty));
  CHECK(xml::elements(*d.root, "circle").size() == 2);  // one finished run, one legend marker
}

// ---- report.html ------------------------------------------------------------------

namespace {

fig::RunReport example_report() {
  fig::RunReport r;
  r.run_dir = "runs/" + kNasty;
  r.model = "deepchrome";
  r.cell = kNasty;
  r.device = "cpu";
  r.threads = 2;
  r.parameters = 12345;
  r.best_epoch = 2;
  r.valid_auroc = 0.8;
  r.valid_aupr = 0.7;
  r.test_auroc = 0.75;
  r.test_aupr = 0.8333;
  r.train_seconds = 3.25;
  r.epochs = {{1, 0.69, 0.7, 0.6, 0.7, 0.6, 1.5}, {2, 0.6, 0.8, 0.7, 0.75, 0.8333, 1.75}};
  r.config_json = "{\n  \"note\": \"" + kNasty + "\"\n}";
  r.test_prob_high = {0.1f, 0.4f, 0.35f, 0.8f};
  r.test_labels = {0, 0, 1, 1};
  r.generator = "deepchrome test";
  return r;
}

std::string write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_CASE("report.html: polyglot page with the run, metrics, curves and the sections given") {
  fig::RunReport r = example_report();
  fig::ReportSection extra;
  extra.title = "Class maps " + kNasty;
  extra.text = "what the model learned";
  extra.figures.push_back({"map " + kNasty, "caption " + kNasty, fig::bin_heatmap_svg(example_map())});
  extra.tables.push_back(fig::table_from_csv("importance", "", "method,class,H3K4me3\ngrad-input,high,0.5\n", "mark_importance.csv"));
  r.sections.push_back(extra);
  const std::string html = fig::report_html(r);
  CHECK(html.rfind("<!DOCTYPE html>\n", 0) == 0);
  const xml::Document d = parse_ok(html);
  CHECK(d.root->name == "html");
  // Training curves, ROC, PR, and the section's heatmap.
  CHECK(xml::elements(*d.root, "svg").size() == 4);
  CHECK(xml::elements(*d.root, "figure").size() == 4);
  CHECK(xml::elements(*d.root, "script").empty());
  const auto metas = xml::elements(*d.root, "meta");
  bool csp = false;
  for (const xml::Node* m : metas) csp |= m->attr("http-equiv") == "Content-Security-Policy" && m->attr("content").find("default-src 'none'") == 0;
  CHECK(csp);
  // User text round-trips through the escaping: title, header, config, section, caption.
  CHECK(xml::elements(*d.root, "title")[0]->all_text() == "deepchrome run report: deepchrome on " + kNasty);
  CHECK(xml::elements(*d.root, "pre")[0]->all_text() == r.config_json);
  std::vector<std::string> h2;
  for (const xml::Node* h : xml::elements(*d.root, "h2")) h2.push_back(h->all_text());
  CHECK(h2 == std::vector<std::string>{"Run", "Metrics", "Training", "Test split: ROC and precision-recall", extra.title});
  bool caption = false;
  for (const xml::Node* c : xml::elements(*d.root, "figcaption")) caption |= c->all_text() == "caption " + kNasty;
  CHECK(caption);
  // Metrics table and the legend of the ROC computed from the predictions.
  CHECK(html.find("<td>0.7500</td><td>0.8333</td>") != std::string::npos);
  CHECK(html.find("deepchrome (AUROC 0.750)") != std::string::npos);
  CHECK(html.find("<td class=\"key\">grad-input</td><td>high</td><td>0.5</td>") != std::string::npos);
  CHECK(fig::report_html(r) == html);

  // No labels: the page says why there are no curves instead of drawing them.
  r.test_labels.clear();
  const xml::Document unlabeled = parse_ok(fig::report_html(r));
  CHECK(xml::elements(*unlabeled.root, "svg").size() == 2);

  const fs::path dir = fs::path(DC_BINARY_DIR) / "test_figures_work";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fig::write_report_html((dir / "report.html").string(), example_report());
  CHECK(read(dir / "report.html") == fig::report_html(example_report()));
}

TEST_CASE("table_from_csv names the source and line of a ragged row") {
  const fig::Table t = fig::table_from_csv("t", "", "a,b\n1,2\r\n\n3,4\n", "x.csv");
  CHECK(t.header == std::vector<std::string>{"a", "b"});
  CHECK(t.rows.size() == 2);
  try {
    fig::table_from_csv("t", "", "a,b\n1,2\n3\n", "x.csv");
    FAIL("no error");
  } catch (const dc::InputError& e) {
    CHECK(std::string(e.what()) == "x.csv:3: 1 fields, the header has 2");
  }
  CHECK_THROWS_AS(fig::table_from_csv("t", "", "", "empty.csv"), dc::InputError);
}

namespace {

// A run folder of 4 test genes (2 high, 2 low) with attention weights chosen so that the
// class means are known: high genes put α = 0.5 on bins 1 and 2 of every mark, low genes
// spread theirs (0.01 each); β high = (0.4, 0.1, 0.1, 0.3, 0.1), low = (0.1, ..., 0.6).
fs::path write_run(const std::string& name) {
  const fs::path dir = fs::path(DC_BINARY_DIR) / "test_figures_work" / name;
  fs::remove_all(dir);
  write(dir / "metrics.json", R"({"model": "attentivechrome", "cell": "C1", "best_epoch": 2, "valid_auroc": 0.8, "valid_aupr": 0.7,
    "test_auroc": 0.75, "test_aupr": 0.8333, "train_seconds": 1.5, "epochs_run": 2, "parameters": 100, "device": "cpu",
    "threads": 2, "epochs": [{"epoch": 1, "train_loss": 0.69, "valid_auroc": 0.7, "valid_aupr": 0.6, "test_auroc": 0.7,
    "test_aupr": 0.6, "seconds": 0.7}, {"epoch": 2, "train_loss": 0.6, "valid_auroc": 0.8, "valid_aupr": 0.7,
    "test_auroc": 0.75, "test_aupr": 0.8333, "seconds": 0.8}]})");
  write(dir / "config.json", R"({"model": {"name": "attentivechrome"}, "train": {"epochs": 2}})");
  write(dir / "predictions.csv", "gene_id,label,prob_high\ng1,0,0.1\ng2,0,0.4\ng3,1,0.35\ng4,1,0.8\n");
  std::string bins = "gene_id,mark";
  for (int t = 1; t <= 100; ++t) bins += ",a" + std::to_string(t);
  bins += "\n";
  for (const char* g : {"g1", "g2", "g3", "g4"}) {
    const bool high = g[1] == '3' || g[1] == '4';
    for (const auto& mark : kMarks) {
      bins += std::string(g) + "," + mark;
      for (int t = 0; t < 100; ++t) bins += high ? (t < 2 ? ",0.5" : ",0") : ",0.01";
      bins += "\n";
    }
  }
  write(dir / "attention_bins.csv", bins);
  write(dir / "attention_marks.csv",
        "gene_id,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3\ng1,0.1,0.1,0.1,0.1,0.6\ng2,0.1,0.1,0.1,0.1,0.6\n"
        "g3,0.5,0.1,0.1,0.2,0.1\ng4,0.3,0.1,0.1,0.4,0.1\n");
  return dir;
}

std::string input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const dc::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace

TEST_CASE("load_run_report: metrics, predictions and the attention means per class") {
  const fs::path dir = write_run("run");
  const fig::RunReport r = fig::load_run_report(dir.string());
  CHECK(r.model == "attentivechrome");
  CHECK(r.cell == "C1");
  CHECK(r.best_epoch == 2);
  CHECK(r.epochs.size() == 2);
  CHECK(r.epochs[1].valid_auroc == 0.8);
  CHECK(r.test_labels == std::vector<int8_t>{0, 0, 1, 1});
  CHECK(r.test_prob_high == std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f});
  CHECK(dc::auroc(r.test_prob_high, r.test_labels) == 0.75);
  REQUIRE(r.sections.size() == 1);
  const fig::ReportSection& s = r.sections[0];
  CHECK(s.title == "Attention");
  REQUIRE(s.figures.size() == 2);
  // α: the high panel's bins 1-2 hold the maximum mean (0.5), its other bins 0; the low
  // panel is 0.01 everywhere.
  const xml::Document alpha = parse_ok(s.figures[0].svg);
  const auto panels = xml::with_class(*alpha.root, "g", "cells");
  REQUIRE(panels.size() == 2);
  const auto high = xml::elements(*panels[0], "rect"), low = xml::elements(*panels[1], "rect");
  CHECK(high[0]->attr("fill") == "#fde725");
  CHECK(high[401]->attr("fill") == "#fde725");
  CHECK(high[2]->attr("fill") == "#440154");
  CHECK(low[57]->attr("fill") == fig::sequential_colour(0.01 / 0.5).hex());
  // Each cell's tooltip gives the mean itself.
  CHECK(high[401]->all_text() == "H3K9me3, bin 2 (-4.9 to -4.8 kb): 0.5");
  CHECK(low[57]->all_text() == "H3K27me3, bin 58 (0.7 to 0.8 kb): 0.01");
  CHECK(has_text(*alpha.root, "high-expression genes (n = 2)"));
  // β: means per class in the table and as bar heights.
  REQUIRE(s.tables.size() == 1);
  CHECK(s.tables[0].rows[0] == std::vector<std::string>{"high-expression genes", "2", "0.4000", "0.1000", "0.1000", "0.3000", "0.1000"});
  CHECK(s.tables[0].rows[1] == std::vector<std::string>{"low-expression genes", "2", "0.1000", "0.1000", "0.1000", "0.1000", "0.6000"});
  const xml::Document beta = parse_ok(s.figures[1].svg);
  const auto bars = xml::with_class(*beta.root, "g", "bars");
  REQUIRE(bars.size() == 2);
  const auto hb = xml::elements(*bars[0], "rect");
  CHECK(num(hb[0], "height") == doctest::Approx(4 * num(hb[1], "height")).epsilon(1e-3));
  // The whole page.
  const xml::Document page = parse_ok(fig::report_html(r));
  CHECK(xml::elements(*page.root, "svg").size() == 5);
}

TEST_CASE("load_run_report: missing and malformed files are InputErrors that name them") {
  const fs::path dir = write_run("bad");
  const std::string d = dir.string();
  auto load = [&] { fig::load_run_report(d); };

  write(dir / "attention_bins.csv", read(dir / "attention_bins.csv") + "g9,H3K4me3" + std::string(100, ',') + "\n");
  CHECK(input_error(load).find("attention_bins.csv:22: gene 'g9' is not in predictions.csv") != std::string::npos);
  fs::remove(dir / "attention_bins.csv");
  write(dir / "attention_marks.csv", "gene_id,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3\ng1,0.1,x,0.1,0.1,0.6\n");
  CHECK(input_error(load).find("attention_marks.csv:2: H3K36me3 'x' is not a finite number") != std::string::npos);
  fs::remove(dir / "attention_marks.csv");
  CHECK_NOTHROW(load());

  write(dir / "predictions.csv", "gene_id,label,prob_high\ng1,0,0.1\ng2,2,0.4\n");
  CHECK(input_error(load).find("predictions.csv:3: label '2' is not 0 or 1") != std::string::npos);
  write(dir / "predictions.csv", "gene_id,label,prob_high\ng1,0,nan\n");
  CHECK(input_error(load).find("predictions.csv:2: prob_high 'nan' is not a probability") != std::string::npos);
  write(dir / "predictions.csv", "gene,score\n");
  CHECK(input_error(load).find("predictions.csv:1: expected the header gene_id,prob_high") != std::string::npos);
  fs::remove(dir / "predictions.csv");
  CHECK(input_error(load).find("predictions.csv: cannot open") != std::string::npos);

  write(dir / "config.json", "{not json");
  CHECK(input_error(load).find("config.json: not valid JSON") != std::string::npos);
  write(dir / "metrics.json", R"({"model": "m", "cell": "c"})");
  CHECK(input_error(load).find("metrics.json: missing key \"best_epoch\"") != std::string::npos);
  write(dir / "metrics.json", R"({"model": "m", "cell": "c", "best_epoch": "two"})");
  CHECK(input_error(load).find("metrics.json: key \"best_epoch\" has the wrong type") != std::string::npos);
  fs::remove(dir / "metrics.json");
  CHECK(input_error(load).find("metrics.json: cannot open") != std::string::npos);
}

TEST_CASE("load_run_report: one attention over all marks (lstm-attn) is one heatmap row") {
  const fs::path dir = write_run("all_marks");
  fs::remove(dir / "attention_marks.csv");
  std::string bins = "gene_id,mark";
  for (int t = 1; t <= 100; ++t) bins += ",a" + std::to_string(t);
  bins += "\n";
  for (const char* g : {"g1", "g2", "g3", "g4"}) {
    bins += std::string(g) + ",all";
    for (int t = 0; t < 100; ++t) bins += ",0.01";
    bins += "\n";
  }
  write(dir / "attention_bins.csv", bins);
  const fig::RunReport r = fig::load_run_report(dir.string());
  REQUIRE(r.sections.size() == 1);
  REQUIRE(r.sections[0].figures.size() == 1);
  CHECK(r.sections[0].tables.empty());
  const xml::Document d = parse_ok(r.sections[0].figures[0].svg);
  const auto panels = xml::with_class(*d.root, "g", "cells");
  REQUIRE(panels.size() == 2);
  CHECK(xml::elements(*panels[0], "rect").size() == 100);
  CHECK(has_text(*d.root, "all marks"));
}
