// Fuzz target: experiment configs (io/experiment/config.h, load_config with --set overrides).
// Input: the JSON file's text, then zero or more `--set` assignments ("train.lr=0.01"), each
// after a NUL byte. A resolved config must serialise (its `resolved` document is what a run
// writes as config.json) and resolve again to the same document.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "io/experiment/config.h"
#include "kernels/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = dc::fuzz::as_text(data, size);
  const size_t nul = text.find('\0');
  const std::string path = dc::fuzz::write_scratch("config.json", text.substr(0, nul));
  std::vector<std::string> overrides;
  for (size_t at = nul; at != std::string_view::npos;) {
    const size_t next = text.find('\0', at + 1);
    overrides.emplace_back(text.substr(at + 1, next == std::string_view::npos ? next : next - at - 1));
    at = next;
  }
  dc::io::ExperimentConfig config;
  try {
    config = dc::io::load_config(path, overrides);
  } catch (const dc::InputError&) {
    return 0;
  }
  const std::string resolved = config.resolved.dump();
  const dc::io::ExperimentConfig again =
      dc::io::load_config(dc::fuzz::write_scratch("resolved.json", resolved));
  if (again.resolved != config.resolved) std::abort();
  return 0;
}
