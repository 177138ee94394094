// `deepchrome simulate`: writes simulated cell types in the DeepChrome release layout.
#include <chrono>
#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/error.h"
#include "io/simulate.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome simulate [--out DIR] [--cells LIST|N] [--genes N] [--seed S]

Writes DIR/<cell>/classification/{train,valid,test}.csv for each cell type, in the
DeepChrome data layout, with plausible histone-mark biology (see SPEC.md).

  --out DIR      output root (default data/sim)
  --cells LIST   comma-separated cell names, e.g. S01,S02; or a count N for S01..SN (default S01)
  --genes N      genes per cell type, split 1/3 train/valid/test (default 19802, as a real cell)
  --seed S       random seed (default 7); the same seed gives the same files
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
    const int n = parse_int("cells", text, 1, 999);
    for (int i = 1; i <= n; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "S%02d", i);
      cells.push_back(name);
    }
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
  ArgParser p("simulate", args, {"out", "cells", "genes", "seed"}, {"help"});
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
  for (const auto& cell : cells) {
    const auto t0 = std::chrono::steady_clock::now();
    io::simulate_cell(out, cell, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s/%s/classification/{train,valid,test}.csv (%d genes, %.1f s)\n", out.c_str(), cell.c_str(), o.genes, s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace dc::cli
