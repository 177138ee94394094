// How `prepare` divides the kept genes into train / valid / test.
//
//   sequential   (default, as the release) genes in annotation order: the first ceil(n/3)
//                to train, the next floor((n+1)/3) to valid, the last floor(n/3) to test
//                (19,802 -> 6601 / 6601 / 6600; the sizes `simulate` uses)
//   random       the same sizes, genes drawn by a seeded shuffle (Philox, engine/rng.h)
//   chromosomes  genes on --valid-chroms to valid, on --test-chroms to test, the rest to
//                train: held-out chromosomes, a split without neighbouring-gene leakage
// Within each split, genes stay in annotation order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dc::io::prepare {

enum class SplitMode { sequential, random, chromosomes };
const char* split_mode_name(SplitMode mode);
SplitMode parse_split_mode(const std::string& text);  // dc::InputError naming --split otherwise

struct SplitOptions {
  SplitMode mode = SplitMode::sequential;
  uint64_t seed = 1;
  std::vector<std::string> valid_chroms, test_chroms;
};

// train, valid, test sizes of the sequential and random splits.
std::array<size_t, 3> split_sizes(size_t n);

// The split (0 train, 1 valid, 2 test) of each kept gene, given its chromosome.
// Throws dc::InputError when a split would be empty (saying why).
std::vector<int> assign_splits(const std::vector<std::string>& gene_chroms, const SplitOptions& options);

}  // namespace dc::io::prepare
