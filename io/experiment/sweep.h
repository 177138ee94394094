// `deepchrome sweep`: every (cell type x model) of a config, resumable, and its summary.
//
// A sweep config is an experiment config (see io/config.h) with one more section:
//   "sweep": {"parallel_runs": 1, "models": [{"model": {...}, "train": {...}}, ...]}
// Each entry of sweep.models overrides the top-level "model" / "train" sections; with no
// entries the top-level model is the only one. Model names must be distinct: run folders
// are <output_dir>/<cell>/<model>/, exactly as `deepchrome train` writes them, and a folder
// holding metrics.json (written last) is a finished run.
//
// Two optional axes repeat every (cell, model) run:
//   "sweep": {"seeds": [1, 2, 3],                               each run once per seed (it
//                                                                replaces train.seed of every model)
//             "grid": {"train.lr": [1e-4, 3e-4], "train.batch_size": [16, 64]}}
// sweep.grid maps dotted "model." / "train." config keys (not model.name or train.seed) to
// non-empty lists of values; nested objects are read as dotted keys, so
// --set sweep.grid.train.lr='[1e-4,3e-4]' works too. Its grid points are the cartesian
// product, keys in sorted order (JSON objects keep no order), the first key varying slowest,
// the values in list order: grid point 0 is every key's first value. Each grid value is
// applied to every model entry and validated like the config itself. The runs are then
// cell x model x grid point x seed, in that nesting order (SweepConfig::jobs).
//
// Run folders: with no axes <output_dir>/<cell>/<model>/ as always. With axes each (grid
// point, seed) gets a variant folder that is the output_dir of its runs:
//   <output_dir>/<variant>/<cell>/<model>/    variant: "seed<S>", "grid<G>" or "grid<G>-seed<S>"
// (G the grid point's index as above, S the seed itself), so adding seeds to a sweep that has
// seeds keeps its finished runs (a sweep without axes keeps <cell>/<model>/: its runs are not
// reused once axes are added); changing the grid renumbers its points, and run_state refuses
// a folder whose config differs rather than mixing recipes.
//
// The summary (summary.csv, summary.md, auroc_vs_paper.svg) is a pure function of the
// finished runs' metrics.json files, so a resumed sweep ends with the same summary as an
// uninterrupted one. With axes, summary.csv keeps one row per run (seed and grid point
// columns added), and summary.md / the SVG show per (cell, model) the mean ± sample standard
// deviation (n-1) over the finished seeds at the grid point chosen by the highest mean VALID
// AUROC over its finished seeds (never test AUROC; ties: the first grid point); the paper
// comparison and the per-model mean / median rows use those chosen means. With explain on,
// io/experiment/sweep_explain.h adds the runs' mark importance across cell types.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/experiment/config.h"

