#include "io/prepare/prepare.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <set>

#include <nlohmann/json.hpp>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "io/prepare/annotation.h"
#include "io/prepare/bin_counter.h"
#include "io/prepare/checksum.h"
#include "io/prepare/chrom_sizes.h"
#include "io/prepare/expression.h"
#include "io/prepare/staging.h"

namespace dc::io::prepare {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kCountingRule =
    "bedtools multicov defaults: a read counts in every 100-bp bin its reference span [POS, POS + CIGAR reference "
    "length) overlaps by >= 1 bp (spliced and deleted bases included); unmapped, duplicate and QC-fail reads and "
    "MAPQ < min_mapq are not counted; secondary and supplementary alignments are";

// Why a gene of the annotation is not in the output, in the order they are checked.
enum Reason { kChromosomeUnknown, kWindowLeaves, kNotInTable, kReasons };
constexpr const char* kReasonNames[kReasons] = {"chromosome_unknown", "window_leaves_chromosome",
                                                "not_in_expression_table"};

struct CellPlan {
  const CellInput* input = nullptr;
  std::vector<ReadFileInfo> files;  // per mark, kMarkNames order
  std::string column;               // the expression column used
  std::vector<size_t> kept;         // annotation gene indices, annotation order
  std::vector<std::string> skipped[kReasons];
  std::vector<double> rpkm;         // per kept gene
  double median = 0;
  std::vector<int> split;           // per kept gene: 0 train, 1 valid, 2 test
};

double median_of(std::vector<double> v) {
  const size_t n = v.size(), h = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(h), v.end());
  const double upper = v[h];
  if (n % 2) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<long>(h));
  return (lower + upper) / 2;
}

