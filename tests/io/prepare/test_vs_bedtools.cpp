// Our counts against the oracle the issue names: `bedtools multicov` (defaults and -q) on
// BAMs that samtools makes from generated SAM text, and `bedtools bedtobam` + multicov for
// tagAlign. The reads cover every corner of the counting rule: duplicate, QC-fail,
// secondary, supplementary and unmapped reads, MAPQ around the threshold, spliced (N) and
// deleted (D) spans, insertions and clips, reads straddling bins, both strands, genes on
// both strands with overlapping windows, windows at and past the chromosome ends.
#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "io/prepare/prepare.h"
#include "prepare_test_util.h"

using namespace dc::test::prep;
namespace pp = dc::io::prepare;

namespace {

// Five BAMs of random reads (one per mark), sorted and indexed, and the annotation.
struct BamWorld {
  fs::path dir;
  std::vector<TGene> genes = test_genes();
  std::vector<std::vector<TRead>> reads;
  explicit BamWorld(const std::string& name, const ReadMix& mix = {}, int n = 2500) {
    dir = fresh_dir(name);
    write_text(dir / "genes.gtf", gtf_text(genes));
    write_text(dir / "expression.tsv", expression_text(genes, {"E1", "E2"}));
    for (int m = 0; m < 5; ++m) {
      reads.push_back(random_reads(100 + static_cast<uint64_t>(m), n, genes, mix));
      const std::string base = "m" + std::to_string(m);
      write_text(dir / (base + ".sam"), sam_text(reads.back(), 7 + static_cast<uint64_t>(m)));
      must("samtools sort -o " + base + ".bam " + base + ".sam && samtools index " + base + ".bam", dir);
    }
    write_text(dir / "bins.bed", bins_bed(genes));
  }
  // run_prepare on the given read files (one per mark, in the release's mark order).
  fs::path prepare(const std::vector<std::string>& files, const std::string& out, int min_mapq = 0,
                   const std::string& chrom_sizes = "") const {
    pp::PrepareOptions o;
    pp::CellInput cell{"E1", {}};
    for (int m = 0; m < 5; ++m) cell.marks.push_back({dc::io::kMarkNames[m], (dir / files[m]).string(), "test"});
    o.cells = {cell};
    o.genes = (dir / "genes.gtf").string();
    o.expression = (dir / "expression.tsv").string();
    o.out = (dir / out).string();
    o.counting.min_mapq = min_mapq;
    o.counting.threads = 2;
    if (!chrom_sizes.empty()) o.chrom_sizes = (dir / chrom_sizes).string();
    pp::run_prepare(o);
    return dir / out / "E1";
  }
  // bedtools multicov over the bins, one process per BAM, all at once (one multi-BAM call
  // is several times slower); gene -> [file][bin].
  GeneCounts multicov(const std::vector<std::string>& bams, const std::string& options = "") const {
    std::string cmd = "pids=; ";
    for (size_t k = 0; k < bams.size(); ++k)
      cmd += "bedtools multicov " + options + " -bams " + bams[k] + " -bed bins.bed > cov" + std::to_string(k) +
             ".txt & pids=\"$pids $!\"; ";
    cmd += "for p in $pids; do wait $p || exit 1; done";
    must(cmd, dir);
    GeneCounts merged;
    for (size_t k = 0; k < bams.size(); ++k)
      for (auto& [gene, counts] : parse_multicov(slurp(dir / ("cov" + std::to_string(k) + ".txt")), 1)) {
        auto& g = merged[gene];
        if (g.empty()) g.resize(bams.size());
        g[k] = counts[0];
      }
    return merged;
  }
};

const std::vector<std::string> kBams = {"m0.bam", "m1.bam", "m2.bam", "m3.bam", "m4.bam"};

// One set of BAMs and their default multicov counts for the tests that can share them.
struct Shared {
  BamWorld world{"vs_multicov"};
  GeneCounts defaults = world.multicov(kBams);
};
Shared& shared() {
  static Shared s;
  return s;
}

}  // namespace

