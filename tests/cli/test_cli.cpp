// The `deepchrome` executable as a user runs it: every subcommand, the outputs of a
// training run, exit codes (0 ok, 2 bad input, 1 other failure) and error messages.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/op_table.h"
#include "models/registry.h"
#include "command_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

using namespace dc::test::command;

namespace {

const fs::path kWork = fs::path(DC_BINARY_DIR) / "test_cli_work";

Result sh(const std::string& cmd) { return sh_in(kWork, cmd); }

// One small simulated cell and one finished training run shared by the tests below.
struct World {
  World() {
    fs::remove_all(kWork);
    fs::create_directories(kWork);
    Result r = sh(kBin + " simulate --out sim --cells C1 --genes 90 --seed 3");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    write(kWork / "small.json", R"({"data": {"root": "sim", "cells": ["C1"]},
      "model": {"name": "deepchrome"},
      "train": {"optimizer": "sgd", "lr": 0.001, "lr_decay": 1e-7, "batch_size": 4, "epochs": 2, "seed": 1},
      "threads": 2, "output_dir": "runs/small"})");
    r = sh(kBin + " train small.json");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    train_output = r.out;
  }
  std::string train_output;
};

World& world() {
  static World w;
  return w;
}

}  // namespace

TEST_CASE("help, version and usage errors") {
  world();
  CHECK(sh(kBin + " --help").code == 0);
  CHECK(sh(kBin + " --version").code == 0);
  for (const char* cmd : {"simulate", "train", "eval", "predict", "bench", "models", "sweep"}) {
    CAPTURE(cmd);
    const Result r = sh(kBin + " " + cmd + " --help");
    CHECK(r.code == 0);
    CHECK(has(r.out, "usage: deepchrome"));
  }
  Result r = sh(kBin);
  CHECK(r.code == 2);
  r = sh(kBin + " trian");
  CHECK(r.code == 2);
  CHECK(has(r.out, "unknown command 'trian'"));
  r = sh(kBin + " train small.json --sett x=1");
  CHECK(r.code == 2);
  CHECK(has(r.out, "unknown option --sett"));
}

TEST_CASE("the model registry feeds `models`, the README's model table and `train --help`") {
  world();
  const Result md = sh(kBin + " models --markdown");
  REQUIRE(md.code == 0);
  const Result text = sh(kBin + " models"), help = sh(kBin + " train --help");
  REQUIRE(text.code == 0);
  for (const std::string& name : dc::model_names()) {
    CAPTURE(name);
    CHECK(has(md.out, "| `" + name + "` | " + dc::model_info(name).summary + " |"));
    CHECK(has(text.out, name));
    CHECK(has(help.out, "  " + name + " "));
  }
  // The README's table is exactly the program's (regenerate it with `deepchrome models --markdown`).
  const std::string readme = slurp(fs::path(DC_SOURCE_DIR) / "README.md");
  const std::string begin = "<!-- models: the output of `deepchrome models --markdown` (a test keeps them identical) -->\n";
  const size_t a = readme.find(begin), b = readme.find("<!-- end of models -->");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == md.out);
  CHECK(sh(kBin + " models --bogus").code == 2);
}

TEST_CASE("simulate writes the DeepChrome layout, deterministically") {
  world();
  for (const char* split : {"train", "valid", "test"}) CHECK(fs::exists(kWork / "sim/C1/classification" / (std::string(split) + ".csv")));
  CHECK(sh(kBin + " simulate --out sim2 --cells C1 --genes 90 --seed 3").code == 0);
  CHECK(slurp(kWork / "sim/C1/classification/train.csv") == slurp(kWork / "sim2/C1/classification/train.csv"));
  const Result r = sh(kBin + " simulate --out sim3 --cells 2 --genes 30");
  CHECK(r.code == 0);
  // A count names stand-ins of the paper's cell types, in the table's order.
  CHECK(fs::exists(kWork / "sim3/E003/classification/test.csv"));
  CHECK(fs::exists(kWork / "sim3/E004/simulated.json"));
  CHECK(!fs::exists(kWork / "sim3/E005"));
  CHECK(sh(kBin + " simulate --out sim3 --cells 57 --genes 30").code == 2);
  CHECK(sh(kBin + " simulate --out sim3 --cells C1 --genes 30 --difficulty 1.5").code == 2);
  CHECK(sh(kBin + " simulate --genes abc").code == 2);
}

