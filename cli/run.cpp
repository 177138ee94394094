// Entry point: dispatches to a subcommand and turns exceptions into messages and exit
// codes (0 ok, 2 bad input or config, 1 any other failure).
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "kernels/base/error.h"

namespace dc::cli {
namespace {

const char* kUsage = R"(deepchrome )" DEEPCHROME_VERSION R"( - predict gene expression from histone marks (DeepChrome)

usage: deepchrome <command> [options]

commands:
  simulate   write simulated cell types in the DeepChrome data layout
  prepare    count raw reads (BAM/CRAM/SAM, tagAlign) around each gene's TSS into the data layout
  train      train a model on one or more cell types from a JSON config
  sweep      train every (cell type x model) of a config, resumable, with a summary vs the paper
  eval       evaluate a saved model on a cell type's splits
  predict    score genes from a CSV with a saved model
  models     list the models, what each is, and their config keys
  explain    what a trained model learned: class maps, attributions, attention, figures
  report     write report.html for a finished run (metrics, curves, attention)
  bench      run the kernel and end-to-end benchmarks (JSON on stdout)

Run `deepchrome <command> --help` for a command's options.
Exit codes: 0 ok, 2 bad input (data, config, checkpoint, option), 1 other failure.
)";

}  // namespace

int run(int argc, char** argv) {
  Args args(argv + (argc > 1 ? 2 : 1), argv + argc);
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command.empty() || command == "--help" || command == "-h" || command == "help") {
      std::fputs(kUsage, command.empty() ? stderr : stdout);
      return command.empty() ? 2 : 0;
    }
    if (command == "--version" || command == "version") {
      std::printf("deepchrome %s\n", DEEPCHROME_VERSION);
      return 0;
    }
    if (command == "simulate") return cmd_simulate(args);
    if (command == "prepare") return cmd_prepare(args);
    if (command == "train") return cmd_train(args);
    if (command == "sweep") return cmd_sweep(args);
    if (command == "eval") return cmd_eval(args);
    if (command == "predict") return cmd_predict(args);
    if (command == "bench") return cmd_bench(args);
    if (command == "models") return cmd_models(args);
    if (command == "report") return cmd_report(args);
    if (command == "explain") return cmd_explain(args);
    throw InputError("unknown command '" + command + "' (commands: simulate, prepare, train, sweep, eval, predict, explain, report, models, bench; see deepchrome --help)");
  } catch (const InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "deepchrome: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "deepchrome: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "deepchrome: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace dc::cli
