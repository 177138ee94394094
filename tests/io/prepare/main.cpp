// The prepare suite's main. What it can check depends on the build and the machine:
//   - built without htslib: only that `prepare` says so (test suite "no_htslib"); the suite
//     then reports itself skipped (exit 77), as the real checks could not run;
//   - no samtools or bedtools on PATH: the tests that need them (test suite "tools": BAMs are
//     made by samtools, counts compared with bedtools multicov) are left out and the suite
//     reports itself skipped, whatever the others did, unless one failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/prepare/reads.h"

namespace {
bool on_path(const char* tool) {
  const std::string cmd = std::string("command -v ") + tool + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}
}  // namespace

int main(int argc, char** argv) {
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  std::string skipped;
  if (dc::io::prepare::htslib_version().empty()) {
    context.addFilter("test-suite", "no_htslib");
    skipped = "this build has no htslib (DEEPCHROME_HTSLIB; apt-get install libhts-dev): only checked that prepare says so";
  } else {
    context.addFilter("test-suite-exclude", "no_htslib");
    if (!on_path("samtools") || !on_path("bedtools")) {
      context.addFilter("test-suite-exclude", "tools");
      skipped = "samtools or bedtools not found (apt-get install samtools bedtools): the tests that make BAMs and compare "
                "with bedtools did not run";
    }
  }
  const int failed = context.run();
  if (context.shouldExit() || failed) return failed;
  if (!skipped.empty()) {
    std::printf("prepare suite SKIPPED: %s\n", skipped.c_str());
    return 77;
  }
  return 0;
}
