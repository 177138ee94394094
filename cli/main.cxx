// The `deepchrome` executable: all of its logic lives in the dc_cli library (cli/*.cpp).
#include <csignal>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Past a file size limit (ulimit -f) write() then fails with EFBIG, which the atomic
  // writers report (path, reason) before removing their temp file, instead of the default
  // SIGXFSZ killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  return dc::cli::run(argc, argv);
}
