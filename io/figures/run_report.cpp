// Builds a RunReport from a run folder as `deepchrome train` writes it (io/report.h):
// metrics.json, predictions.csv, config.json, and the optional attention exports, whose
// per-gene weights are averaged per class (label of the gene in predictions.csv).
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/figures/html_report.h"
#include "io/figures/plots.h"
#include "io/figures/svg.h"

namespace dc::io::figures {
namespace {

using nlohmann::json;

// The data release's marks and bins (as io/dataset.h, which this room does not include: it
// brings in the models and the engine).
constexpr const char* kMarks[] = {"H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3"};
constexpr int kBinCount = 100;

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

json parse_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(path + ": not valid JSON (" + e.what() + ")");
  }
}

template <class T>
T get(const json& j, const char* key, const std::string& path) {
  if (!j.contains(key)) throw InputError(path + ": missing key \"" + key + "\"");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(path + ": key \"" + std::string(key) + "\" has the wrong type (" + j.at(key).dump() + ")");
  }
}

// Line-by-line reader of a CSV file with comma-separated fields, for error messages that
// name the file and line.
class CsvLines {
 public:
  CsvLines(std::string path) : path_(std::move(path)), text_(read_file(path_)) {}
  // Next non-empty line split into fields; false at the end.
  bool next(std::vector<std::string_view>& fields) {
    while (pos_ < text_.size()) {
      size_t end = text_.find('\n', pos_);
      if (end == std::string::npos) end = text_.size();
      std::string_view line(text_.data() + pos_, end - pos_);
      pos_ = end + 1;
      ++line_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      fields.clear();
      for (size_t a = 0;;) {
        const size_t b = line.find(',', a);
        fields.push_back(line.substr(a, b == std::string_view::npos ? std::string_view::npos : b - a));
        if (b == std::string_view::npos) break;
        a = b + 1;
      }
      return true;
    }
    return false;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(path_ + ":" + std::to_string(line_) + ": " + what);
  }
  double number(std::string_view field, const char* column) const {
    double v = 0;
    const auto res = std::from_chars(field.data(), field.data() + field.size(), v);
    if (res.ec != std::errc() || res.ptr != field.data() + field.size() || !std::isfinite(v))
      fail(std::string(column) + " '" + std::string(field) + "' is not a finite number");
    return v;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_, text_;
  size_t pos_ = 0;
  int line_ = 0;
};

void expect_header(CsvLines& csv, const std::vector<std::string_view>& got, const std::vector<std::string>& want) {
  std::string expected;
  for (const auto& w : want) expected += (expected.empty() ? "" : ",") + w;
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < want.size(); ++i) ok = got[i] == want[i];
  if (!ok) csv.fail("expected the header " + expected);
}

// predictions.csv: gene_id,label,prob_high (or gene_id,prob_high without labels).
struct Predictions {
  std::vector<std::string> genes;
  std::vector<float> prob_high;
  std::vector<int8_t> labels;  // empty without a label column
};

Predictions read_predictions(const std::string& path) {
  CsvLines csv(path);
  std::vector<std::string_view> f;
  if (!csv.next(f)) throw InputError(path + ": empty (expected the header gene_id,label,prob_high)");
  const bool labelled = f.size() == 3;
  expect_header(csv, f, labelled ? std::vector<std::string>{"gene_id", "label", "prob_high"} : std::vector<std::string>{"gene_id", "prob_high"});
  Predictions p;
  while (csv.next(f)) {
    if (f.size() != (labelled ? 3u : 2u)) csv.fail(std::to_string(f.size()) + " fields, expected " + (labelled ? "3" : "2"));
    p.genes.emplace_back(f[0]);
    if (labelled) {
      if (f[1] != "0" && f[1] != "1") csv.fail("label '" + std::string(f[1]) + "' is not 0 or 1");
      p.labels.push_back(static_cast<int8_t>(f[1][0] - '0'));
    }
    const std::string_view s = f.back();
    float v = 0;
    const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
    if (res.ec != std::errc() || res.ptr != s.data() + s.size() || !(v >= 0 && v <= 1))
      csv.fail("prob_high '" + std::string(s) + "' is not a probability in [0, 1]");
    p.prob_high.push_back(v);
  }
  if (p.genes.empty()) throw InputError(path + ": no genes after the header");
  return p;
}

// The classes the attention means are split by: label 1 (high), label 0 (low), or one
// group "all test genes" when predictions.csv has no labels.
struct Classes {
  std::vector<std::string> names;
  std::unordered_map<std::string, int> class_of_gene;
  std::vector<size_t> sizes;
};

