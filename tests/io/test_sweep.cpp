// The sweep's pure parts: config expansion and the summary built from finished runs.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "kernels/base/error.h"
#include "io/experiment/paper.h"
#include "io/experiment/sweep.h"

namespace fs = std::filesystem;
using namespace dc;

namespace {

size_t count_of(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

io::RunResult done(const std::string& cell, const std::string& model, int epoch, double valid, double test, double aupr) {
  io::RunResult r;
  r.cell = cell;
  r.model = model;
  r.status = "done";
  r.best_epoch = epoch;
  r.valid_auroc = valid;
  r.test_auroc = test;
  r.test_aupr = aupr;
  return r;
}

// Three real cell ids (paper AUROC E003 0.77, E004 0.81, E005 0.80), two models, one run pending.
io::SweepSummary example(bool simulated) {
  io::SweepSummary s;
  s.cells = {"E003", "E004", "E005"};
  s.models = {"deepchrome", "attentivechrome"};
  s.simulated = {simulated, simulated, simulated};
  s.source = "sweep.json";
  s.data_root = "data";
  s.results = {done("E003", "deepchrome", 5, 0.70, 0.75, 0.6),  done("E003", "attentivechrome", 2, 0.71, 0.80, 0.7),
               done("E004", "deepchrome", 7, 0.80, 0.85, 0.8),  io::RunResult{"E004", "attentivechrome"},
               done("E005", "deepchrome", 9, 0.90, 0.95, 0.9),  done("E005", "attentivechrome", 3, 0.72, 0.78, 0.5)};
  return s;
}

}  // namespace

TEST_CASE("paper table: 56 cell types with names and DeepChrome's AUROC (mean 0.8009)") {
  const auto& cells = io::paper_cells();
  REQUIRE(cells.size() == 56);
  CHECK(cells.front().id == "E003");
  CHECK(cells.front().name == "H1_Cell_Line");
  CHECK(cells.front().deepchrome_auroc == doctest::Approx(0.77));
  double sum = 0;
  for (const auto& c : cells) sum += c.deepchrome_auroc;
  CHECK(sum / 56 == doctest::Approx(0.8009).epsilon(0.0005));
  CHECK(io::find_paper_cell("E004") != nullptr);
  CHECK(io::find_paper_cell("S01") == nullptr);
  REQUIRE(io::paper_summary("attentivechrome") != nullptr);
  CHECK(io::paper_summary("attentivechrome")->mean == doctest::Approx(0.8115));
  CHECK(io::paper_summary("mlp") == nullptr);
}

TEST_CASE("summary.csv: rows per run, mean and median of the finished runs, the paper's figure and the difference") {
  const std::string csv = io::summary_csv(example(false));
  CHECK(csv.rfind("cell,cell_name,model,status,best_epoch,valid_auroc,test_auroc,test_aupr,paper_auroc,diff_vs_paper\n", 0) == 0);
  CHECK(count_of(csv, "\n") == 1 + 6 + 4);
  CHECK(count_of(csv, "E003,H1_Cell_Line,deepchrome,done,5,0.7000,0.7500,0.6000,0.7700,-0.0200\n") == 1);
  CHECK(count_of(csv, "E004,H1_BMP4_Derived_Mesendoderm_Cultured_Cells,attentivechrome,pending,,,,,0.8100,\n") == 1);
  // deepchrome: test mean (0.75+0.85+0.95)/3 = 0.85; paper mean (0.77+0.81+0.80)/3 = 0.7933; diff mean 0.0567
  CHECK(count_of(csv, "mean,,deepchrome,3/3,,0.8000,0.8500,0.7667,0.7933,+0.0567\n") == 1);
  // attentivechrome: only E003 and E005 finished: test (0.80, 0.78), paper (0.77, 0.80)
  CHECK(count_of(csv, "mean,,attentivechrome,2/3,,0.7150,0.7900,0.6000,0.7850,+0.0050\n") == 1);
  CHECK(count_of(csv, "median,,deepchrome,3/3,,0.8000,0.8500,0.8000,0.8000,+0.0400\n") == 1);
}

TEST_CASE("summary with simulated data: no paper figures anywhere, and the summary says so") {
  const io::SweepSummary s = example(true);
  const std::string csv = io::summary_csv(s);
  CHECK(count_of(csv, "E003,H1_Cell_Line,deepchrome,done,5,0.7000,0.7500,0.6000,,\n") == 1);
  CHECK(count_of(csv, "0.7700") == 0);
  const std::string md = io::summary_md(s);
  CHECK(count_of(md, "The data are simulated") == 1);
  CHECK(count_of(md, "0.8115") == 0);  // no published summaries next to simulated data
  const std::string svg = io::auroc_vs_paper_svg(s);
  CHECK(count_of(svg, "<circle cx=") == 5 + 2);  // five finished runs and two legend markers
  CHECK(count_of(svg, "simulated data") == 1);
}

TEST_CASE("summary.md and the SVG with real data: side by side, published summaries, diagonal") {
  const io::SweepSummary s = example(false);
  const std::string md = io::summary_md(s);
  CHECK(count_of(md, "| cell | name | paper | deepchrome | Δ | attentivechrome | Δ |") == 1);
  CHECK(count_of(md, "| E004 | H1_BMP4_Derived_Mesendoderm_Cultured_Cells | 0.8100 | 0.8500 | +0.0400 | pending |") == 1);
  CHECK(count_of(md, "| attentivechrome | 2/3 |") == 1);
  CHECK(count_of(md, "0.8115") == 1);
  const std::string svg = io::auroc_vs_paper_svg(s);
  CHECK(svg.rfind("<svg ", 0) == 0);
  CHECK(count_of(svg, "</svg>") == 1);
  CHECK(count_of(svg, "stroke-dasharray") == 1);  // the diagonal
  CHECK(count_of(svg, "<title>E005 ") == 2);
  CHECK(count_of(svg, "(paper 0.8000)") == 2);
}

TEST_CASE("sweep config: models replace whole sections, threads are split, one job per (cell, model)") {
  const fs::path dir = fs::temp_directory_path() / "dc_test_sweep_config";
  fs::create_directories(dir);
  const std::string path = (dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003", "E004"]},
    "train": {"lr_decay": 1e-7, "epochs": 3},
    "sweep": {"parallel_runs": 2, "models": [{}, {"model": {"name": "attentivechrome"}, "train": {"optimizer": "adam", "lr": 0.0001}}]},
    "threads": 4, "output_dir": "o"})";
  const io::SweepConfig s = io::load_sweep_config(path, {}, 16);
  CHECK(s.models == std::vector<std::string>{"deepchrome", "attentivechrome"});
  CHECK(s.threads_per_run == 2);
  REQUIRE(s.jobs.size() == 4);
  CHECK(s.jobs[1].cell == "E003");
  CHECK(s.jobs[1].model == "attentivechrome");
  CHECK(s.jobs[1].run_dir == "o/E003/attentivechrome");
  CHECK(s.jobs[1].config["data"]["cells"] == nlohmann::json({"E003"}));
  CHECK(s.jobs[1].config["threads"] == 2);
  CHECK(s.jobs[1].config["train"]["lr_decay"] == 0.0);  // the top-level train section did not leak in
  CHECK(s.jobs[1].config["train"]["epochs"] == 100);
  CHECK(s.jobs[0].config["train"]["lr_decay"] == 1e-7);
  CHECK(s.resolved["sweep"]["models"].size() == 2);

  const io::SweepConfig all = io::load_sweep_config(path, {"threads=0", "sweep.parallel_runs=3"}, 2);
  CHECK(all.threads_total == 2);
  CHECK(all.threads_per_run == 1);
  CHECK_THROWS_WITH_AS(io::load_sweep_config(path, {"sweep.parallel=2"}, 2), doctest::Contains("sweep.parallel: unknown key"),
                       InputError);
  CHECK_THROWS_WITH_AS(io::load_sweep_config(path, {"sweep.models=[3]"}, 2), doctest::Contains("sweep.models[0]: expected an object"),
                       InputError);
  CHECK_THROWS_WITH_AS(io::load_sweep_config(path, {"data.cells=[\"E003\",\"E003\"]"}, 2), doctest::Contains("listed twice"),
                       InputError);
  fs::remove_all(dir);
}
