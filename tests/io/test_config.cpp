// Experiment configs: defaults, validation errors naming the key path, --set overrides.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "kernels/base/error.h"
#include "io/experiment/config.h"

using nlohmann::json;
using namespace dc;

namespace {

std::string error_of(const json& user) {
  try {
    io::resolve_config(user, "cfg.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the issue's example config resolves with every default filled in") {
  const json user = json::parse(R"({
    "data":   {"root": "data/sim", "cells": ["S01"]},
    "model":  {"name": "deepchrome"},
    "train":  {"optimizer": "sgd", "lr": 0.001, "lr_decay": 1e-7, "batch_size": 1, "epochs": 100, "seed": 1},
    "device": "cpu", "threads": 2, "output_dir": "runs/example"})");
  const io::ExperimentConfig c = io::resolve_config(user, "example.json");
  CHECK(c.data.root == "data/sim");
  CHECK(c.data.cells == std::vector<std::string>{"S01"});
  CHECK(c.train.lr == doctest::Approx(1e-3));
  CHECK(c.train.lr_decay == doctest::Approx(1e-7));
  CHECK(c.train.batch_size == 1);
  CHECK(c.train.epochs == 100);
  CHECK(c.threads == 2);
  CHECK(c.output_dir == "runs/example");
  CHECK(c.model["conv_channels"] == 50);
  CHECK(c.model["hidden"] == json({625, 125}));
  CHECK(c.resolved["train"]["momentum"] == 0.0);
  // The resolved document resolves to itself (config.json can be rerun as is).
  const io::ExperimentConfig again = io::resolve_config(c.resolved, "config.json");
  CHECK(again.resolved == c.resolved);
}

TEST_CASE("unknown keys and wrong types are errors naming the key path") {
  CHECK(contains(error_of({{"trian", json::object()}}), "trian: unknown key"));
  CHECK(contains(error_of({{"train", {{"batchsize", 4}}}}), "train.batchsize: unknown key"));
  CHECK(contains(error_of({{"train", {{"batch_size", "64"}}}}), "train.batch_size: expected an integer"));
  CHECK(contains(error_of({{"train", {{"batch_size", 1.5}}}}), "train.batch_size: expected an integer"));
  CHECK(contains(error_of({{"train", {{"lr", "fast"}}}}), "train.lr: expected a number"));
  CHECK(contains(error_of({{"data", {{"cells", "S01"}}}}), "data.cells: expected a list of strings"));
  CHECK(contains(error_of({{"data", {{"cells", {1, 2}}}}}), "data.cells: expected a list of strings"));
  CHECK(contains(error_of({{"model", {{"name", "deepchrome"}, {"hidden", {625, "x"}}}}}), "model.hidden"));
  CHECK(contains(error_of({{"model", {{"name", "mlp"}, {"conv_channels", 5}}}}), "model.conv_channels: unknown key"));
  CHECK(contains(error_of({{"model", {{"name", "transformer"}}}}), "model.name: unknown model 'transformer'"));
  CHECK(contains(error_of({{"train", {{"optimizer", "rmsprop"}}}}), "train.optimizer"));
  CHECK(contains(error_of({{"train", {{"epochs", 0}}}}), "train.epochs"));
  CHECK(contains(error_of({{"device", "tpu"}}), "device"));
  CHECK(contains(error_of(json::array()), "top level"));
  CHECK(contains(error_of({{"data", 3}}), "data: expected an object"));
  // Every message names the config file.
  CHECK(contains(error_of({{"trian", 1}}), "cfg.json"));
}

TEST_CASE("an integer is accepted where a number is expected") {
  const io::ExperimentConfig c = io::resolve_config({{"train", {{"lr", 1}}}}, "x");
  CHECK(c.train.lr == 1.0);
}

TEST_CASE("--set overrides: JSON values, plain strings, nested paths, repeats") {
  json doc = {{"train", {{"lr", 0.1}}}};
  io::apply_override(doc, "train.lr=0.01");
  io::apply_override(doc, "train.epochs=5");
  io::apply_override(doc, "data.cells=[\"S01\",\"S02\"]");
  io::apply_override(doc, "output_dir=runs/x y");
  io::apply_override(doc, "data.cache=false");
  io::apply_override(doc, "train.epochs=7");  // the last one wins
  CHECK(doc["train"]["lr"] == 0.01);
  CHECK(doc["train"]["epochs"] == 7);
  CHECK(doc["data"]["cells"] == json({"S01", "S02"}));
  CHECK(doc["output_dir"] == "runs/x y");
  CHECK(doc["data"]["cache"] == false);
  const io::ExperimentConfig c = io::resolve_config(doc, "x");
  CHECK(c.data.cells.size() == 2);
  CHECK_THROWS_AS(io::apply_override(doc, "novalue"), InputError);
  CHECK_THROWS_AS(io::apply_override(doc, "=3"), InputError);
  CHECK_THROWS_AS(io::apply_override(doc, "train.lr.x=3"), InputError);  // train.lr is not an object
  json bad = json::object();
  io::apply_override(bad, "train.batch_sise=4");
  CHECK_THROWS_WITH_AS(io::resolve_config(bad, "x"), doctest::Contains("train.batch_sise: unknown key"), InputError);
}

TEST_CASE("JSON syntax errors name file, line and column") {
  const std::string path = std::string(DC_BINARY_DIR) + "/test_bad_config.json";
  {
    std::ofstream f(path);
    f << "{\n  \"train\": {\"lr\": 0.1,}\n}\n";
  }
  try {
    io::load_json_file(path);
    FAIL("no error");
  } catch (const InputError& e) {
    const std::string msg = e.what();
    CHECK(contains(msg, path + ":2:"));
    CHECK(contains(msg, "invalid JSON"));
  }
  CHECK_THROWS_WITH_AS(io::load_json_file(path + ".missing"), doctest::Contains("cannot open"), InputError);
}

TEST_CASE("the shipped configs are valid") {
  for (const char* name : {"quickstart.json", "deepchrome_paper.json"}) {
    CAPTURE(name);
    const io::ExperimentConfig c = io::load_config(std::string(DC_SOURCE_DIR) + "/configs/" + name);
    CHECK(c.model["name"] == "deepchrome");
    CHECK(c.train.optimizer == "sgd");
    CHECK(c.train.batch_size == 1);
  }
  const io::ExperimentConfig paper = io::load_config(std::string(DC_SOURCE_DIR) + "/configs/deepchrome_paper.json");
  CHECK(paper.train.epochs == 100);
  CHECK(paper.train.lr == doctest::Approx(1e-3));
  CHECK(paper.train.lr_decay == doctest::Approx(1e-7));
}
