// `deepchrome prepare` as a user runs it: the release layout it writes (which `train`
// accepts as is), prepare.json, byte-identical reruns, --cells-from and the splits, and
// every bad input of the issue: exit 2, a message naming the file and line or record, and
// nothing left in --out.
#include <doctest/doctest.h>

#include <zlib.h>

#include <nlohmann/json.hpp>
#include <set>

#include "prepare_test_util.h"

using namespace dc::test::prep;
using nlohmann::json;

namespace {

const std::string kBin = std::string(DC_BINARY_DIR) + "/deepchrome";

// A cell's five marks as BAMs (E003) and as tagAlign.gz / SAM (E004), the annotation and
// the expression table, made once for the tests below.
struct CliWorld {
  fs::path dir = fresh_dir("cli");
  std::vector<TGene> genes = test_genes();
  CliWorld() {
    write_text(dir / "genes.gtf", gtf_text(genes));
    write_text(dir / "expression.tsv", expression_text(genes, {"E000", "E003", "E004"}));
    write_text(dir / "hg.sizes", chrom_sizes_text());
    std::string cells = "cell\tmark\tpath\n";
    for (int m = 0; m < 5; ++m) {
      const auto reads = random_reads(300 + static_cast<uint64_t>(m), 1500, genes);
      const std::string b = "m" + std::to_string(m);
      write_text(dir / (b + ".sam"), sam_text(reads, 9));
      must("samtools sort -o " + b + ".bam " + b + ".sam", dir);
      write_gzip(dir / ("t" + std::to_string(m) + ".tagAlign.gz"), tagalign_text(reads));
      cells += std::string("E003\t") + dc::io::kMarkNames[m] + "\t" + b + ".bam\n";
      cells += std::string("E004\t") + dc::io::kMarkNames[m] + "\tt" + std::to_string(m) + ".tagAlign.gz\n";
    }
    write_text(dir / "cells.tsv", cells);
  }
  std::string marks(const std::string& cell = "E003") const {
    std::string s;
    for (int m = 0; m < 5; ++m)
      s += std::string(" --mark ") + dc::io::kMarkNames[m] + "=" + (cell == "E003" ? "m" : "t") + std::to_string(m) +
           (cell == "E003" ? ".bam" : ".tagAlign.gz");
    return s;
  }
  Result run(const std::string& args) const { return sh(kBin + " prepare " + args, dir); }
};

CliWorld& world() {
  static CliWorld w;
  return w;
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).string());
  return out;
}

