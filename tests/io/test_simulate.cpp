// Simulated cell types: deterministic, the release's split sizes and format, balanced
// labels, and a signal that a simple score finds but does not find perfectly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "engine/parallel.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "io/formats/simulate.h"
#include "models/metrics.h"
#include "test_util.h"

using namespace dc;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
  const std::string dir = std::string(DC_BINARY_DIR) + "/test_tmp/io_simulate/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string split_file(const std::string& root, const std::string& cell, const std::string& split) {
  return root + "/" + cell + "/classification/" + split + ".csv";
}

io::SimulateOptions options(int genes, uint64_t seed = 7) {
  io::SimulateOptions o;
  o.genes = genes;
  o.seed = seed;
  return o;
}

double mean_over(const io::Split& s, int label, int mark, int bin_lo, int bin_hi) {  // bins 1-based, inclusive
  double sum = 0;
  size_t count = 0;
  for (size_t g = 0; g < s.size(); ++g) {
    if (s.labels[g] != label) continue;
    for (int b = bin_lo; b <= bin_hi; ++b) sum += s.x[g * 500 + mark * 100 + (b - 1)];
    count += static_cast<size_t>(bin_hi - bin_lo + 1);
  }
  return sum / static_cast<double>(count);
}

// log(1 + H3K4me3 over the TSS) - 0.5 log(1 + H3K27me3 over the window): a one-line
// "model" that should rank genes well, but not perfectly.
std::vector<float> simple_score(const io::Split& s) {
  std::vector<float> score(s.size());
  for (size_t g = 0; g < s.size(); ++g) {
    const float* x = s.x.data() + g * 500;
    double k4me3 = 0, k27 = 0;
    for (int b = 40; b < 60; ++b) k4me3 += x[3 * 100 + b];
    for (int b = 0; b < 100; ++b) k27 += x[0 * 100 + b];
    score[g] = static_cast<float>(std::log1p(k4me3) - 0.5 * std::log1p(k27));
  }
  return score;
}

io::Split concat(const io::SimulatedCell& c) {
  io::Split all;
  for (const io::Split* s : {&c.train, &c.valid, &c.test}) {
    all.gene_ids.insert(all.gene_ids.end(), s->gene_ids.begin(), s->gene_ids.end());
    all.labels.insert(all.labels.end(), s->labels.begin(), s->labels.end());
    all.x.insert(all.x.end(), s->x.begin(), s->x.end());
  }
  return all;
}

}  // namespace

TEST_CASE("simulate_cell is deterministic in (seed, cell, genes) and independent of thread count") {
  const std::string a = fresh_dir("det_a"), b = fresh_dir("det_b"), c = fresh_dir("det_c");
  io::simulate_cell(a, "E003", options(60, 11));
  io::simulate_cell(b, "E003", options(60, 11));
  io::simulate_cell(c, "E003", options(60, 12));
  for (const char* split : {"train", "valid", "test"}) {
    CAPTURE(split);
    const std::string fa = io::read_file(split_file(a, "E003", split));
    CHECK(fa == io::read_file(split_file(b, "E003", split)));
    CHECK(fa != io::read_file(split_file(c, "E003", split)));
  }
  // Another cell name is another cell.
  const io::SimulatedCell e3 = io::simulate_cell_data("E003", options(60, 11));
  const io::SimulatedCell e4 = io::simulate_cell_data("E004", options(60, 11));
  CHECK(e3.train.x != e4.train.x);

  const int threads = num_threads();
  set_num_threads(1);
  const io::SimulatedCell one = io::simulate_cell_data("E003", options(300, 5));
  set_num_threads(2);
  const io::SimulatedCell two = io::simulate_cell_data("E003", options(300, 5));
  set_num_threads(threads);
  CHECK(one.train.x == two.train.x);
  CHECK(one.test.x == two.test.x);
  CHECK(one.valid.gene_ids == two.valid.gene_ids);
}

TEST_CASE("simulate_cell writes the release's format, loadable and equal to simulate_cell_data") {
  const std::string root = fresh_dir("format");
  io::simulate_cell(root, "S01", options(30));
  const io::SimulatedCell data = io::simulate_cell_data("S01", options(30));
  io::LoadOptions o;
  o.use_cache = false;
  const io::CellData cell = io::load_cell(root + "/S01", o);
  CHECK(cell.name == "S01");
  const io::Split* loaded[3] = {&cell.train, &cell.valid, &cell.test};
  const io::Split* direct[3] = {&data.train, &data.valid, &data.test};
  for (int s = 0; s < 3; ++s) {
    CAPTURE(s);
    CHECK(loaded[s]->size() == 10);
    CHECK(loaded[s]->gene_ids == direct[s]->gene_ids);
    CHECK(loaded[s]->labels == direct[s]->labels);
    CHECK(loaded[s]->x == direct[s]->x);
  }
  const std::string text = io::read_file(split_file(root, "S01", "train"));
  const std::string first = text.substr(0, text.find('\n'));
  CHECK(first.rfind(cell.train.gene_ids[0] + ",1,", 0) == 0);
  CHECK(std::count(first.begin(), first.end(), ',') == 7);
}