std::string number_text(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string grouped(uint64_t n) {  // 20000000 -> "20,000,000"
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

ordered_json digest_json(const std::string& path, const FileDigest& d) {
  return {{"path", path}, {"size", d.size}, {"crc32", d.crc32_hex()}};
}

// Reads the headers, settles the chromosome lengths, the kept genes, labels and split of a
// cell: everything but the counting, so that bad input fails before the long passes.
CellPlan plan_cell(const CellInput& cell, const Annotation& annotation, const ExpressionTable& table,
                   const ChromSizes& given_sizes, const PrepareOptions& o) {
  CellPlan plan;
  plan.input = &cell;
  ChromSizes sizes = given_sizes;
  for (const MarkInput& m : cell.marks) {
    ReadFileInfo info = probe_reads(m.path, o.counting);
    if (info.format != ReadFormat::bed) {
      if (info.references.empty())
        throw InputError(m.path + ": the header names no reference sequences (@SQ lines), so no read can be placed");
      bool any = false;
      std::vector<std::string> names;
      for (const auto& [name, length] : info.references) {
        any = any || annotation.chrom_index.count(name) > 0;
        if (names.size() < 5) names.push_back(name);
      }
      if (!any) throw InputError(chromosome_mismatch(m.path, names, annotation.chrom_index));
      sizes.add_header(m.path, info.references);
    }
    plan.files.push_back(std::move(info));
  }
  if (sizes.empty())
    throw InputError("prepare: cell " + cell.cell + ": no chromosome lengths (BED/tagAlign reads carry none): give "
                     "--chrom-sizes FILE (e.g. UCSC's hg19.chrom.sizes) so windows leaving a chromosome can be skipped");

  plan.column = o.expression_column.empty() ? cell.cell : o.expression_column;
  const size_t column = expression_column(table, plan.column, !o.expression_column.empty());
  plan.column = table.columns[column];

  for (size_t g = 0; g < annotation.genes.size(); ++g) {
    const Gene& gene = annotation.genes[g];
    const int64_t length = sizes.length(annotation.chroms[static_cast<size_t>(gene.chrom)]);
    const int64_t start = window_start(gene);
    const auto row = table.row_of.find(gene.id);
    const Reason reason = length < 0                                        ? kChromosomeUnknown
                          : start < 0 || start + kWindowLength > length      ? kWindowLeaves
                          : row == table.row_of.end()                        ? kNotInTable
                                                                             : kReasons;
    if (reason != kReasons) {
      plan.skipped[reason].push_back(gene.id);
      continue;
    }
    plan.kept.push_back(g);
    plan.rpkm.push_back(table.value(row->second, column));
  }
  if (plan.kept.empty()) {
    std::string why;
    for (int r = 0; r < kReasons; ++r)
      if (!plan.skipped[r].empty()) why += (why.empty() ? "" : ", ") + std::to_string(plan.skipped[r].size()) + " " + kReasonNames[r];
    throw InputError("prepare: cell " + cell.cell + ": no gene left after filtering the " +
                     std::to_string(annotation.genes.size()) + " genes of " + annotation.path + " (" + why + ")" +
                     (plan.skipped[kNotInTable].size() == annotation.genes.size()
                          ? "; do the annotation's gene ids match " + table.path + "'s (e.g. ENSG ids on both sides)?"
                          : plan.skipped[kChromosomeUnknown].size() == annotation.genes.size()
                              ? "; do the annotation's chromosome names (" + annotation.chroms[0] +
                                    ", ...) match those of the reads' headers and --chrom-sizes?"
                              : ""));
  }
  plan.median = median_of(plan.rpkm);
  std::vector<std::string> chroms;
  for (size_t g : plan.kept) chroms.push_back(annotation.chroms[static_cast<size_t>(annotation.genes[g].chrom)]);
  try {
    plan.split = assign_splits(chroms, o.split);
  } catch (const InputError& e) {
    throw InputError("cell " + cell.cell + ": " + e.what());
  }
  return plan;
}

// Counts the cell's five marks and writes its folder into `dir` (the staging area).
CellSummary prepare_cell(const CellPlan& plan, const Annotation& annotation, const ordered_json& shared_inputs,
                         const PrepareOptions& o, const std::string& dir) {
  const CellInput& cell = *plan.input;
  CellSummary summary;
  summary.cell = cell.cell;
  summary.annotated = annotation.genes.size();
  summary.kept = plan.kept.size();
  summary.median_rpkm = plan.median;

  std::vector<GeneWindow> windows;
  for (size_t g : plan.kept) {
    const Gene& gene = annotation.genes[g];
    windows.push_back({gene.chrom, window_start(gene), gene.minus});
  }
  BinCounter counter(windows, static_cast<int>(annotation.chroms.size()));

  Split splits[3];
  std::vector<size_t> slot(plan.kept.size());  // kept gene -> its row in its split
  for (size_t k = 0; k < plan.kept.size(); ++k) {
    Split& s = splits[plan.split[k]];
    slot[k] = s.gene_ids.size();
    s.gene_ids.push_back(annotation.genes[plan.kept[k]].id);
    s.labels.push_back(plan.rpkm[k] > plan.median ? 1 : 0);
  }
  for (int s = 0; s < 3; ++s) {
    splits[s].x.assign(splits[s].gene_ids.size() * kValuesPerGene, 0.0f);
    summary.sizes[s] = splits[s].size();
  }

  ordered_json marks_json = ordered_json::object(), reads_json = ordered_json::object();
  for (int m = 0; m < kMarks; ++m) {
    const ReadFileInfo& file = plan.files[static_cast<size_t>(m)];
    // The checksum pass runs beside the counting pass (the page cache serves both).
    auto digest = std::async(std::launch::async, file_digest, file.path);
    const auto t0 = std::chrono::steady_clock::now();
    counter.clear();
    MarkSummary ms;
    ms.mark = kMarkNames[m];
    ms.format = file.format;
    count_reads(file, o.counting, annotation.chrom_index, counter, ms.counts);
    ms.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t k = 0; k < plan.kept.size(); ++k)
      counter.oriented_bins(k, splits[plan.split[k]].x.data() + slot[k] * kValuesPerGene + size_t(m) * kBins);
    const FileDigest d = digest.get();
    ordered_json mj = digest_json(file.path, d);
    mj["format"] = format_name(file.format);
    marks_json[kMarkNames[m]] = mj;
    const ReadCounts& c = ms.counts;
    reads_json[kMarkNames[m]] = {{"records", c.records},   {"unmapped", c.unmapped},       {"duplicate", c.duplicate},
                                 {"qc_fail", c.qc_fail},   {"low_mapq", c.low_mapq},       {"other_chromosome", c.other_chrom},
                                 {"used", c.used},         {"counted_in_bins", c.in_bins}};
    if (o.log) {
      char line[256];
      std::snprintf(line, sizeof line, "%s %-8s %s: %s reads, %s counted in bins (%.2f s)", cell.cell.c_str(), ms.mark.c_str(),
                    format_name(file.format), grouped(c.records).c_str(), grouped(c.in_bins).c_str(), ms.seconds);
      o.log(line);
    }
    summary.marks.push_back(std::move(ms));
  }

  ensure_directory(dir + "/classification");
  const char* names[3] = {"train", "valid", "test"};
  for (int s = 0; s < 3; ++s) write_split_csv(dir + "/classification/" + names[s] + ".csv", splits[s]);

  std::string expression = "gene_id,rpkm\n";
  for (size_t k = 0; k < plan.kept.size(); ++k)
    expression += annotation.genes[plan.kept[k]].id + "," + number_text(plan.rpkm[k]) + "\n";
  write_file_atomic(dir + "/expression.csv", expression);

  size_t high = 0;
  for (double v : plan.rpkm) high += v > plan.median;
  ordered_json skipped = ordered_json::object();
  for (int r = 0; r < kReasons; ++r) {
    skipped[kReasonNames[r]] = plan.skipped[r];
    summary.skipped += plan.skipped[r].size();
  }
  ordered_json inputs = shared_inputs;
  inputs["expression"]["column"] = plan.column;
  inputs["marks"] = marks_json;
  ordered_json split_json = {{"mode", split_mode_name(o.split.mode)}};
  if (o.split.mode == SplitMode::random) split_json["seed"] = o.split.seed;
  if (o.split.mode == SplitMode::chromosomes) {
    split_json["valid_chroms"] = o.split.valid_chroms;
    split_json["test_chroms"] = o.split.test_chroms;
  }
  const ordered_json doc = {
      {"generator", "deepchrome prepare"},
      {"version", o.program_version},
      {"htslib", htslib_version()},
      {"cell", cell.cell},
      {"inputs", inputs},
      {"parameters",
       {{"bins", kBinsPerGene},
        {"bin_size", kBinSize},
        {"flank", kFlank},
        {"min_mapq", o.counting.min_mapq},
        {"counting", kCountingRule},
        {"label", "1 when the expression value is > the median over the kept genes, else 0"},
        {"split", split_json}}},
      {"reads", reads_json},
      {"genes",
       {{"annotated", annotation.genes.size()},
        {"kept", plan.kept.size()},
        {"train", summary.sizes[0]},
        {"valid", summary.sizes[1]},
        {"test", summary.sizes[2]},
        {"median_rpkm", plan.median},
        {"labelled_high", high},
        {"skipped", summary.skipped},
        {"skipped_by_reason", skipped}}}};
  write_file_atomic(dir + "/prepare.json", doc.dump(2) + "\n");
  summary.dir = (std::filesystem::path(o.out) / cell.cell).string();
  return summary;
}

}  // namespace

