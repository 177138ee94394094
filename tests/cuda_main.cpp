// Main of the CUDA suite: runs the doctest cases when a CUDA device is usable; otherwise
// says why and exits 77, which ctest reports as "Skipped" (never a silent pass).
// doctest's queries (--list-test-cases, --count, --list-test-suites, --help, --version) run
// no test case, so they answer without a GPU: scripts/gpu_check.sh checks its test filters
// with them on machines that have none.
//
// Two doctest test suites (a case's `* doctest::test_suite(...)`) tell the sanitizer runs of
// scripts/gpu_check.sh what to take: "small", cheap cases that together launch every kernel
// in every configuration (compute-sanitizer racecheck runs these: it is slow), and "slow", the
// longest cases (left out of the memcheck run). Any other case is in neither.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "kernels/cuda/runtime.h"

namespace {

bool is_query(const char* arg) {
  std::string a = arg;
  if (a.rfind("--", 0) == 0) a.erase(0, 2);
  else if (a.rfind("-", 0) == 0) a.erase(0, 1);
  else return false;
  if (a.rfind("dt-", 0) == 0) a.erase(0, 3);
  a = a.substr(0, a.find('='));
  for (const char* q : {"ltc", "list-test-cases", "lts", "list-test-suites", "c", "count", "lr", "list-reporters", "h", "help",
                        "?", "v", "version"})
    if (a == q) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered even into a file: a run killed at its timeout keeps every line it printed
  // (scripts/gpu_check.sh reads the last finished case from --duration=true output).
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  bool query = false;
  for (int i = 1; i < argc; ++i) query = query || is_query(argv[i]);
  if (!query) {
    std::string why;
    if (!dc::kernels::cuda::available(&why)) {
      std::printf("cuda suite SKIPPED: no usable CUDA device (%s)\n", why.c_str());
      return 77;
    }
    const auto info = dc::kernels::cuda::device_info();
    std::printf("cuda suite on %s (sm_%d%d, %d SMs)\n", info.name.c_str(), info.cc_major, info.cc_minor, info.sm_count);
  }
  doctest::Context context(argc, argv);
  return context.run();
}
