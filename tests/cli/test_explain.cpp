// `deepchrome explain` as a user runs it: the files it writes (headers exactly as documented),
// that they agree with each other, that it is deterministic, the attention outputs of an
// attention model, `train` with the config's explain section, and bad input (exit 2, nothing
// written). The maps' mathematics is checked in tests/models/test_explain.cpp.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "command_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

using namespace dc::test::command;

namespace {

const fs::path kWork = fs::path(DC_BINARY_DIR) / "test_explain_work";
const char* kMarks[] = {"H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3"};

Result sh(const std::string& cmd) { return sh_in(kWork, cmd); }

std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream f(p);
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

std::string bins_header(const std::string& first) {
  std::string h = first;
  for (int b = 1; b <= 100; ++b) h += ",b" + std::to_string(b);
  return h;
}

std::string first_line(const fs::path& p) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);
  return line;
}

// A map file (mark,b1..b100): the five marks in the release's order; returns mark -> values.
std::map<std::string, std::vector<double>> read_map(const fs::path& p) {
  const auto rows = read_csv(p);
  std::map<std::string, std::vector<double>> m;
  REQUIRE_MESSAGE(rows.size() == 6, p);
  CHECK_MESSAGE(first_line(p) == bins_header("mark"), p);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(rows[i + 1].size() == 101);
    CHECK(rows[i + 1][0] == kMarks[i]);
    std::vector<double> v;
    for (int b = 1; b <= 100; ++b) v.push_back(std::stod(rows[i + 1][b]));
    m[kMarks[i]] = v;
  }
  return m;
}

void no_temporaries(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    CHECK_MESSAGE(!has(e.path().filename().string(), ".tmp"), e.path());
}

// One simulated cell and a trained DeepChrome and AttentiveChrome run on it.
struct World {
  World() {
    fs::remove_all(kWork);
    fs::create_directories(kWork);
    Result r = sh(kBin + " simulate --out sim --cells C1 --genes 120 --seed 5");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    for (const char* model : {"deepchrome", "attentivechrome"}) {
      write(kWork / (std::string(model) + ".json"),
            std::string(R"({"data": {"root": "sim", "cells": ["C1"]}, "model": {"name": ")") + model + R"("},
              "train": {"epochs": 1, "batch_size": 8, "seed": 1}, "threads": 2, "output_dir": "runs"})");
      r = sh(kBin + " train " + model + ".json --quiet");
      REQUIRE_MESSAGE(r.code == 0, r.out);
    }
  }
};

World& world() {
  static World w;
  return w;
}

const std::string kFast = " --restarts 2 --iterations 40 --ig-steps 8 --threads 2";

}  // namespace

