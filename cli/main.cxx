// The `deepchrome` executable: all of its logic lives in the dc_cli library (cli/*.cpp).
#include "cli/commands.h"

int main(int argc, char** argv) { return dc::cli::run(argc, argv); }
