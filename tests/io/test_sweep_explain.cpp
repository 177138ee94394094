// Mark importance across a sweep's cell types (io/experiment/sweep_explain.h), from run
// folders written here by hand: which runs count, the CSV's rows and order, the figures,
// and what a malformed mark_importance.csv gives.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/experiment/sweep_explain.h"
#include "kernels/base/error.h"
#include "xml_check.h"

namespace fs = std::filesystem;
using namespace dc;

namespace {

const std::string kHeader = "method,class,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3\n";

void put(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

size_t count_of(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + 1)) ++n;
  return n;
}

// A sweep of E003, E004, E005 x deepchrome, attentivechrome into `dir`/o, explain on or off.
io::SweepConfig sweep_in(const fs::path& dir, bool explain) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003", "E004", "E005"]},
    "sweep": {"models": [{}, {"model": {"name": "attentivechrome"}}]},
    "explain": )" << (explain ? "true" : "false")
                      << R"(, "output_dir": ")" << (dir / "o").string() << R"("})";
  return io::load_sweep_config(path, {}, 2);
}

// An explained run: its mark_importance.csv and, when `finished`, the explain.json that marks it done.
void explained_run(const io::SweepConfig& s, const std::string& cell, const std::string& model, const std::string& rows,
                   bool finished = true) {
  const fs::path dir = fs::path(s.output_dir) / cell / model / "explain";
  put(dir / "mark_importance.csv", kHeader + rows);
  if (finished) put(dir / "explain.json", "{}\n");
}

}  // namespace

TEST_CASE("sweep mark importance: explained runs only, rows by model, method, class and cell, figures per table") {
  const fs::path dir = fs::temp_directory_path() / "dc_test_sweep_explain";
  const io::SweepConfig s = sweep_in(dir, true);
  // E005's deepchrome run was stopped before its explain.json: it does not count yet.
  explained_run(s, "E004", "deepchrome",
                "class-map,high,0.1,0.2,0.3,0.4,0\nclass-map,low,0.5,0.1,0.1,0.1,0.2\n"
                "grad-input,high,0,0.25,0,0.75,0\ngrad-input,low,0.6,0,0,0,0.4\n");
  explained_run(s, "E003", "deepchrome",
                "class-map,high,0.2,0.2,0.2,0.2,0.2\nclass-map,low,0.4,0,0,0,0.6\n"
                "grad-input,high,0.125,0.125,0.25,0.5,0\ngrad-input,low,0,0,0,0,0\n");
  explained_run(s, "E005", "deepchrome", "class-map,high,1,0,0,0,0\nclass-map,low,1,0,0,0,0\n", false);
  explained_run(s, "E005", "attentivechrome", "attention,high,0.1,0.2,0.3,0.2,0.2\nattention,low,0.3,0.1,0.1,0.1,0.4\n");

  const io::MarkImportanceSweep m = io::gather_mark_importance(s);
  CHECK(m.enabled);
  CHECK(m.explained == std::vector<size_t>{2, 1});
  REQUIRE(m.tables.size() == 3);
  CHECK(m.tables[0].method == "class-map");  // in the order of the runs' files
  CHECK(m.tables[1].method == "grad-input");
  CHECK(m.tables[2].model == "attentivechrome");
  CHECK(m.tables[0].missing() == 1);
  CHECK(m.tables[2].missing() == 2);
  CHECK(std::isnan(m.tables[0].values[0][2 * 5]));  // E005, not explained yet

  const std::string csv = io::mark_importance_cells_csv(m);
  CHECK(csv ==
        "model,method,class,cell,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3\n"
        "deepchrome,class-map,high,E003,0.2,0.2,0.2,0.2,0.2\n"
        "deepchrome,class-map,high,E004,0.1,0.2,0.3,0.4,0\n"
        "deepchrome,class-map,low,E003,0.4,0,0,0,0.6\n"
        "deepchrome,class-map,low,E004,0.5,0.1,0.1,0.1,0.2\n"
        "deepchrome,grad-input,high,E003,0.125,0.125,0.25,0.5,0\n"
        "deepchrome,grad-input,high,E004,0,0.25,0,0.75,0\n"
        "deepchrome,grad-input,low,E003,0,0,0,0,0\n"
        "deepchrome,grad-input,low,E004,0.6,0,0,0,0.4\n"
        "attentivechrome,attention,high,E005,0.1,0.2,0.3,0.2,0.2\n"
        "attentivechrome,attention,low,E005,0.3,0.1,0.1,0.1,0.4\n");

  const std::vector<io::NamedFigure> figs = io::mark_importance_figures(m);
  REQUIRE(figs.size() == 6);
  CHECK(figs[0].file == "mark_importance_deepchrome_class-map_high.svg");
  CHECK(figs[1].file == "mark_importance_deepchrome_class-map_low.svg");
  CHECK(figs[5].file == "mark_importance_attentivechrome_attention_low.svg");
  const test::xml::Document d = test::xml::parse(figs[3].svg);
  REQUIRE_MESSAGE(d.ok(), d.error);
  CHECK(count_of(d.root->all_text(), "Mark importance per cell type: deepchrome, grad-input, class low (1 of 3 cell types not explained yet)") == 1);
  const auto cells = test::xml::elements(*test::xml::with_class(*d.root, "g", "cells").at(0), "rect");
  REQUIRE(cells.size() == 3 * 5);
  // E004's grad-input low: H3K27me3 0.6 (row 1, column 0); E005's row is grey (no value).
  CHECK(cells[5]->all_text() == "E004 H1_BMP4_Derived_Mesendoderm_Cultured_Cells \xC2\xB7 H3K27me3: 0.6");
  CHECK(cells[10]->all_text() == "E005 H1_BMP4_Derived_Trophoblast_Cultured_Cells \xC2\xB7 H3K27me3: no value");
  CHECK(count_of(figs[5].svg, "not explained yet") == 1);  // attentivechrome: 2 of 3 missing

  // Written atomically beside the summary; the same runs give the same bytes.
  CHECK(io::write_mark_importance_outputs(s.output_dir, m) == 7);
  for (const auto& f : figs) CHECK(fs::exists(fs::path(s.output_dir) / f.file));
  CHECK(io::mark_importance_cells_csv(io::gather_mark_importance(s)) == csv);
  CHECK(count_of(io::mark_importance_status(m), "deepchrome: 2 of 3 cell types explained, attentivechrome: 1 of 3") == 1);
  // summary.md's section links the CSV and every figure written, and says what is explained.
  const std::string md = io::mark_importance_md(m);
  CHECK(count_of(md, "## Mark importance across cell types") == 1);
  CHECK(count_of(md, "`mark_importance_cells.csv`") == 1);
  CHECK(count_of(md, "`deepchrome` 2 of 3 cell types, `attentivechrome` 1 of 3 cell types") == 1);
  CHECK(count_of(md, "![") == figs.size());
  for (const auto& f : figs) CHECK(count_of(md, "](" + f.file + ")") == 1);
  fs::remove_all(dir);
}

