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
int cmd_train(const Args& args);
int cmd_eval(const Args& args);
int cmd_predict(const Args& args);
int cmd_bench(const Args& args);
int cmd_sweep(const Args& args);

}  // namespace dc::cli
