// `deepchrome simulate`: writes simulated cell types in the DeepChrome release layout.
#include <chrono>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels/base/error.h"
#include "io/experiment/paper.h"
#include "io/formats/simulate.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome simulate [--out DIR] [--cells LIST|N] [--genes N] [--seed S] [--difficulty D]

Writes DIR/<cell>/classification/{train,valid,test}.csv for each cell type, in the
DeepChrome data layout, with plausible histone-mark biology (see SPEC.md), and
DIR/<cell>/simulated.json, which tells `deepchrome sweep` the data are simulated.

  --out DIR        output root (default data/sim)
  --cells LIST     comma-separated cell names, e.g. S01,S02 (default S01); or a count N (1..56)
                   for stand-ins of the first N of the paper's 56 REMC cell types, under their
                   ids: --cells 56 writes E003, E004, ..., E128
  --genes N        genes per cell type, split 1/3 train/valid/test (default 19802, as a real cell)
  --seed S         random seed (default 7); the same seed gives the same files
  --difficulty D   in [0, 1]: 0 easy (DeepChrome test AUROC ~0.9), 1 hard (~0.7). Default: the
                   paper's cell ids get stand-ins of varying difficulty (0.1 .. 0.9, spread by a
                   hash of the id, unrelated to the paper's figures); other names get 0.5
)";

int parse_int(const std::string& option, const std::string& text, long long lo, long long hi) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < lo || v > hi)
    throw InputError("simulate: --" + option + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got '" + text + "'");
  return static_cast<int>(v);
}

}  // namespace

std::vector<std::string> parse_cell_list(const std::string& text) {
  std::vector<std::string> cells;
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    const auto& paper = io::paper_cells();
    const int n = parse_int("cells", text, 1, static_cast<long long>(paper.size()));
    for (int i = 0; i < n; ++i) cells.push_back(paper[i].id);
    return cells;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string cell = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (cell.empty() || cell.find('/') != std::string::npos || cell == "." || cell == "..")
      throw InputError("--cells: '" + text + "' is not a comma-separated list of cell names");
    cells.push_back(cell);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return cells;
}

int cmd_simulate(const Args& args) {
  ArgParser p("simulate", args, {"out", "cells", "genes", "seed", "difficulty"}, {"help"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("simulate: unexpected argument '" + p.positionals()[0] + "'");
  const std::string out = p.value("out").value_or("data/sim");
  const std::vector<std::string> cells = parse_cell_list(p.value("cells").value_or("S01"));
  io::SimulateOptions o;
  o.genes = parse_int("genes", p.value("genes").value_or("19802"), 3, 1'000'000);
  o.seed = static_cast<uint64_t>(parse_int("seed", p.value("seed").value_or("7"), 0, 2'000'000'000));
  double difficulty = -1;  // per cell default
  if (auto d = p.value("difficulty")) {
    size_t used = 0;
    try {
      difficulty = std::stod(*d, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != d->size() || !(difficulty >= 0.0 && difficulty <= 1.0))
      throw InputError("simulate: --difficulty expects a number in [0, 1], got '" + *d + "'");
  }
  for (const auto& cell : cells) {
    const auto t0 = std::chrono::steady_clock::now();
    const double cell_difficulty = difficulty >= 0 ? difficulty : io::stand_in_difficulty(cell);
    io::simulate_cell(out, cell, o, cell_difficulty);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s/%s/classification/{train,valid,test}.csv (%d genes, difficulty %.2f, %.1f s)\n", out.c_str(),
                cell.c_str(), o.genes, cell_difficulty, s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace dc::cli
