// BED / tagAlign reads (`chrom start end [name score strand ...]`, 0-based half-open,
// tab-separated, plain or gzip), counted as `bedtools bedtobam` + `multicov` count them.
#include <algorithm>
#include <string>
#include <string_view>

#include "kernels/base/error.h"
#include "io/prepare/reads.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

void count_bed_reads(const std::string& path, const std::unordered_map<std::string, int>& chrom_index,
                     BinCounter& counter, ReadCounts& counts) {
  TextLines lines(path);
  std::string_view line;
  std::string last_chrom;
  int last_id = -1;
  bool have_last = false;
  uint64_t on_annotation = 0;          // reads on a chromosome the annotation names
  std::vector<std::string> seen;       // a few of the file's chromosome names, for the message
  while (lines.next(line)) {
    if (line.empty() || line[0] == '#' || line.rfind("track", 0) == 0 || line.rfind("browser", 0) == 0) continue;
    // The first three fields; the rest (name, score, strand) do not matter for counting.
    const size_t t1 = line.find('\t');
    const size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos)
      throw InputError(lines.where() + "expected tab-separated chrom, start, end (BED / tagAlign), found " + quote_text(line));
    const size_t t3 = line.find('\t', t2 + 1);
    const std::string_view chrom = line.substr(0, t1);
    const std::string_view start_text = line.substr(t1 + 1, t2 - t1 - 1);
    const std::string_view end_text = line.substr(t2 + 1, t3 == std::string_view::npos ? std::string_view::npos : t3 - t2 - 1);
    int64_t start, end;
    if (!parse_int64(start_text, start) || !parse_int64(end_text, end) || start < 0)
      throw InputError(lines.where() + "start and end must be non-negative integers, found " + quote_text(start_text) +
                       " and " + quote_text(end_text));
    if (end < start)
      throw InputError(lines.where() + "end " + std::string(end_text) + " is before start " + std::string(start_text));
    ++counts.records;
    if (!have_last || chrom != last_chrom) {
      last_chrom.assign(chrom);
      const auto it = chrom_index.find(last_chrom);
      last_id = it == chrom_index.end() ? -2 : counter.has_windows(it->second) ? it->second : -1;
      have_last = true;
      if (seen.size() < 5 && std::find(seen.begin(), seen.end(), last_chrom) == seen.end()) seen.push_back(last_chrom);
    }
    if (last_id != -2) ++on_annotation;
    if (last_id < 0) {
      ++counts.other_chrom;
      continue;
    }
    ++counts.used;
    if (start == end) {  // bedtobam writes a zero-length entry as 2M at start-1
      start = start > 0 ? start - 1 : 0;
      end += 1;
    }
    if (counter.add(last_id, start, end)) ++counts.in_bins;
  }
  if (counts.records > 0 && on_annotation == 0) throw InputError(chromosome_mismatch(path, seen, chrom_index));
}

}  // namespace dc::io::prepare