TEST_CASE("simulated splits: release sizes, unique zero-padded ids, balanced labels, integer counts") {
  const io::SimulatedCell small = io::simulate_cell_data("E003", options(30));
  CHECK(small.train.size() == 10);
  CHECK(small.valid.size() == 10);
  CHECK(small.test.size() == 10);
  const io::SimulatedCell odd = io::simulate_cell_data("E003", options(31));
  CHECK(odd.train.size() == 11);
  CHECK(odd.valid.size() == 10);
  CHECK(odd.test.size() == 10);

  const io::SimulatedCell full = io::simulate_cell_data("E003", options(19802));
  CHECK(full.train.size() == 6601);
  CHECK(full.valid.size() == 6601);
  CHECK(full.test.size() == 6600);

  const io::Split all = concat(full);
  REQUIRE(all.size() == 19802);
  REQUIRE(all.x.size() == 19802u * 500);
  // Ids: "000001".."019802", each once; in id order within a split.
  std::set<std::string> ids(all.gene_ids.begin(), all.gene_ids.end());
  CHECK(ids.size() == 19802);
  CHECK(*ids.begin() == "000001");
  CHECK(*ids.rbegin() == "019802");
  for (const io::Split* s : {&full.train, &full.valid, &full.test}) {
    CHECK(std::is_sorted(s->gene_ids.begin(), s->gene_ids.end()));
    CHECK(s->has_labels);
    REQUIRE(s->x.size() == s->size() * 500);
  }
  CHECK(std::all_of(all.gene_ids.begin(), all.gene_ids.end(), [](const std::string& id) { return id.size() == 6; }));

  // Labels: exactly balanced over the cell, roughly in each split.
  CHECK(std::all_of(all.labels.begin(), all.labels.end(), [](int8_t l) { return l == 0 || l == 1; }));
  const auto high = std::count(all.labels.begin(), all.labels.end(), int8_t{1});
  CHECK(high == 9901);  // above the cell's median: exactly half
  for (const io::Split* s : {&full.train, &full.valid, &full.test}) {
    size_t h = 0;
    for (int8_t l : s->labels) h += l == 1;
    const double frac = static_cast<double>(h) / static_cast<double>(s->size());
    CHECK(frac > 0.46);
    CHECK(frac < 0.54);
  }

  // Counts: non-negative integers, mostly small, many zeros (as the release).
  size_t bad = 0, zeros = 0;
  double max_count = 0;
  for (float v : all.x) {
    bad += !(v >= 0 && v == std::floor(v));
    zeros += v == 0;
    max_count = std::max(max_count, static_cast<double>(v));
  }
  CHECK(bad == 0);
  const double zero_frac = static_cast<double>(zeros) / static_cast<double>(all.x.size());
  CHECK(zero_frac > 0.3);
  CHECK(zero_frac < 0.9);
  CHECK(max_count > 20);
}

TEST_CASE("simulated biology: the marks follow the label, and a simple score ranks genes well but not perfectly") {
  const io::SimulatedCell c = io::simulate_cell_data("E005", options(1800, 3));
  const io::Split& s = c.train;  // 600 genes
  REQUIRE(s.size() == 600);
  // Expressed genes: H3K4me3 at the TSS (bins 45..55), H3K36me3 over the downstream body.
  CHECK(mean_over(s, 1, 3, 45, 55) > 2.0 * mean_over(s, 0, 3, 45, 55));
  CHECK(mean_over(s, 1, 3, 45, 55) > 2.0 * mean_over(s, 1, 3, 1, 10));  // peaked at the TSS
  CHECK(mean_over(s, 1, 1, 71, 100) > 1.5 * mean_over(s, 0, 1, 71, 100));
  CHECK(mean_over(s, 1, 1, 71, 100) > 1.5 * mean_over(s, 1, 1, 1, 30));  // downstream, not upstream
  // Repressed genes: more broad H3K27me3 and H3K9me3.
  CHECK(mean_over(s, 0, 0, 1, 100) > 1.3 * mean_over(s, 1, 0, 1, 100));
  CHECK(mean_over(s, 0, 4, 1, 100) > 1.1 * mean_over(s, 1, 4, 1, 100));

  const double auc = auroc(simple_score(s), s.labels);
  MESSAGE("simple-score AUROC on 600 simulated genes (difficulty 0.5): " << auc);
  CHECK(auc > 0.6);
  CHECK(auc < 0.97);

  // difficulty moves the achievable AUROC the right way.
  const io::Split easy = io::simulate_cell_data("E005", options(3000, 3), 0.0).test;
  const io::Split hard = io::simulate_cell_data("E005", options(3000, 3), 1.0).test;
  const double auc_easy = auroc(simple_score(easy), easy.labels), auc_hard = auroc(simple_score(hard), hard.labels);
  MESSAGE("simple-score AUROC, difficulty 0 / 1: " << auc_easy << " / " << auc_hard);
  CHECK(auc_easy > auc_hard + 0.1);
  CHECK(auc_easy < 0.97);
  CHECK(auc_hard > 0.6);
}

TEST_CASE("simulate rejects impossible requests") {
  CHECK_THROWS_AS(io::simulate_cell_data("E003", options(2)), InputError);
  CHECK_THROWS_AS(io::simulate_cell_data("E003", options(0)), InputError);
  CHECK_THROWS_AS(io::simulate_cell_data("E003", options(30), 1.5), InputError);
  CHECK_THROWS_AS(io::simulate_cell_data("E003", options(30), -0.1), InputError);
  CHECK_THROWS_AS(io::simulate_cell_data("E003", options(30), std::nan("")), InputError);
}
