// The DeepChrome CSV format: the toy release split, round trips, every bad-input error
// (file and line named), the binary cache and its invalidation, atomic writes.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "io/formats/atomic_file.h"
#include "io/formats/dataset.h"
#include "io/formats/simulate.h"
#include "test_util.h"

using namespace dc;
namespace fs = std::filesystem;

namespace {

// A fresh, empty directory for one test case under the build tree.
std::string fresh_dir(const std::string& name) {
  const std::string dir = std::string(DC_BINARY_DIR) + "/test_tmp/io_dataset/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Plain (non-atomic) write, so tests can also rewrite a file in place (same inode).
void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

// `genes` valid genes (ids 000001.., label alternating from 1); counts = (gene + bin + mark) % 7.
std::vector<std::string> valid_rows(int genes, bool labeled = true) {
  std::vector<std::string> rows;
  for (int g = 0; g < genes; ++g)
    for (int b = 1; b <= 100; ++b) {
      char id[16];
      std::snprintf(id, sizeof id, "%06d", g + 1);
      std::string row(id);
      row.append(",").append(std::to_string(b));
      for (int m = 0; m < 5; ++m) row.append(",").append(std::to_string((g + b + m) % 7));
      if (labeled) row.append(g % 2 == 0 ? ",1" : ",0");
      rows.push_back(row);
    }
  return rows;
}

std::string join(const std::vector<std::string>& rows, const std::string& eol = "\n", bool final_eol = true) {
  std::string text;
  for (size_t i = 0; i < rows.size(); ++i) {
    text += rows[i];
    if (i + 1 < rows.size() || final_eol) text += eol;
  }
  return text;
}

io::LoadOptions no_cache() {
  io::LoadOptions o;
  o.use_cache = false;
  return o;
}

// The InputError `load` throws; fails the check when it throws nothing or something else.
std::string input_error(const std::function<void()>& load) {
  try {
    load();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("expected dc::InputError, got: " << e.what());
  }
  FAIL("expected dc::InputError, nothing was thrown");
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Writes `rows` to <dir>/bad.csv and checks the error names "bad.csv:<line>:" and `problem`.
void check_bad(const std::string& dir, const std::string& text, size_t line, const std::string& problem) {
  const std::string path = dir + "/bad.csv";
  write_text(path, text);
  const std::string msg = input_error([&] { io::load_split(path, no_cache()); });
  INFO("message: " << msg);
  CHECK(contains(msg, path + ":" + std::to_string(line) + ": "));
  CHECK(contains(msg, problem));
}

void check_same(const io::Split& a, const io::Split& b) {
  CHECK(a.gene_ids == b.gene_ids);
  CHECK(a.labels == b.labels);
  CHECK(a.has_labels == b.has_labels);
  CHECK(a.x == b.x);
}

std::vector<std::string> temp_files_in(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(dir))
    if (contains(e.path().filename().string(), ".tmp.")) found.push_back(e.path().string());
  return found;
}

void set_mtime(const std::string& path, fs::file_time_type t) { fs::last_write_time(path, t); }

}  // namespace

TEST_CASE("the toy release split loads: ids, values, labels") {
  const io::Split s = io::load_split(DC_TEST_DATA_DIR "/toy/train.csv", no_cache());
  REQUIRE(s.size() == 10);
  CHECK(s.has_labels);
  CHECK(s.path == DC_TEST_DATA_DIR "/toy/train.csv");
  CHECK(s.x.size() == 10 * 500);
  CHECK(s.labels.size() == 10);
  CHECK(s.gene_ids == std::vector<std::string>{"000003", "000005", "000419", "000457", "000460", "000938", "000971",
                                               "001036", "001084", "001167"});
  CHECK(s.labels == std::vector<int8_t>{1, 0, 1, 0, 1, 0, 0, 1, 1, 0});
  // First row "000003,1,0,1,0,2,0,1": layout [gene][mark][bin].
  CHECK(s.x[0 * 100 + 0] == 0.0f);  // H3K27me3
  CHECK(s.x[1 * 100 + 0] == 1.0f);  // H3K36me3
  CHECK(s.x[2 * 100 + 0] == 0.0f);  // H3K4me1
  CHECK(s.x[3 * 100 + 0] == 2.0f);  // H3K4me3
  CHECK(s.x[4 * 100 + 0] == 0.0f);  // H3K9me3
  // Second row "000003,2,1,2,2,8,0,1".
  CHECK(s.x[0 * 100 + 1] == 1.0f);
  CHECK(s.x[3 * 100 + 1] == 8.0f);
  const DataView v = s.view();
  CHECK(v.n == 10);
  CHECK(v.x == s.x.data());
  CHECK(v.labels == s.labels.data());
}

TEST_CASE("write_split_csv / load_split round trip, including decimals and unlabeled splits") {
  const std::string dir = fresh_dir("roundtrip");
  io::Split toy = io::load_split(DC_TEST_DATA_DIR "/toy/valid.csv", no_cache());
  io::write_split_csv(dir + "/toy.csv", toy);
  check_same(io::load_split(dir + "/toy.csv", no_cache()), toy);
  // The toy file is written back byte for byte.
  CHECK(io::read_file(dir + "/toy.csv") == io::read_file(DC_TEST_DATA_DIR "/toy/valid.csv"));

  toy.x[7] = 2.5f;
  toy.x[123] = 0.125f;
  io::write_split_csv(dir + "/dec.csv", toy);
  check_same(io::load_split(dir + "/dec.csv", no_cache()), toy);

  io::Split unlabeled = toy;
  unlabeled.has_labels = false;
  std::fill(unlabeled.labels.begin(), unlabeled.labels.end(), int8_t{-1});
  io::write_split_csv(dir + "/unlabeled.csv", unlabeled);
  const std::string text = io::read_file(dir + "/unlabeled.csv");
  CHECK(text.substr(0, text.find('\n')) == "132963,1,0,0,2,2,0");  // 7 columns
  io::LoadOptions o = no_cache();
  o.allow_unlabeled = true;
  check_same(io::load_split(dir + "/unlabeled.csv", o), unlabeled);

  // An inconsistent split is refused before anything is written.
  io::Split broken = toy;
  broken.labels[3] = 5;
  CHECK_THROWS_AS(io::write_split_csv(dir + "/broken.csv", broken), dc::Error);
  broken = toy;
  broken.x.pop_back();
  CHECK_THROWS_AS(io::write_split_csv(dir + "/broken.csv", broken), dc::Error);
  broken = toy;
  broken.gene_ids[0] = "a,b";
  CHECK_THROWS_AS(io::write_split_csv(dir + "/broken.csv", broken), dc::Error);
  CHECK_FALSE(fs::exists(dir + "/broken.csv"));
  CHECK(temp_files_in(dir).empty());
}

TEST_CASE("CRLF line endings, no final newline, trailing blank lines, decimals and spaces are accepted") {
  const std::string dir = fresh_dir("tolerant");
  const std::vector<std::string> rows = valid_rows(2);
  write_text(dir + "/ref.csv", join(rows));
  const io::Split ref = io::load_split(dir + "/ref.csv", no_cache());
  REQUIRE(ref.size() == 2);
  CHECK(ref.gene_ids == std::vector<std::string>{"000001", "000002"});
  CHECK(ref.labels == std::vector<int8_t>{1, 0});

  const std::vector<std::string> variants = {join(rows, "\r\n"), join(rows, "\n", false), join(rows, "\r\n", false),
                                             join(rows) + "\n\n", "\xEF\xBB\xBF" + join(rows)};
  for (size_t i = 0; i < variants.size(); ++i) {
    CAPTURE(i);
    write_text(dir + "/v.csv", variants[i]);
    check_same(io::load_split(dir + "/v.csv", no_cache()), ref);
  }

  std::vector<std::string> dec = rows;
  dec[0] = "000001,1,1.0,2.50, 3 ,0e0,4,1";
  write_text(dir + "/dec.csv", join(dec));
  const io::Split d = io::load_split(dir + "/dec.csv", no_cache());
  CHECK(d.x[0] == 1.0f);
  CHECK(d.x[100] == 2.5f);
  CHECK(d.x[200] == 3.0f);
  CHECK(d.x[300] == 0.0f);
  CHECK(d.x[400] == 4.0f);
}

TEST_CASE("bad input: each problem names the file and the line") {
  const std::string dir = fresh_dir("bad");
  const std::vector<std::string> good = valid_rows(2);
  auto with = [&](size_t line, const std::string& row) {  // `good` with 1-based line replaced
    std::vector<std::string> r = good;
    r[line - 1] = row;
    return join(r);
  };

  SUBCASE("wrong column count") {
    check_bad(dir, with(5, "000001,5,1,2,3,4,1"), 5, "expected 8 columns (GeneID,BinID,5 marks,Label), found 7");
    check_bad(dir, with(5, "000001,5,1,2,3,4,5,1,9"), 5, "expected 8 columns (GeneID,BinID,5 marks,Label), found 9");
    check_bad(dir, with(1, "000001,1,1,2,3,4,1"), 1, "found 7");
  }
  SUBCASE("non-numeric or negative count") {
    check_bad(dir, with(7, "000001,7,1,x2,3,4,5,1"), 7, "non-numeric count 'x2' in column 4 (H3K36me3)");
    check_bad(dir, with(7, "000001,7,1,2,3,nan,5,1"), 7, "non-numeric count 'nan' in column 6 (H3K4me3)");
    check_bad(dir, with(7, "000001,7,1,2,3,4,inf,1"), 7, "non-numeric count 'inf'");
    check_bad(dir, with(7, "000001,7,1,2,3,4,1e999,1"), 7, "non-numeric count");
    check_bad(dir, with(8, "000001,8,-3,2,3,4,5,1"), 8, "negative count '-3' in column 3 (H3K27me3)");
    check_bad(dir, with(8, "000001,8,1,2,-0.5,4,5,1"), 8, "negative count '-0.5' in column 5 (H3K4me1)");
  }
  SUBCASE("empty field") {
    check_bad(dir, with(9, "000001,9,1,2,,4,5,1"), 9, "empty field in column 5 (H3K4me1)");
    check_bad(dir, with(9, ",9,1,2,3,4,5,1"), 9, "empty field in column 1 (GeneID)");
    check_bad(dir, with(9, "000001,9,1,2,3,4,5,"), 9, "empty field in column 8 (Label)");
  }
  SUBCASE("bin ids not 1..100 in order") {
    check_bad(dir, with(10, "000001,11,1,2,3,4,5,1"), 10, "expected BinID 10 for gene 000001, found 11");
    check_bad(dir, with(1, "000001,2,1,2,3,4,5,1"), 1, "expected BinID 1 at the start of gene 000001, found 2");
    check_bad(dir, with(10, "000001,ten,1,2,3,4,5,1"), 10, "BinID must be an integer 1..100, found 'ten'");
  }
  SUBCASE("gene with fewer than 100 rows") {
    std::vector<std::string> r = good;
    r.erase(r.begin() + 50);  // gene 000001 keeps 99 rows; gene 000002 starts at line 100
    check_bad(dir, join(r), 51, "expected BinID 51 for gene 000001, found 52");
    r = good;
    r.erase(r.begin() + 99);  // the last row of gene 000001 is missing
    check_bad(dir, join(r), 100, "gene 000001 has only 99 rows (lines 1-99), expected 100");
    r = good;
    r.resize(150);  // the file ends inside gene 000002
    check_bad(dir, join(r), 150, "gene 000002 has only 50 rows (lines 101-150) at the end of the file");
    check_bad(dir, join(r, "\n", false), 150, "at the end of the file");
  }
  SUBCASE("gene with more than 100 rows") {
    std::vector<std::string> r = good;
    r.insert(r.begin() + 100, "000001,101,1,2,3,4,5,1");
    check_bad(dir, join(r), 101, "gene 000001 has more than 100 rows");
  }
  SUBCASE("label not 0/1 or changing inside a gene") {
    check_bad(dir, with(3, "000001,3,1,2,3,4,5,2"), 3, "Label must be 0 or 1, found '2'");
    check_bad(dir, with(3, "000001,3,1,2,3,4,5,high"), 3, "Label must be 0 or 1, found 'high'");
    check_bad(dir, with(50, "000001,50,1,2,3,4,5,0"), 50, "Label changes inside gene 000001 (was 1 from line 1, now 0)");
  }
  SUBCASE("empty lines, headers, empty and missing files") {
    std::vector<std::string> r = good;
    r.insert(r.begin() + 20, "");
    check_bad(dir, join(r), 21, "empty line");
    r = good;
    r.insert(r.begin(), "GeneID,BinID,H3K27me3,H3K36me3,H3K4me1,H3K4me3,H3K9me3,Label");
    check_bad(dir, join(r), 1, "header");

    write_text(dir + "/empty.csv", "");
    std::string msg = input_error([&] { io::load_split(dir + "/empty.csv", no_cache()); });
    CHECK(contains(msg, dir + "/empty.csv: empty file"));
    write_text(dir + "/blank.csv", "\n\r\n\n");
    msg = input_error([&] { io::load_split(dir + "/blank.csv", no_cache()); });
    CHECK(contains(msg, dir + "/blank.csv: empty file"));

    msg = input_error([&] { io::load_split(dir + "/missing.csv"); });
    CHECK(msg == dir + "/missing.csv: cannot open (No such file or directory)");
    msg = input_error([&] { io::load_split(dir); });
    CHECK(contains(msg, dir + ": cannot read"));
  }
}

TEST_CASE("unlabeled (7-column) files load only with allow_unlabeled, and never mixed") {
  const std::string dir = fresh_dir("unlabeled");
  write_text(dir + "/u.csv", join(valid_rows(3, false)));
  io::LoadOptions o;
  o.cache_dir = dir + "/cache";
  const std::string msg = input_error([&] { io::load_split(dir + "/u.csv", o); });
  CHECK(contains(msg, dir + "/u.csv:1: expected 8 columns (GeneID,BinID,5 marks,Label), found 7"));

  o.allow_unlabeled = true;
  const io::Split u = io::load_split(dir + "/u.csv", o);  // also writes the cache
  CHECK(u.size() == 3);
  CHECK_FALSE(u.has_labels);
  CHECK(u.labels == std::vector<int8_t>{-1, -1, -1});
  CHECK(fs::exists(io::cache_path(dir + "/u.csv", o)));
  check_same(io::load_split(dir + "/u.csv", o), u);  // from the cache
  // The cache of an unlabeled file must not let it through without allow_unlabeled.
  o.allow_unlabeled = false;
  CHECK_THROWS_AS(io::load_split(dir + "/u.csv", o), InputError);

  // A labeled file is fine with allow_unlabeled too.
  o.allow_unlabeled = true;
  write_text(dir + "/l.csv", join(valid_rows(1)));
  CHECK(io::load_split(dir + "/l.csv", o).has_labels);

  std::vector<std::string> mixed = valid_rows(2, false);
  mixed[120] += ",1";
  write_text(dir + "/mixed.csv", join(mixed));
  const std::string m = input_error([&] { io::load_split(dir + "/mixed.csv", o); });
  CHECK(contains(m, dir + "/mixed.csv:121: expected 7 columns (GeneID,BinID,5 marks), found 8"));
}

TEST_CASE("binary cache: reused when unchanged, rebuilt when the CSV changes or the cache is damaged") {
  const std::string dir = fresh_dir("cache");
  const std::string csv = dir + "/train.csv";
  write_text(csv, join(valid_rows(4)));
  const io::Split fresh = io::load_split(csv, no_cache());

  SUBCASE("beside the CSV") {
    const std::string cache = io::cache_path(csv);
    CHECK(cache == csv + ".dccache");
    const io::Split first = io::load_split(csv);
    CHECK(fs::exists(cache));
    const io::Split second = io::load_split(csv);
    check_same(first, fresh);
    check_same(second, fresh);
    CHECK(second.path == csv);

    // The cache really is what the second load read: a genuine cache for other content,
    // planted under this CSV's stamp, is returned as is.
    const auto mtime = fs::last_write_time(csv);
    std::vector<std::string> rows = valid_rows(4);
    rows[0] = "000001,1,6,0,2,3,4,1";  // same length as the original row "000001,1,1,2,3,4,5,1"
    const std::string changed = join(rows);
    REQUIRE(changed.size() == fs::file_size(csv));

    // Rewrite in place (same inode, same size) and give it a new mtime: the cache is stale.
    write_text(csv, changed);
    set_mtime(csv, mtime + std::chrono::seconds(5));
    const io::Split reloaded = io::load_split(csv);
    CHECK(reloaded.x[0] == 6.0f);
    CHECK(reloaded.x[100] == 0.0f);
    check_same(io::load_split(csv), reloaded);  // rebuilt cache now matches the new content
    check_same(io::load_split(csv, no_cache()), reloaded);

    // Rewrite atomically (new inode) with the same size and the same mtime: still detected.
    const auto mtime2 = fs::last_write_time(csv);
    io::write_file_atomic(csv, join(valid_rows(4)));
    set_mtime(csv, mtime2);
    check_same(io::load_split(csv), fresh);
    CHECK(temp_files_in(dir).empty());
  }

  SUBCASE("corrupt, truncated or foreign caches are ignored and rebuilt") {
    const std::string cache = io::cache_path(csv);
    io::load_split(csv);
    const std::string good_cache = io::read_file(cache);
    REQUIRE(good_cache.size() > 4 * 500 * 4);

    std::string flipped = good_cache;
    flipped[flipped.size() - 3] ^= 0x40;  // inside x
    std::string flipped_header = good_cache;
    flipped_header[20] ^= 0x01;  // the CSV stamp
    std::string bad_n = good_cache;
    bad_n[47] = '\x7f';  // n (its high byte)
    const std::vector<std::string> damaged = {good_cache.substr(0, good_cache.size() / 2), good_cache.substr(0, 10),
                                              "", "not a cache at all", flipped, flipped_header, bad_n,
                                              good_cache + "trailing"};
    // Damaged ones are rebuilt with a warning naming the cache and the CSV; a cache for
    // another stamp of the CSV (flipped_header) is merely stale: rebuilt silently.
    std::vector<std::string> warnings;
    io::LoadOptions o;
    o.warn = [&](const std::string& m) { warnings.push_back(m); };
    for (size_t i = 0; i < damaged.size(); ++i) {
      CAPTURE(i);
      write_text(cache, damaged[i]);
      warnings.clear();
      check_same(io::load_split(csv, o), fresh);
      CHECK(io::read_file(cache) == good_cache);  // rewritten
      if (damaged[i] == flipped_header) {
        CHECK(warnings.empty());
      } else {
        REQUIRE(warnings.size() == 1);
        CHECK(contains(warnings[0], cache + ": damaged binary cache ("));
        CHECK(contains(warnings[0], "rebuilding it from " + csv));
      }
    }
    warnings.clear();
    check_same(io::load_split(csv, o), fresh);  // the rebuilt cache is read without a word
    CHECK(warnings.empty());
    write_text(cache, flipped);
    check_same(io::load_split(csv, o), fresh);
    CHECK(contains(warnings.at(0), "checksum mismatch"));
    write_text(cache, good_cache.substr(0, good_cache.size() - 1));
    warnings.clear();
    check_same(io::load_split(csv, o), fresh);
    CHECK(contains(warnings.at(0), "truncated"));
    // reseal_cache_bytes (the fuzz target's repair): a good cache is left as it is; a
    // changed value, resealed, is read as data (so the repair is the reader's own checks).
    std::string resealed = good_cache;
    CHECK(io::reseal_cache_bytes(resealed, csv, true, true));
    CHECK(resealed == good_cache);
    std::string changed = flipped;
    CHECK(io::reseal_cache_bytes(changed, csv, false, true));
    CHECK(changed != flipped);
    write_text(cache, changed);
    warnings.clear();
    const io::Split altered = io::load_split(csv, o);
    CHECK(warnings.empty());
    CHECK(altered.x.back() != fresh.x.back());
    CHECK(io::read_file(cache) == changed);  // accepted, not rebuilt
    std::string restamped = flipped_header;  // another stamp: restamped and resealed, accepted
    CHECK(io::reseal_cache_bytes(restamped, csv, true, true));
    CHECK(restamped == good_cache);
    std::string short_bytes = good_cache.substr(0, 10), wrong_sizes = bad_n;
    CHECK_FALSE(io::reseal_cache_bytes(short_bytes, csv, true, true));
    CHECK(short_bytes == good_cache.substr(0, 10));
    CHECK_FALSE(io::reseal_cache_bytes(wrong_sizes, csv, false, true));
    CHECK(wrong_sizes == bad_n);
    CHECK_FALSE(io::reseal_cache_bytes(resealed, dir + "/no_such.csv", true, false));
    // A directory where the cache should be: ignored, and no cache is written.
    fs::remove(cache);
    fs::create_directory(cache);
    check_same(io::load_split(csv), fresh);
    CHECK(fs::is_directory(cache));
  }

  SUBCASE("in a cache directory, one file per CSV") {
    io::LoadOptions o;
    o.cache_dir = dir + "/caches/nested";
    fs::create_directories(dir + "/other");
    write_text(dir + "/other/train.csv", join(valid_rows(2)));
    const std::string c1 = io::cache_path(csv, o), c2 = io::cache_path(dir + "/other/train.csv", o);
    CHECK(c1 != c2);
    CHECK(c1.rfind(o.cache_dir + "/", 0) == 0);
    CHECK(c1.size() > 8);
    CHECK(c1.substr(c1.size() - 8) == ".dccache");
    check_same(io::load_split(csv, o), fresh);
    CHECK(io::load_split(dir + "/other/train.csv", o).size() == 2);
    CHECK(fs::exists(c1));
    CHECK(fs::exists(c2));
    CHECK_FALSE(fs::exists(csv + ".dccache"));
    check_same(io::load_split(csv, o), fresh);
    // The same file reached through another spelling of its path shares the cache.
    CHECK(io::cache_path(dir + "/other/../train.csv", o) == c1);
  }

  SUBCASE("a cache that cannot be written is skipped silently") {
    write_text(dir + "/not_a_dir", "x");
    io::LoadOptions o;
    o.cache_dir = dir + "/not_a_dir/cache";
    check_same(io::load_split(csv, o), fresh);
    check_same(io::load_split(csv, o), fresh);
  }

  SUBCASE("use_cache = false neither reads nor writes a cache") {
    io::load_split(csv, no_cache());
    CHECK_FALSE(fs::exists(csv + ".dccache"));
  }
}

TEST_CASE("damaged CSVs and caches never crash: the CSV loads or throws InputError, a cache is just rebuilt") {
  const std::string dir = fresh_dir("fuzz");
  const std::string good = join(valid_rows(2));
  const std::string alphabet = "0123456789,\n\r -.eaZ";
  CounterRng rng(2024, 1);
  int loaded = 0, rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string text = good;
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng.below(text.size());
      switch (rng.below(3)) {
        case 0: text[at] = alphabet[rng.below(alphabet.size())]; break;
        case 1: text.erase(at, 1 + rng.below(30)); break;
        default: text.resize(at); break;
      }
      if (text.empty()) text.push_back('\n');
    }
    write_text(dir + "/f.csv", text);
    try {
      const io::Split s = io::load_split(dir + "/f.csv", no_cache());
      CHECK(s.x.size() == s.size() * 500);
      ++loaded;
    } catch (const InputError& e) {
      CHECK(contains(e.what(), dir + "/f.csv"));
      ++rejected;
    }
  }
  CHECK(rejected > 100);
  MESSAGE("damaged CSVs: " << loaded << " still valid, " << rejected << " rejected with InputError");

  const std::string csv = dir + "/train.csv";
  write_text(csv, good);
  const io::Split fresh = io::load_split(csv, no_cache());
  io::load_split(csv);
  const std::string cache = io::read_file(csv + ".dccache");
  for (int trial = 0; trial < 200; ++trial) {
    std::string damaged = cache;
    const size_t at = rng.below(damaged.size());
    damaged[at] = static_cast<char>(damaged[at] ^ (1 + rng.below(255)));
    write_text(csv + ".dccache", damaged);
    check_same(io::load_split(csv), fresh);
  }
}