uint32_t crc_of(const fs::path& p) {
  const std::string bytes = slurp(p);
  return static_cast<uint32_t>(crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

}  // namespace

TEST_SUITE("tools") {
  TEST_CASE("prepare writes the release layout, prepare.json and expression.csv; train accepts it") {
    CliWorld& w = world();
    const std::string common = " --genes genes.gtf --expression expression.tsv";
    Result r = w.run("--cell E003" + w.marks() + common + " --out data --threads 2");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(has(r.out, "E003 H3K27me3 bam: 1,500 reads"));
    CHECK(has(r.out, "wrote data/E003: 40 genes (14 train / 13 valid / 13 test"));
    // Nothing but the cell folder: no staging leftovers.
    CHECK(entries(w.dir / "data") ==
          std::set<std::string>{"E003", "E003/classification", "E003/classification/train.csv",
                                "E003/classification/valid.csv", "E003/classification/test.csv",
                                "E003/expression.csv", "E003/prepare.json"});
    const GeneCounts counts = load_prepared(w.dir / "data/E003");
    CHECK(counts.size() == 40);
    CHECK(total(counts) > 10000);

    const json doc = json::parse(slurp(w.dir / "data/E003/prepare.json"));
    CHECK(doc["generator"] == "deepchrome prepare");
    CHECK(doc["version"] == "0.1.0");
    CHECK(doc["cell"] == "E003");
    CHECK(doc["inputs"]["genes"]["format"] == "gtf");
    CHECK(doc["inputs"]["expression"]["column"] == "E003");
    const json& m0 = doc["inputs"]["marks"]["H3K27me3"];
    CHECK(m0["path"] == "m0.bam");
    CHECK(m0["size"] == fs::file_size(w.dir / "m0.bam"));
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", crc_of(w.dir / "m0.bam"));
    CHECK(m0["crc32"] == crc);
    CHECK(doc["reads"]["H3K4me3"]["records"] == 1500);
    CHECK(doc["genes"]["kept"] == 40);
    CHECK(doc["genes"]["skipped_by_reason"]["window_leaves_chromosome"] == json({"ENSG2004", "ENSG2006"}));
    CHECK(doc["parameters"]["split"]["mode"] == "sequential");

    // expression.csv: the kept genes' values; labels are "above the median" of those.
    const std::string expr = slurp(w.dir / "data/E003/expression.csv");
    CHECK(expr.rfind("gene_id,rpkm\n", 0) == 0);
    CHECK(std::count(expr.begin(), expr.end(), '\n') == 41);
    const double median = doc["genes"]["median_rpkm"];
    size_t high = 0;
    dc::io::LoadOptions lo;
    lo.use_cache = false;
    for (const char* s : {"train", "valid", "test"}) {
      const auto split = dc::io::load_split((w.dir / "data/E003/classification" / (std::string(s) + ".csv")).string(), lo);
      for (auto l : split.labels) high += l == 1;
    }
    CHECK(high == doc["genes"]["labelled_high"]);
    CHECK(high == 20);  // distinct values: exactly half above the median
    CHECK(median > 0);

    // The same inputs give the same bytes, whatever the thread count.
    r = w.run("--cell E003" + w.marks() + common + " --out data1 --threads 1 --quiet");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    for (const char* f : {"classification/train.csv", "classification/valid.csv", "classification/test.csv",
                          "expression.csv", "prepare.json"})
      CHECK_MESSAGE(slurp(w.dir / "data/E003" / f) == slurp(w.dir / "data1/E003" / f), f);

    // train takes the folder as is.
    write_text(w.dir / "train.json", R"({"data": {"root": "data", "cells": ["E003"], "cache": false},
      "model": {"name": "deepchrome"},
      "train": {"optimizer": "sgd", "lr": 0.001, "batch_size": 4, "epochs": 1, "seed": 1},
      "threads": 2, "output_dir": "runs"})");
    r = sh(kBin + " train train.json --quiet", w.dir);
    CHECK_MESSAGE(r.code == 0, r.out);
    CHECK(fs::exists(w.dir / "runs/E003/deepchrome/metrics.json"));
  }

  TEST_CASE("--cells-from prepares several cells in one call; random and chromosome splits") {
    CliWorld& w = world();
    const std::string common = " --genes genes.gtf --expression expression.tsv";
    // E004's reads are all tagAlign: no header gives chromosome lengths.
    Result r = w.run("--cells-from cells.tsv" + common + " --out many");
    CHECK(r.code == 2);
    CHECK(has(r.out, "cell E004: no chromosome lengths"));
    CHECK(has(r.out, "--chrom-sizes"));
    CHECK(!fs::exists(w.dir / "many"));

    r = w.run("--cells-from cells.tsv" + common + " --chrom-sizes hg.sizes --out many");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(has(r.out, "wrote many/E003"));
    CHECK(has(r.out, "wrote many/E004"));
    // The same reads as BAM (E003) and tagAlign (E004) give the same counts: these reads
    // have no duplicates among the tagAlign lines ... only primary mapped reads were
    // written to tagAlign, so compare E004 against its own single-cell run instead.
    r = w.run("--cell E004" + w.marks("E004") + common + " --chrom-sizes hg.sizes --out one --quiet");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(slurp(w.dir / "one/E004/classification/train.csv") == slurp(w.dir / "many/E004/classification/train.csv"));
    CHECK(json::parse(slurp(w.dir / "many/E004/prepare.json"))["inputs"]["expression"]["column"] == "E004");

    r = w.run("--cell E003" + w.marks() + common + " --out rnd --split random --seed 5 --quiet");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    CHECK(has(r.out, "14 train / 13 valid / 13 test"));
    const GeneCounts a = load_prepared(w.dir / "rnd/E003"), b = load_prepared(w.dir / "many/E003");
    expect_same_counts(a, b, "a random split holds the same genes and counts");
    CHECK(slurp(w.dir / "rnd/E003/classification/train.csv") != slurp(w.dir / "many/E003/classification/train.csv"));

    r = w.run("--cell E003" + w.marks() + common + " --out chr --split chromosomes --valid-chroms chr2 --test-chroms chr3");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    size_t on_chr2 = 0;
    for (const TGene& g : w.genes) on_chr2 += g.chrom == "chr2" && window_fits(g, chrom_length(g.chrom));
    CHECK(has(r.out, "(" + std::to_string(40 - on_chr2 - 2) + " train / " + std::to_string(on_chr2) + " valid / 2 test"));
  }

  TEST_CASE("bad input: exit 2, the file and line named, nothing left in --out") {
    CliWorld& w = world();
    const std::string common = " --genes genes.gtf --expression expression.tsv";
    // Broken inputs, made from the good ones.
    const std::string bam = slurp(w.dir / "m0.bam");
    write_text(w.dir / "cut.bam", bam.substr(0, bam.size() / 2));  // end-of-file marker gone
    const std::string eof = bam.substr(bam.size() - 28);            // BGZF's empty last block
    write_text(w.dir / "holed.bam", bam.substr(0, bam.size() / 2) + eof);
    const std::string gz = slurp(w.dir / "t0.tagAlign.gz");
    write_text(w.dir / "cut.tagAlign.gz", gz.substr(0, gz.size() / 2));
    must("sed -e 's/\\tchr\\([0-9U]\\)/\\t\\1/g' -e 's/SN:chr/SN:/' m1.sam | samtools view -b -o nochr.bam -", w.dir);
    must("sed 's/SN:chr1\\tLN:200000/SN:chr1\\tLN:200001/' m2.sam | samtools view -b -o other_assembly.bam -", w.dir);
    std::string gtf = slurp(w.dir / "genes.gtf");
    write_text(w.dir / "bad.gtf", gtf.substr(0, gtf.find('\n', gtf.find('\n') + 1) + 1) + "chr1\tT\tgene\t100\n" + gtf);
    write_text(w.dir / "dup.gtf", gtf + "chr2\tT\tgene\t50000\t50100\t.\t+\t.\tgene_id \"ENSG1003.4\";\n");
    must("head -n 14 m3.sam > bad.sam && printf 'rX\\tNOTAFLAG\\tchr1\\t100\\t60\\t36M\\t*\\t0\\t0\\t*\\t*\\n' >> bad.sam", w.dir);
    write_text(w.dir / "bad.tagAlign", "chr1\t100\t136\tN\t0\t+\nchr1\t200\tabc\tN\t0\t+\n");
    write_text(w.dir / "other_ids.tsv", "gene_id\tE003\nENSGX1\t1\nENSGX2\t2\n");
    fs::create_directories(w.dir / "a_folder");
    auto with = [&](const std::string& mark, const std::string& path) {
      std::string s = w.marks();
      const size_t at = s.find(mark + "=");
      const size_t end = s.find(' ', at);
      return s.substr(0, at) + mark + "=" + path + (end == std::string::npos ? "" : s.substr(end));
    };
    struct Case {
      std::string name, args;
      std::vector<std::string> expect;
    };
    const std::vector<Case> cases = {
        {"missing", with("H3K4me3", "nope.bam") + common, {"nope.bam: cannot open (No such file or directory)"}},
        {"folder", with("H3K4me3", "a_folder") + common, {"a_folder: cannot read"}},
        {"cut_bam", with("H3K9me3", "cut.bam") + common, {"cut.bam: truncated bam file"}},
        {"holed_bam", with("H3K9me3", "holed.bam") + common, {"holed.bam: truncated or corrupt bam file: a compressed block is damaged or cut short"}},
        {"cut_gzip", with("H3K9me3", "cut.tagAlign.gz") + common + " --chrom-sizes hg.sizes",
         {"cut.tagAlign.gz: cannot read after line", "truncated or corrupt gzip"}},
        {"no_chr", with("H3K36me3", "nochr.bam") + common, {"nochr.bam: none of its chromosome names (1, 2, 3, Un)", "\"chr\" prefix", "samtools reheader"}},
        {"assembly", with("H3K36me3", "other_assembly.bam") + common, {"chromosome 'chr1' has length 200001", "m0.bam (header) gives 200000"}},
        {"twice", w.marks() + " --mark H3K4me3=m0.bam" + common, {"mark H3K4me3 of cell E003 given twice"}},
        {"missing_mark", w.marks().substr(0, w.marks().rfind(" --mark")) + common, {"cell E003 has no reads for H3K9me3"}},
        {"unknown_mark", w.marks() + " --mark H3K27ac=m0.bam" + common, {"unknown mark 'H3K27ac'"}},
        {"bad_gtf", w.marks() + " --genes bad.gtf --expression expression.tsv", {"bad.gtf:3: expected 9 tab-separated columns"}},
        {"dup_gtf", w.marks() + " --genes dup.gtf --expression expression.tsv", {"dup.gtf:", "duplicate gene id 'ENSG1003'"}},
        {"bad_sam", with("H3K4me3", "bad.sam") + common, {"bad.sam:15: malformed SAM record"}},
        {"bad_tagalign", with("H3K4me1", "bad.tagAlign") + common, {"bad.tagAlign:2: start and end must be"}},
        {"no_column", w.marks() + common + " --expression-column E999", {"expression.tsv: no expression column 'E999'", "E000, E003, E004"}},
        {"no_gene_left", w.marks() + " --genes genes.gtf --expression other_ids.tsv", {"no gene left after filtering", "42 genes of genes.gtf"}},
        {"bad_split", w.marks() + common + " --split halves", {"--split expects sequential, random or chromosomes"}},
        {"bad_mapq", w.marks() + common + " --min-mapq 256", {"--min-mapq expects an integer in [0, 255]"}},
        {"chroms_without_split", w.marks() + common + " --valid-chroms chr2", {"--valid-chroms and --test-chroms go with --split chromosomes"}},
        {"bad_option", w.marks() + common + " --bins 50", {"unknown option --bins"}},
        {"no_genes_option", w.marks() + " --expression expression.tsv", {"missing required option --genes"}},
    };
    for (const Case& c : cases) {
      CAPTURE(c.name);
      const std::string out = "bad/" + c.name;
      const Result r = w.run("--cell E003" + c.args + " --out " + out + " --threads 2");
      CHECK(r.code == 2);
      for (const std::string& e : c.expect) CHECK_MESSAGE(has(r.out, e), r.out);
      CHECK(has(r.out, "deepchrome: error: "));
      CHECK_MESSAGE(!fs::exists(w.dir / out), "left behind: " << out);
    }
    CHECK(!fs::exists(w.dir / "bad"));  // not even the parent --out created

    // A failure during counting (after the output was staged) leaves an earlier good
    // output exactly as it was.
    Result r = w.run("--cell E003" + w.marks() + common + " --out keep --quiet");
    REQUIRE_MESSAGE(r.code == 0, r.out);
    const auto before = entries(w.dir / "keep");
    const std::string train = slurp(w.dir / "keep/E003/classification/train.csv");
    r = w.run("--cell E003" + with("H3K9me3", "holed.bam") + common + " --out keep --quiet");
    CHECK(r.code == 2);
    CHECK(entries(w.dir / "keep") == before);
    CHECK(slurp(w.dir / "keep/E003/classification/train.csv") == train);
  }
}