TEST_CASE("train writes metrics.json, model.safetensors, config.json and predictions.csv") {
  World& w = world();
  CHECK(has(w.train_output, "test_auroc"));
  const fs::path dir = kWork / "runs/small/C1/deepchrome";
  for (const char* f : {"metrics.json", "model.safetensors", "config.json", "predictions.csv"}) CHECK(fs::exists(dir / f));
  const json m = json::parse(slurp(dir / "metrics.json"));
  for (const char* key : {"model", "cell", "best_epoch", "valid_auroc", "valid_aupr", "test_auroc", "test_aupr", "train_seconds"})
    CHECK_MESSAGE(m.contains(key), key);
  CHECK(m["model"] == "deepchrome");
  CHECK(m["cell"] == "C1");
  REQUIRE(m["epochs"].size() == 2);
  for (const auto& e : m["epochs"])
    for (const char* key : {"epoch", "train_loss", "valid_auroc", "seconds"}) CHECK_MESSAGE(e.contains(key), key);
  const json c = json::parse(slurp(dir / "config.json"));
  CHECK(c["train"]["epochs"] == 2);
  CHECK(c["model"]["conv_channels"] == 50);
  const std::string pred = slurp(dir / "predictions.csv");
  CHECK(pred.rfind("gene_id,label,prob_high\n", 0) == 0);
  CHECK(std::count(pred.begin(), pred.end(), '\n') == 31);  // header + 30 test genes
  // No temporary files left behind.
  for (const auto& e : fs::directory_iterator(dir)) CHECK_MESSAGE(!has(e.path().filename().string(), ".tmp"), e.path());
  // Rerunning the resolved config reproduces the run exactly.
  json rerun = c;
  rerun["output_dir"] = "runs/rerun";
  write(kWork / "rerun.json", rerun.dump());
  REQUIRE(sh(kBin + " train rerun.json --quiet").code == 0);
  const json m2 = json::parse(slurp(kWork / "runs/rerun/C1/deepchrome/metrics.json"));
  CHECK(m2["test_auroc"] == m["test_auroc"]);
  CHECK(m2["epochs"][1]["train_loss"] == m["epochs"][1]["train_loss"]);
}

TEST_CASE("eval reproduces the run's test metrics; predict scores new genes") {
  world();
  const std::string ck = "runs/small/C1/deepchrome";
  Result r = sh(kBin + " eval --checkpoint " + ck + " --data sim/C1 --json");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const json e = json::parse(r.out);
  const json m = json::parse(slurp(kWork / ck / "metrics.json"));
  CHECK(e["test"]["auroc"].get<double>() == doctest::Approx(m["test_auroc"].get<double>()).epsilon(1e-9));
  CHECK(e["valid"]["auroc"].get<double>() == doctest::Approx(m["valid_auroc"].get<double>()).epsilon(1e-9));
  CHECK(e["train"]["genes"] == 30);
  r = sh(kBin + " eval --checkpoint " + ck + " --data sim/C1/classification/test.csv");
  CHECK(r.code == 0);

  // Unlabelled genes: drop the Label column.
  std::istringstream in(slurp(kWork / "sim/C1/classification/test.csv"));
  std::string line, unlabeled;
  while (std::getline(in, line)) unlabeled += line.substr(0, line.rfind(',')) + "\n";
  write(kWork / "new_genes.csv", unlabeled);
  r = sh(kBin + " predict --checkpoint " + ck + " --csv new_genes.csv --out scored.csv");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const std::string scored = slurp(kWork / "scored.csv");
  CHECK(scored.rfind("gene_id,prob_high\n", 0) == 0);
  // Same scores as the run's predictions.csv (same model, same genes).
  const std::string pred = slurp(kWork / ck / "predictions.csv");
  std::istringstream a(scored), b(pred);
  std::string la, lb;
  std::getline(a, la);
  std::getline(b, lb);
  int rows = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    CHECK(la.substr(0, la.find(',')) == lb.substr(0, lb.find(',')));
    CHECK(std::stof(la.substr(la.rfind(',') + 1)) == doctest::Approx(std::stof(lb.substr(lb.rfind(',') + 1))).epsilon(1e-6));
    ++rows;
  }
  CHECK(rows == 30);
  r = sh(kBin + " eval --checkpoint " + ck + " --data new_genes.csv");
  CHECK(r.code == 2);
  CHECK(has(r.out, "no Label column"));
}

