// Line-by-line reading of the text inputs of `prepare` (annotations, expression tables,
// chromosome sizes, BED/tagAlign reads, --cells-from), plain or gzip-compressed alike.
//
// Lines come back as string_views into an internal buffer (valid until the next call),
// without the '\n' or a trailing '\r', numbered from 1. A file that cannot be opened, a
// read error and truncated or corrupt gzip data are dc::InputErrors naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dc::io::prepare {

class TextLines {
 public:
  explicit TextLines(std::string path);
  ~TextLines();
  TextLines(const TextLines&) = delete;
  TextLines& operator=(const TextLines&) = delete;

  // The next line, or false at the end of the file.
  bool next(std::string_view& line);
  size_t line_number() const { return line_; }  // of the line last returned
  const std::string& path() const { return path_; }

  // "<path>:<line>: " for error messages about the line last returned.
  std::string where() const { return path_ + ":" + std::to_string(line_) + ": "; }

 private:
  bool fill();  // reads more data after the unread part; false at end of file

  std::string path_;
  void* gz_ = nullptr;  // gzFile (zlib reads plain files through unchanged)
  std::vector<char> buffer_;
  size_t begin_ = 0, end_ = 0;  // the unread bytes are buffer_[begin_, end_)
  bool eof_ = false;
  size_t line_ = 0;
};

// Splits `line` at tabs into `fields` (cleared first). Returns the field count.
size_t split_tabs(std::string_view line, std::vector<std::string_view>& fields);

// Splits at runs of tabs or spaces (for whitespace-separated files such as chrom.sizes).
size_t split_whitespace(std::string_view line, std::vector<std::string_view>& fields);

// A whole decimal integer (optional leading '-'); false when `text` is anything else.
bool parse_int64(std::string_view text, int64_t& value);

// A finite decimal number; false when `text` is anything else.
bool parse_double(std::string_view text, double& value);

// `text` in single quotes for an error message, cut short when long.
std::string quote_text(std::string_view text);

}  // namespace dc::io::prepare