TEST_CASE("a bad file throws before anything is returned, even with a cache of the old content") {
  const std::string dir = fresh_dir("nothing_half_loaded");
  const std::string csv = dir + "/train.csv";
  write_text(csv, join(valid_rows(3)));
  CHECK(io::load_split(csv).size() == 3);
  std::vector<std::string> rows = valid_rows(3);
  rows[250] = "000003,51,1,2,3,4,5,7";  // same length, bad label
  write_text(csv, join(rows));
  set_mtime(csv, fs::last_write_time(csv) + std::chrono::seconds(3));
  const std::string msg = input_error([&] { io::load_split(csv); });
  CHECK(contains(msg, csv + ":251: Label must be 0 or 1"));
}

TEST_CASE("load_cell reads the three splits of a cell-type directory") {
  const std::string root = fresh_dir("cell");
  io::SimulateOptions so;
  so.genes = 30;
  io::simulate_cell(root, "E003", so);
  io::LoadOptions o;
  o.cache_dir = root + "/cache";
  CHECK(io::cell_dir(root, "E003") == root + "/E003");
  CHECK(io::cell_dir(root + "/", "E003") == root + "/E003");
  const io::CellData c = io::load_cell(io::cell_dir(root, "E003"), o);
  CHECK(c.name == "E003");
  CHECK(c.dir == root + "/E003");
  CHECK(c.train.size() == 10);
  CHECK(c.valid.size() == 10);
  CHECK(c.test.size() == 10);
  CHECK(c.train.path == root + "/E003/classification/train.csv");
  CHECK(io::load_cell(root + "/E003/", o).name == "E003");

  const std::string msg = input_error([&] { io::load_cell(root + "/E999", o); });
  CHECK(contains(msg, root + "/E999"));
  fs::remove(root + "/E003/classification/valid.csv");
  const std::string msg2 = input_error([&] { io::load_cell(root + "/E003", o); });
  CHECK(contains(msg2, "E003/classification/valid.csv: cannot open"));
}