TEST_SUITE("tools") {
  TEST_CASE("BAM counts equal bedtools multicov: flags, MAPQ, CIGARs, strands, straddling reads, window edges") {
    const BamWorld& w = shared().world;
    const GeneCounts& reference = shared().defaults;
    const fs::path cell = w.prepare(kBams, "out");
    expect_same_counts(load_prepared(cell), reference, "prepare vs bedtools multicov (defaults)");
    CHECK(total(reference) > 20000);  // the comparison is not over empty bins

    // The genes whose windows leave their chromosome are skipped and listed; those that
    // just fit are kept (and compared above).
    const auto doc = nlohmann::json::parse(slurp(cell / "prepare.json"));
    const auto leaving = doc["genes"]["skipped_by_reason"]["window_leaves_chromosome"];
    CHECK(leaving == nlohmann::json({"ENSG2004", "ENSG2006"}));
    CHECK(reference.count("ENSG2003") == 1);
    CHECK(reference.count("ENSG2007") == 1);
    CHECK(doc["genes"]["kept"] == w.genes.size() - 2);

    // Read tallies agree with samtools' own filters: -F 0x604 drops unmapped, QC-fail and
    // duplicate records, as we do.
    for (int m = 0; m < 5; ++m) {
      CAPTURE(m);
      const auto& r = doc["reads"][dc::io::kMarkNames[m]];
      const long kept = std::stol(must("samtools view -c -F 0x604 " + kBams[m], w.dir));
      const long all = std::stol(must("samtools view -c " + kBams[m], w.dir));
      CHECK(r["records"].get<long>() == all);
      CHECK(r["used"].get<long>() + r["other_chromosome"].get<long>() == kept);
      CHECK(r["duplicate"].get<long>() > 0);
      CHECK(r["qc_fail"].get<long>() > 0);
    }
  }

  TEST_CASE("--min-mapq Q equals bedtools multicov -q Q (MAPQ >= Q counts, 255 included)") {
    // The reads' MAPQs include 19, 20, 21 and 255.
    const BamWorld& w = shared().world;
    const GeneCounts reference = w.multicov(kBams, "-q 20");
    const GeneCounts ours = load_prepared(w.prepare(kBams, "out_q20", 20));
    expect_same_counts(ours, reference, "prepare --min-mapq 20 vs multicov -q 20");
    CHECK(total(ours) < total(shared().defaults));  // the filter matters
  }

  TEST_CASE("SAM, unsorted BAM and a CRAM read without its reference give the sorted BAM's counts") {
    const BamWorld& w = shared().world;
    // A reference FASTA for the CRAM's sequences, deleted before we read it: counting needs
    // no sequence. REF_PATH keeps htslib from looking for it elsewhere.
    std::string fasta;
    dc::CounterRng rng(5, 5);
    for (const Chrom& c : test_genome()) {
      fasta += ">" + c.name + "\n";
      for (int64_t i = 0; i < c.length; ++i) {
        fasta.push_back("ACGT"[rng.below(4)]);
        if (i % 60 == 59) fasta.push_back('\n');
      }
      fasta += "\n";
    }
    write_text(w.dir / "ref.fa", fasta);
    must("samtools view -C -T ref.fa -o m0.cram m0.sam && samtools view -b -o m1.unsorted.bam m1.sam", w.dir);
    fs::remove(w.dir / "ref.fa");
    fs::remove(w.dir / "ref.fa.fai");
    setenv("REF_PATH", (w.dir / "no-such-ref-cache").c_str(), 1);
    setenv("REF_CACHE", (w.dir / "no-such-ref-cache").c_str(), 1);
    const GeneCounts& reference = shared().defaults;
    const fs::path cell = w.prepare({"m0.cram", "m1.unsorted.bam", "m2.sam", "m3.bam", "m4.sam"}, "out_formats");
    expect_same_counts(load_prepared(cell), reference, "CRAM, unsorted BAM, SAM vs multicov on sorted BAMs");
    const auto doc = nlohmann::json::parse(slurp(cell / "prepare.json"));
    CHECK(doc["inputs"]["marks"]["H3K27me3"]["format"] == "cram");
    CHECK(doc["inputs"]["marks"]["H3K4me1"]["format"] == "sam");
  }

  TEST_CASE("tagAlign, plain and gzip, counts equal bedtools bedtobam + multicov") {
    const BamWorld w("vs_bedtobam", ReadMix{}, 2000);
    write_text(w.dir / "genome.txt", chrom_sizes_text());
    std::vector<std::string> files;
    for (int m = 0; m < 5; ++m) {
      const std::string base = "t" + std::to_string(m);
      const std::string text = tagalign_text(w.reads[static_cast<size_t>(m)]);
      REQUIRE(has(text, "\t-\n"));
      if (m % 2) {
        write_gzip(w.dir / (base + ".tagAlign.gz"), text);
        files.push_back(base + ".tagAlign.gz");
        must("gzip -dc " + base + ".tagAlign.gz > " + base + ".tagAlign", w.dir);
      } else {
        write_text(w.dir / (base + ".tagAlign"), text);
        files.push_back(base + ".tagAlign");
      }
      must("bedtools bedtobam -i " + base + ".tagAlign -g genome.txt | samtools sort -o " + base +
               ".bam - && samtools index " + base + ".bam",
           w.dir);
    }
    const GeneCounts reference = w.multicov({"t0.bam", "t1.bam", "t2.bam", "t3.bam", "t4.bam"});
    // tagAlign has no header: the lengths come from --chrom-sizes.
    const fs::path cell = w.prepare(files, "out", 0, "genome.txt");
    expect_same_counts(load_prepared(cell), reference, "tagAlign vs bedtobam + multicov");
    CHECK(total(reference) > 10000);
  }

  TEST_CASE("unmapped reads that carry a position: bedtools counts each over 1 bp at POS, prepare does not") {
    // bedtools multicov has no unmapped filter; its region query returns a placed unmapped
    // read (a pair's unmapped mate) as [POS-1, POS). The rule leaves unmapped reads
    // out, so we differ by exactly those reads, nothing else.
    ReadMix mix;
    mix.placed_unmapped = true;
    const BamWorld w("placed_unmapped", mix);
    GeneCounts reference = w.multicov(kBams);
    long adjusted = 0;
    for (int m = 0; m < 5; ++m)
      for (const TRead& r : w.reads[static_cast<size_t>(m)]) {
        if (r.flag != 4 || r.chrom == "*") continue;
        for (const TGene& g : w.genes) {
          if (g.chrom != r.chrom || !reference.count(g.id)) continue;
          for (int i = 1; i <= 100; ++i) {
            const int64_t lo = g.minus ? g.tss + 5000 - i * 100 + 1 : g.tss - 5000 + (i - 1) * 100;
            if (r.pos >= lo && r.pos <= lo + 99) {
              --reference[g.id][static_cast<size_t>(m)][static_cast<size_t>(i - 1)];
              ++adjusted;
            }
          }
        }
      }
    CHECK(adjusted > 20);
    expect_same_counts(load_prepared(w.prepare(kBams, "out")), reference,
                       "prepare vs multicov less the placed unmapped reads");
  }
}