TEST_CASE("bad input: clear messages, exit code 2, nothing half-written") {
  world();
  Result r = sh(kBin + " train missing.json");
  CHECK(r.code == 2);
  CHECK(has(r.out, "missing.json"));

  r = sh(kBin + " train small.json --set train.batchsize=4");
  CHECK(r.code == 2);
  CHECK(has(r.out, "train.batchsize: unknown key"));

  r = sh(kBin + " train small.json --set train.epochs='\"two\"'");
  CHECK(r.code == 2);
  CHECK(has(r.out, "train.epochs: expected an integer"));

  r = sh(kBin + " train small.json --set data.root=nowhere");
  CHECK(r.code == 2);
  CHECK(has(r.out, "nowhere/C1/classification/train.csv"));

  // Without the CUDA backend or without a usable GPU: a clear input error (with a GPU it trains).
  r = sh(kBin + " train small.json --set device=cuda --set output_dir=runs/cuda --quiet");
  if (r.code != 0) {
    CHECK(r.code == 2);
    CHECK((has(r.out, "device \"cuda\": this build of deepchrome has no CUDA backend") ||
           has(r.out, "device \"cuda\": no usable CUDA device (")));
  }

  // A malformed CSV: the message names file and line; no run folder is written.
  fs::create_directories(kWork / "bad/C1/classification");
  for (const char* s : {"valid", "test"})
    fs::copy_file(kWork / "sim/C1/classification" / (std::string(s) + ".csv"), kWork / "bad/C1/classification" / (std::string(s) + ".csv"),
                  fs::copy_options::overwrite_existing);
  std::string train = slurp(kWork / "sim/C1/classification/train.csv");
  size_t pos = 0;
  for (int i = 0; i < 149; ++i) pos = train.find('\n', pos) + 1;  // start of line 150
  const size_t comma = train.find(',', pos);
  train.replace(pos, comma - pos, "NOTAGENE");  // the gene id changes in the middle of a gene
  write(kWork / "bad/C1/classification/train.csv", train);
  r = sh(kBin + " train small.json --set data.root=bad --set output_dir=runs/bad");
  CHECK(r.code == 2);
  CHECK(has(r.out, "train.csv:150"));
  CHECK(!fs::exists(kWork / "runs/bad/C1/deepchrome/metrics.json"));

  // A corrupt checkpoint.
  fs::create_directories(kWork / "corrupt");
  fs::copy_file(kWork / "runs/small/C1/deepchrome/config.json", kWork / "corrupt/config.json", fs::copy_options::overwrite_existing);
  const std::string weights = slurp(kWork / "runs/small/C1/deepchrome/model.safetensors");
  write(kWork / "corrupt/model.safetensors", weights.substr(0, weights.size() / 2));
  r = sh(kBin + " eval --checkpoint corrupt --data sim/C1");
  CHECK(r.code == 2);
  CHECK(has(r.out, "corrupt/model.safetensors"));
  r = sh(kBin + " predict --checkpoint runs/small/C1/deepchrome --csv nothing.csv --out never.csv");
  CHECK(r.code == 2);
  CHECK(has(r.out, "nothing.csv"));
  CHECK(!fs::exists(kWork / "never.csv"));
}

TEST_CASE("a diverging run exits 1 with a message") {
  world();
  const Result r = sh(kBin + " train small.json --set model.name=linear --set train.lr=1e38 --set output_dir=runs/nan");
  CHECK(r.code == 1);
  CHECK(has(r.out, "diverged"));
  CHECK(!fs::exists(kWork / "runs/nan/C1/linear/metrics.json"));
}