TEST_CASE("atomic files: complete or untouched, never a temp left behind") {
  const std::string dir = fresh_dir("atomic");
  const std::string path = dir + "/out.txt";
  io::write_file_atomic(path, "first");
  CHECK(io::read_file(path) == "first");
  io::write_file_atomic(path, "second, longer");
  CHECK(io::read_file(path) == "second, longer");
  io::write_file_atomic(path, "");
  CHECK(io::read_file(path).empty());
  io::write_file_atomic(path, "kept");

  {
    io::AtomicWriter w(path);
    CHECK(w.path() == path);
    w.write("never ");
    w.write("committed");
    CHECK(fs::exists(w.temp_path()));
    CHECK(io::read_file(path) == "kept");
  }
  CHECK(io::read_file(path) == "kept");
  CHECK(temp_files_in(dir).empty());

  {
    io::AtomicWriter w(path);
    std::string big(3 << 20, 'a');  // larger than the writer's buffer
    w.write("x");
    w.write(big);
    w.write("y");
    w.commit();
    CHECK_THROWS_AS(w.commit(), dc::Error);
    CHECK_THROWS_AS(w.write("z"), dc::Error);
  }
  const std::string content = io::read_file(path);
  CHECK(content.size() == (3u << 20) + 2);
  CHECK(content.front() == 'x');
  CHECK(content.back() == 'y');
  CHECK(temp_files_in(dir).empty());

  // A destination that cannot be written: dc::OutputError naming it and the system's reason
  // (the CLI exits 2: the user must fix the output location).
  try {
    io::write_file_atomic(dir + "/no/such/dir/f.txt", "x");
    FAIL("expected dc::OutputError");
  } catch (const OutputError& e) {
    CHECK(contains(e.what(), "cannot write " + dir + "/no/such/dir/f.txt: No such file or directory"));
  } catch (const dc::Error& e) {
    FAIL("expected dc::OutputError, got " << e.what());
  }
  // Renaming onto a directory fails after the temp was written: the temp is removed.
  fs::create_directory(dir + "/a_dir");
  fs::create_directory(dir + "/a_dir/inside");
  CHECK_THROWS_AS(io::write_file_atomic(dir + "/a_dir", "x"), dc::Error);
  CHECK(fs::is_directory(dir + "/a_dir"));
  CHECK(temp_files_in(dir).empty());

  const std::string msg = input_error([&] { io::read_file(dir + "/missing.txt"); });
  CHECK(msg == dir + "/missing.txt: cannot open (No such file or directory)");

  io::ensure_directory(dir + "/x/y/z");
  CHECK(fs::is_directory(dir + "/x/y/z"));
  io::ensure_directory(dir + "/x/y/z");  // already there: fine
  CHECK_THROWS_AS(io::ensure_directory(path + "/sub"), dc::Error);
  CHECK_THROWS_AS(io::ensure_directory(path), dc::Error);

  io::FileStamp st;
  io::read_file(path, &st);
  CHECK(st.size == (3u << 20) + 2);
  CHECK(st.mtime_ns > 0);
  CHECK(st.inode != 0);
}

TEST_CASE("atomic files: the temps a killed writer left are removed, nothing else") {
  const std::string dir = fresh_dir("stale_temps");
  for (const char* name : {"summary.csv.tmp.123.0", "a.json.tmp.9.17", "keep.csv", "keep.tmp", "x.tmp.12", "x.tmp.1.2b",
                           "x.tmp..3", "notes.tmpl.1.2"})
    io::write_file_atomic(dir + "/" + name, "x");
  fs::create_directories(dir + "/sub");
  io::write_file_atomic(dir + "/sub/deep.csv.tmp.1.1", "x");  // not in dir itself: kept
  CHECK(io::remove_stale_temp_files(dir) == 2);
  CHECK(!fs::exists(dir + "/summary.csv.tmp.123.0"));
  CHECK(!fs::exists(dir + "/a.json.tmp.9.17"));
  for (const char* kept : {"keep.csv", "keep.tmp", "x.tmp.12", "x.tmp.1.2b", "x.tmp..3", "notes.tmpl.1.2", "sub/deep.csv.tmp.1.1"})
    CHECK_MESSAGE(fs::exists(dir + "/" + kept), kept);
  CHECK(io::remove_stale_temp_files(dir + "/missing") == 0);
}
