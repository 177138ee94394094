// Fuzz target: the BED / tagAlign read reader of `prepare` (io/prepare/reads_bed.cpp,
// count_bed_reads), counting into the windows of a fixed small annotation. Input: the read
// file's bytes (plain or gzip). After a pass every record lands in exactly one category and
// the bins hold no more hits than the reads could make.
#include <cstdlib>
#include <unordered_map>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "io/prepare/bin_counter.h"
#include "io/prepare/reads.h"
#include "kernels/base/error.h"

namespace {

using namespace dc::io::prepare;

// chr1: three genes (two with overlapping windows, one on -), chr2: one gene near the start,
// chrM: named by the annotation but without a window.
const std::unordered_map<std::string, int> kChromIndex = {{"chr1", 0}, {"chr2", 1}, {"chrM", 2}};
const std::vector<GeneWindow> kWindows = {{0, 20000, false}, {0, 24000, true}, {0, 1000000, false}, {1, 0, true}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static BinCounter counter(kWindows, 3);
  counter.clear();
  const std::string path = dc::fuzz::write_scratch("reads.tagAlign", dc::fuzz::as_text(data, size));
  ReadCounts counts;
  try {
    count_bed_reads(path, kChromIndex, counter, counts);
  } catch (const dc::InputError&) {
    return 0;
  }
  if (counts.records != counts.other_chrom + counts.used || counts.in_bins > counts.used) std::abort();
  if (counts.unmapped || counts.duplicate || counts.qc_fail || counts.low_mapq) std::abort();
  uint64_t total = 0;
  std::vector<float> bins(kBinsPerGene);
  for (size_t w = 0; w < counter.windows(); ++w) {
    counter.oriented_bins(w, bins.data());
    for (float b : bins) total += static_cast<uint64_t>(b);
  }
  // A read adds at most one per bin of each window it reaches.
  if (total > counts.in_bins * counter.windows() * kBinsPerGene) std::abort();
  if ((total == 0) != (counts.in_bins == 0)) std::abort();
  return 0;
}