TEST_CASE("explain writes every map, mark importance, truth, figures and report; all agree; deterministic") {
  world();
  // --per-gene with every class-high gene of the test split: their mean is attribution_high.csv.
  const auto test_rows = read_csv(kWork / "sim/C1/classification/test.csv");
  std::vector<std::string> high_genes;
  for (size_t i = 1; i < test_rows.size(); ++i)
    if (test_rows[i].back() == "1" && (high_genes.empty() || high_genes.back() != test_rows[i][0]))
      high_genes.push_back(test_rows[i][0]);
  REQUIRE(high_genes.size() > 3);
  std::string ids;
  for (const auto& g : high_genes) ids += g + "\n";
  write(kWork / "high_genes.txt", ids);

  const fs::path run = kWork / "runs/C1/deepchrome";
  Result r = sh(kBin + " explain --checkpoint runs/C1/deepchrome --per-gene high_genes.txt" + kFast);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(has(r.out, "Spearman rho vs planted"));
  const fs::path out = run / "explain";  // the default --out
  for (const char* f : {"class_map_high.csv", "class_map_low.csv", "class_map_high_sd.csv", "class_map_low_sd.csv",
                        "attribution_high.csv", "attribution_low.csv", "ig_high.csv", "ig_low.csv", "mark_importance.csv",
                        "truth.csv", "report.html", "explain.json", "attribution_genes_high.csv", "ig_genes_high.csv"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  CHECK(!fs::exists(out / "attention_bins_mean.csv"));  // DeepChrome has no attention
  no_temporaries(out);

  // Class maps: each restart is clamped and divided by its maximum, so the mean lies in [0, 1].
  for (const char* c : {"high", "low"}) {
    const auto m = read_map(out / (std::string("class_map_") + c + ".csv"));
    const auto sd = read_map(out / (std::string("class_map_") + c + "_sd.csv"));
    double top = 0;
    for (const auto& [mark, v] : m)
      for (size_t b = 0; b < v.size(); ++b) {
        CHECK(v[b] >= 0);
        CHECK(v[b] <= 1 + 1e-6);
        CHECK(sd.at(mark)[b] >= 0);
        top = std::max(top, v[b]);
      }
    CHECK(top > 0.3);
  }

  // attribution_high.csv is the mean over the class-high genes of their own maps.
  const auto mean = read_map(out / "attribution_high.csv");
  const auto genes = read_csv(out / "attribution_genes_high.csv");
  CHECK(first_line(out / "attribution_genes_high.csv") == bins_header("gene_id,mark"));
  REQUIRE(genes.size() == 1 + 5 * high_genes.size());
  for (int i = 0; i < 5; ++i) {
    double worst = 0, scale = 1e-12;
    for (int b = 0; b < 100; ++b) {
      double s = 0;
      for (size_t g = 0; g < high_genes.size(); ++g) {
        const auto& row = genes[1 + 5 * g + i];
        CHECK(row[0] == high_genes[g]);
        CHECK(row[1] == kMarks[i]);
        s += std::stod(row[2 + b]);
      }
      s /= static_cast<double>(high_genes.size());
      worst = std::max(worst, std::fabs(s - mean.at(kMarks[i])[b]));
      scale = std::max(scale, std::fabs(s));
    }
    CHECK_MESSAGE(worst <= 1e-5 * scale + 1e-9, kMarks[i] << ": mean of per-gene maps differs by " << worst);
  }

  // mark_importance.csv: one row per method and class, the positive part of each map summed
  // over bins and normalised.
  const auto imp = read_csv(out / "mark_importance.csv");
  CHECK(first_line(out / "mark_importance.csv") == "method,class,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3");
  REQUIRE(imp.size() == 7);
  const std::map<std::string, std::string> prefix = {{"class-map", "class_map"}, {"grad-input", "attribution"},
                                                     {"integrated-gradients", "ig"}};
  for (size_t i = 1; i < imp.size(); ++i) {
    REQUIRE(imp[i].size() == 7);
    const auto map = read_map(out / (prefix.at(imp[i][0]) + "_" + imp[i][1] + ".csv"));
    double total = 0;
    std::vector<double> pos;
    for (const char* mark : kMarks) {
      double p = 0;
      for (double v : map.at(mark)) p += std::max(v, 0.0);
      pos.push_back(p);
      total += p;
    }
    for (int k = 0; k < 5; ++k) CHECK(std::stod(imp[i][2 + k]) == doctest::Approx(total > 0 ? pos[k] / total : 0).epsilon(1e-4));
  }

  // truth.csv and explain.json.
  CHECK(has(slurp(out / "truth.csv"), "integrated-gradients"));
  const json info = json::parse(slurp(out / "explain.json"));
  CHECK(info["model"] == "deepchrome");
  CHECK(info["class_map"]["restarts"] == 2);
  CHECK(info["integrated_gradients"]["steps"] == 8);
  for (const char* m : {"class-map", "grad-input", "integrated-gradients"}) CHECK_MESSAGE(info["seconds"].contains(m), m);
  const std::string html = slurp(out / "report.html");
  CHECK(has(html, "<svg"));
  CHECK(has(html, "Mark importance"));

  // Same run, options and threads: the same bytes (into another --out).
  r = sh(kBin + " explain --checkpoint runs/C1/deepchrome --out again --quiet --per-gene high_genes.txt" + kFast);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  for (const char* f : {"class_map_high.csv", "class_map_low_sd.csv", "attribution_low.csv", "ig_high.csv", "mark_importance.csv",
                        "ig_genes_high.csv"})
    CHECK_MESSAGE(slurp(out / f) == slurp(kWork / "again" / f), f);

  // --methods picks; a different seed moves the class maps.
  r = sh(kBin + " explain --checkpoint runs/C1/deepchrome --out seed2 --quiet --methods class-map --seed 2" + kFast);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(fs::exists(kWork / "seed2/class_map_high.csv"));
  CHECK(!fs::exists(kWork / "seed2/attribution_high.csv"));
  CHECK(slurp(kWork / "seed2/class_map_high.csv") != slurp(out / "class_map_high.csv"));
}

TEST_CASE("explain an attention model: mean attention per class, and every other method") {
  world();
  Result r = sh(kBin + " explain --checkpoint runs/C1/attentivechrome --out att --quiet" + kFast);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const fs::path out = kWork / "att";
  for (const char* f : {"class_map_high.csv", "attribution_low.csv", "ig_high.csv", "attention_bins_mean.csv",
                        "attention_marks_mean.csv", "report.html", "explain.json"})
    CHECK_MESSAGE(fs::exists(out / f), f);
  // α: for each class and mark a distribution over the 100 bins; β: one over the marks.
  CHECK(first_line(out / "attention_bins_mean.csv") == bins_header("class,mark"));
  const auto bins = read_csv(out / "attention_bins_mean.csv");
  REQUIRE(bins.size() == 11);
  for (size_t i = 1; i < bins.size(); ++i) {
    CHECK(bins[i][0] == (i <= 5 ? "high" : "low"));
    CHECK(bins[i][1] == kMarks[(i - 1) % 5]);
    double s = 0;
    for (int b = 2; b < 102; ++b) s += std::stod(bins[i][b]);
    CHECK(s == doctest::Approx(1).epsilon(1e-4));
  }
  CHECK(first_line(out / "attention_marks_mean.csv") == "class,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3");
  const auto marks = read_csv(out / "attention_marks_mean.csv");
  REQUIRE(marks.size() == 3);
  for (size_t i = 1; i < 3; ++i) {
    double s = 0;
    for (int k = 1; k <= 5; ++k) s += std::stod(marks[i][k]);
    CHECK(s == doctest::Approx(1).epsilon(1e-4));
  }
}

TEST_CASE("train with the config's explain section explains the best model into <run>/explain") {
  world();
  write(kWork / "with_explain.json", R"({"data": {"root": "sim", "cells": ["C1"]}, "model": {"name": "deepchrome"},
    "train": {"epochs": 1, "batch_size": 8, "seed": 1}, "threads": 2, "output_dir": "runs_explained",
    "explain": {"enabled": true, "methods": ["class-map", "grad-input"], "restarts": 2, "iterations": 40}})");
  Result r = sh(kBin + " train with_explain.json --quiet");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const fs::path out = kWork / "runs_explained/C1/deepchrome/explain";
  CHECK(fs::exists(out / "explain.json"));
  CHECK(fs::exists(out / "class_map_high.csv"));
  CHECK(fs::exists(out / "attribution_low.csv"));
  CHECK(!fs::exists(out / "ig_high.csv"));
  // The same as explaining the saved run afterwards with the same options.
  r = sh(kBin + " explain --checkpoint runs_explained/C1/deepchrome --out after --quiet --methods class-map,grad-input --restarts 2 "
                "--iterations 40 --threads 2");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  for (const char* f : {"class_map_high.csv", "attribution_low.csv", "mark_importance.csv"})
    CHECK_MESSAGE(slurp(out / f) == slurp(kWork / "after" / f), f);

  // "explain": true is short for the defaults; a wrong key is named.
  write(kWork / "bad_explain.json", R"({"data": {"root": "sim", "cells": ["C1"]}, "model": {"name": "deepchrome"},
    "output_dir": "runs_bad", "explain": {"enabled": true, "method": ["class-map"]}})");
  r = sh(kBin + " train bad_explain.json --quiet");
  CHECK(r.code == 2);
  CHECK(has(r.out, "explain.method"));
  CHECK(!fs::exists(kWork / "runs_bad"));
}