Classes classes_of(const Predictions& p) {
  Classes c;
  if (p.labels.empty()) {
    c.names = {"all test genes"};
    for (const auto& g : p.genes) c.class_of_gene[g] = 0;
  } else {
    c.names = {"high-expression genes", "low-expression genes"};
    for (size_t i = 0; i < p.genes.size(); ++i) c.class_of_gene[p.genes[i]] = p.labels[i] == 1 ? 0 : 1;
  }
  return c;
}

int gene_class(const Classes& c, CsvLines& csv, std::string_view gene) {
  const auto it = c.class_of_gene.find(std::string(gene));
  if (it == c.class_of_gene.end()) csv.fail("gene '" + std::string(gene) + "' is not in predictions.csv");
  return it->second;
}

std::string panel_title(const Classes& c, size_t k, size_t genes) {
  return c.names[k] + " (n = " + std::to_string(genes) + ")";
}

// attention_bins.csv: gene_id,mark,a1..a100 -> mean alpha per class and mark.
Figure attention_bins_figure(const std::string& path, const Classes& classes, const std::string& title_prefix) {
  CsvLines csv(path);
  std::vector<std::string_view> f;
  std::vector<std::string> header = {"gene_id", "mark"};
  for (int t = 1; t <= kBinCount; ++t) header.push_back(std::string("a").append(std::to_string(t)));
  if (!csv.next(f)) throw InputError(path + ": empty (expected the header gene_id,mark,a1..a100)");
  expect_header(csv, f, header);
  std::vector<std::string> rows;  // marks in the file's order ("all" for one attention over every mark)
  const size_t K = classes.names.size();
  std::vector<std::vector<double>> sums(K);
  std::vector<std::vector<size_t>> counts(K);
  while (csv.next(f)) {
    if (f.size() != header.size()) csv.fail(std::to_string(f.size()) + " fields, expected " + std::to_string(header.size()));
    const int k = gene_class(classes, csv, f[0]);
    size_t row = 0;
    while (row < rows.size() && rows[row] != f[1]) ++row;
    if (row == rows.size()) {
      if (rows.size() == 5) csv.fail("more than 5 distinct marks");
      rows.emplace_back(f[1]);
      for (size_t c = 0; c < K; ++c) {
        sums[c].resize(rows.size() * kBinCount, 0.0);
        counts[c].resize(rows.size(), 0);
      }
    }
    for (int t = 0; t < kBinCount; ++t) sums[k][row * kBinCount + t] += csv.number(f[2 + t], "attention weight");
    counts[k][row] += 1;
  }
  if (rows.empty()) throw InputError(path + ": no attention rows after the header");
  BinHeatmap map;
  map.title = title_prefix + "mean attention over bins (\xCE\xB1)";
  map.rows = rows;
  for (auto& r : map.rows)
    if (r == "all") r = "all marks";  // lstm-attn: one attention over the bins of every mark
  map.value_label = "mean \xCE\xB1";
  map.scale = ColourScale::Sequential;
  for (size_t c = 0; c < K; ++c) {
    HeatmapPanel panel;
    panel.title = panel_title(classes, c, rows.empty() ? 0 : counts[c][0]);
    panel.values.resize(rows.size() * kBinCount);
    for (size_t r = 0; r < rows.size(); ++r)
      for (int t = 0; t < kBinCount; ++t)
        panel.values[r * kBinCount + t] = counts[c][r] ? sums[c][r * kBinCount + t] / static_cast<double>(counts[c][r]) : std::nan("");
    map.panels.push_back(std::move(panel));
  }
  return {"Attention over bins",
          "Mean attention weight \xCE\xB1 of each 100-bp bin (per mark), over the test genes of each class. Each mark's \xCE\xB1 "
          "sums to 1 over its 100 bins; 0.01 is uniform attention. From attention_bins.csv.",
          bin_heatmap_svg(map)};
}

