// The mpi suite's main: `deepchrome sweep` under mpirun (tests/mpi/test_sweep_mpi.cpp). What
// it can check depends on the build and the machine:
//   - built without MPI (DEEPCHROME_MPI): only that a sweep launched with an MPI launcher's
//     environment refuses and says why (test suite "no_mpi"); then the suite reports itself
//     skipped (exit 77), as the real checks could not run;
//   - built with MPI but no mpirun on PATH: skipped (exit 77).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  std::string skipped;
  if (!DC_BUILT_WITH_MPI) {
    context.addFilter("test-suite", "no_mpi");
    skipped = "this build has no MPI (DEEPCHROME_MPI; apt-get install libopenmpi-dev openmpi-bin): only checked that a sweep "
              "under an MPI launcher refuses";
  } else {
    context.addFilter("test-suite-exclude", "no_mpi");
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) {
      std::printf("mpi suite SKIPPED: no mpirun on PATH (apt-get install openmpi-bin)\n");
      return 77;
    }
  }
  const int failed = context.run();
  if (context.shouldExit() || failed) return failed;
  if (!skipped.empty()) {
    std::printf("mpi suite SKIPPED: %s\n", skipped.c_str());
    return 77;
  }
  return 0;
}