namespace dc::io {

// The seed and grid axes of a sweep (both empty: the plain cell x model sweep).
struct SweepAxes {
  std::vector<int64_t> seeds;               // sweep.seeds; empty: each model's own train.seed
  std::vector<std::string> grid_keys;       // sweep.grid's dotted keys, sorted
  std::vector<nlohmann::json> grid_points;  // each an array: one value per grid key; empty: no grid
  bool any() const { return !seeds.empty() || !grid_points.empty(); }
  size_t points() const { return grid_points.empty() ? 1 : grid_points.size(); }
  size_t seed_count() const { return seeds.empty() ? 1 : seeds.size(); }
  // The variant folder of (grid point, seed index): "" with no axes, else e.g. "grid1-seed3".
  std::string variant(size_t point, size_t seed) const;
  // e.g. "train.batch_size=16, train.lr=0.0001" (empty with no grid).
  std::string point_label(size_t point) const;
};

struct SweepJob {
  std::string cell, model;
  size_t point = 0, seed_index = 0;  // grid point and index into SweepAxes::seeds (0 without them)
  std::string variant;               // SweepAxes::variant(point, seed_index)
  std::string label;                 // for the console: the model, plus e.g. " grid1 seed3"
  std::string run_dir;               // <output_dir>[/<variant>]/<cell>/<model>
  nlohmann::json config;             // the complete config `deepchrome train` runs (one cell)
};
// The job's config file name under <output_dir>/.sweep/, distinct per job:
// "<cell>.<model>.json", with axes "<cell>.<model>.<variant>.json".
std::string job_file_name(const SweepJob& job);

struct SweepConfig {
  std::string source;                     // the config file
  std::string output_dir, data_root, device;
  std::vector<std::string> cells, models;
  SweepAxes axes;
  int parallel_runs = 1;
  int threads_total = 1, threads_per_run = 1;
  // Cell-major: cell 1's runs, then cell 2's; within a cell by model, then grid point, then
  // seed (job index = ((cell * models + model) * points + point) * seeds + seed).
  std::vector<SweepJob> jobs;
  nlohmann::json resolved;                // the whole sweep, every key (written as sweep_config.json)
};

// Reads, validates (errors name the file and key, e.g. `sweep.models[1].train.lr`) and
// expands a sweep config. `hardware_threads` resolves "threads": 0.
SweepConfig load_sweep_config(const std::string& path, const std::vector<std::string>& overrides, int hardware_threads);

// The order to start `jobs` (indices into s.jobs) in: longest first, so that with
// parallel_runs > 1 the last runs to finish are short ones. The estimated cost of a run is
//   train.epochs x cell_size[cell] x model factor
// where cell_size is any measure of the cell's training set (the sweep passes the size of
// its train.csv, proportional to its genes) and the model factor a rough relative cost per
// gene and epoch: linear 0.25, mlp 0.5, deepchrome 1, lstm and lstm-attn 4,
// attentivechrome 10, any other 1. Early stopping (train.patience) is not foreseen. Equal
// costs keep the order of `jobs`. Pure: same arguments, same order.
std::vector<size_t> plan_order(const SweepConfig& s, const std::vector<size_t>& jobs, const std::vector<double>& cell_size);
// Per cell of the sweep, the size in bytes of its classification/train.csv (0 when missing).
std::vector<double> train_file_sizes(const SweepConfig& s);

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
  SweepAxes axes;
  std::vector<RunResult> results;   // one per job, in SweepConfig::jobs order
  std::vector<bool> simulated;      // per cell: simulated.json present -> no paper comparison
  std::string source, data_root;
};

// Sample standard deviation (n-1 in the denominator); NaN for fewer than 2 values.
double sample_sd(const std::vector<double>& v);

// One (cell, model) of a summary over its seeds, at its chosen grid point.
struct CellModelStats {
  std::string status;   // "done" once a seed of the chosen point finished; else "failed" when a
                        // run failed, else "pending" (no axes: the run's own status)
  size_t point = 0;     // the chosen grid point: highest mean valid AUROC over its finished
                        // seeds, ties and nothing finished: the first
  size_t done = 0;      // finished seeds at that point (of axes.seed_count())
  double valid_mean = 0, valid_sd = 0, test_mean = 0, test_sd = 0, aupr_mean = 0, aupr_sd = 0;  // sd: NaN below 2
  int best_epoch = 0;   // no axes: the run's best epoch
  std::vector<double> point_valid;  // per grid point: mean valid AUROC over its finished seeds (NaN: none)
};
CellModelStats cell_model_stats(const SweepSummary& s, size_t cell, size_t model);

// summary.csv: one row per run then mean and median rows per model:
// cell,cell_name,model,status,best_epoch,valid_auroc,test_auroc,test_aupr,paper_auroc,diff_vs_paper
// (paper_auroc is the DeepChrome paper's figure for the cell, empty for simulated cells).
// With a grid, after model: grid_point,<one column per grid key: its value as JSON>,chosen
// ("yes" on the runs of the cell and model's chosen grid point); with seeds, then: seed.
// The mean and median rows are over the cells' chosen means (the same numbers as summary.md).
std::string summary_csv(const SweepSummary& s);
// summary.md: the models side by side per cell, mean/median rows, the published summaries.
std::string summary_md(const SweepSummary& s);
// auroc_vs_paper.svg: our test AUROC against the paper's, one point per cell and model, and
// the diagonal; with simulated data (no paper figures) test AUROC per cell instead.
std::string auroc_vs_paper_svg(const SweepSummary& s);
// For the console at the end of a sweep: per model, "  <model> mean test AUROC 0.8123 over
// 3 cell types\n" (over the cells' chosen means with axes).
std::string summary_brief(const SweepSummary& s);

}  // namespace dc::io
