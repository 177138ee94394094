// `deepchrome prepare`: raw reads to the DeepChrome release layout, one command.
//
// For each cell type: the five marks' reads (BAM/CRAM/SAM/BED/tagAlign) are counted in 100
// bins of 100 bp over TSS +-5 kb of every gene of the annotation (reads.h has the exact
// rule, bedtools multicov's), each gene is labelled 1 when its expression value (RPKM)
// is above the median over the kept genes, else 0, and the genes are split train / valid /
// test (splits.h). Writes, per cell:
//
//   OUT/<cell>/classification/{train,valid,test}.csv   the release layout (io/formats/dataset.h)
//   OUT/<cell>/expression.csv                          gene_id,rpkm of the kept genes
//   OUT/<cell>/prepare.json                            inputs (path, size, CRC-32), reads
//                                                      seen and counted per mark, genes kept
//                                                      and skipped (by reason, listed by id),
//                                                      parameters, program version
//
// Genes are skipped (and listed) when their chromosome's length is unknown (not in the
// reads' headers nor --chrom-sizes), when their window leaves the chromosome, or when the
// expression table lacks them. All inputs are read and checked before any counting; the
// output appears only once every cell is complete (staging.h). The annotation and the
// expression table are read once for all cells. The same inputs and options give the same
// bytes, whatever the thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/prepare/inputs.h"
#include "io/prepare/reads.h"
#include "io/prepare/splits.h"

namespace dc::io::prepare {

struct PrepareOptions {
  std::vector<CellInput> cells;
  std::string genes;              // GTF / GFF3 / BED6
  std::string expression;         // the RPKM table
  std::string expression_column;  // empty: the cell's name (one cell only when set)
  std::string chrom_sizes;        // optional chrom.sizes
  std::string out = "data";
  SplitOptions split;
  CountOptions counting;          // --min-mapq, --threads, --reference
  std::string program_version;    // recorded in prepare.json
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

struct MarkSummary {
  std::string mark;
  ReadFormat format = ReadFormat::bed;
  ReadCounts counts;
  double seconds = 0;  // counting time (not written to any file)
};

struct CellSummary {
  std::string cell, dir;
  size_t annotated = 0, kept = 0, skipped = 0;
  size_t sizes[3] = {0, 0, 0};  // train, valid, test
  double median_rpkm = 0;
  std::vector<MarkSummary> marks;
};

std::vector<CellSummary> run_prepare(const PrepareOptions& options);

}  // namespace dc::io::prepare
