#include "io/formats/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string_view>
#include <system_error>

#include "kernels/base/error.h"
#include "kernels/base/hash.h"
#include "io/formats/atomic_file.h"

namespace dc::io {

namespace {

constexpr const char* kColumnNames[8] = {"GeneID", "BinID", "H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3", "Label"};

// ---- CSV parsing ------------------------------------------------------------------------

[[noreturn]] void fail(const std::string& path, size_t line, const std::string& problem) {
  throw InputError(path + ":" + std::to_string(line) + ": " + problem);
}

// A field as quoted in an error message (long fields cut short).
std::string quote_field(std::string_view field) {
  std::string out(1, '\'');
  if (field.size() > 40) {
    out.append(field.substr(0, 37));
    out.append("...");
  } else {
    out.append(field);
  }
  out.push_back('\'');
  return out;
}

std::string column_name(int column) {  // 0-based column
  return "column " + std::to_string(column + 1) + " (" + kColumnNames[column] + ")";
}

std::string_view trim(const char* b, const char* e) {
  while (b < e && (*b == ' ' || *b == '\t')) ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t')) --e;
  return {b, static_cast<size_t>(e - b)};
}

enum class Number { ok, non_numeric, negative };

// A read count: a non-negative finite number. Plain digit strings (the whole release)
// take the fast path; anything else goes through from_chars.
Number parse_count(std::string_view f, float& out) {
  const char* p = f.data();
  const char* e = p + f.size();
  if (f.size() <= 9) {
    uint32_t v = 0;
    const char* q = p;
    while (q < e && static_cast<unsigned>(*q - '0') < 10) v = v * 10 + static_cast<uint32_t>(*q++ - '0');
    if (q == e && q != p) {
      out = static_cast<float>(v);
      return Number::ok;
    }
  }
  double d = 0;
  const auto r = std::from_chars(p, e, d);
  if (r.ec != std::errc() || r.ptr != e || !std::isfinite(d) || d > 3.0e38) return Number::non_numeric;
  if (p[0] == '-') return Number::negative;
  out = static_cast<float>(d);
  return Number::ok;
}

bool parse_bin(std::string_view f, int& out) {
  if (f.empty() || f.size() > 6) return false;
  int v = 0;
  for (char c : f) {
    if (static_cast<unsigned>(c - '0') >= 10) return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

std::string expected_columns(bool labeled) {
  return labeled ? "expected 8 columns (GeneID,BinID,5 marks,Label)" : "expected 7 columns (GeneID,BinID,5 marks)";
}

bool rest_is_blank(const char* p, const char* end) {
  for (; p < end; ++p)
    if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t') return false;
  return true;
}

// Parses the whole CSV text. `path` is only used in messages.
Split parse_csv(const std::string& path, std::string_view text, bool allow_unlabeled) {
  Split split;
  split.path = path;
  const char* p = text.data();
  const char* const end = p + text.size();
  if (text.size() >= 3 && std::memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3;  // a UTF-8 BOM

  // 100 rows per gene: reserve from the line count so x grows once.
  const size_t lines_estimate = static_cast<size_t>(std::count(p, end, '\n')) + 1;
  split.x.reserve((lines_estimate / kBins + 1) * kValuesPerGene);
  split.gene_ids.reserve(lines_estimate / kBins + 1);
  split.labels.reserve(lines_estimate / kBins + 1);

  int columns = 0;           // 7 or 8, fixed by the first row
  size_t line = 0;           // 1-based number of the current line
  size_t gene_first_line = 0;
  int row_in_gene = 0;       // rows of the current gene seen so far (0: between genes)
  float* gene_x = nullptr;   // the current gene's [mark][bin] block
  std::string_view gene_id;  // the current gene's id (points into text)
  int8_t gene_label = -1;

  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    const char* const next = nl ? nl + 1 : end;
    ++line;
    if (line_end > p && line_end[-1] == '\r') --line_end;
    if (trim(p, line_end).empty()) {
      if (rest_is_blank(next, end)) break;  // trailing blank lines are fine
      fail(path, line, "empty line (every line must be a row GeneID,BinID,5 marks,Label)");
    }

    // Split into fields; count them all, keep the first 8.
    std::string_view f[8];
    int nf = 0;
    for (const char* s = p;;) {
      const char* c = s;
      while (c < line_end && *c != ',') ++c;
      if (nf < 8) f[nf] = trim(s, c);
      ++nf;
      if (c == line_end) break;
      s = c + 1;
    }

    if (columns == 0) {  // the first row decides whether the file has labels
      int bin_probe = 0;
      if (nf >= 2 && !parse_bin(f[1], bin_probe) && f[1] == "BinID")
        fail(path, line, "this looks like a header line; the format has none (the first line must be a data row)");
      if (nf == 8 || (nf == 7 && allow_unlabeled)) {
        columns = nf;
        split.has_labels = nf == 8;
      } else if (allow_unlabeled) {
        fail(path, line, "expected 8 columns (GeneID,BinID,5 marks,Label) or 7 without Label, found " + std::to_string(nf));
      } else if (nf == 7) {
        fail(path, line, "expected 8 columns (GeneID,BinID,5 marks,Label), found 7 (no Label column: only predict accepts unlabeled files)");
      } else {
        fail(path, line, "expected 8 columns (GeneID,BinID,5 marks,Label), found " + std::to_string(nf));
      }
    } else if (nf != columns) {
      fail(path, line, expected_columns(columns == 8) + ", found " + std::to_string(nf));
    }
    for (int c = 0; c < columns; ++c)
      if (f[c].empty()) fail(path, line, "empty field in " + column_name(c));

    int bin = 0;
    if (!parse_bin(f[1], bin)) fail(path, line, "BinID must be an integer 1..100, found " + quote_field(f[1]));

    int8_t label = -1;
    if (columns == 8) {
      if (f[7] == "0") {
        label = 0;
      } else if (f[7] == "1") {
        label = 1;
      } else {
        float v = -1;
        if (parse_count(f[7], v) != Number::ok || (v != 0.0f && v != 1.0f))
          fail(path, line, "Label must be 0 or 1, found " + quote_field(f[7]));
        label = static_cast<int8_t>(v);
      }
    }

    if (row_in_gene == 0) {  // a new gene starts here
      if (bin != 1) {
        if (!split.gene_ids.empty() && f[0] == gene_id)
          fail(path, line, "gene " + std::string(gene_id) + " has more than 100 rows (lines " +
                               std::to_string(gene_first_line) + "-" + std::to_string(line - 1) +
                               " hold BinID 1..100), found BinID " + std::to_string(bin));
        fail(path, line, "expected BinID 1 at the start of gene " + std::string(f[0]) + ", found " + std::to_string(bin) +
                             " (each gene has 100 rows, BinID 1..100 in order)");
      }
      gene_id = f[0];
      gene_first_line = line;
      gene_label = label;
      split.gene_ids.emplace_back(gene_id);
      split.labels.push_back(label);
      split.x.resize(split.x.size() + kValuesPerGene);
      gene_x = split.x.data() + split.x.size() - kValuesPerGene;
    } else {
      if (f[0] != gene_id)
        fail(path, line, "gene " + std::string(gene_id) + " has only " + std::to_string(row_in_gene) + " rows (lines " +
                             std::to_string(gene_first_line) + "-" + std::to_string(line - 1) +
                             "), expected 100 (BinID 1..100); this line starts gene " + std::string(f[0]));
      if (bin != row_in_gene + 1)
        fail(path, line, "expected BinID " + std::to_string(row_in_gene + 1) + " for gene " + std::string(gene_id) +
                             ", found " + std::to_string(bin) + " (BinID must run 1..100 in order)");
      if (label != gene_label)
        fail(path, line, "Label changes inside gene " + std::string(gene_id) + " (was " + std::to_string(gene_label) +
                             " from line " + std::to_string(gene_first_line) + ", now " + std::to_string(label) + ")");
    }

    for (int m = 0; m < kMarks; ++m) {
      float v = 0;
      switch (parse_count(f[2 + m], v)) {
        case Number::ok: break;
        case Number::negative:
          fail(path, line, "negative count " + quote_field(f[2 + m]) + " in " + column_name(2 + m));
        case Number::non_numeric:
          fail(path, line, "non-numeric count " + quote_field(f[2 + m]) + " in " + column_name(2 + m));
      }
      gene_x[m * kBins + row_in_gene] = v;
    }

    row_in_gene = row_in_gene + 1 == kBins ? 0 : row_in_gene + 1;
    p = next;
  }

  if (row_in_gene != 0)
    fail(path, line, "gene " + std::string(gene_id) + " has only " + std::to_string(row_in_gene) + " rows (lines " +
                         std::to_string(gene_first_line) + "-" + std::to_string(line) +
                         ") at the end of the file, expected 100 (BinID 1..100)");
  if (split.gene_ids.empty()) throw InputError(path + ": empty file (expected rows GeneID,BinID,5 marks,Label)");
  return split;
}

// ---- binary cache -----------------------------------------------------------------------
//
// Layout: CacheHeader, then the absolute CSV path, the gene ids joined by '\n', labels
// (n int8), x (n*500 float, native byte order). The header carries the CSV's stamp and a
// checksum of everything after it; any mismatch means "rebuild".

constexpr char kCacheMagic[8] = {'D', 'C', 'C', 'A', 'C', 'H', 'E', '\0'};
constexpr uint32_t kCacheVersion = 1;
constexpr uint32_t kByteOrderMark = 0x01020304;

struct CacheHeader {
  char magic[8];
  uint32_t version;
  uint32_t byte_order;
  uint64_t csv_size;
  int64_t csv_mtime_ns;
  uint64_t csv_inode;
  uint64_t n;
  uint64_t path_bytes;
  uint64_t ids_bytes;
  uint64_t checksum;
  uint8_t has_labels;
  uint8_t reserved[7];
};
static_assert(sizeof(CacheHeader) == 80);

// A fast non-cryptographic checksum (4 independent multiply-xor lanes over 64-bit words)
// for detecting torn or corrupted cache files.
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

// Covers the header (its checksum field taken as 0) and the whole body: the text (path +
// ids), the labels and the values, each chained on the sum so far.
uint64_t cache_checksum(CacheHeader h, const void* text, size_t text_bytes, const void* labels, size_t label_bytes,
                        const void* x, size_t x_bytes) {
  h.checksum = 0;
  uint64_t sum = checksum_bytes(&h, sizeof h, 1);
  sum ^= checksum_bytes(text, text_bytes, sum);
  sum ^= checksum_bytes(labels, label_bytes, sum);
  sum ^= checksum_bytes(x, x_bytes, sum);
  return sum;
}

uint64_t cache_checksum(const CacheHeader& h, const std::string& text, const Split& s) {
  return cache_checksum(h, text.data(), text.size(), s.labels.data(), s.labels.size(), s.x.data(), s.x.size() * sizeof(float));
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::weakly_canonical(path, ec);
  if (ec) abs = std::filesystem::absolute(path, ec).lexically_normal();
  return ec ? path : abs.string();
}

bool stat_file(const std::string& path, FileStamp& stamp) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  stamp.size = static_cast<uint64_t>(st.st_size);
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  stamp.inode = static_cast<uint64_t>(st.st_ino);
  return true;
}

bool read_exact(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t r = ::read(fd, p, size);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    size -= static_cast<size_t>(r);
  }
  return true;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// What read_cache found. Only a damaged cache (one that claims to be this CSV's cache, or
// is no cache at all, and fails its own checks) is worth a warning: a stale one is the
// normal sign that the CSV changed.
enum class CacheRead { Ok, Missing, Stale, Damaged };

// The cached split when Ok; `why` says what is wrong when Damaged.
CacheRead read_cache(const std::string& cache, const std::string& abs_csv, bool check_path, const FileStamp& stamp,
                     bool allow_unlabeled, Split& out, std::string& why) {
  Fd f{::open(cache.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return CacheRead::Missing;
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return CacheRead::Missing;
  auto damaged = [&](const char* what) {
    why = what;
    return CacheRead::Damaged;
  };
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  CacheHeader h{};
  if (file_size < sizeof h || !read_exact(f.fd, &h, sizeof h)) return damaged("shorter than its header: truncated");
  if (std::memcmp(h.magic, kCacheMagic, 8) != 0) return damaged("not a deepchrome cache");
  if (h.version != kCacheVersion || h.byte_order != kByteOrderMark) return CacheRead::Stale;  // another build's format
  if (h.csv_size != stamp.size || h.csv_mtime_ns != stamp.mtime_ns || h.csv_inode != stamp.inode) return CacheRead::Stale;
  if (h.has_labels > 1) return damaged("bad header");
  if (!h.has_labels && !allow_unlabeled) return CacheRead::Stale;  // parsing the CSV gives the error
  // Sizes must add up to the file size exactly (also bounds every allocation below).
  const uint64_t body = file_size - sizeof h;
  if (h.n == 0 || h.n > body / (kValuesPerGene * sizeof(float)) || h.path_bytes > body || h.ids_bytes > body)
    return damaged("sizes in the header do not fit the file: truncated or corrupt");
  if (h.path_bytes + h.ids_bytes + h.n * (1 + kValuesPerGene * sizeof(float)) != body)
    return damaged("sizes in the header do not fit the file: truncated or corrupt");

  std::string text(h.path_bytes + h.ids_bytes, '\0');
  Split s;
  s.labels.resize(h.n);
  s.x.resize(h.n * kValuesPerGene);
  if (!read_exact(f.fd, text.data(), text.size()) || !read_exact(f.fd, s.labels.data(), s.labels.size()) ||
      !read_exact(f.fd, s.x.data(), s.x.size() * sizeof(float)))
    return damaged("read failed");
  if (cache_checksum(h, text, s) != h.checksum) return damaged("checksum mismatch: corrupt");
  if (check_path && std::string_view(text).substr(0, h.path_bytes) != abs_csv) return CacheRead::Stale;

  s.has_labels = h.has_labels == 1;
  for (int8_t l : s.labels)
    if (s.has_labels ? (l != 0 && l != 1) : l != -1) return damaged("bad label");
  std::string_view ids = std::string_view(text).substr(h.path_bytes);
  s.gene_ids.reserve(h.n);
  while (!ids.empty() && s.gene_ids.size() < h.n) {
    const size_t nl = ids.find('\n');
    const std::string_view id = ids.substr(0, nl);
    if (id.empty()) return damaged("bad gene ids");
    s.gene_ids.emplace_back(id);
    ids = nl == std::string_view::npos ? std::string_view() : ids.substr(nl + 1);
  }
  if (s.gene_ids.size() != h.n || !ids.empty()) return damaged("bad gene ids");
  out = std::move(s);
  return CacheRead::Ok;
}

void write_cache(const std::string& cache, const std::string& abs_csv, const FileStamp& stamp, const Split& s) {
  std::string ids;
  for (size_t g = 0; g < s.size(); ++g) {
    if (g) ids += '\n';
    ids += s.gene_ids[g];
  }
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, 8);
  h.version = kCacheVersion;
  h.byte_order = kByteOrderMark;
  h.csv_size = stamp.size;
  h.csv_mtime_ns = stamp.mtime_ns;
  h.csv_inode = stamp.inode;
  h.n = s.size();
  h.path_bytes = abs_csv.size();
  h.ids_bytes = ids.size();
  h.has_labels = s.has_labels ? 1 : 0;
  const std::string text = abs_csv + ids;
  h.checksum = cache_checksum(h, text, s);

  AtomicWriter w(cache);
  w.write({reinterpret_cast<const char*>(&h), sizeof h});
  w.write(text);
  w.write({reinterpret_cast<const char*>(s.labels.data()), s.labels.size()});
  w.write({reinterpret_cast<const char*>(s.x.data()), s.x.size() * sizeof(float)});
  w.commit();
}

}  // namespace

bool reseal_cache_bytes(std::string& cache, const std::string& csv_path, bool stamp, bool checksum) {
  CacheHeader h{};
  if (cache.size() < sizeof h) return false;
  std::memcpy(&h, cache.data(), sizeof h);
  if (stamp) {
    FileStamp st;
    if (!stat_file(csv_path, st)) return false;
    h.csv_size = st.size;
    h.csv_mtime_ns = st.mtime_ns;
    h.csv_inode = st.inode;
  }
  bool done = true;
  if (checksum) {
    // The reader's split of the body (header sizes), without overflow on arbitrary values.
    const uint64_t body = cache.size() - sizeof h;
    const bool fits = h.n <= body / (kValuesPerGene * sizeof(float)) && h.path_bytes <= body && h.ids_bytes <= body - h.path_bytes &&
                      h.n <= body - h.path_bytes - h.ids_bytes &&
                      body - h.path_bytes - h.ids_bytes - h.n == h.n * kValuesPerGene * sizeof(float);
    if (fits) {
      const char* text = cache.data() + sizeof h;
      const size_t text_bytes = h.path_bytes + h.ids_bytes;
      h.checksum = cache_checksum(h, text, text_bytes, text + text_bytes, h.n, text + text_bytes + h.n,
                                  h.n * kValuesPerGene * sizeof(float));
    }
    done = fits;
  }
  std::memcpy(cache.data(), &h, sizeof h);
  return done;
}

namespace {

// ---- CSV writing ------------------------------------------------------------------------

char* put_value(char* out, float v) {
  if (v >= 0 && v < 1e9f && v == std::floor(v)) return std::to_chars(out, out + 16, static_cast<uint32_t>(v)).ptr;
  return std::to_chars(out, out + 32, v).ptr;
}

}  // namespace

std::string cache_path(const std::string& csv_path, const LoadOptions& options) {
  if (options.cache_dir.empty()) return csv_path + ".dccache";
  // <cache_dir>/<last three path components>-<hash of the absolute path>.dccache: readable,
  // and two CSVs with the same tail (train.csv of two cell types) never share a cache.
  const std::string abs = absolute_path(csv_path);
  std::string tail;
  int components = 0;
  for (size_t i = abs.size(); i > 0 && components < 3; --i) {
    if (abs[i - 1] == '/') {
      ++components;
      if (components == 3) break;
    }
    tail.insert(tail.begin(), abs[i - 1]);
  }
  for (char& c : tail)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) c = '_';
  if (tail.size() > 100) tail = tail.substr(tail.size() - 100);
  char hex[17];
  const uint64_t h = fnv1a(abs);
  for (int i = 0; i < 16; ++i) hex[i] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 15];
  hex[16] = '\0';
  return (std::filesystem::path(options.cache_dir) / (tail + "-" + hex + ".dccache")).string();
}

Split load_split(const std::string& csv_path, const LoadOptions& options) {
  std::string cache, abs_csv;
  if (options.use_cache) {
    abs_csv = absolute_path(csv_path);
    cache = cache_path(csv_path, options);
    FileStamp stamp;
    Split cached;
    std::string why;
    if (stat_file(csv_path, stamp)) {
      const CacheRead got = read_cache(cache, abs_csv, !options.cache_dir.empty(), stamp, options.allow_unlabeled, cached, why);
      if (got == CacheRead::Ok) {
        cached.path = csv_path;
        return cached;
      }
      if (got == CacheRead::Damaged) {
        const std::string message = cache + ": damaged binary cache (" + why + "), not used; rebuilding it from " + csv_path;
        if (options.warn)
          options.warn(message);
        else
          std::fprintf(stderr, "deepchrome: warning: %s\n", message.c_str());
      }
    }
  }
  FileStamp stamp;
  const std::string text = read_file(csv_path, &stamp);
  Split split = parse_csv(csv_path, text, options.allow_unlabeled);
  if (options.use_cache) {
    // The cache is an optimisation: a directory we cannot write to just means no cache.
    try {
      if (!options.cache_dir.empty()) ensure_directory(options.cache_dir);
      write_cache(cache, abs_csv, stamp, split);
    } catch (const std::exception&) {
    }
  }
  return split;
}

std::string cell_dir(const std::string& root, const std::string& cell) {
  if (root.empty()) return cell;
  return (std::filesystem::path(root) / cell).string();
}

CellData load_cell(const std::string& dir, const LoadOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw InputError(dir + ": no such cell-type directory (expected " + dir + "/classification/{train,valid,test}.csv)");
  CellData cell;
  cell.dir = dir;
  std::filesystem::path p(dir);
  while (p.has_relative_path() && p.filename().empty()) p = p.parent_path();  // "a/b/" -> "a/b"
  cell.name = p.filename().string();
  if (cell.name.empty() || cell.name == ".") cell.name = std::filesystem::absolute(p, ec).lexically_normal().filename().string();
  const std::string base = (std::filesystem::path(dir) / "classification").string();
  cell.train = load_split(base + "/train.csv", options);
  cell.valid = load_split(base + "/valid.csv", options);
  cell.test = load_split(base + "/test.csv", options);
  return cell;
}

std::string split_csv(const Split& split) {
  const size_t n = split.size();
  if (split.x.size() != n * kValuesPerGene || split.labels.size() != n)
    throw Error("split_csv: inconsistent split (" + std::to_string(n) + " genes, " + std::to_string(split.x.size()) +
                " values, " + std::to_string(split.labels.size()) + " labels)");
  bool any_label = false;
  for (int8_t l : split.labels) any_label = any_label || l != -1;
  const bool labeled = split.has_labels && any_label;
  for (size_t g = 0; g < n; ++g) {
    const std::string& id = split.gene_ids[g];
    if (id.empty() || id.find_first_of(",\r\n") != std::string::npos)
      throw Error("split_csv: gene id " + quote_field(id) + " cannot be written to CSV (empty, or holds ',' or a newline)");
    if (labeled && split.labels[g] != 0 && split.labels[g] != 1)
      throw Error("split_csv: gene " + id + " has label " + std::to_string(split.labels[g]) + ", expected 0 or 1");
  }

  // Rows are formatted straight into one buffer; before each gene we make room for its
  // worst case (id + BinID + 5 shortest-form floats + label), so no per-row checks.
  constexpr size_t kMaxValueChars = 16;  // e.g. "1.17549435e-38"
  std::string out;
  size_t used = 0;
  out.resize(n * kBins * 24 + 64);
  for (size_t g = 0; g < n; ++g) {
    const std::string& id = split.gene_ids[g];
    const float* gx = split.x.data() + g * kValuesPerGene;
    const char label = split.labels[g] == 1 ? '1' : '0';
    const size_t worst = kBins * (id.size() + 5 + kMarks * (1 + kMaxValueChars) + 3);
    if (out.size() - used < worst) out.resize(std::max(out.size() * 3 / 2, used + worst));
    char* o = out.data() + used;
    for (int b = 0; b < kBins; ++b) {
      std::memcpy(o, id.data(), id.size());
      o += id.size();
      *o++ = ',';
      o = std::to_chars(o, o + 4, b + 1).ptr;
      for (int m = 0; m < kMarks; ++m) {
        const float v = gx[m * kBins + b];
        if (!(v >= 0) || !std::isfinite(v))
          throw Error("split_csv: gene " + id + " has an invalid count (negative, NaN or infinite) for " + kMarkNames[m]);
        *o++ = ',';
        o = put_value(o, v);
      }
      if (labeled) {
        *o++ = ',';
        *o++ = label;
      }
      *o++ = '\n';
    }
    used = static_cast<size_t>(o - out.data());
  }
  out.resize(used);
  return out;
}

void write_split_csv(const std::string& path, const Split& split) {
  std::string text;
  try {
    text = split_csv(split);
  } catch (const Error& e) {
    throw Error("cannot write " + path + ": " + e.what());
  }
  write_file_atomic(path, text);
}

}  // namespace dc::io
