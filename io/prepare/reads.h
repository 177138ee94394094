// The read files of `prepare`: BAM, CRAM and SAM through htslib (alignments_htslib.cpp;
// alignments_no_htslib.cpp stands in when the build has no htslib), BED / tagAlign plain
// or gzip (reads_bed.cpp). Each file is read once, front to back, in any order; nothing
// needs an index.
//
// What counts (bedtools multicov's defaults): an alignment counts in every bin its
// reference span overlaps by at least 1 bp. The span is [POS, POS + reference length of
// the CIGAR): M, D, N, = and X consume it, so a spliced (N) read or a read with a deletion
// counts over its whole span, gaps included (multicov without -split); soft clips and
// insertions add nothing. Unmapped, duplicate (0x400) and QC-fail (0x200) alignments and
// those with MAPQ < min_mapq are not counted; secondary and supplementary alignments are.
// BED/tagAlign lines are reads [start, end) (0-based half-open), as `bedtools bedtobam`
// makes them (MAPQ 255, so --min-mapq up to 255 keeps them all); a zero-length entry
// [s, s) counts as [s-1, s+1), as bedtobam writes it.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/prepare/bin_counter.h"

namespace dc::io::prepare {

enum class ReadFormat { bam, cram, sam, bed };
const char* format_name(ReadFormat f);

// What one pass over a read file saw. Each record lands in exactly one of the reasons it
// was left out (checked in this order) or in `used`.
struct ReadCounts {
  uint64_t records = 0;      // alignments or BED lines read
  uint64_t unmapped = 0;     // flag 0x4
  uint64_t duplicate = 0;    // flag 0x400
  uint64_t qc_fail = 0;      // flag 0x200
  uint64_t low_mapq = 0;     // MAPQ < --min-mapq
  uint64_t other_chrom = 0;  // on a chromosome holding no kept gene
  uint64_t used = 0;         // passed the filters, on a chromosome with genes
  uint64_t in_bins = 0;      // of `used`: counted in at least one bin
};

struct ReadFileInfo {
  std::string path;
  ReadFormat format = ReadFormat::bed;
  std::vector<std::pair<std::string, int64_t>> references;  // header @SQ names and lengths (not BED)
};

struct CountOptions {
  int min_mapq = 0;
  int threads = 1;        // htslib decompression threads
  std::string reference;  // FASTA for CRAMs that need one (empty: none)
};

// BAM, CRAM or SAM (by content, whatever the extension), else BED/tagAlign.
// A missing, unreadable or empty file is a dc::InputError.
ReadFormat detect_read_format(const std::string& path);

// Opens the file and reads its header (BAM/CRAM/SAM) without reading any record, so bad
// files fail before the long counting passes. BED files just get their format.
ReadFileInfo probe_reads(const std::string& path, const CountOptions& options);

// One pass over the file: adds every counted read to `counter`. `chrom_index` maps the
// annotation's chromosome names to the counter's chromosome ids. A truncated or corrupt
// file is a dc::InputError naming it (and the line, for BED).
void count_reads(const ReadFileInfo& file, const CountOptions& options,
                 const std::unordered_map<std::string, int>& chrom_index, BinCounter& counter, ReadCounts& counts);

// The message for a read file none of whose chromosome names (`file_chroms`, a few of
// them) is a chromosome of the annotation: it lists both sides and suggests the fix
// (typically a "chr" prefix on one side only).
std::string chromosome_mismatch(const std::string& path, const std::vector<std::string>& file_chroms,
                                const std::unordered_map<std::string, int>& chrom_index);

// The htslib parts (alignments_htslib.cpp, or the stub that throws "built without htslib").
std::string htslib_version();  // "" when built without htslib
void require_htslib();         // throws dc::InputError (how to get it) when built without
ReadFileInfo probe_alignments(const std::string& path, ReadFormat format, const CountOptions& options);
void count_alignments(const ReadFileInfo& file, const CountOptions& options,
                      const std::unordered_map<std::string, int>& chrom_index, BinCounter& counter, ReadCounts& counts);

// The BED / tagAlign reader (reads_bed.cpp).
void count_bed_reads(const std::string& path, const std::unordered_map<std::string, int>& chrom_index,
                     BinCounter& counter, ReadCounts& counts);

}  // namespace dc::io::prepare