TEST_CASE("bench --quick prints JSON: every op of the table validated and timed, the gemm, io, end-to-end") {
  world();
  const Result r = sh(std::string(DC_BINARY_DIR) + "/deepchrome-bench --quick --threads 2 2>/dev/null");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const json b = json::parse(r.out);
  std::set<std::string> ops;
  for (const auto& k : b["ops"]) {
    CHECK(k["device"] == "cpu");
    CHECK(k.value("valid", true));
    CHECK(k["ms"].get<double>() > 0);
    CHECK(k["max_error"].get<double>() >= 0);
    CHECK(k["reference_ms"].get<double>() > 0);
    ops.insert(k["op"].get<std::string>());
  }
  // Every row of the op table with a model-size case has records.
  for (const auto& row : dc::optable::op_table()) CHECK_MESSAGE(ops.count(row.name), row.name);
  CHECK(b["gemm"]["gflops"].get<double>() > 0);
  CHECK(b["io"]["csv_parse_s"].get<double>() > 0);
  REQUIRE(b["end_to_end"].size() == 4);
  CHECK(b["end_to_end"][0]["model"] == "deepchrome");
  CHECK(b["end_to_end"][3]["model"] == "attentivechrome");
  CHECK(sh(kBin + " bench --bogus").code == 2);
  const Result unknown = sh(kBin + " bench --op no-such-op 2>&1");
  CHECK(unknown.code != 0);
  CHECK(has(unknown.out, "no row 'no-such-op'"));
  // One op alone.
  const Result one = sh(kBin + " bench --quick --only kernels --op lstm 2>/dev/null");
  REQUIRE_MESSAGE(one.code == 0, one.out);
  // (the parsed document is named: a range-for over json::parse(...)["ops"] reads the
  // temporary document after it is destroyed)
  const json one_doc = json::parse(one.out);
  for (const auto& k : one_doc["ops"]) CHECK(k["op"] == "lstm");
}

TEST_CASE("bench --only oversubscription (tiny sizes): copies run at once, each reported against its fair share") {
  world();
  const Result r = sh(kBin + " bench --only oversubscription --genes 20 --epochs 1 --copies 2 --policies adaptive,block"
                      " --no-background --threads 2 --out oversub.json 2>/dev/null > /dev/null");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const json doc = json::parse(slurp(kWork / "oversub.json"));
  CHECK(doc["benchmark"] == "oversubscription");
  CHECK(doc["machine"]["available_cores"].get<int>() >= 1);
  CHECK(doc["read_bandwidth_gbs"]["l3_4MiB"].get<double>() > 0);
  CHECK(doc["weight_traffic"]["weight_bytes"].get<double>() > 1e6);  // DeepChrome's 2.6 MB
  const json& cases = doc["cases"];
  REQUIRE(cases.size() == 4);  // (solo, 2 copies) x 2 policies
  for (const auto& c : cases) {
    CAPTURE(c.dump());
    const size_t copies = c["copies"].get<size_t>();
    REQUIRE(c["epoch_seconds"].size() == copies);  // one figure per copy
    for (const auto& e : c["epoch_seconds"]) CHECK(e.get<double>() > 0);
    if (copies == 2) {
      CHECK(c["fair_seconds"].get<double>() >= c["solo_seconds"].get<double>());
      CHECK(c.contains("worst_over_fair"));
    }
  }
  CHECK(cases[0]["policy"] == "adaptive");
  CHECK(cases[2]["policy"] == "block");
  const Result bad = sh(kBin + " bench --only oversubscription --policies fast");
  CHECK(bad.code == 2);
  CHECK(has(bad.out, "adaptive, spin or block"));
}

