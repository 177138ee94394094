// Shared by the prepare tests: a small synthetic genome with genes on both strands (and at
// the edges where windows leave a chromosome), random reads of every kind that matters to
// the counting rule (flags, MAPQ, CIGARs with N, D, I, S), SAM/GTF/expression text for
// them, shell helpers to make BAM/CRAM with samtools and count with bedtools multicov,
// and the bins of the formula written independently of io/prepare.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "command_util.h"
#include "kernels/base/philox.h"
#include "io/formats/dataset.h"

namespace dc::test::prep {

namespace fs = std::filesystem;

using command::has;
using command::Result;
using command::slurp;

// `cmd` (in a subshell, so a pipeline's stderr is captured too) in folder `dir`.
inline Result sh(const std::string& cmd, const fs::path& dir) { return command::sh_in(dir, "(" + cmd + ")"); }

// Runs a command that must succeed (samtools, bedtools); fails the test with its output otherwise.
inline std::string must(const std::string& cmd, const fs::path& dir) {
  const Result r = sh(cmd, dir);
  INFO("command: " << cmd);
  REQUIRE_MESSAGE(r.code == 0, r.out);
  return r.out;
}

// A fresh, empty folder under the build folder.
inline fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::path(DC_BINARY_DIR) / "test_prepare_work" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Writes `text` to `path`, creating its folders (command_util.h's write).
inline void write_text(const fs::path& path, const std::string& text) { command::write(path, text); }

inline void write_gzip(const fs::path& path, const std::string& text) {
  gzFile gz = gzopen(path.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  gzclose(gz);
}

// ---- the synthetic genome, genes and reads ----------------------------------------------

struct Chrom {
  std::string name;
  int64_t length;
};

struct TGene {
  std::string id, chrom;
  bool minus;
  int64_t tss;  // 1-based
};

struct TRead {
  std::string chrom;  // "*" when unplaced
  int64_t pos;        // 1-based; 0 when unplaced
  int flag, mapq;
  std::string cigar;  // "*" when unplaced
  int64_t end = 0;    // 0-based end of the reference span (for tagAlign)
};

// chrUn holds no gene: its reads are counted as "other_chromosome".
inline std::vector<Chrom> test_genome() { return {{"chr1", 200000}, {"chr2", 150000}, {"chr3", 40000}, {"chrUn", 30000}}; }

inline int64_t chrom_length(const std::string& name) {
  for (const Chrom& c : test_genome())
    if (c.name == name) return c.length;
  return -1;
}

// Window of the issue, 1-based inclusive: on + [T-5000, T+4999], on - [T-4999, T+5000].
inline bool window_fits(const TGene& g, int64_t length) {
  return g.minus ? g.tss - 4999 >= 1 && g.tss + 5000 <= length : g.tss - 5000 >= 1 && g.tss + 4999 <= length;
}

// 42 genes: random ones on chr1/chr2 (both strands), two on chr3, a pair with overlapping
// windows, and windows that just fit or just leave their chromosome. ids carry GENCODE-like versions.
inline std::vector<TGene> test_genes(uint64_t seed = 11) {
  std::vector<TGene> genes;
  CounterRng rng(seed, 1);
  for (int i = 0; i < 32; ++i) {
    const std::string chrom = i % 3 == 2 ? "chr2" : "chr1";
    const int64_t length = chrom == "chr1" ? 200000 : 150000;
    const bool minus = rng.uniform() < 0.5;
    const int64_t tss = 5001 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(length - 10001)));
    genes.push_back({"ENSG" + std::to_string(1000 + i), chrom, minus, tss});
  }
  genes.push_back({"ENSG2001", "chr1", false, 120000});  // overlapping windows, opposite strands
  genes.push_back({"ENSG2002", "chr1", true, 122500});
  genes.push_back({"ENSG2003", "chr1", false, 5001});     // + window [1, 10000]: fits exactly
  genes.push_back({"ENSG2004", "chr1", false, 5000});     // + window starts at 0: leaves
  genes.push_back({"ENSG2005", "chr2", true, 145000});    // - window ends at 150000: fits
  genes.push_back({"ENSG2006", "chr2", true, 145001});    // - window ends at 150001: leaves
  genes.push_back({"ENSG2007", "chr1", true, 5000});      // - window [1, 10000]: fits
  genes.push_back({"ENSG2008", "chr2", false, 145001});   // + window ends at 150000: fits
  genes.push_back({"ENSG3001", "chr3", false, 15000});
  genes.push_back({"ENSG3002", "chr3", true, 25000});
  return genes;
}

// Reference length of a CIGAR (M, D, N, =, X) and query length (M, I, S, =, X).
inline void cigar_lengths(const std::string& cigar, int64_t& ref, int64_t& query) {
  ref = query = 0;
  int64_t n = 0;
  for (char c : cigar) {
    if (c >= '0' && c <= '9') {
      n = n * 10 + (c - '0');
      continue;
    }
    if (c == 'M' || c == 'D' || c == 'N' || c == '=' || c == 'X') ref += n;
    if (c == 'M' || c == 'I' || c == 'S' || c == '=' || c == 'X') query += n;
    n = 0;
  }
}

struct ReadMix {
  bool flags = true;            // duplicates, QC-fail, secondary, supplementary, unplaced unmapped
  bool placed_unmapped = false;  // unmapped reads that carry a position (bedtools counts them; we do not)
  bool cigars = true;           // spliced, deletions, insertions, clips; else 36M only
  bool mapq = true;             // varied MAPQ; else 60
};

// n reads: most near a gene's TSS (so bins get counts), the rest anywhere, chrUn included.
inline std::vector<TRead> random_reads(uint64_t seed, int n, const std::vector<TGene>& genes, const ReadMix& mix = {}) {
  const auto genome = test_genome();
  const char* cigars[] = {"36M", "36M", "36M", "36M", "10M500N26M", "20M3D16M", "5S31M", "30M6I", "12M2000N24M",
                          "36M", "18M100D18M", "3S30M3S", "36M", "1M", "150M"};
  const int flags[] = {0, 16, 0, 16, 0, 16, 1024, 512, 256, 2048, 1040, 528, 272, 2064, 1536, 0, 16};
  const int mapqs[] = {0, 1, 5, 19, 20, 21, 30, 60, 255, 60, 60, 42};
  CounterRng rng(seed, 2);
  std::vector<TRead> reads;
  for (int i = 0; i < n; ++i) {
    TRead r;
    r.flag = mix.flags ? flags[rng.below(std::size(flags))] : (rng.uniform() < 0.5 ? 0 : 16);
    r.mapq = mix.mapq ? mapqs[rng.below(std::size(mapqs))] : 60;
    r.cigar = mix.cigars ? cigars[rng.below(std::size(cigars))] : "36M";
    int64_t ref, query;
    cigar_lengths(r.cigar, ref, query);
    const double u = rng.uniform();
    if (mix.flags && u < 0.03) {  // unmapped, no position
      reads.push_back({"*", 0, 4, 0, "*"});
      continue;
    }
    if (u < 0.75) {
      const TGene& g = genes[rng.below(genes.size())];
      const int64_t length = chrom_length(g.chrom);
      r.chrom = g.chrom;
      r.pos = g.tss - 6000 + static_cast<int64_t>(rng.below(12000));
      r.pos = std::max<int64_t>(1, std::min<int64_t>(r.pos, length - ref));
    } else {
      const Chrom& c = genome[rng.below(genome.size())];
      r.chrom = c.name;
      r.pos = 1 + static_cast<int64_t>(rng.below(static_cast<uint64_t>(c.length - ref)));
    }
    if (mix.placed_unmapped && rng.uniform() < 0.1) {
      r.flag = 4;
      r.mapq = 0;
      r.cigar = "*";
    }
    r.end = r.pos - 1 + ref;
    reads.push_back(r);
  }
  return reads;
}

inline std::string sam_header(const std::vector<Chrom>& genome, const std::string& prefix = "") {
  std::string s = "@HD\tVN:1.6\tSO:unsorted\n";
  for (const Chrom& c : genome) s += "@SQ\tSN:" + prefix + c.name + "\tLN:" + std::to_string(c.length) + "\n";
  return s;
}

// SAM text: header, then the reads in the given (random) order, each with a random sequence.
inline std::string sam_text(const std::vector<TRead>& reads, uint64_t seed, const std::string& prefix = "") {
  std::string s = sam_header(test_genome(), prefix);
  CounterRng rng(seed, 3);
  for (size_t i = 0; i < reads.size(); ++i) {
    const TRead& r = reads[i];
    int64_t ref = 0, query = 36;
    if (r.cigar != "*") cigar_lengths(r.cigar, ref, query);
    std::string seq;
    for (int64_t k = 0; k < query; ++k) seq.push_back("ACGT"[rng.below(4)]);
    s += "r" + std::to_string(i) + "\t" + std::to_string(r.flag) + "\t" + (r.chrom == "*" ? "*" : prefix + r.chrom) + "\t" +
         std::to_string(r.pos) + "\t" + std::to_string(r.mapq) + "\t" + r.cigar + "\t*\t0\t0\t" + seq + "\t*\n";
  }
  return s;
}

// tagAlign text (chrom, start, end, name, score, strand): mapped primary reads as their
// reference spans, plus a few zero-length entries (bedtobam widens them by 1 on each side).
inline std::string tagalign_text(const std::vector<TRead>& reads) {
  std::string s;
  int i = 0;
  for (const TRead& r : reads) {
    if (r.chrom == "*" || (r.flag & 4)) continue;
    const int64_t start = r.pos - 1, end = (i % 97 == 5) ? start : r.end;  // now and then zero-length
    s += r.chrom + "\t" + std::to_string(start) + "\t" + std::to_string(end) + "\tN\t1000\t" + ((r.flag & 16) ? "-" : "+") +
         "\n";
    ++i;
  }
  return s;
}

inline std::string gtf_text(const std::vector<TGene>& genes) {
  std::string s = "##description: synthetic test annotation\n";
  int version = 1;
  for (const TGene& g : genes) {
    const int64_t start = g.minus ? g.tss - 3000 : g.tss, end = g.minus ? g.tss : g.tss + 3000;
    const std::string attrs = "gene_id \"" + g.id + "." + std::to_string(version++ % 9 + 1) + "\"; gene_type \"protein_coding\";";
    s += g.chrom + "\tTEST\tgene\t" + std::to_string(start) + "\t" + std::to_string(end) + "\t.\t" + (g.minus ? "-" : "+") +
         "\t.\t" + attrs + "\n";
    s += g.chrom + "\tTEST\texon\t" + std::to_string(start) + "\t" + std::to_string(start + 100) + "\t.\t" +
         (g.minus ? "-" : "+") + "\t.\t" + attrs + " exon_number 1;\n";
  }
  return s;
}

// gene_id + one column per cell; values from the gene index (distinct, so the median is clear).
inline std::string expression_text(const std::vector<TGene>& genes, const std::vector<std::string>& cells) {
  std::string s = "gene_id";
  for (const auto& c : cells) s += "\t" + c;
  s += "\n";
  for (size_t g = 0; g < genes.size(); ++g) {
    s += genes[g].id;
    for (size_t c = 0; c < cells.size(); ++c) {
      s += '\t';
      s += std::to_string(static_cast<double>((g * 7 + c * 3) % genes.size()) * 0.25);
    }
    s += "\n";
  }
  return s;
}

inline std::string chrom_sizes_text() {
  std::string s;
  for (const Chrom& c : test_genome()) s += c.name + "\t" + std::to_string(c.length) + "\n";
  return s;
}

// The 100 bins of every gene whose window fits, by the formula, as BED lines named
// "<gene>:<bin>" (bin 1 the most upstream):
//   +: bin i = [T-5000+(i-1)*100, T-5000+i*100-1];  -: bin i = [T+5000-i*100+1, T+5000-(i-1)*100].
inline std::string bins_bed(const std::vector<TGene>& genes) {
  std::string s;
  for (const TGene& g : genes) {
    if (!window_fits(g, chrom_length(g.chrom))) continue;
    for (int i = 1; i <= 100; ++i) {
      const int64_t lo = g.minus ? g.tss + 5000 - i * 100 + 1 : g.tss - 5000 + (i - 1) * 100;
      const int64_t hi = g.minus ? g.tss + 5000 - (i - 1) * 100 : g.tss - 5000 + i * 100 - 1;
      s += g.chrom + "\t" + std::to_string(lo - 1) + "\t" + std::to_string(hi) + "\t" + g.id + ":" + std::to_string(i) + "\n";
    }
  }
  return s;
}

// `bedtools multicov` output: gene -> [file][bin] counts.
using GeneCounts = std::map<std::string, std::vector<std::vector<long>>>;
inline GeneCounts parse_multicov(const std::string& text, size_t files) {
  GeneCounts out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string chrom, start, end, name;
    f >> chrom >> start >> end >> name;
    const size_t colon = name.rfind(':');
    REQUIRE_MESSAGE(colon != std::string::npos, "unexpected multicov line: " << line);
    const std::string gene = name.substr(0, colon);
    const int bin = std::stoi(name.substr(colon + 1));
    auto& g = out[gene];
    if (g.empty()) g.assign(files, std::vector<long>(100, -1));
    for (size_t k = 0; k < files; ++k) {
      const bool read = static_cast<bool>(f >> g[k][static_cast<size_t>(bin - 1)]);
      REQUIRE_MESSAGE(read, "unexpected multicov line: " << line);
    }
  }
  return out;
}

