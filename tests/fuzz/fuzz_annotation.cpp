// Fuzz target: the gene annotation reader of `prepare` (io/prepare/annotation.h: GTF, GFF3
// or BED6, plain or gzip, told from the content). Input: the file's bytes. A read annotation
// must be consistent: every gene has an id, a chromosome of the list and a line number; ids
// (version suffix stripped once, as the expression table's) are unique.
#include <cstdlib>
#include <unordered_set>

#include "fuzz/fuzz_util.h"
#include "io/prepare/annotation.h"
#include "kernels/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = dc::fuzz::write_scratch("genes.gtf", dc::fuzz::as_text(data, size));
  try {
    const dc::io::prepare::Annotation a = dc::io::prepare::read_annotation(path);
    if (a.format != "gtf" && a.format != "gff3" && a.format != "bed") std::abort();
    if (a.chrom_index.size() != a.chroms.size()) std::abort();
    std::unordered_set<std::string> ids;
    for (const auto& g : a.genes) {
      if (g.id.empty() || g.chrom < 0 || static_cast<size_t>(g.chrom) >= a.chroms.size() || g.line == 0) std::abort();
      if (!ids.insert(g.id).second) std::abort();
    }
  } catch (const dc::InputError&) {
  }
  return 0;
}