TEST_CASE("prepare --help lists the options") {
  const Result r = sh(kBin + " prepare --help", fs::path(DC_BINARY_DIR));
  CHECK(r.code == 0);
  CHECK(has(r.out, "usage: deepchrome prepare"));
  for (const char* option : {"--cells-from", "--split", "--min-mapq", "--chrom-sizes", "--expression-column"})
    CHECK_MESSAGE(has(r.out, option), option);
}

TEST_SUITE("tools") {
  TEST_CASE("bench --only prepare (tiny input) prints JSON; prepare's counts equal bedtools'") {
    const fs::path dir = fresh_dir("bench");
    const Result r = sh(std::string(DC_BINARY_DIR) + "/deepchrome bench --only prepare --reads 3000 --genes 40 --threads 2"
                        " --work work --out bench.json 2> bench.log",
                        dir);
    REQUIRE_MESSAGE(r.code == 0, r.out << slurp(dir / "bench.log"));
    const json doc = json::parse(slurp(dir / "bench.json"));
    CHECK(doc["input"]["reads_per_mark"] == 3000);
    CHECK(doc["prepare"]["seconds_all_marks"].get<double>() > 0);
    CHECK(doc["prepare"]["peak_rss_mb"].get<double>() > 0);
    CHECK(doc["bedtools"]["counts_identical"] == true);
    CHECK(doc["bedtools"]["marks"][0]["bins_compared"] == 4000);
    CHECK(doc["speedup_per_mark"].get<double>() > 0);
  }
}

TEST_SUITE("no_htslib") {
  TEST_CASE("built without htslib, prepare says so and how to get it (exit 2)") {
    const fs::path dir = fresh_dir("no_htslib");
    const Result r = sh(kBin + " prepare --cell E003 --mark H3K4me3=x.bam --genes g.gtf --expression e.tsv --out data", dir);
    CHECK(r.code == 2);
    CHECK_MESSAGE(has(r.out, "built without htslib"), r.out);
    CHECK(has(r.out, "apt-get install libhts-dev"));
    CHECK(!fs::exists(dir / "data"));
  }
}