std::vector<CellSummary> run_prepare(const PrepareOptions& options) {
  require_htslib();
  PrepareOptions o = options;
  if (o.cells.empty()) throw InputError("prepare: no cell given (--cell with --mark, or --cells-from)");
  if (o.counting.min_mapq < 0 || o.counting.min_mapq > 255)
    throw InputError("prepare: --min-mapq expects an integer in [0, 255]");
  if (o.counting.threads < 1) throw InputError("prepare: --threads expects a positive integer");
  if (!o.expression_column.empty() && o.cells.size() > 1)
    throw InputError("prepare: --expression-column names one cell's column; with several cells each uses its own name");
  if (o.split.mode != SplitMode::chromosomes && (!o.split.valid_chroms.empty() || !o.split.test_chroms.empty()))
    throw InputError("prepare: --valid-chroms and --test-chroms go with --split chromosomes");
  std::set<std::string> names;
  for (CellInput& c : o.cells) {
    order_marks(c);
    if (!names.insert(c.cell).second) throw InputError("prepare: cell " + c.cell + " given twice");
  }
  // Every input must be readable before anything long starts.
  for (const CellInput& c : o.cells)
    for (const MarkInput& m : c.marks) detect_read_format(m.path);

  const Annotation annotation = read_annotation(o.genes);
  const ExpressionTable table = read_expression(o.expression);
  if (table.columns.size() == 1 && o.cells.size() > 1)
    throw InputError(o.expression + ": a table with one value column holds one cell's values; for several cells give "
                     "a table with a column per cell (header: gene_id and the cell names)");
  ChromSizes sizes;
  if (!o.chrom_sizes.empty()) sizes.add_file(o.chrom_sizes);

  ordered_json shared_inputs = {{"genes", digest_json(o.genes, file_digest(o.genes))},
                                {"expression", digest_json(o.expression, file_digest(o.expression))}};
  shared_inputs["genes"]["format"] = annotation.format;
  shared_inputs["chrom_sizes"] = o.chrom_sizes.empty() ? ordered_json(nullptr) : digest_json(o.chrom_sizes, file_digest(o.chrom_sizes));

  std::vector<CellPlan> plans;
  for (const CellInput& c : o.cells) plans.push_back(plan_cell(c, annotation, table, sizes, o));

  OutputStage stage(o.out);
  std::vector<CellSummary> summaries;
  for (const CellPlan& plan : plans)
    summaries.push_back(prepare_cell(plan, annotation, shared_inputs, o, stage.cell_dir(plan.input->cell)));
  stage.commit();
  return summaries;
}

}  // namespace dc::io::prepare
