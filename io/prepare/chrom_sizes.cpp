#include "io/prepare/chrom_sizes.h"

#include "kernels/base/error.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

void ChromSizes::add(const std::string& chrom, int64_t length, const std::string& source) {
  auto [it, fresh] = length_.try_emplace(chrom, length, source);
  if (!fresh && it->second.first != length)
    throw InputError(source + ": chromosome " + quote_text(chrom) + " has length " + std::to_string(length) + " but " +
                     it->second.second + " gives " + std::to_string(it->second.first) +
                     " (reads aligned to another genome assembly?)");
}

void ChromSizes::add_file(const std::string& path) {
  TextLines lines(path);
  std::string_view line;
  std::vector<std::string_view> f;
  size_t added = 0;
  while (lines.next(line)) {
    if (split_whitespace(line, f) == 0 || f[0][0] == '#') continue;
    int64_t length;
    if (f.size() < 2 || !parse_int64(f[1], length) || length <= 0)
      throw InputError(lines.where() + "expected a chromosome name and its length (a positive integer), found " +
                       quote_text(line));
    add(std::string(f[0]), length, path + ":" + std::to_string(lines.line_number()));
    ++added;
  }
  if (added == 0) throw InputError(path + ": no chromosome sizes in the file");
}

void ChromSizes::add_header(const std::string& path, const std::vector<std::pair<std::string, int64_t>>& references) {
  for (const auto& [name, length] : references) add(name, length, path + " (header)");
}

}  // namespace dc::io::prepare