// attention_marks.csv: gene_id,<5 marks> -> mean beta per class, as bars and a table.
void attention_marks(const std::string& path, const Classes& classes, const std::string& title_prefix, ReportSection& section) {
  CsvLines csv(path);
  std::vector<std::string_view> f;
  std::vector<std::string> header = {"gene_id"};
  for (const char* m : kMarks) header.emplace_back(m);
  if (!csv.next(f)) throw InputError(path + ": empty (expected the header gene_id,H3K27me3,...)");
  expect_header(csv, f, header);
  const size_t K = classes.names.size();
  std::vector<double> sums(K * 5, 0.0);
  std::vector<size_t> counts(K, 0);
  while (csv.next(f)) {
    if (f.size() != 6) csv.fail(std::to_string(f.size()) + " fields, expected 6");
    const int k = gene_class(classes, csv, f[0]);
    for (int m = 0; m < 5; ++m) sums[k * 5 + m] += csv.number(f[1 + m], kMarks[m]);
    counts[k] += 1;
  }
  GroupedBars bars;
  bars.title = title_prefix + "mean attention over marks (\xCE\xB2)";
  bars.y_label = "mean \xCE\xB2";
  bars.groups.assign(std::begin(kMarks), std::end(kMarks));
  Table table;
  table.title = "Mean attention over marks (\xCE\xB2) per class";
  table.header = {"class", "genes"};
  for (const char* m : kMarks) table.header.emplace_back(m);
  for (size_t k = 0; k < K; ++k) {
    bars.series.push_back(panel_title(classes, k, counts[k]));
    std::vector<std::string> row = {classes.names[k], std::to_string(counts[k])};
    for (int m = 0; m < 5; ++m) {
      const double mean = counts[k] ? sums[k * 5 + m] / static_cast<double>(counts[k]) : std::nan("");
      bars.values.push_back(mean);
      row.push_back(format_fixed(mean, 4));
    }
    table.rows.push_back(std::move(row));
  }
  section.figures.push_back({"Attention over marks",
                             "Mean attention weight \xCE\xB2 of each mark over the test genes of each class (\xCE\xB2 sums to 1 over "
                             "the 5 marks; 0.2 is uniform). From attention_marks.csv.",
                             grouped_bars_svg(bars)});
  section.tables.push_back(std::move(table));
}

}  // namespace

RunReport load_run_report(const std::string& run_dir) {
  RunReport r;
  r.run_dir = run_dir;
  const std::string metrics_path = run_dir + "/metrics.json", predictions_path = run_dir + "/predictions.csv",
                    config_path = run_dir + "/config.json";
  const json m = parse_json(metrics_path);
  if (!m.is_object()) throw InputError(metrics_path + ": expected a JSON object");
  r.model = get<std::string>(m, "model", metrics_path);
  r.cell = get<std::string>(m, "cell", metrics_path);
  r.best_epoch = get<int>(m, "best_epoch", metrics_path);
  r.valid_auroc = get<double>(m, "valid_auroc", metrics_path);
  r.valid_aupr = get<double>(m, "valid_aupr", metrics_path);
  r.test_auroc = get<double>(m, "test_auroc", metrics_path);
  r.test_aupr = get<double>(m, "test_aupr", metrics_path);
  r.train_seconds = get<double>(m, "train_seconds", metrics_path);
  r.parameters = m.contains("parameters") ? get<int64_t>(m, "parameters", metrics_path) : 0;
  r.device = m.contains("device") ? get<std::string>(m, "device", metrics_path) : "cpu";
  r.threads = m.contains("threads") ? get<int>(m, "threads", metrics_path) : 0;
  const json epochs = get<json>(m, "epochs", metrics_path);
  if (!epochs.is_array()) throw InputError(metrics_path + ": \"epochs\" is not an array");
  for (size_t i = 0; i < epochs.size(); ++i) {
    const std::string where = metrics_path + ": epochs[" + std::to_string(i) + "]";
    const json& e = epochs[i];
    if (!e.is_object()) throw InputError(where + ": expected an object");
    RunEpoch re;
    re.epoch = get<int>(e, "epoch", where);
    re.train_loss = get<double>(e, "train_loss", where);
    re.valid_auroc = get<double>(e, "valid_auroc", where);
    re.valid_aupr = e.contains("valid_aupr") ? get<double>(e, "valid_aupr", where) : std::nan("");
    re.test_auroc = e.contains("test_auroc") ? get<double>(e, "test_auroc", where) : std::nan("");
    re.test_aupr = e.contains("test_aupr") ? get<double>(e, "test_aupr", where) : std::nan("");
    re.seconds = e.contains("seconds") ? get<double>(e, "seconds", where) : std::nan("");
    r.epochs.push_back(re);
  }

  const json config = parse_json(config_path);
  if (!config.is_object()) throw InputError(config_path + ": expected a JSON object");
  r.config_json = config.dump(2);

  const Predictions p = read_predictions(predictions_path);
  r.test_prob_high = p.prob_high;
  r.test_labels = p.labels;

  const std::string bins_path = run_dir + "/attention_bins.csv", marks_path = run_dir + "/attention_marks.csv";
  const bool have_bins = file_exists(bins_path), have_marks = file_exists(marks_path);
  if (have_bins || have_marks) {
    const Classes classes = classes_of(p);
    ReportSection s;
    s.title = "Attention";
    s.text = "What the " + r.model +
             " model attended to on the test genes, with the weights of the best validation epoch, averaged over the "
             "genes of each class (their labels in predictions.csv).";
    const std::string prefix = r.model + " on " + r.cell + ": ";
    if (have_bins) s.figures.push_back(attention_bins_figure(bins_path, classes, prefix));
    if (have_marks) attention_marks(marks_path, classes, prefix, s);
    r.sections.push_back(std::move(s));
  }
  return r;
}

}  // namespace dc::io::figures