TEST_CASE("sweep mark importance: explain off writes nothing, even where runs hold explain output") {
  const fs::path dir = fs::temp_directory_path() / "dc_test_sweep_explain_off";
  const io::SweepConfig s = sweep_in(dir, false);
  explained_run(s, "E003", "deepchrome", "grad-input,high,1,0,0,0,0\ngrad-input,low,1,0,0,0,0\n");
  const io::MarkImportanceSweep m = io::gather_mark_importance(s);
  CHECK(!m.enabled);
  CHECK(m.tables.empty());
  CHECK(io::write_mark_importance_outputs(s.output_dir, m) == 0);
  CHECK(!fs::exists(fs::path(s.output_dir) / "mark_importance_cells.csv"));
  CHECK(io::mark_importance_status(m).empty());
  CHECK(io::mark_importance_md(m).empty());
  fs::remove_all(dir);
}

TEST_CASE("sweep mark importance: a malformed mark_importance.csv is an input error naming the file and line") {
  const std::string p = "o/E003/deepchrome/explain/mark_importance.csv";
  auto fails = [&](const std::string& text, const std::string& what) {
    CHECK_THROWS_WITH_AS(io::parse_mark_importance_csv(text, p), doctest::Contains(what.c_str()), InputError);
  };
  fails("", p + ": the file is empty");
  fails("method,class,H3K4me3\n", p + ":1: expected the header");
  fails(kHeader + "grad-input,high,1,0,0,0\n", p + ":2: expected 7 fields, got 6");
  fails(kHeader + "grad-input,on,1,0,0,0,0\n", p + ":2: class \"on\"");
  fails(kHeader + "grad-input,high,1,0,x,0,0\n", p + ":2: H3K4me1: \"x\" is not a number");
  fails(kHeader + "grad-input,high,1,0,0,0,nan\n", p + ":2: H3K9me3");
  fails(kHeader + "grad-input,high,1,0,0,0,0\n\ngrad-input,high,1,0,0,0,0\n", p + ":4: method grad-input, class high appears twice");
  const auto rows = io::parse_mark_importance_csv(kHeader + "ig,low,0.5,0.25,0,0.25,0\r\n", p);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].method == "ig");
  CHECK(rows[0].cls == "low");
  CHECK(rows[0].values[1] == 0.25);

  // In a sweep: the gathering stops with the same message.
  const fs::path dir = fs::temp_directory_path() / "dc_test_sweep_explain_bad";
  const io::SweepConfig s = sweep_in(dir, true);
  explained_run(s, "E004", "attentivechrome", "attention,high,1,0,0\n");
  CHECK_THROWS_WITH_AS(io::gather_mark_importance(s), doctest::Contains("E004/attentivechrome/explain/mark_importance.csv:2"),
                       InputError);
  fs::remove_all(dir / "o/E004/attentivechrome/explain/mark_importance.csv");
  CHECK_THROWS_WITH_AS(io::gather_mark_importance(s), doctest::Contains("mark_importance.csv: cannot open"), InputError);
  fs::remove_all(dir);
}

