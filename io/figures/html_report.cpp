// Renders report.html from a RunReport (see html_report.h); loading a run folder into a
// RunReport lives in run_report.cpp.
#include "io/figures/html_report.h"

#include <cmath>
#include <string>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"
#include "models/metrics.h"

namespace dc::io::figures {
namespace {

// Inline style only: the page loads nothing (the CSP below would block it anyway).
constexpr const char* kStyle = R"(
body { font-family: Helvetica, Arial, sans-serif; color: #222; background: #fafafa; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 8px 24px 32px; }
header { background: #1f3b57; color: #fff; padding: 18px 24px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 0; color: #cfdbe6; }
nav { font-size: 14px; margin: 12px 0 0; }
nav a { color: #fff; margin-right: 14px; }
h2 { border-bottom: 2px solid #1f3b57; padding-bottom: 4px; margin-top: 32px; }
section > p { max-width: 900px; line-height: 1.45; }
table { border-collapse: collapse; margin: 8px 0 16px; background: #fff; font-size: 14px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: right; }
th { background: #eef2f6; }
td.key, th.key { text-align: left; }
tbody tr:nth-child(even) { background: #f6f8fa; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { display: table; margin: 0; background: #fff; border: 1px solid #d0d7de; padding: 8px; }
figure h3 { margin: 2px 4px 6px; font-size: 16px; }
figcaption { display: table-caption; caption-side: bottom; background: #fff; border: 1px solid #d0d7de; border-top: 0;
  padding: 0 12px 8px; font-size: 13px; color: #444; line-height: 1.4; }
figure svg { display: block; max-width: 100%; height: auto; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; font-weight: bold; }
pre { background: #fff; border: 1px solid #d0d7de; padding: 10px; overflow-x: auto; font-size: 12px; }
.note { color: #8a4b00; }
footer { color: #777; font-size: 12px; margin-top: 40px; }
)";

std::string esc(const std::string& s) { return xml_escape(s); }

std::string metric(double v) { return format_fixed(v, 4); }

std::string duration(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  if (seconds < 120) return format_fixed(seconds, 1) + " s";
  const long s = std::lround(seconds);
  return std::to_string(s / 3600) + " h " + std::to_string(s / 60 % 60) + " min " + std::to_string(s % 60) + " s";
}

std::string figure_html(const Figure& f) {
  std::string out = "<figure>\n";
  if (!f.title.empty()) out += "<h3>" + esc(f.title) + "</h3>\n";
  out += f.svg;
  if (!f.caption.empty()) out += "<figcaption>" + esc(f.caption) + "</figcaption>\n";
  out += "</figure>\n";
  return out;
}

std::string table_html(const Table& t) {
  std::string out;
  if (!t.title.empty()) out += "<h3>" + esc(t.title) + "</h3>\n";
  out += "<table>\n<thead><tr>";
  for (size_t c = 0; c < t.header.size(); ++c) out += std::string(c == 0 ? "<th class=\"key\">" : "<th>") + esc(t.header[c]) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (size_t c = 0; c < row.size(); ++c) out += std::string(c == 0 ? "<td class=\"key\">" : "<td>") + esc(row[c]) + "</td>";
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  if (!t.caption.empty()) out += "<p>" + esc(t.caption) + "</p>\n";
  return out;
}

std::string section_html(const std::string& id, const ReportSection& s) {
  std::string out = "<section id=\"" + id + "\">\n<h2>" + esc(s.title) + "</h2>\n";
  if (!s.text.empty()) out += "<p>" + esc(s.text) + "</p>\n";
  if (!s.figures.empty()) {
    out += "<div class=\"figures\">\n";
    for (const auto& f : s.figures) out += figure_html(f);
    out += "</div>\n";
  }
  for (const auto& t : s.tables) out += table_html(t);
  out += "</section>\n";
  return out;
}

void kv_row(std::string& out, const std::string& key, const std::string& value) {
  out += "<tr><td class=\"key\">" + esc(key) + "</td><td class=\"key\">" + esc(value) + "</td></tr>\n";
}

// The built-in sections: training curves, then ROC / PR of the test split.
ReportSection training_section(const RunReport& r) {
  ReportSection s;
  s.title = "Training";
  TrainingCurves c;
  c.title = r.model + " on " + r.cell + ": training";
  c.best_epoch = r.best_epoch;
  for (const auto& e : r.epochs) {
    c.epochs.push_back(e.epoch);
    c.train_loss.push_back(e.train_loss);
    c.valid_auroc.push_back(e.valid_auroc);
  }
  s.figures.push_back({"Training curves",
                       "Left: mean training loss (cross-entropy per gene) of each epoch. Right: AUROC on the validation split "
                       "after each epoch. The dashed line marks the best validation epoch, whose weights the run kept.",
                       training_curves_svg(c)});
  return s;
}

ReportSection test_curves_section(const RunReport& r) {
  ReportSection s;
  s.title = "Test split: ROC and precision-recall";
  size_t pos = 0;
  for (int8_t y : r.test_labels) pos += y == 1;
  const size_t n = r.test_labels.size();
  if (n == 0 || pos == 0 || pos == n) {
    s.text = n == 0 ? "predictions.csv has no labels: no curves can be drawn."
                    : "The test labels hold only one class: ROC and precision-recall are undefined.";
    return s;
  }
  const double roc_area = auroc(r.test_prob_high, r.test_labels), pr_area = aupr(r.test_prob_high, r.test_labels);
  const double prevalence = static_cast<double>(pos) / static_cast<double>(n);
  s.text = "From predictions.csv: " + std::to_string(n) + " test genes, " + std::to_string(pos) + " labelled high and " +
           std::to_string(n - pos) + " low (prevalence " + format_fixed(prevalence, 3) + "), scored by the best validation epoch.";
  s.figures.push_back({"ROC curve",
                       "True against false positive rate as the threshold on P(high) falls; the dashed diagonal is a random "
                       "ranking. AUROC is the area under the curve.",
                       roc_svg(r.model + " on " + r.cell + ": test ROC", {{r.model, roc_curve(r.test_prob_high, r.test_labels), roc_area}})});
  s.figures.push_back({"Precision-recall curve",
                       "Precision against recall of the high class; the dashed line is the precision of a random ranking (the "
                       "prevalence). AUPR is the average precision, the area under these steps.",
                       pr_svg(r.model + " on " + r.cell + ": test precision-recall",
                              {{r.model, pr_curve(r.test_prob_high, r.test_labels), pr_area}}, prevalence)});
  return s;
}

}  // namespace

Table table_from_csv(const std::string& title, const std::string& caption, const std::string& csv, const std::string& source) {
  Table t;
  t.title = title;
  t.caption = caption;
  size_t line = 0;
  for (size_t pos = 0; pos < csv.size();) {
    size_t end = csv.find('\n', pos);
    if (end == std::string::npos) end = csv.size();
    std::string text = csv.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) continue;
    std::vector<std::string> cells;
    for (size_t a = 0;;) {
      const size_t b = text.find(',', a);
      cells.push_back(text.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    if (t.header.empty()) {
      t.header = std::move(cells);
    } else {
      if (cells.size() != t.header.size())
        throw InputError(source + ":" + std::to_string(line) + ": " + std::to_string(cells.size()) + " fields, the header has " +
                         std::to_string(t.header.size()));
      t.rows.push_back(std::move(cells));
    }
  }
  if (t.header.empty()) throw InputError(source + ": empty (expected a header line)");
  return t;
}

std::string report_html(const RunReport& r) {
  const std::string title = r.model + " on " + r.cell;
  std::vector<std::pair<std::string, ReportSection>> sections = {{"training", training_section(r)},
                                                                 {"test-curves", test_curves_section(r)}};
  for (size_t i = 0; i < r.sections.size(); ++i) sections.emplace_back("section-" + std::to_string(i + 1), r.sections[i]);

  std::string out =
      "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n";
  out += "<title>deepchrome run report: " + esc(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  out += "<header>\n<h1>" + esc(title) + "</h1>\n<p>deepchrome run report";
  if (!r.run_dir.empty()) out += " \xC2\xB7 run folder <code>" + esc(r.run_dir) + "</code>";
  out += "</p>\n<nav><a href=\"#run\">Run</a><a href=\"#metrics\">Metrics</a>";
  for (const auto& [id, s] : sections) out += "<a href=\"#" + id + "\">" + esc(s.title) + "</a>";
  out += "</nav>\n</header>\n<main>\n";

  out += "<section id=\"run\">\n<h2>Run</h2>\n<table>\n<tbody>\n";
  kv_row(out, "model", r.model);
  kv_row(out, "cell type", r.cell);
  kv_row(out, "parameters", std::to_string(r.parameters));
  kv_row(out, "device", r.device + (r.threads > 0 ? ", " + std::to_string(r.threads) + " threads" : ""));
  kv_row(out, "epochs run", std::to_string(r.epochs.size()));
  out += "</tbody>\n</table>\n";
  out += "<details>\n<summary>Resolved config (config.json: rerun it to repeat this run)</summary>\n<pre>" + esc(r.config_json) +
         "</pre>\n</details>\n</section>\n";

  out += "<section id=\"metrics\">\n<h2>Metrics</h2>\n<table>\n<thead><tr><th class=\"key\">split</th><th>AUROC</th><th>AUPR</th></tr></thead>\n<tbody>\n";
  out += "<tr><td class=\"key\">validation</td><td>" + metric(r.valid_auroc) + "</td><td>" + metric(r.valid_aupr) + "</td></tr>\n";
  out += "<tr><td class=\"key\">test</td><td>" + metric(r.test_auroc) + "</td><td>" + metric(r.test_aupr) + "</td></tr>\n";
  out += "</tbody>\n</table>\n<p>Best validation epoch " + std::to_string(r.best_epoch) + " of " + std::to_string(r.epochs.size()) +
         " (its weights are model.safetensors); training took " + duration(r.train_seconds) + ".</p>\n";
  if (!r.epochs.empty()) {
    Table per_epoch;
    per_epoch.title = "Per epoch";
    per_epoch.header = {"epoch", "train loss", "valid AUROC", "valid AUPR", "test AUROC", "test AUPR", "seconds"};
    for (const auto& e : r.epochs)
      per_epoch.rows.push_back({std::to_string(e.epoch) + (e.epoch == r.best_epoch ? " (best)" : ""), format_fixed(e.train_loss, 4),
                                metric(e.valid_auroc), metric(e.valid_aupr), metric(e.test_auroc), metric(e.test_aupr),
                                format_fixed(e.seconds, 2)});
    out += "<details>\n<summary>Per-epoch metrics</summary>\n" + table_html(per_epoch) + "</details>\n";
  }
  out += "</section>\n";

  for (const auto& [id, s] : sections) out += section_html(id, s);
  out += "<footer>Self-contained page: inline SVG figures, no scripts, nothing loaded from elsewhere.";
  if (!r.generator.empty()) out += " Written by " + esc(r.generator) + ".";
  out += "</footer>\n</main>\n</body>\n</html>\n";
  return out;
}

void write_report_html(const std::string& path, const RunReport& report) { write_file_atomic(path, report_html(report)); }

}  // namespace dc::io::figures
