// Fuzz target: the binary cache reader of the DeepChrome CSV loader (io/formats/dataset.cpp,
// the <csv>.dccache that load_split reads instead of the CSV when it matches).
//
// Input: one control byte, then the cache file's bytes. The cache is only read when its
// header names the CSV's size, mtime and inode and its checksum matches, which random
// bytes never do; like harnesses of formats with CRCs, this one repairs what the control
// byte says (bit 0: write this CSV's stamp into the header, bit 1: recompute the checksum;
// bit 2 loads with allow_unlabeled)
// so the fuzzer reaches the decoding behind those checks. The CSV itself is not a valid
// CSV, so a cache that is (rightly) refused makes load_split fail with dc::InputError and
// write no new cache; a cache that is accepted must hold a consistent split.
//
// The header layout and checksum below copy io/formats/dataset.cpp's. At start-up the
// target checks its copy against a cache load_split writes and stops with a message when
// they differ (update this file when the cache format changes).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fuzz/fuzz_util.h"
#include "io/formats/dataset.h"
#include "kernels/base/error.h"

namespace {

constexpr size_t kHeaderBytes = 80;
constexpr size_t kStampOffset = 16;     // csv_size, csv_mtime_ns, csv_inode: 3 x 8 bytes
constexpr size_t kChecksumOffset = 64;  // then has_labels and 7 reserved bytes
constexpr size_t kNOffset = 40, kPathBytesOffset = 48, kIdsBytesOffset = 56;

uint64_t get64(const std::string& b, size_t at) {
  uint64_t v;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}
void put64(std::string& b, size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); }

// dataset.cpp's checksum_bytes.
uint64_t checksum_bytes(const void* data, size_t size, uint64_t seed) {
  constexpr uint64_t K = 0x9E3779B97F4A7C15ull;
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h[4] = {seed ^ 0x243F6A8885A308D3ull, seed ^ 0x13198A2E03707344ull, seed ^ 0xA4093822299F31D0ull,
                   seed ^ 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      h[l] = (h[l] ^ w) * K;
      h[l] ^= h[l] >> 29;
    }
  }
  uint64_t r = size * K;
  for (; i < size; ++i) r = (r ^ p[i]) * 0x100000001B3ull;
  for (int l = 0; l < 4; ++l) r = (r ^ h[l]) * K, r ^= r >> 31;
  return r;
}

// dataset.cpp's cache_checksum, over the file's bytes: the header with its checksum taken as
// 0, then the text (path + ids), the labels and the values, each chained on the sum so far.
// Returns false when the header's sizes do not split the body that way.
bool cache_checksum(const std::string& file, uint64_t& sum) {
  if (file.size() < kHeaderBytes) return false;
  std::string header = file.substr(0, kHeaderBytes);
  put64(header, kChecksumOffset, 0);
  const uint64_t n = get64(file, kNOffset), path_bytes = get64(file, kPathBytesOffset), ids_bytes = get64(file, kIdsBytesOffset);
  const uint64_t body = file.size() - kHeaderBytes;
  if (n > body || path_bytes > body || ids_bytes > body) return false;
  const uint64_t text = path_bytes + ids_bytes, labels = n;
  if (text > body || labels > body - text || (body - text - labels) != n * 500 * sizeof(float)) return false;
  const char* p = file.data() + kHeaderBytes;
  sum = checksum_bytes(header.data(), kHeaderBytes, 1);
  sum ^= checksum_bytes(p, text, sum);
  sum ^= checksum_bytes(p + text, labels, sum);
  sum ^= checksum_bytes(p + text + labels, body - text - labels, sum);
  return true;
}

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
uint64_t csv_stamp[3];  // size, mtime in ns, inode

void stamp_of(const std::string& path, uint64_t out[3]) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) std::abort();
  out[0] = static_cast<uint64_t>(st.st_size);
  out[1] = static_cast<uint64_t>(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  out[2] = static_cast<uint64_t>(st.st_ino);
}

// Checks this file's copy of the format against a cache load_split writes for a real CSV.
void check_format_copy() {
  const std::string real_csv = dc::fuzz::scratch_dir() + "/check.csv";
  std::string text;
  for (int b = 1; b <= 100; ++b) text += "g1," + std::to_string(b) + ",1,2,3,4,5,1\n";
  dc::fuzz::write_scratch("check.csv", text);
  dc::io::load_split(real_csv);  // writes check.csv.dccache
  const std::string cache = read_all(dc::io::cache_path(real_csv));
  uint64_t sum = 0, stamp[3];
  stamp_of(real_csv, stamp);
  if (!cache_checksum(cache, sum) || sum != get64(cache, kChecksumOffset) || get64(cache, kStampOffset) != stamp[0] ||
      get64(cache, kStampOffset + 8) != stamp[1] || get64(cache, kStampOffset + 16) != stamp[2]) {
    std::fprintf(stderr, "fuzz_dataset_cache: the cache layout or checksum copied in fuzz/fuzz_dataset_cache.cpp no "
                         "longer matches io/formats/dataset.cpp; update the copy\n");
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
  check_format_copy();
  // Not a valid CSV: when the cache is refused, loading fails without writing a new cache.
  csv_path = dc::fuzz::write_scratch("train.csv", "not a csv\n");
  cache_file = dc::io::cache_path(csv_path);
  stamp_of(csv_path, csv_stamp);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return -1;
  std::string cache(dc::fuzz::as_text(data + 1, size - 1));
  if (cache.size() >= kHeaderBytes) {
    if (data[0] & 1)
      for (int i = 0; i < 3; ++i) put64(cache, kStampOffset + 8 * i, csv_stamp[i]);
    uint64_t sum;
    if ((data[0] & 2) && cache_checksum(cache, sum)) put64(cache, kChecksumOffset, sum);
  }
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
