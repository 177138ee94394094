// `deepchrome report` as a user runs it: report.html of real (tiny) training runs, with and
// without attention, its figures, determinism, --out, and the errors for bad run folders.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "io/figures/svg.h"
#include "xml_check.h"
#include "command_util.h"

namespace fs = std::filesystem;
namespace xml = dc::test::xml;

using namespace dc::test::command;

namespace {

const fs::path kWork = fs::path(DC_BINARY_DIR) / "test_report_work";

Result sh(const std::string& cmd) { return sh_in(kWork, cmd); }

// One simulated cell, one epoch of DeepChrome and one of AttentiveChrome.
struct Runs {
  Runs() {
    fs::remove_all(kWork);
    fs::create_directories(kWork);
    Result r = sh(kBin + " simulate --out sim --cells C1 --genes 120 --seed 5");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    for (const char* model : {"deepchrome", "attentivechrome"}) {
      write(kWork / (std::string(model) + ".json"),
            std::string(R"({"data": {"root": "sim", "cells": ["C1"]}, "model": {"name": ")") + model + R"("},
              "train": {"optimizer": "adam", "lr": 0.001, "batch_size": 8, "epochs": 1, "seed": 1},
              "threads": 2, "output_dir": "runs"})");
      r = sh(kBin + " train " + model + ".json --quiet");
      REQUIRE_MESSAGE(r.code == 0, r.out);
    }
  }
};

void runs() { static Runs r; }

xml::Document page(const fs::path& p) {
  xml::Document d = xml::parse(slurp(p));
  INFO(p << ": " << d.error);
  REQUIRE(d.ok());
  return d;
}

std::vector<std::string> headings(const xml::Document& d) {
  std::vector<std::string> h;
  for (const xml::Node* n : xml::elements(*d.root, "h2")) h.push_back(n->all_text());
  return h;
}

}  // namespace

TEST_CASE("report: a DeepChrome run's page, deterministic, the test AUROC of metrics.json in the ROC legend") {
  runs();
  const Result help = sh(kBin + " report --help");
  CHECK(help.code == 0);
  CHECK(has(help.out, "usage: deepchrome report --run RUN_DIR"));
  CHECK(has(sh(kBin + " --help").out, "report "));

  const fs::path dir = kWork / "runs/C1/deepchrome";
  Result r = sh(kBin + " report --run runs/C1/deepchrome");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(has(r.out, "wrote runs/C1/deepchrome/report.html"));
  const std::string html = slurp(dir / "report.html");
  const xml::Document d = page(dir / "report.html");
  CHECK(xml::elements(*d.root, "svg").size() == 3);  // training curves, ROC, PR
  CHECK(headings(d) == std::vector<std::string>{"Run", "Metrics", "Training", "Test split: ROC and precision-recall"});
  CHECK(xml::elements(*d.root, "script").empty());
  const nlohmann::json m = nlohmann::json::parse(slurp(dir / "metrics.json"));
  CHECK(has(html, "deepchrome (AUROC " + dc::io::figures::format_fixed(m["test_auroc"].get<double>(), 3) + ")"));
  CHECK(has(html, "deepchrome (AUPR " + dc::io::figures::format_fixed(m["test_aupr"].get<double>(), 3) + ")"));
  CHECK(has(html, "<td>" + dc::io::figures::format_fixed(m["valid_auroc"].get<double>(), 4) + "</td>"));
  CHECK(has(html, "40 test genes"));
  // The resolved config, folded.
  CHECK(xml::elements(*d.root, "pre")[0]->all_text() == nlohmann::json::parse(slurp(dir / "config.json")).dump(2));
  // Same run folder, same bytes; nothing but report.html added.
  REQUIRE(sh(kBin + " report --run runs/C1/deepchrome --out again/page.html").code == 0);
  CHECK(slurp(kWork / "again/page.html") == html);
  for (const auto& e : fs::directory_iterator(dir)) CHECK_MESSAGE(!has(e.path().filename().string(), ".tmp"), e.path());
}

TEST_CASE("report: an AttentiveChrome run's page adds the mean attention per class") {
  runs();
  const Result r = sh(kBin + " report --run runs/C1/attentivechrome");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const xml::Document d = page(kWork / "runs/C1/attentivechrome/report.html");
  CHECK(xml::elements(*d.root, "svg").size() == 5);  // + α heatmap, β bars
  CHECK(headings(d).back() == "Attention");
  const auto cells = xml::with_class(*d.root, "g", "cells");
  REQUIRE(cells.size() == 2);  // high and low panels
  for (const xml::Node* c : cells) CHECK(xml::elements(*c, "rect").size() == 500);
  CHECK(xml::with_class(*d.root, "g", "tss").size() == 1);
  CHECK(xml::with_class(*d.root, "g", "bars").size() == 2);
}

TEST_CASE("report: bad run folders and options exit 2 with the file named, nothing written") {
  runs();
  Result r = sh(kBin + " report");
  CHECK(r.code == 2);
  CHECK(has(r.out, "missing required option --run"));
  r = sh(kBin + " report --run nowhere");
  CHECK(r.code == 2);
  CHECK(has(r.out, "--run nowhere: no such folder"));
  r = sh(kBin + " report --run runs/C1/deepchrome --colour red");
  CHECK(r.code == 2);
  CHECK(has(r.out, "unknown option --colour"));

  // A copy of a finished run, broken one file at a time.
  const fs::path bad = kWork / "bad";
  fs::remove_all(bad);
  fs::copy(kWork / "runs/C1/attentivechrome", bad);
  fs::remove(bad / "report.html");
  const std::string predictions = slurp(bad / "predictions.csv");
  write(bad / "predictions.csv", predictions + "g_extra,1,1.5\n");
  r = sh(kBin + " report --run bad");
  CHECK(r.code == 2);
  CHECK(has(r.out, "bad/predictions.csv:42: prob_high '1.5' is not a probability in [0, 1]"));
  write(bad / "predictions.csv", predictions);
  write(bad / "attention_marks.csv", "gene_id,H3K27me3\n");
  r = sh(kBin + " report --run bad");
  CHECK(r.code == 2);
  CHECK(has(r.out, "bad/attention_marks.csv:1: expected the header gene_id,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3"));
  fs::remove(bad / "metrics.json");
  r = sh(kBin + " report --run bad");
  CHECK(r.code == 2);
  CHECK(has(r.out, "bad/metrics.json: cannot open"));
  CHECK(!fs::exists(bad / "report.html"));
}
