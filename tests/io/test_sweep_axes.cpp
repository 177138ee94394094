// The sweep's seed and grid axes (io/experiment/sweep.h): config expansion and its errors,
// mean ± sample sd over seeds at the grid point of best mean valid AUROC, longest-first order.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/experiment/sweep.h"
#include "kernels/base/error.h"

namespace fs = std::filesystem;
using namespace dc;

namespace {

size_t count_of(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

io::RunResult done(const std::string& cell, double valid, double test, double aupr) {
  io::RunResult r;
  r.cell = cell;
  r.model = "deepchrome";
  r.status = "done";
  r.best_epoch = 5;
  r.valid_auroc = valid;
  r.test_auroc = test;
  r.test_aupr = aupr;
  return r;
}

// Two real cells (paper AUROC E003 0.77, E004 0.81), one model, grid train.lr [0.1, 0.01],
// seeds [1, 2, 3]; results ordered cell, model, grid point, seed.
io::SweepSummary example() {
  io::SweepSummary s;
  s.cells = {"E003", "E004"};
  s.models = {"deepchrome"};
  s.axes.seeds = {1, 2, 3};
  s.axes.grid_keys = {"train.lr"};
  s.axes.grid_points = {nlohmann::json::array({0.1}), nlohmann::json::array({0.01})};
  s.simulated = {false, false};
  s.source = "sweep.json";
  s.data_root = "data";
  s.results = {
      // E003, point 0: valid 0.70 0.72 0.74 (mean 0.72); its test AUROCs are the best, but
      // the choice is by valid AUROC, so this point loses.
      done("E003", 0.70, 0.80, 0.5), done("E003", 0.72, 0.82, 0.5), done("E003", 0.74, 0.84, 0.5),
      // E003, point 1: valid 0.75 0.77 0.73 (mean 0.75: chosen); test 0.70 0.74 0.78:
      //   mean 0.74, deviations -0.04 0 +0.04, sum of squares 0.0032, / (n-1 = 2) = 0.0016,
      //   sd 0.04 (the population sd, / 3, would be 0.0327); aupr 0.5 0.6 0.7: mean 0.6, sd 0.1
      done("E003", 0.75, 0.70, 0.5), done("E003", 0.77, 0.74, 0.6), done("E003", 0.73, 0.78, 0.7),
      // E004, point 0: seeds 1, 2 done, valid 0.5 0.75 (mean 0.625), seed 3 pending;
      //   test 0.9 0.8: mean 0.85, sd sqrt((0.05² + 0.05²) / 1) = 0.0707; aupr 0.4 0.6: mean 0.5
      done("E004", 0.5, 0.9, 0.4), done("E004", 0.75, 0.8, 0.6), io::RunResult{"E004", "deepchrome"},
      // E004, point 1: valid 0.625 x 3 (mean 0.625): a tie (exact in binary), the first point wins
      done("E004", 0.625, 0.6, 0.3), done("E004", 0.625, 0.6, 0.3), done("E004", 0.625, 0.6, 0.3)};
  return s;
}

struct TempDir {
  fs::path dir = fs::temp_directory_path() / "dc_test_sweep_axes";
  TempDir() { fs::create_directories(dir); }
  ~TempDir() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("sample sd: n-1 in the denominator, NaN below two values") {
  // {1,2,3,4}: mean 2.5, squares 2.25+0.25+0.25+2.25 = 5, / 3: sd 1.2910 (population: 1.1180)
  CHECK(io::sample_sd({1, 2, 3, 4}) == doctest::Approx(1.2909944));
  CHECK(std::isnan(io::sample_sd({0.7})));
  CHECK(std::isnan(io::sample_sd({})));
}

TEST_CASE("axes summary: the grid point of best mean valid AUROC, mean ± sample sd over its finished seeds") {
  const io::SweepSummary s = example();
  const io::CellModelStats a = io::cell_model_stats(s, 0, 0);
  CHECK(a.status == "done");
  CHECK(a.point == 1);
  CHECK(a.done == 3);
  CHECK(a.point_valid[0] == doctest::Approx(0.72));
  CHECK(a.point_valid[1] == doctest::Approx(0.75));
  CHECK(a.test_mean == doctest::Approx(0.74));
  CHECK(a.test_sd == doctest::Approx(0.04));
  CHECK(a.aupr_sd == doctest::Approx(0.1));
  const io::CellModelStats b = io::cell_model_stats(s, 1, 0);
  CHECK(b.point == 0);  // tie at 0.625: the first grid point
  CHECK(b.done == 2);
  CHECK(b.test_mean == doctest::Approx(0.85));
  CHECK(b.test_sd == doctest::Approx(0.0707107));

  const std::string csv = io::summary_csv(s);
  CHECK(csv.rfind("cell,cell_name,model,grid_point,train.lr,chosen,seed,status,best_epoch,valid_auroc,test_auroc,test_aupr,"
                  "paper_auroc,diff_vs_paper\n", 0) == 0);
  CHECK(count_of(csv, "\n") == 1 + 12 + 2);  // header, one row per run, mean and median
  CHECK(count_of(csv, "E003,H1_Cell_Line,deepchrome,1,0.01,yes,2,done,5,0.7700,0.7400,0.6000,0.7700,-0.0300\n") == 1);
  CHECK(count_of(csv, "E003,H1_Cell_Line,deepchrome,0,0.1,,1,done,5,0.7000,0.8000,0.5000,0.7700,+0.0300\n") == 1);
  CHECK(count_of(csv, "E004,H1_BMP4_Derived_Mesendoderm_Cultured_Cells,deepchrome,0,0.1,yes,3,pending,,,,,0.8100,\n") == 1);
  // Over the chosen means: valid (0.75 + 0.625) / 2 = 0.6875, test (0.74 + 0.85) / 2 = 0.795,
  // aupr (0.6 + 0.5) / 2 = 0.55, paper (0.77 + 0.81) / 2 = 0.79, diff (-0.03 + 0.04) / 2 = +0.005
  CHECK(count_of(csv, "mean,,deepchrome,,,,,2/2,,0.6875,0.7950,0.5500,0.7900,+0.0050\n") == 1);

  const std::string md = io::summary_md(s);
  CHECK(count_of(md, "| cell | name | paper | deepchrome | Δ | grid |") == 1);
  CHECK(count_of(md, "| E003 | H1_Cell_Line | 0.7700 | 0.7400 ± 0.0400 | -0.0300 | 1 |") == 1);
  CHECK(count_of(md, "| E004 | H1_BMP4_Derived_Mesendoderm_Cultured_Cells | 0.8100 | 0.8500 ± 0.0707 (2/3 seeds) | +0.0400 | 0 |") == 1);
  CHECK(count_of(md, "| **mean** | | 0.7900 | **0.7950** | +0.0050 | |") == 1);
  CHECK(count_of(md, "sample standard deviation (n−1)") == 1);
  CHECK(count_of(md, "| 0 | 0.1 | 1 of 2 cell types |") == 1);
  CHECK(count_of(md, "| 1 | 0.01 | 1 of 2 cell types |") == 1);

  const std::string svg = io::auroc_vs_paper_svg(s);
  CHECK(count_of(svg, "<title>E003 H1_Cell_Line deepchrome: 0.7400 ± 0.0400 (grid point 1) (paper 0.7700)</title>") == 1);
  CHECK(count_of(svg, "mean ± sample sd (n−1) over 3 seeds") == 1);
  CHECK(io::summary_brief(s) == "  deepchrome       mean test AUROC 0.7950 over 2 cell types\n");
}

TEST_CASE("sweep config with seeds and a grid: cell x model x grid point x seed, variant folders") {
  TempDir t;
  const std::string path = (t.dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003", "E004"]},
    "train": {"epochs": 3, "seed": 7},
    "sweep": {"models": [{}, {"model": {"name": "attentivechrome"}, "train": {"optimizer": "adam", "lr": 0.0001}}],
              "seeds": [5, 2],
              "grid": {"train.lr": [0.1, 0.01], "train.batch_size": [16, 64, 128]}},
    "output_dir": "o"})";
  const io::SweepConfig s = io::load_sweep_config(path, {}, 4);
  CHECK(s.axes.seeds == std::vector<int64_t>{5, 2});
  CHECK(s.axes.grid_keys == std::vector<std::string>{"train.batch_size", "train.lr"});  // sorted
  REQUIRE(s.axes.grid_points.size() == 6);
  CHECK(s.axes.grid_points[0] == nlohmann::json::array({16, 0.1}));
  CHECK(s.axes.grid_points[1] == nlohmann::json::array({16, 0.01}));  // the last key varies fastest
  CHECK(s.axes.grid_points[5] == nlohmann::json::array({128, 0.01}));
  CHECK(s.axes.point_label(1) == "train.batch_size=16, train.lr=0.01");
  REQUIRE(s.jobs.size() == 2 * 2 * 6 * 2);
  // Job ((cell * 2 + model) * 6 + point) * 2 + seed: cell E004, model attentivechrome, point 1, seed 2.
  const io::SweepJob& j = s.jobs[((1 * 2 + 1) * 6 + 1) * 2 + 1];
  CHECK(j.cell == "E004");
  CHECK(j.model == "attentivechrome");
  CHECK(j.point == 1);
  CHECK(j.variant == "grid1-seed2");
  CHECK(j.label == "attentivechrome grid1 seed2");
  CHECK(j.run_dir == "o/grid1-seed2/E004/attentivechrome");
  CHECK(io::job_file_name(j) == "E004.attentivechrome.grid1-seed2.json");
  CHECK(j.config["output_dir"] == "o/grid1-seed2");  // `train` writes <output_dir>/<cell>/<model>
  CHECK(j.config["train"]["seed"] == 2);
  CHECK(j.config["train"]["lr"] == 0.01);
  CHECK(j.config["train"]["batch_size"] == 16);
  CHECK(j.config["train"]["optimizer"] == "adam");
  CHECK(s.resolved["sweep"]["seeds"] == nlohmann::json::array({5, 2}));
  CHECK(s.resolved["sweep"]["grid"]["train.lr"] == nlohmann::json::array({0.1, 0.01}));

  // Seeds alone; the grid as nested objects (what --set sweep.grid.train.lr=[...] makes).
  const io::SweepConfig seeds = io::load_sweep_config(path, {"sweep.grid={}", "sweep.models=[]"}, 4);
  REQUIRE(seeds.jobs.size() == 4);
  CHECK(seeds.jobs[1].run_dir == "o/seed2/E003/deepchrome");
  const io::SweepConfig nested = io::load_sweep_config(path, {"sweep.grid={}", "sweep.grid.train.lr=[0.5,0.25]", "sweep.seeds=[1]"}, 4);
  CHECK(nested.axes.grid_keys == std::vector<std::string>{"train.lr"});
  CHECK(nested.jobs[1].run_dir == "o/grid1-seed1/E003/deepchrome");
  CHECK(nested.jobs[1].config["train"]["lr"] == 0.25);
}

TEST_CASE("sweep config axes: bad seeds and grids are input errors naming the key") {
  TempDir t;
  const std::string path = (t.dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003"]}, "output_dir": "o"})";
  auto error_of = [&](const std::vector<std::string>& sets) -> std::string {
    try {
      io::load_sweep_config(path, sets, 2);
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(count_of(error_of({"sweep.seeds=[]"}), "sweep.seeds: the list is empty") == 1);
  CHECK(count_of(error_of({"sweep.seeds=3"}), "sweep.seeds: expected a list of integer seeds") == 1);
  CHECK(count_of(error_of({"sweep.seeds=[1, 2.5]"}), "sweep.seeds[1]: expected an integer seed, got 2.5") == 1);
  CHECK(count_of(error_of({"sweep.seeds=[1, \"2\"]"}), "sweep.seeds[1]: expected an integer seed") == 1);
  CHECK(count_of(error_of({"sweep.seeds=[1, -2]"}), "sweep.seeds[1]: a seed must be >= 0") == 1);
  CHECK(count_of(error_of({"sweep.seeds=[4, 5, 4]"}), "sweep.seeds[2]: seed 4 is listed twice (also sweep.seeds[0])") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.lrr=[0.1]"}), "sweep.grid[\"train.lrr\"]: not a config key (known keys under train: ") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.lr=[0.1, \"fast\"]"}), "sweep.grid[\"train.lr\"][1]: train.lr: expected a number") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.lr=[0.1, -1]"}), "sweep.grid[\"train.lr\"][1]: train.lr: must be > 0") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.lr=[]"}), "sweep.grid[\"train.lr\"]: the list is empty") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.lr=0.1"}), "sweep.grid[\"train.lr\"]: expected a list of values") == 1);
  CHECK(count_of(error_of({"sweep.grid.data.root=[\"a\"]"}), "sweep.grid[\"data.root\"]: only \"model.\" and \"train.\" keys") == 1);
  CHECK(count_of(error_of({"sweep.grid.train.seed=[1, 2]"}), "sweep.grid[\"train.seed\"]: list the seeds in sweep.seeds") == 1);
  CHECK(count_of(error_of({"sweep.grid=[1]"}), "sweep.grid: expected an object") == 1);
  CHECK(count_of(error_of({"sweep.grid.model.conv_widht=[1]"}), "sweep.grid[\"model.conv_widht\"]: not a config key") == 1);
  CHECK(count_of(error_of({"sweep.seedz=[1]"}), "sweep.seedz: unknown key (known keys here: grid, models, parallel_runs, seeds)") == 1);
}

TEST_CASE("plan order: longest first by epochs x training set x model factor, ties in config order") {
  TempDir t;
  const std::string path = (t.dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003", "E004"]}, "train": {"epochs": 6},
    "sweep": {"models": [{}, {"model": {"name": "attentivechrome"}, "train": {"epochs": 2}}]}, "output_dir": "o"})";
  const io::SweepConfig s = io::load_sweep_config(path, {}, 2);
  // Jobs: 0 E003 deepchrome, 1 E003 attentivechrome, 2 E004 deepchrome, 3 E004 attentivechrome.
  // Costs with sizes {1, 3}: 6x1x1 = 6, 2x1x10 = 20, 6x3x1 = 18, 2x3x10 = 60.
  CHECK(io::plan_order(s, {0, 1, 2, 3}, {1, 3}) == std::vector<size_t>{3, 1, 2, 0});
  CHECK(io::plan_order(s, {0, 2}, {1, 3}) == std::vector<size_t>{2, 0});
  // Equal sizes: deepchrome 6 each, attentivechrome 20 each; ties keep the given order.
  CHECK(io::plan_order(s, {0, 1, 2, 3}, {1, 1}) == std::vector<size_t>{1, 3, 0, 2});
}