TEST_CASE("sweep mark importance with seeds and a grid: the mean over the seeds of the grid point chosen by valid AUROC") {
  const fs::path dir = fs::temp_directory_path() / "dc_test_sweep_explain_axes";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "s.json").string();
  std::ofstream(path) << R"({"data": {"root": "d", "cells": ["E003"]}, "explain": true,
    "sweep": {"seeds": [1, 2], "grid": {"train.lr": [0.1, 0.01]}}, "output_dir": ")"
                      << (dir / "o").string() << R"("})";
  const io::SweepConfig s = io::load_sweep_config(path, {}, 2);
  REQUIRE(s.jobs.size() == 4);  // grid0-seed1, grid0-seed2, grid1-seed1, grid1-seed2
  auto run = [&](size_t job, double valid, double test, const std::string& rows) {
    const fs::path run_dir = s.jobs[job].run_dir;
    put(run_dir / "metrics.json", R"({"best_epoch": 1, "valid_auroc": )" + std::to_string(valid) + R"(, "test_auroc": )" +
                                      std::to_string(test) + R"(, "test_aupr": 0.5})");
    put(run_dir / "explain/mark_importance.csv", kHeader + rows);
    put(run_dir / "explain/explain.json", "{}\n");
  };
  // Grid point 0: mean valid 0.6 (its test AUROC is the best, which must not matter).
  run(0, 0.6, 0.99, "class-map,high,1,0,0,0,0\nclass-map,low,1,0,0,0,0\n");
  run(1, 0.6, 0.99, "class-map,high,1,0,0,0,0\nclass-map,low,1,0,0,0,0\n");
  // Grid point 1: mean valid 0.75, chosen. high: (0.1+0.3)/2 = 0.2, (0.2+0.2)/2 = 0.2, (0.3+0.1)/2 = 0.2,
  // (0.4+0)/2 = 0.2, (0+0.4)/2 = 0.2; low: (0.5+0)/2 = 0.25, 0, 0, 0, (0.5+1)/2 = 0.75.
  run(2, 0.7, 0.8, "class-map,high,0.1,0.2,0.3,0.4,0\nclass-map,low,0.5,0,0,0,0.5\n");
  run(3, 0.8, 0.8, "class-map,high,0.3,0.2,0.1,0,0.4\nclass-map,low,0,0,0,0,1\n");
  const io::MarkImportanceSweep m = io::gather_mark_importance(s);
  CHECK(m.explained == std::vector<size_t>{1});
  CHECK(io::mark_importance_cells_csv(m) ==
        "model,method,class,cell,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3\n"
        "deepchrome,class-map,high,E003,0.2,0.2,0.2,0.2,0.2\n"
        "deepchrome,class-map,low,E003,0.25,0,0,0,0.75\n");
  fs::remove_all(dir);
}