TEST_CASE("bench --only explain (tiny sizes) prints JSON: each method of both models validated, timed, with its reference and target") {
  world();
  // (stdout and --out FILE get the same JSON; stderr says which model runs)
  const Result r = sh(kBin + " bench --only explain --genes 50 --restarts 1 --iterations 5 --repeats 1 --threads 2"
                      " --out explain-bench.json > /dev/null");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const json b = json::parse(slurp(kWork / "explain-bench.json"));
  CHECK(b["benchmark"] == "explain");
  CHECK(b["data"]["genes"] == 50);
  CHECK(b["machine"]["threads"] == 2);
  REQUIRE(b["records"].size() == 6);
  std::set<std::string> names;
  for (const auto& k : b["records"]) {
    CAPTURE(k.dump());
    names.insert(k["name"].get<std::string>());
    CHECK(k.value("valid", true));
    CHECK(k["seconds"].get<double>() > 0);
    CHECK(k["reference_seconds"].get<double>() > 0);
    CHECK(k["times_reference"].get<double>() > 0);
    CHECK(k["max_error"].get<double>() >= 0);
    CHECK(!k["validated_against"].get<std::string>().empty());
    CHECK(k["target_s"].get<double>() > 0);
    CHECK(k["threads"] == 2);
    const std::string method = k["method"];
    if (method == "class_maps") {
      CHECK(k["restarts"] == 1);
      CHECK(k["iterations"] == 5);
      CHECK(k["target_applies"] == false);  // the issue's target is for 5 x 1000
    } else {
      CHECK(k["genes"] == 50);
    }
    if (method == "integrated_gradients") {
      CHECK(k["over_grad_input"].get<double>() > 0);
      CHECK(k["completeness_error_at_timed_steps"].get<double>() >= 0);
    }
  }
  for (const char* model : {"deepchrome", "attentivechrome"})
    for (const char* method : {"class_maps", "grad_input", "integrated_gradients"})
      CHECK_MESSAGE(names.count(std::string(model) + "." + method), model, ".", method);
  // One model; its options are its own and checked.
  const Result one = sh(kBin + " bench --only explain --model deepchrome --genes 20 --restarts 1 --iterations 2 --repeats 1"
                        " --out explain-one.json > /dev/null");
  REQUIRE_MESSAGE(one.code == 0, one.out);
  const json records = json::parse(slurp(kWork / "explain-one.json"))["records"];
  CHECK(records.size() == 3);
  for (const auto& k : records) CHECK(k["model"] == "deepchrome");
  const Result bad = sh(kBin + " bench --only explain --batch 3");
  CHECK(bad.code == 2);
  CHECK(has(bad.out, "unknown option '--batch' for --only explain"));
  const Result part = sh(kBin + " bench --only nothing");
  CHECK(part.code == 2);
  CHECK(has(part.out, "prepare, explain or oversubscription"));
}

TEST_CASE("attentivechrome runs write the attention the best model paid to every test gene") {
  world();
  Result r = sh(kBin +
                " train small.json --quiet --set model.name=attentivechrome --set train.optimizer=adam --set train.lr=1e-3"
                " --set train.batch_size=16 --set train.clip_grad_norm=1.0 --set train.epochs=1");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  const fs::path dir = kWork / "runs/small/C1/attentivechrome";
  for (const char* f : {"metrics.json", "model.safetensors", "config.json", "predictions.csv", "attention_bins.csv", "attention_marks.csv"})
    CHECK_MESSAGE(fs::exists(dir / f), f);
  std::istringstream bins(slurp(dir / "attention_bins.csv"));
  std::string line;
  std::getline(bins, line);
  CHECK(line.rfind("gene_id,mark,a1,a2,", 0) == 0);
  REQUIRE(line.size() > 6);
  CHECK(line.substr(line.size() - 5) == ",a100");
  int rows = 0;
  while (std::getline(bins, line)) {
    ++rows;
    std::istringstream cells(line);
    std::string cell;
    std::getline(cells, cell, ',');  // gene id
    std::getline(cells, cell, ',');  // mark
    double sum = 0;
    int n = 0;
    while (std::getline(cells, cell, ',')) {
      sum += std::stod(cell);
      ++n;
    }
    CHECK(n == 100);
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-4));
  }
  CHECK(rows == 30 * 5);
  std::istringstream marks(slurp(dir / "attention_marks.csv"));
  std::getline(marks, line);
  CHECK(line == "gene_id,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3");
  rows = 0;
  while (std::getline(marks, line)) ++rows;
  CHECK(rows == 30);

  // lstm-attn has one attention over the bins and none over marks.
  r = sh(kBin + " train small.json --quiet --set model.name=lstm-attn --set train.optimizer=adam --set train.epochs=1");
  REQUIRE_MESSAGE(r.code == 0, r.out);
  CHECK(fs::exists(kWork / "runs/small/C1/lstm-attn/attention_bins.csv"));
  CHECK(!fs::exists(kWork / "runs/small/C1/lstm-attn/attention_marks.csv"));
  // The eval command reloads an AttentiveChrome checkpoint.
  r = sh(kBin + " eval --checkpoint runs/small/C1/attentivechrome --data sim/C1 --split test");
  CHECK(r.code == 0);
}