TEST_CASE("explain bad input: a clear message, exit code 2, nothing written") {
  world();
  // A run folder without weights.
  fs::create_directories(kWork / "noweights");
  fs::copy_file(kWork / "runs/C1/deepchrome/config.json", kWork / "noweights/config.json", fs::copy_options::overwrite_existing);
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"--checkpoint noweights", "noweights/model.safetensors"},
      {"--checkpoint nowhere", "nowhere"},
      {"--checkpoint runs/C1/deepchrome --data sim", "not a cell type folder in the DeepChrome layout"},
      {"--checkpoint runs/C1/deepchrome --data runs/C1", "not a cell type folder in the DeepChrome layout"},
      {"--checkpoint runs/C1/deepchrome --methods class-map,saliency", "unknown method 'saliency'"},
      {"--checkpoint runs/C1/deepchrome --methods attention", "method 'attention' needs a model with attention"},
      {"--checkpoint runs/C1/deepchrome --split validation", "--split expects train, valid or test"},
      {"--checkpoint runs/C1/deepchrome --restarts 0", "--restarts expects a positive integer"},
      {"--checkpoint runs/C1/deepchrome --per-gene missing.txt", "missing.txt"},
      {"--checkpoint runs/C1/deepchrome --ig-steps many", "--ig-steps expects a positive integer"},
  };
  for (const Case& c : cases) {
    fs::remove_all(kWork / "bad_out");
    const Result r = sh(kBin + " explain " + c.args + " --out bad_out");
    CHECK_MESSAGE(r.code == 2, c.args << "\n" << r.out);
    CHECK_MESSAGE(has(r.out, c.message), c.args << "\n" << r.out);
    CHECK_MESSAGE(!fs::exists(kWork / "bad_out"), c.args);
  }
  // A gene id that is not in the split.
  write(kWork / "unknown_gene.txt", "NOT_A_GENE\n");
  fs::remove_all(kWork / "bad_out");
  const Result r = sh(kBin + " explain --checkpoint runs/C1/deepchrome --per-gene unknown_gene.txt --out bad_out");
  CHECK(r.code == 2);
  CHECK(has(r.out, "gene 'NOT_A_GENE' is not in"));
  CHECK(!fs::exists(kWork / "bad_out"));
  CHECK(!fs::exists(kWork / "noweights/explain"));
}
