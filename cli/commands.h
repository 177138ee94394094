// The `deepchrome` subcommands. Each takes the arguments after its own name and returns the
// process exit code; errors are thrown (dc::InputError -> exit 2, anything else -> exit 1)
// and reported once, by run().
#pragma once

#include <string>
#include <vector>

#include "io/experiment/config.h"
#include "models/model.h"

namespace dc::cli {

using Args = std::vector<std::string>;

int run(int argc, char** argv);

int cmd_simulate(const Args& args);
int cmd_prepare(const Args& args);
int cmd_train(const Args& args);
int cmd_eval(const Args& args);
int cmd_predict(const Args& args);
int cmd_bench(const Args& args);
int cmd_sweep(const Args& args);
int cmd_models(const Args& args);
int cmd_report(const Args& args);
int cmd_explain(const Args& args);

// The model registry as text (cli/models.cpp): an indented list for help texts, and the
// Markdown table of the README.
std::string model_list_text(const std::string& indent);
std::string model_table_markdown();

// A sweep's child runs get this environment variable: the number of a pipe's read end
// whose write end only the sweep holds. `train` watches it and ends itself when the sweep
// is gone (end-of-file), even where the kernel's parent-death signal is not delivered.
inline constexpr const char* kLifelineEnv = "DEEPCHROME_SWEEP_LIFELINE";
void watch_sweep_lifeline();  // cli/train.cpp; does nothing without the variable

// What `deepchrome explain` computes and where it writes (see its --help).
struct ExplainOptions {
  std::vector<std::string> methods;  // empty: every method that applies to the model
  std::string data;                  // a cell type folder; empty: the run's own cell
  std::string split = "test";
  std::string out;                   // empty: <run_dir>/explain
  int restarts = 5, iterations = 1000, ig_steps = 32;
  uint64_t seed = 1;
  std::string per_gene_file;
  Device device = Device::CPU;
};
// Explains the run in `run_dir` (cli/explain.cpp). `trained`: the run's model, already in
// memory (train); null: loaded from run_dir. Bad input throws before anything is written.
void explain_run(const std::string& run_dir, const ExplainOptions& options, Model* trained, bool quiet);

// A config's `device` (refused with the reason when it is not usable) and `threads` applied
// to this process, before a run or a sweep starts (cli/train.cpp).
void apply_device_and_threads(const io::ExperimentConfig& c);

}  // namespace dc::cli
