// The DeepChrome data release's binned CSV format, loaded into memory as one Split.
//
// Each row is one 100-bp bin of one gene, 100 consecutive rows per gene (BinID 1..100 in
// order, spanning TSS-5 kb .. TSS+5 kb), no header line:
//
//   GeneID,BinID,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3,Label
//   000003,1,4,3,0,8,4,1
//
// Counts are non-negative numbers (read counts; decimals such as 3.0 are accepted and
// kept as float). Label is 0 (low) / 1 (high), the same on all rows of a gene. GeneIDs are
// strings (leading zeros kept). CRLF line endings and a missing final newline are fine.
// Any problem throws dc::InputError "<file>:<line>: <problem>" and returns nothing.
//
// Parsing a full split (660,100 rows) takes a fraction of a second; a binary cache
// (<csv>.dccache) makes later loads a plain read. It is keyed on the CSV's size, mtime
// and inode and rebuilt whenever those change; a checksum over the whole cache file means
// a damaged one (a flipped bit, a truncated or foreign file) is never read as data: it is
// rebuilt from the CSV with a warning. A cache that cannot be written is skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/data_view.h"

namespace dc::io {

inline constexpr const char* kMarkNames[5] = {"H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3"};
inline constexpr int kMarks = 5;
inline constexpr int kBins = 100;
inline constexpr size_t kValuesPerGene = size_t{kMarks} * kBins;

struct Split {
  std::string path;                   // the CSV it came from
  std::vector<std::string> gene_ids;
  std::vector<float> x;               // n * 5 * 100, layout [gene][mark][bin] (marks are the conv channels)
  std::vector<int8_t> labels;         // n; -1 for every gene when the file has no label column
  bool has_labels = true;
  size_t size() const { return gene_ids.size(); }
  DataView view() const { return {x.data(), labels.data(), size()}; }
};

struct LoadOptions {
  bool use_cache = true;         // read/write the binary cache
  std::string cache_dir;         // empty: cache beside the CSV as <csv>.dccache; else
                                 // <cache_dir>/<name derived from the absolute csv path>.dccache
  bool allow_unlabeled = false;  // accept 7-column rows (no Label), as `predict` does; all rows must agree
  // Told about a damaged cache that is being rebuilt; unset: "deepchrome: warning: ..." on stderr.
  std::function<void(const std::string&)> warn;
};

Split load_split(const std::string& csv_path, const LoadOptions& options = {});

// Where load_split keeps the cache of `csv_path` under `options` (used by tests and tools).
std::string cache_path(const std::string& csv_path, const LoadOptions& options = {});

// For tests and the cache fuzz target (tests/fuzz/fuzz_dataset_cache.cpp): rewrites in the bytes of
// a cache file what the reader checks before it decodes anything, so altered bytes reach the
// decoder: with `stamp`, the CSV stamp (size, mtime, inode of `csv_path` as it is now); with
// `checksum`, the checksum over the bytes as they are. Returns false, changing nothing more,
// when the bytes are shorter than a header, `csv_path` cannot be stat'ed, or (for the
// checksum) the header's sizes do not split the bytes as the reader expects.
bool reseal_cache_bytes(std::string& cache, const std::string& csv_path, bool stamp, bool checksum);

struct CellData {
  std::string name, dir;
  Split train, valid, test;
};

// <cell_dir>/classification/{train,valid,test}.csv ; name = last path component of cell_dir.
CellData load_cell(const std::string& cell_dir, const LoadOptions& options = {});

// root/cell
std::string cell_dir(const std::string& root, const std::string& cell);

// Writes a split in the CSV format (used by simulate and tests), atomically. A split
// without labels (has_labels false, or every label -1) is written with 7 columns.
// Throws dc::Error when the split is inconsistent (sizes, labels, ids with ',' or newlines).
void write_split_csv(const std::string& path, const Split& split);

// The CSV text write_split_csv writes.
std::string split_csv(const Split& split);

}  // namespace dc::io
