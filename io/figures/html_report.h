// report.html: one self-contained page per run (inline CSS and inline SVG only; no script,
// no network: a Content-Security-Policy forbids every external load). It shows the run
// (model, cell, resolved config), its metrics, the training curves, the test split's ROC and
// precision-recall curves, then any further sections: figures ({title, caption, svg}) and
// tables, e.g. mean attention from the run folder, or what `explain` computes.
//
// The page is polyglot markup (well-formed XML as well as HTML), deterministic (no dates,
// no absolute paths unless given), and written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dc::io::figures {

struct Figure {
  std::string title, caption;
  std::string svg;  // one <svg> element (io/figures/plots.h)
};

struct Table {
  std::string title, caption;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each header.size() cells
};
// A table from CSV text (header line first, comma-separated, no quoting); `source` names
// the text in errors (InputError "<source>:<line>: ...").
Table table_from_csv(const std::string& title, const std::string& caption, const std::string& csv, const std::string& source);

struct ReportSection {
  std::string title, text;  // text: a paragraph under the heading (may be empty)
  std::vector<Figure> figures;
  std::vector<Table> tables;
};

struct RunEpoch {
  int epoch = 0;
  double train_loss = 0, valid_auroc = 0, valid_aupr = 0, test_auroc = 0, test_aupr = 0, seconds = 0;
};

struct RunReport {
  std::string run_dir;         // shown in the header as given
  std::string model, cell, device;
  int threads = 0;
  int64_t parameters = 0;
  int best_epoch = 0;
  double valid_auroc = 0, valid_aupr = 0, test_auroc = 0, test_aupr = 0, train_seconds = 0;
  std::vector<RunEpoch> epochs;
  std::string config_json;     // the resolved config, pretty-printed (shown folded)
  // The test split's scores (predictions.csv); the ROC and PR curves are drawn from them.
  // Labels empty: the split had none, and the curves are left out.
  std::vector<float> test_prob_high;
  std::vector<int8_t> test_labels;
  std::vector<ReportSection> sections;
  std::string generator;       // footer, e.g. "deepchrome 0.1.0"
};

// Reads a run folder as `deepchrome train` writes it: metrics.json, predictions.csv and
// config.json, plus attention_bins.csv / attention_marks.csv when present (turned into a
// section "Attention": mean α per class as a heatmap, mean β per class as bars and a table).
// A missing or malformed file is an InputError that names it (and the line or key).
RunReport load_run_report(const std::string& run_dir);

// The page.
std::string report_html(const RunReport& report);
// Writes report_html() to `path` atomically.
void write_report_html(const std::string& path, const RunReport& report);

}  // namespace dc::io::figures
