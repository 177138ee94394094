// The gene annotation `prepare` bins around: GTF or GFF3 `gene` records, or BED6 lines
// (name, strand), plain or gzip. The format is told from the content (a GFF3 header or
// key=value attributes: GFF3; `key "value";` attributes: GTF; six or more columns with
// numeric 2nd and 3rd: BED).
//
// Each gene keeps its id with a version suffix ".N" stripped (ENSG00000223972.5 ->
// ENSG00000223972, how the expression table names it), its chromosome, strand and TSS:
// the start on +, the end on -, 1-based (GTF/GFF3 coordinates are 1-based inclusive;
// BED's 0-based half-open [start, end) gives start+1 on + and end on -).
// Malformed lines, genes without a strand or id, and duplicate ids are dc::InputErrors
// naming the file and line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dc::io::prepare {

struct Gene {
  std::string id;     // version suffix stripped
  int chrom = 0;      // index into Annotation::chroms
  bool minus = false;
  int64_t tss = 0;    // 1-based
  size_t line = 0;    // where it is defined, for messages
};

struct Annotation {
  std::string path;
  std::string format;               // "gtf", "gff3" or "bed"
  std::vector<std::string> chroms;  // in order of first appearance
  std::unordered_map<std::string, int> chrom_index;
  std::vector<Gene> genes;          // in file order
};

Annotation read_annotation(const std::string& path);

// "ENSG00000223972.5" -> "ENSG00000223972"; ids without a numeric ".N" suffix unchanged.
std::string strip_version(std::string_view id);

}  // namespace dc::io::prepare
