// Fuzz target: the binary cache reader of the DeepChrome CSV loader (io/formats/dataset.cpp,
// the <csv>.dccache that load_split reads instead of the CSV when it matches).
//
// Input: one control byte, then the cache file's bytes. The cache is only read when its
// header names the CSV's size, mtime and inode and its checksum matches, which random
// bytes never do; like harnesses of formats with CRCs, this one repairs what the control
// byte says (bit 0: write this CSV's stamp into the header, bit 1: recompute the checksum,
// both with io's reseal_cache_bytes; bit 2 loads with allow_unlabeled) so the fuzzer reaches
// the decoding behind those checks. The CSV itself is not a valid
// CSV, so a cache that is (rightly) refused makes load_split fail with dc::InputError and
// write no new cache; a cache that is accepted must hold a consistent split.
//
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

namespace {

std::string read_all(const std::string& path) {
  std::string out;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    char buf[65536];
    for (size_t r; (r = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, r);
    std::fclose(f);
  }
  return out;
}

std::string csv_path, cache_file;

// Resealing a cache load_split wrote changes nothing (a sanity check of the harness: the
// repairs below are io's own, not a copy of the format).
void check_reseal() {
  const std::string real_csv = dc::fuzz::scratch_dir() + "/check.csv";
  std::string text;
  for (int b = 1; b <= 100; ++b) text += "g1," + std::to_string(b) + ",1,2,3,4,5,1\n";
  dc::fuzz::write_scratch("check.csv", text);
  dc::io::load_split(real_csv);  // writes check.csv.dccache
  const std::string cache = read_all(dc::io::cache_path(real_csv));
  std::string resealed = cache;
  if (!dc::io::reseal_cache_bytes(resealed, real_csv, true, true) || resealed != cache) {
    std::fprintf(stderr, "fuzz_dataset_cache: resealing a cache load_split wrote changed it\n");
    std::abort();
  }
}

// With DC_FUZZ_WRITE_SEEDS=DIR: writes seed inputs (control byte 3 or 7, then the cache load_split
// writes for a small CSV: one gene, two genes, unlabeled) into DIR and exits.
void write_seeds(const std::string& dir) {
  const char* names[3] = {"one_gene", "two_genes", "unlabeled"};
  for (int s = 0; s < 3; ++s) {
    std::string text;
    for (int g = 0; g < (s == 1 ? 2 : 1); ++g)
      for (int b = 1; b <= 100; ++b)
        text += "ENSG0" + std::to_string(g) + "," + std::to_string(b) + "," + std::to_string(b % 7) + ",0,2.5,1," +
                std::to_string(g) + (s == 2 ? "\n" : "," + std::to_string(g) + "\n");
    const std::string csv = dc::fuzz::write_scratch("seed.csv", text);
    dc::io::LoadOptions options;
    options.allow_unlabeled = s == 2;
    dc::io::load_split(csv, options);
    const std::string seed = std::string(1, s == 2 ? '\x07' : '\x03') + read_all(dc::io::cache_path(csv));
    std::FILE* f = std::fopen((dir + "/" + names[s]).c_str(), "wb");
    if (!f || std::fwrite(seed.data(), 1, seed.size(), f) != seed.size() || std::fclose(f) != 0) std::abort();
    std::remove(dc::io::cache_path(csv).c_str());
  }
  std::exit(0);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("DC_FUZZ_WRITE_SEEDS")) write_seeds(dir);
  check_reseal();
  // Not a valid CSV: when the cache is refused, loading fails without writing a new cache.
  csv_path = dc::fuzz::write_scratch("train.csv", "not a csv\n");
  cache_file = dc::io::cache_path(csv_path);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return -1;
  std::string cache(dc::fuzz::as_text(data + 1, size - 1));
  dc::io::reseal_cache_bytes(cache, csv_path, (data[0] & 1) != 0, (data[0] & 2) != 0);
  dc::fuzz::write_scratch(cache_file.substr(dc::fuzz::scratch_dir().size() + 1), cache);
  try {
    dc::io::LoadOptions options;
    options.allow_unlabeled = (data[0] & 4) != 0;
    // A damaged cache is reported (not on stderr: most inputs are damaged caches), naming the file.
    options.warn = [](const std::string& message) {
      if (message.find(cache_file) != 0) std::abort();
    };
    const dc::io::Split split = dc::io::load_split(csv_path, options);
    const size_t n = split.size();
    if (n == 0 || split.labels.size() != n || split.x.size() != n * dc::io::kValuesPerGene) std::abort();
    for (const std::string& id : split.gene_ids)
      if (id.empty() || id.find('\n') != std::string::npos) std::abort();
    for (int8_t l : split.labels)
      if (split.has_labels ? (l != 0 && l != 1) : l != -1) std::abort();
  } catch (const dc::InputError&) {
  }
  return 0;
}
