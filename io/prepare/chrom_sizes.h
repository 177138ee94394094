// Chromosome lengths, which decide whether a gene's window stays on its chromosome: from
// `--chrom-sizes FILE` (UCSC chrom.sizes: name and length per line) and from the @SQ
// lines of the BAM/CRAM/SAM headers. Every source must agree on a chromosome's length;
// a disagreement (reads aligned to another assembly) is a dc::InputError naming both.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dc::io::prepare {

class ChromSizes {
 public:
  // Reads a chrom.sizes file (whitespace-separated name and positive length; '#' comments).
  void add_file(const std::string& path);
  // Adds the lengths of a read file's header.
  void add_header(const std::string& path, const std::vector<std::pair<std::string, int64_t>>& references);

  bool empty() const { return length_.empty(); }
  // The chromosome's length, or -1 when no source names it.
  int64_t length(const std::string& chrom) const {
    const auto it = length_.find(chrom);
    return it == length_.end() ? -1 : it->second.first;
  }

 private:
  void add(const std::string& chrom, int64_t length, const std::string& source);
  std::unordered_map<std::string, std::pair<int64_t, std::string>> length_;  // length, where it came from
};

}  // namespace dc::io::prepare