// Our output folder's counts: gene -> [mark][bin], over the three splits.
inline GeneCounts load_prepared(const fs::path& cell_dir) {
  GeneCounts out;
  io::LoadOptions lo;
  lo.use_cache = false;
  for (const char* split : {"train", "valid", "test"}) {
    const io::Split s = io::load_split((cell_dir / "classification" / (std::string(split) + ".csv")).string(), lo);
    for (size_t g = 0; g < s.size(); ++g) {
      auto& counts = out[s.gene_ids[g]];
      counts.assign(io::kMarks, std::vector<long>(100));
      for (int m = 0; m < io::kMarks; ++m)
        for (int b = 0; b < 100; ++b) counts[m][b] = static_cast<long>(s.x[g * io::kValuesPerGene + m * 100 + b]);
    }
  }
  return out;
}

// Compares every count; reports how many differ and the first few.
inline void expect_same_counts(const GeneCounts& ours, const GeneCounts& reference, const std::string& what) {
  INFO(what);
  CHECK(ours.size() == reference.size());
  size_t compared = 0, differing = 0;
  std::string first;
  for (const auto& [gene, ref] : reference) {
    const auto it = ours.find(gene);
    if (it == ours.end()) {
      ++differing;
      if (first.size() < 400) first += " gene " + gene + " missing from ours;";
      continue;
    }
    REQUIRE(it->second.size() == ref.size());
    for (size_t m = 0; m < ref.size(); ++m)
      for (size_t b = 0; b < 100; ++b) {
        ++compared;
        if (it->second[m][b] != ref[m][b]) {
          ++differing;
          if (first.size() < 400)
            first += " " + gene + " file " + std::to_string(m) + " bin " + std::to_string(b + 1) + ": ours " +
                     std::to_string(it->second[m][b]) + ", reference " + std::to_string(ref[m][b]) + ";";
        }
      }
  }
  INFO(compared << " counts compared, " << differing << " differ:" << first);
  CHECK(differing == 0);
  CHECK(compared > 0);
}

inline long total(const GeneCounts& c) {
  long t = 0;
  for (const auto& [gene, marks] : c)
    for (const auto& bins : marks)
      for (long v : bins) t += v;
  return t;
}

}  // namespace dc::test::prep
