// Main of the browser suite: runs the doctest cases when headless Chromium is installed;
// otherwise says why and exits 77, which ctest reports as "Skipped" (never a silent pass).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "browser/chromium.h"

int main(int argc, char** argv) {
  const std::string chromium = dc::test::chromium::find();
  if (chromium.empty()) {
    std::printf("browser suite SKIPPED: no chromium on PATH (Debian: apt-get install chromium; or set DEEPCHROME_CHROMIUM)\n");
    return 77;
  }
  std::printf("browser suite with %s\n", chromium.c_str());
  doctest::Context context(argc, argv);
  return context.run();
}
