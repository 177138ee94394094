// `deepchrome sweep`: every (cell type x model) of a config, resumable, and its summary.
//
// A sweep config is an experiment config (see io/config.h) with one more section:
//   "sweep": {"parallel_runs": 1, "models": [{"model": {...}, "train": {...}}, ...]}
// Each entry of sweep.models overrides the top-level "model" / "train" sections; with no
// entries the top-level model is the only one. Model names must be distinct: run folders
// are <output_dir>/<cell>/<model>/, exactly as `deepchrome train` writes them, and a folder
// holding metrics.json (written last) is a finished run.
//
// The summary (summary.csv, summary.md, auroc_vs_paper.svg) is a pure function of the
// finished runs' metrics.json files, so a resumed sweep ends with the same summary as an
// uninterrupted one. With explain on, io/experiment/sweep_explain.h adds the runs' mark
// importance across cell types.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/experiment/config.h"

namespace dc::io {

struct SweepJob {
  std::string cell, model;
  std::string run_dir;        // <output_dir>/<cell>/<model>
  nlohmann::json config;      // the complete config `deepchrome train` runs (one cell)
};

struct SweepConfig {
  std::string source;                     // the config file
  std::string output_dir, data_root, device;
  std::vector<std::string> cells, models;
  int parallel_runs = 1;
  int threads_total = 1, threads_per_run = 1;
  std::vector<SweepJob> jobs;             // cell-major: every model of cell 1, then cell 2, ...
  nlohmann::json resolved;                // the whole sweep, every key (written as sweep_config.json)
};

// Reads, validates (errors name the file and key, e.g. `sweep.models[1].train.lr`) and
// expands a sweep config. `hardware_threads` resolves "threads": 0.
SweepConfig load_sweep_config(const std::string& path, const std::vector<std::string>& overrides, int hardware_threads);

enum class RunState {
  Finished,  // metrics.json present and readable, config matches
  Missing,   // no folder
  Partial,   // folder without a readable metrics.json: an interrupted run, restarted from scratch
};
// Throws InputError when a finished run's config.json differs from the job's model/train
// sections (the output_dir belongs to another experiment).
RunState run_state(const SweepJob& job);

struct RunResult {
  std::string cell, model;
  std::string status = "pending";  // "done", "pending" or "failed"
  int best_epoch = 0;
  double valid_auroc = 0, test_auroc = 0, test_aupr = 0, train_seconds = 0;
};
// Reads <run_dir>/metrics.json (status "done"); InputError naming the file when unreadable.
RunResult read_run_result(const SweepJob& job);

struct SweepSummary {
  std::vector<std::string> cells, models;
  std::vector<RunResult> results;   // cells.size() * models.size(), cell-major
  std::vector<bool> simulated;      // per cell: simulated.json present -> no paper comparison
  std::string source, data_root;
};

// summary.csv: one row per (cell, model) then mean and median rows per model:
// cell,cell_name,model,status,best_epoch,valid_auroc,test_auroc,test_aupr,paper_auroc,diff_vs_paper
// (paper_auroc is the DeepChrome paper's figure for the cell, empty for simulated cells).
std::string summary_csv(const SweepSummary& s);
// summary.md: the models side by side per cell, mean/median rows, the published summaries.
std::string summary_md(const SweepSummary& s);
// auroc_vs_paper.svg: our test AUROC against the paper's, one point per cell and model, and
// the diagonal; with simulated data (no paper figures) test AUROC per cell instead.
std::string auroc_vs_paper_svg(const SweepSummary& s);

}  // namespace dc::io
