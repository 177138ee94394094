#include "io/prepare/splits.h"

#include <algorithm>
#include <numeric>

#include "kernels/base/error.h"
#include "kernels/base/philox.h"

namespace dc::io::prepare {

const char* split_mode_name(SplitMode mode) {
  switch (mode) {
    case SplitMode::sequential: return "sequential";
    case SplitMode::random: return "random";
    case SplitMode::chromosomes: return "chromosomes";
  }
  return "?";
}

SplitMode parse_split_mode(const std::string& text) {
  if (text == "sequential") return SplitMode::sequential;
  if (text == "random") return SplitMode::random;
  if (text == "chromosomes") return SplitMode::chromosomes;
  throw InputError("prepare: --split expects sequential, random or chromosomes, got '" + text + "'");
}

std::array<size_t, 3> split_sizes(size_t n) { return {(n + 2) / 3, (n + 1) / 3, n / 3}; }

std::vector<int> assign_splits(const std::vector<std::string>& gene_chroms, const SplitOptions& options) {
  const size_t n = gene_chroms.size();
  std::vector<int> split(n, 0);
  if (options.mode == SplitMode::chromosomes) {
    auto listed = [](const std::vector<std::string>& list, const std::string& chrom) {
      return std::find(list.begin(), list.end(), chrom) != list.end();
    };
    for (const auto& c : options.valid_chroms)
      if (listed(options.test_chroms, c))
        throw InputError("prepare: chromosome " + c + " is in both --valid-chroms and --test-chroms");
    if (options.valid_chroms.empty() || options.test_chroms.empty())
      throw InputError("prepare: --split chromosomes needs --valid-chroms and --test-chroms (e.g. --valid-chroms chr7 "
                       "--test-chroms chr8,chr9)");
    size_t sizes[3] = {0, 0, 0};
    for (size_t g = 0; g < n; ++g) {
      split[g] = listed(options.valid_chroms, gene_chroms[g]) ? 1 : listed(options.test_chroms, gene_chroms[g]) ? 2 : 0;
      ++sizes[split[g]];
    }
    auto join = [](const std::vector<std::string>& list) {
      std::string s;
      for (const auto& c : list) s += (s.empty() ? "" : ",") + c;
      return s;
    };
    if (sizes[1] == 0) throw InputError("prepare: no kept gene on --valid-chroms " + join(options.valid_chroms));
    if (sizes[2] == 0) throw InputError("prepare: no kept gene on --test-chroms " + join(options.test_chroms));
    if (sizes[0] == 0) throw InputError("prepare: no kept gene left for training outside --valid-chroms and --test-chroms");
    return split;
  }
  if (n < 3) throw InputError("prepare: " + std::to_string(n) + " gene(s) kept; train, valid and test need at least 3");
  const auto sizes = split_sizes(n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  if (options.mode == SplitMode::random) {
    CounterRng rng(options.seed, 0x5B117ull);  // a stream of its own
    for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);  // Fisher-Yates
  }
  for (size_t i = 0; i < n; ++i) split[order[i]] = i < sizes[0] ? 0 : i < sizes[0] + sizes[1] ? 1 : 2;
  return split;
}

}  // namespace dc::io::prepare
