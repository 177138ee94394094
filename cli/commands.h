// The `deepchrome` subcommands. Each takes the arguments after its own name and returns the
// process exit code; errors are thrown (dc::InputError -> exit 2, anything else -> exit 1)
// and reported once, by run().
#pragma once

#include <string>
#include <vector>

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

// A sweep's child runs get this environment variable: the number of a pipe's read end
// whose write end only the sweep holds. `train` watches it and ends itself when the sweep
// is gone (end-of-file), even where the kernel's parent-death signal is not delivered.
inline constexpr const char* kLifelineEnv = "DEEPCHROME_SWEEP_LIFELINE";
void watch_sweep_lifeline();  // cli/train.cpp; does nothing without the variable

}  // namespace dc::cli
