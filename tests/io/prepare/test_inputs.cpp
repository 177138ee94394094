// The text inputs of prepare: annotations (GTF, GFF3, BED6, gzip), expression tables,
// chromosome sizes, --cells-from and --mark, the line reader, and the splits; every bad
// input an error naming the file and line.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "kernels/base/error.h"
#include "io/prepare/annotation.h"
#include "io/prepare/chrom_sizes.h"
#include "io/prepare/expression.h"
#include "io/prepare/inputs.h"
#include "io/prepare/splits.h"
#include "io/prepare/text_lines.h"
#include "prepare_test_util.h"

using namespace dc::test::prep;
namespace pp = dc::io::prepare;

namespace {

// The message of the InputError `f` throws ("" and a failed check when it throws none).
template <class F>
std::string input_error(F&& f) {
  try {
    f();
  } catch (const dc::InputError& e) {
    return e.what();
  }
  FAIL_CHECK("no InputError thrown");
  return "";
}

}  // namespace

TEST_CASE("TextLines: CRLF, a last line without newline, long lines, gzip; truncated gzip is an error") {
  const fs::path dir = fresh_dir("text_lines");
  const std::string long_line(3 << 20, 'x');
  const std::string text = "a\tb\r\n\n" + long_line + "\nlast";
  write_text(dir / "plain.txt", text);
  write_gzip(dir / "z.txt.gz", text);
  for (const char* name : {"plain.txt", "z.txt.gz"}) {
    CAPTURE(name);
    pp::TextLines lines((dir / name).string());
    std::string_view l;
    REQUIRE(lines.next(l));
    CHECK(l == "a\tb");
    REQUIRE(lines.next(l));
    CHECK(l.empty());
    REQUIRE(lines.next(l));
    CHECK(l.size() == long_line.size());
    REQUIRE(lines.next(l));
    CHECK(l == "last");
    CHECK(lines.line_number() == 4);
    CHECK(!lines.next(l));
  }
  // A gzip file cut short.
  std::string many;
  for (int i = 0; i < 200000; ++i) many += "chr1\t" + std::to_string(i) + "\t" + std::to_string(i + 36) + "\n";
  write_gzip(dir / "full.gz", many);
  const std::string gz = slurp(dir / "full.gz");
  write_text(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  const std::string msg = input_error([&] {
    pp::TextLines lines((dir / "cut.gz").string());
    std::string_view l;
    while (lines.next(l)) {
    }
  });
  CHECK(has(msg, "cut.gz"));
  CHECK(has(msg, "truncated or corrupt gzip"));
  CHECK(has(input_error([&] { pp::TextLines((dir / "nope.txt").string()); }), "nope.txt: cannot open"));
}

TEST_CASE("annotation: GTF gene records, version suffixes stripped, TSS at start on + and end on -") {
  const fs::path dir = fresh_dir("annotation");
  const std::string gtf =
      "#!genome-build GRCh37\n"
      "chr1\tHAVANA\tgene\t11869\t14409\t.\t+\t.\tgene_id \"ENSG00000223972.5\"; gene_type \"pseudogene\";\n"
      "chr1\tHAVANA\texon\t11869\t12227\t.\t+\t.\tgene_id \"ENSG00000223972.5\"; exon_number 1;\n"
      "chr1\tHAVANA\tgene\t14404\t29570\t.\t-\t.\tgene_type \"x\"; gene_id \"ENSG00000227232\";\n"
      "chrX\tHAVANA\tgene\t100\t200\t.\t-\t.\tgene_id \"ENSG00000002586.20_PAR_Y\";\n";
  write_text(dir / "a.gtf", gtf);
  write_gzip(dir / "a.gtf.gz", gtf);
  for (const char* name : {"a.gtf", "a.gtf.gz"}) {
    const pp::Annotation a = pp::read_annotation((dir / name).string());
    CHECK(a.format == "gtf");
    REQUIRE(a.genes.size() == 3);
    CHECK(a.genes[0].id == "ENSG00000223972");
    CHECK(!a.genes[0].minus);
    CHECK(a.genes[0].tss == 11869);
    CHECK(a.genes[1].id == "ENSG00000227232");
    CHECK(a.genes[1].minus);
    CHECK(a.genes[1].tss == 29570);
    CHECK(a.genes[2].id == "ENSG00000002586.20_PAR_Y");  // not a plain ".N" version
    CHECK(a.chroms == std::vector<std::string>{"chr1", "chrX"});
    CHECK(a.genes[1].line == 4);
  }

  // GFF3 (GENCODE and Ensembl styles) and BED6.
  write_text(dir / "a.gff3",
             "##gff-version 3\n"
             "chr1\tHAVANA\tgene\t11869\t14409\t.\t+\t.\tID=ENSG00000223972.5;gene_id=ENSG00000223972.5;gene_type=x\n"
             "chr1\tHAVANA\ttranscript\t11869\t14409\t.\t+\t.\tID=ENST1;Parent=ENSG00000223972.5\n"
             "1\tensembl\tgene\t14404\t29570\t.\t-\t.\tID=gene:ENSG00000227232;Name=WASH7P\n");
  const pp::Annotation g = pp::read_annotation((dir / "a.gff3").string());
  CHECK(g.format == "gff3");
  REQUIRE(g.genes.size() == 2);
  CHECK(g.genes[0].id == "ENSG00000223972");
  CHECK(g.genes[1].id == "ENSG00000227232");
  CHECK(g.genes[1].tss == 29570);
  write_text(dir / "a.bed", "track name=genes\nchr1\t11868\t14409\tENSG00000223972.5\t0\t+\nchr1\t14403\t29570\tB\t0\t-\textra\n");
  const pp::Annotation b = pp::read_annotation((dir / "a.bed").string());
  CHECK(b.format == "bed");
  REQUIRE(b.genes.size() == 2);
  CHECK(b.genes[0].tss == 11869);  // BED start 0-based: TSS start + 1
  CHECK(b.genes[1].tss == 29570);  // on -, the end (the last base, 1-based)
}

TEST_CASE("annotation errors name the file and line") {
  const fs::path dir = fresh_dir("annotation_errors");
  const std::string ok = "chr1\tT\tgene\t100\t200\t.\t+\t.\tgene_id \"G1\";\n";
  struct Case {
    std::string text, expect;
  };
  const Case cases[] = {
      {ok + "chr1\tT\tgene\t100\n", "bad.gtf:2: expected 9 tab-separated columns"},
      {ok + "chr1\tT\tgene\tx\t200\t.\t+\t.\tgene_id \"G2\";\n", "bad.gtf:2: start and end must be integers"},
      {ok + "chr1\tT\tgene\t300\t200\t.\t+\t.\tgene_id \"G2\";\n", "bad.gtf:2:"},
      {ok + "chr1\tT\tgene\t100\t200\t.\t.\t.\tgene_id \"G2\";\n", "bad.gtf:2: gene 'G2' has strand '.'"},
      {ok + "chr1\tT\tgene\t100\t200\t.\t+\t.\tgene_name \"G2\";\n", "bad.gtf:2: gene record without a gene_id"},
      {ok + "chr2\tT\tgene\t100\t200\t.\t-\t.\tgene_id \"G1.2\";\n", "bad.gtf:2: duplicate gene id 'G1' (also at line 1"},
      {"chr1\tT\texon\t100\t200\t.\t+\t.\tgene_id \"G1\";\n", "no `gene` records"},
      {"hello world\n", "bad.gtf:1: not a GTF, GFF3 or BED6 line"},
      {"", "no genes found"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    write_text(dir / "bad.gtf", c.text);
    const std::string msg = input_error([&] { pp::read_annotation((dir / "bad.gtf").string()); });
    CHECK_MESSAGE(has(msg, c.expect), msg);
  }
  write_text(dir / "bad.bed", "chr1\t10\t200\tA\t0\t+\nchr1\t10\tx\tB\t0\t+\n");
  CHECK(has(input_error([&] { pp::read_annotation((dir / "bad.bed").string()); }), "bad.bed:2: BED start and end"));
}

TEST_CASE("expression table: a column per cell or two columns; errors name the file and line") {
  const fs::path dir = fresh_dir("expression");
  write_text(dir / "rpkm.pc", "gene_id\tE000\tE003\tE004\nENSG1\t1.5\t0\t2\nENSG2.7\t3\t4e-1\t0.25\n");
  const pp::ExpressionTable t = pp::read_expression((dir / "rpkm.pc").string());
  CHECK(t.has_header);
  REQUIRE(t.columns.size() == 3);
  const size_t c = pp::expression_column(t, "E003", false);
  CHECK(c == 1);
  CHECK(t.value(t.row_of.at("ENSG2"), c) == doctest::Approx(0.4));
  const std::string missing = input_error([&] { pp::expression_column(t, "E999", true); });
  CHECK(has(missing, "rpkm.pc: no expression column 'E999'"));
  CHECK(has(missing, "E000, E003, E004"));

  write_text(dir / "two.tsv", "ENSG1 5\nENSG2 0.5\n");  // no header, spaces
  const pp::ExpressionTable two = pp::read_expression((dir / "two.tsv").string());
  CHECK(!two.has_header);
  CHECK(pp::expression_column(two, "any-cell", false) == 0);
  CHECK(two.value(two.row_of.at("ENSG1"), 0) == 5.0);

  struct Case {
    std::string text, expect;
  };
  const Case cases[] = {
      {"gene_id\tE1\nA\t1\nB\t1\t2\n", "bad.tsv:3: expected 2 columns"},
      {"gene_id\tE1\nA\t1\nB\t-2\n", "bad.tsv:3: column 2 (E1): expected a non-negative number, found '-2'"},
      {"gene_id\tE1\nA\t1\nB\tNA\n", "bad.tsv:3: column 2 (E1)"},
      {"gene_id\tE1\nA.1\t1\nA.2\t2\n", "bad.tsv:3: duplicate gene id 'A' (also at line 2)"},
      {"gene_id\tE1\n", "no genes in the expression table"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.text);
    write_text(dir / "bad.tsv", k.text);
    const std::string msg = input_error([&] { pp::read_expression((dir / "bad.tsv").string()); });
    CHECK_MESSAGE(has(msg, k.expect), msg);
  }
}

TEST_CASE("chromosome sizes: a file and BAM headers must agree") {
  const fs::path dir = fresh_dir("chrom_sizes");
  write_text(dir / "hg.sizes", "chr1\t1000\nchr2 500\n");
  pp::ChromSizes s;
  s.add_file((dir / "hg.sizes").string());
  CHECK(s.length("chr2") == 500);
  CHECK(s.length("chr3") == -1);
  s.add_header("x.bam", {{"chr1", 1000}, {"chr3", 70}});
  CHECK(s.length("chr3") == 70);
  const std::string msg = input_error([&] { s.add_header("y.bam", {{"chr1", 999}}); });
  CHECK(has(msg, "y.bam (header): chromosome 'chr1' has length 999"));
  CHECK(has(msg, "hg.sizes:1 gives 1000"));
  write_text(dir / "bad.sizes", "chr1\t1000\nchr2\tlong\n");
  CHECK(has(input_error([&] { pp::ChromSizes().add_file((dir / "bad.sizes").string()); }), "bad.sizes:2:"));
}

TEST_CASE("marks: --mark NAME=PATH, --cells-from; each of the five marks exactly once") {
  const fs::path dir = fresh_dir("marks");
  pp::CellInput cell{"E003", {}};
  for (const char* m : {"H3K9me3", "H3K4me3", "H3K4me1", "H3K36me3", "H3K27me3"})
    cell.marks.push_back(pp::parse_mark_option(std::string(m) + "=" + m + ".bam"));
  pp::order_marks(cell);
  for (int m = 0; m < 5; ++m) CHECK(cell.marks[static_cast<size_t>(m)].mark == dc::io::kMarkNames[m]);

  CHECK(has(input_error([] { pp::parse_mark_option("H3K4me3"); }), "--mark expects NAME=PATH"));
  pp::CellInput twice = cell;
  twice.marks.push_back(pp::parse_mark_option("H3K4me3=other.bam"));
  CHECK(has(input_error([&] { pp::order_marks(twice); }), "mark H3K4me3 of cell E003 given twice"));
  pp::CellInput missing = cell;
  missing.marks.pop_back();
  CHECK(has(input_error([&] { pp::order_marks(missing); }), "cell E003 has no reads for H3K9me3"));
  pp::CellInput unknown = cell;
  unknown.marks.push_back(pp::parse_mark_option("H3K27ac=x.bam"));
  CHECK(has(input_error([&] { pp::order_marks(unknown); }), "unknown mark 'H3K27ac'"));

  write_text(dir / "cells.tsv", "cell\tmark\tpath\n# comment\nE003\tH3K4me3\treads/a.bam\nE004\tH3K4me3\t/abs/b.bam\n");
  const auto cells = pp::read_cells_file((dir / "cells.tsv").string());
  REQUIRE(cells.size() == 2);
  CHECK(cells[0].marks[0].path == (dir / "reads/a.bam").string());  // relative to the file's folder
  CHECK(cells[1].marks[0].path == "/abs/b.bam");
  write_text(dir / "bad.tsv", "E003\tH3K4me3\ta.bam\nE003 H3K4me1 b.bam\n");
  CHECK(has(input_error([&] { pp::read_cells_file((dir / "bad.tsv").string()); }), "bad.tsv:2: expected 3 tab-separated"));
}

TEST_CASE("splits: sequential as the release, random by seed, held-out chromosomes") {
  CHECK(pp::split_sizes(19802) == std::array<size_t, 3>{6601, 6601, 6600});
  CHECK(pp::split_sizes(9) == std::array<size_t, 3>{3, 3, 3});
  CHECK(pp::split_sizes(10) == std::array<size_t, 3>{4, 3, 3});
  CHECK(pp::split_sizes(11) == std::array<size_t, 3>{4, 4, 3});
  const std::vector<std::string> chroms = {"chr1", "chr1", "chr7", "chr8", "chr1", "chr9", "chr7", "chr2", "chr1", "chr2"};
  pp::SplitOptions o;
  CHECK(pp::assign_splits(chroms, o) == std::vector<int>{0, 0, 0, 0, 1, 1, 1, 2, 2, 2});
  o.mode = pp::SplitMode::random;
  o.seed = 3;
  const auto a = pp::assign_splits(chroms, o), again = pp::assign_splits(chroms, o);
  CHECK(a == again);
  CHECK(std::count(a.begin(), a.end(), 0) == 4);
  CHECK(std::count(a.begin(), a.end(), 2) == 3);
  bool differs = false;
  for (uint64_t seed = 4; seed < 10; ++seed) {
    o.seed = seed;
    differs = differs || pp::assign_splits(chroms, o) != a;
  }
  CHECK(differs);
  o.mode = pp::SplitMode::chromosomes;
  o.valid_chroms = {"chr7"};
  o.test_chroms = {"chr8", "chr9"};
  CHECK(pp::assign_splits(chroms, o) == std::vector<int>{0, 0, 1, 2, 0, 2, 1, 0, 0, 0});
  o.test_chroms = {"chrX"};
  CHECK(has(input_error([&] { pp::assign_splits(chroms, o); }), "no kept gene on --test-chroms chrX"));
  o.test_chroms = {"chr7"};
  CHECK(has(input_error([&] { pp::assign_splits(chroms, o); }), "chr7 is in both"));
  o.mode = pp::SplitMode::sequential;
  CHECK(has(input_error([&] { pp::assign_splits({"chr1", "chr1"}, o); }), "at least 3"));
  CHECK(has(input_error([] { pp::parse_split_mode("half"); }), "--split expects"));
}
