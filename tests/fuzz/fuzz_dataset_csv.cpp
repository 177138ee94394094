// Fuzz target: the DeepChrome CSV loader (io/formats/dataset.h, load_split without the cache).
// Input: one control byte (bit 0: allow_unlabeled, as `predict` loads), then the CSV text.
// A loaded split must be consistent: 500 values and one label per gene, counts finite and >= 0.
#include <cmath>
#include <cstdlib>

#include "fuzz/fuzz_util.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return -1;
  dc::io::LoadOptions options;
  options.use_cache = false;
  options.allow_unlabeled = (data[0] & 1) != 0;
  const std::string path = dc::fuzz::write_scratch("train.csv", dc::fuzz::as_text(data + 1, size - 1));
  try {
    const dc::io::Split split = dc::io::load_split(path, options);
    const size_t n = split.size();
    if (n == 0 || split.labels.size() != n || split.x.size() != n * dc::io::kValuesPerGene) std::abort();
    for (float v : split.x)
      if (!(v >= 0) || !std::isfinite(v)) std::abort();
    for (int8_t l : split.labels)
      if (split.has_labels ? (l != 0 && l != 1) : l != -1) std::abort();
  } catch (const dc::InputError&) {
  }
  return 0;
}
