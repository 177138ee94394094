// `deepchrome prepare`: raw reads (BAM/CRAM/SAM, BED/tagAlign) + a gene annotation + an
// expression table -> the DeepChrome release layout (io/prepare/prepare.h).
#include <cstdio>
#include <string>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "kernels/base/error.h"
#include "io/prepare/prepare.h"

namespace dc::cli {
namespace {

const char* kHelp = R"(usage: deepchrome prepare --cell CELL --mark NAME=READS (x5) --genes ANNOTATION --expression TABLE
                         [--out DIR] [--expression-column COL] [--chrom-sizes FILE]
                         [--split sequential|random|chromosomes] [--seed N] [--valid-chroms LIST --test-chroms LIST]
                         [--min-mapq Q] [--threads N] [--reference FASTA] [--quiet]
       deepchrome prepare --cells-from FILE --genes ANNOTATION --expression TABLE [options]

Counts each mark's reads in 100 bins of 100 bp over TSS +-5 kb of every gene (strand-
oriented: bin 1 is the most upstream), labels each gene 1 when its expression is above the
median of the kept genes, and writes the DeepChrome release layout:
  DIR/<cell>/classification/{train,valid,test}.csv, DIR/<cell>/expression.csv (gene_id,rpkm)
  and DIR/<cell>/prepare.json (inputs with sizes and CRC-32s, reads per mark, genes kept and
  skipped with the reason for each, parameters, version).
Counting follows `bedtools multicov` defaults: a read counts in every bin its span overlaps
by >= 1 bp; unmapped, duplicate and QC-fail reads are not counted. Nothing is left in DIR
when anything fails; an existing DIR/<cell> is replaced as a whole.

  --cell CELL            the cell type (its name in the expression table's header)
  --mark NAME=READS      reads of one mark (H3K27me3, H3K36me3, H3K4me1, H3K4me3, H3K9me3; all
                         five needed): BAM, CRAM or SAM (any order, no index needed), or BED /
                         tagAlign (plain or gzip)
  --cells-from FILE      many cells in one call: tab-separated lines `cell mark path` (relative
                         paths from FILE's folder); the annotation is read once
  --genes FILE           GTF or GFF3 (`gene` records, gene_id) or BED6 (name, strand); plain or gzip
  --expression FILE      gene_id + one column per cell (as 57epigenomes.RPKM.pc), or two columns
  --expression-column C  the column to use (default: the cell's name; a two-column table's only one)
  --out DIR              output root (default data)
  --chrom-sizes FILE     chromosome lengths (UCSC chrom.sizes); needed when all reads are BED/tagAlign,
                         else the BAM/CRAM/SAM headers give them
  --split MODE           sequential (default, as the release: annotation order, 1/3 each),
                         random (seeded), or chromosomes (held-out --valid-chroms / --test-chroms)
  --seed N               seed of --split random (default 1)
  --valid-chroms LIST    comma-separated chromosomes for valid (--split chromosomes), e.g. chr7
  --test-chroms LIST     comma-separated chromosomes for test (--split chromosomes), e.g. chr8,chr9
  --min-mapq Q           count only alignments with MAPQ >= Q, as bedtools' -q (default 0)
  --threads N            decompression threads (default: all cores)
  --reference FASTA      reference for CRAMs that cannot be decoded without it
  --quiet                no progress lines
)";

int parse_int(const std::string& option, const std::string& text, long long lo, long long hi) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || text.empty() || v < lo || v > hi)
    throw InputError("prepare: --" + option + " expects an integer in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got '" + text + "'");
  return static_cast<int>(v);
}

std::vector<std::string> comma_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    size_t start = 0;
    while (start <= v.size()) {
      const size_t comma = v.find(',', start);
      const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

int cmd_prepare(const Args& args) {
  ArgParser p("prepare", args,
              {"cell", "mark", "cells-from", "genes", "expression", "expression-column", "out", "chrom-sizes", "split",
               "seed", "valid-chroms", "test-chroms", "min-mapq", "threads", "reference"},
              {"help", "quiet"});
  if (p.flag("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (!p.positionals().empty()) throw InputError("prepare: unexpected argument '" + p.positionals()[0] + "'");
  io::prepare::PrepareOptions o;
  if (auto from = p.value("cells-from")) {
    if (p.value("cell") || !p.all("mark").empty())
      throw InputError("prepare: give either --cells-from or --cell with --mark, not both");
    o.cells = io::prepare::read_cells_file(*from);
  } else {
    io::prepare::CellInput cell;
    cell.cell = p.required("cell");
    for (const std::string& m : p.all("mark")) cell.marks.push_back(io::prepare::parse_mark_option(m));
    o.cells.push_back(std::move(cell));
  }
  o.genes = p.required("genes");
  o.expression = p.required("expression");
  o.expression_column = p.value("expression-column").value_or("");
  o.chrom_sizes = p.value("chrom-sizes").value_or("");
  o.out = p.value("out").value_or("data");
  o.split.mode = io::prepare::parse_split_mode(p.value("split").value_or("sequential"));
  o.split.seed = static_cast<uint64_t>(parse_int("seed", p.value("seed").value_or("1"), 0, 2'000'000'000));
  o.split.valid_chroms = comma_list(p.all("valid-chroms"));
  o.split.test_chroms = comma_list(p.all("test-chroms"));
  o.counting.min_mapq = parse_int("min-mapq", p.value("min-mapq").value_or("0"), 0, 255);
  const unsigned cores = std::thread::hardware_concurrency();
  o.counting.threads = parse_int("threads", p.value("threads").value_or(std::to_string(cores ? cores : 1)), 1, 1024);
  o.counting.reference = p.value("reference").value_or("");
  o.program_version = DEEPCHROME_VERSION;
  if (!p.flag("quiet"))
    o.log = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
  const auto summaries = io::prepare::run_prepare(o);
  for (const auto& s : summaries)
    std::printf("wrote %s: %zu genes (%zu train / %zu valid / %zu test, label threshold: median %.4g), %zu of %zu skipped "
                "(listed in prepare.json)\n",
                s.dir.c_str(), s.kept, s.sizes[0], s.sizes[1], s.sizes[2], s.median_rpkm, s.skipped, s.annotated);
  return 0;
}

}  // namespace dc::cli
