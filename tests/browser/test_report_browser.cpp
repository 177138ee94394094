// report.html of a real (tiny) AttentiveChrome run, opened in headless Chromium: it loads
// without console messages (the page's Content-Security-Policy would log any external load),
// the DOM holds every figure, Chromium's XML parser accepts the page as XHTML, and a
// screenshot shows the figures. Two controls prove the checks can fail: a page that tries an
// external load does log a console message, and the same page without its SVGs renders far
// fewer coloured pixels.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "browser/chromium.h"
#include "browser/png.h"
#include "command_util.h"

namespace fs = std::filesystem;
namespace cr = dc::test::chromium;

namespace {

const fs::path kWork = fs::path(DC_BINARY_DIR) / "test_browser_work";
using dc::test::command::kBin;

int sh(const std::string& cmd, std::string* out = nullptr) {
  const dc::test::command::Result r = dc::test::command::sh_in(kWork, cmd);
  if (out) *out = r.out;
  return r.code;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t i = s.find(part); i != std::string::npos; i = s.find(part, i + 1)) ++n;
  return n;
}

// A simulated cell, two epochs of AttentiveChrome, and its report.html.
fs::path make_report() {
  fs::remove_all(kWork);
  fs::create_directories(kWork);
  std::string out;
  REQUIRE_MESSAGE(sh(kBin + " simulate --out sim --cells C1 --genes 300 --seed 11", &out) == 0, out);
  write(kWork / "ac.json", R"({"data": {"root": "sim", "cells": ["C1"]}, "model": {"name": "attentivechrome"},
    "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 8, "epochs": 2, "seed": 1}, "threads": 2, "output_dir": "runs"})");
  REQUIRE_MESSAGE(sh(kBin + " train ac.json --quiet", &out) == 0, out);
  REQUIRE_MESSAGE(sh(kBin + " report --run runs/C1/attentivechrome", &out) == 0, out);
  return kWork / "runs/C1/attentivechrome/report.html";
}

struct Pixels {
  size_t total = 0, non_white = 0, coloured = 0, distinct = 0;
};

// Non-white pixels, strongly coloured ones (channel spread > 80: heatmap cells, bars, curves;
// text and the page's grey frames are not), and distinct colours.
Pixels analyse(const dc::test::png::Image& img) {
  Pixels p;
  std::set<uint32_t> colours;
  p.total = size_t(img.width) * img.height;
  for (size_t i = 0; i < p.total; ++i) {
    const uint8_t r = img.rgb[3 * i], g = img.rgb[3 * i + 1], b = img.rgb[3 * i + 2];
    p.non_white += r < 245 || g < 245 || b < 245;
    p.coloured += std::max({r, g, b}) - std::min({r, g, b}) > 80;
    colours.insert(uint32_t(r) << 16 | uint32_t(g) << 8 | b);
  }
  p.distinct = colours.size();
  return p;
}

Pixels screenshot(const std::string& chromium, const std::string& tag, const fs::path& page) {
  const fs::path png = kWork / (tag + ".png");
  const cr::Run r = cr::run(chromium, kWork, tag, "--hide-scrollbars --window-size=1280,3200 --screenshot='" + png.string() + "'", page);
  REQUIRE_MESSAGE(r.code == 0, "chromium log:\n" << r.log);
  const dc::test::png::Image img = dc::test::png::decode(cr::slurp(png));
  REQUIRE_MESSAGE(img.error.empty(), "PNG: " << img.error);
  CHECK(img.width == 1280);
  CHECK(img.height == 3200);
  return analyse(img);
}

}  // namespace

TEST_CASE("report.html in headless Chromium: no console messages, every figure in the DOM, rendered") {
  const std::string chromium = cr::find();
  REQUIRE(!chromium.empty());
  const fs::path report = make_report();
  const std::string html = cr::slurp(report);
  REQUIRE(count(html, "<svg ") == 5);

  // 1. Parsed as HTML: the DOM holds the five figures, nothing was logged.
  const cr::Run dom = cr::run(chromium, kWork, "dom", "--dump-dom", report);
  REQUIRE_MESSAGE(dom.code == 0, "chromium log:\n" << dom.log);
  CHECK(count(dom.out, "<svg ") == 5);
  CHECK(count(dom.out, "<figure") == 5);
  CHECK(count(dom.out, "<rect ") == count(html, "<rect "));
  CHECK(dom.out.find("<h2>Attention</h2>") != std::string::npos);
  CHECK_MESSAGE(cr::console_lines(dom.log) == "", "console:\n" << cr::console_lines(dom.log));

  // 2. Parsed as XHTML by Chromium's XML parser: a well-formed page has no <parsererror>.
  const fs::path xhtml = kWork / "report.xhtml";
  fs::copy_file(report, xhtml, fs::copy_options::overwrite_existing);
  const cr::Run xml = cr::run(chromium, kWork, "xhtml", "--dump-dom", xhtml);
  REQUIRE_MESSAGE(xml.code == 0, "chromium log:\n" << xml.log);
  CHECK(xml.out.find("parsererror") == std::string::npos);
  CHECK(count(xml.out, "<svg ") == 5);

  // 3. Rendered: a screenshot with the figures' colours.
  const Pixels page = screenshot(chromium, "page", report);
  MESSAGE("screenshot 1280x3200: " << page.non_white << " non-white pixels, " << page.coloured << " coloured, " << page.distinct
                                   << " distinct colours");
  CHECK(page.non_white > page.total / 20);
  CHECK(page.coloured > 40000);  // two 600 x 110 px heatmaps alone are ~130000
  CHECK(page.distinct > 200);

  // Control: the same page without its figures renders few coloured pixels (the check above
  // measures the figures, not the page's header or text).
  const fs::path bare = kWork / "bare.html";
  std::string stripped = html;
  for (size_t a; (a = stripped.find("<svg ")) != std::string::npos;) stripped.erase(a, stripped.find("</svg>", a) + 6 - a);
  write(bare, stripped);
  const Pixels without = screenshot(chromium, "bare", bare);
  MESSAGE("without figures: " << without.coloured << " coloured pixels");
  CHECK(without.coloured * 10 < page.coloured);

  // Control: an external load is blocked by the page's policy and logged as a console message.
  const fs::path leaky = kWork / "leaky.html";
  std::string with_image = html;
  with_image.insert(with_image.find("</main>"), "<img src=\"https://example.invalid/pixel.png\" alt=\"\"/>");
  write(leaky, with_image);
  const cr::Run blocked = cr::run(chromium, kWork, "leaky", "--dump-dom", leaky);
  REQUIRE_MESSAGE(blocked.code == 0, "chromium log:\n" << blocked.log);
  CHECK(cr::console_lines(blocked.log).find("Content Security Policy") != std::string::npos);
}
