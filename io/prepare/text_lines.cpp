#include "io/prepare/text_lines.h"

#include <sys/stat.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "kernels/base/error.h"

namespace dc::io::prepare {

namespace {
constexpr size_t kChunk = size_t{1} << 20;  // bytes read per gzread
}

TextLines::TextLines(std::string path) : path_(std::move(path)) {
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw InputError(path_ + ": is a folder, not a file");
  errno = 0;
  gzFile gz = gzopen(path_.c_str(), "rb");
  if (!gz)
    throw InputError(path_ + ": cannot open (" + std::string(errno ? std::strerror(errno) : "out of memory") + ")");
  gzbuffer(gz, 1 << 18);
  gz_ = gz;
  buffer_.resize(2 * kChunk);
}

TextLines::~TextLines() {
  if (gz_) gzclose_r(static_cast<gzFile>(gz_));
}

bool TextLines::fill() {
  if (eof_) return false;
  // Keep the unread tail at the front, then append one chunk after it.
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buffer_.size() - end_ < kChunk) buffer_.resize(end_ + kChunk);
  const int got = gzread(static_cast<gzFile>(gz_), buffer_.data() + end_, static_cast<unsigned>(kChunk));
  int err = Z_OK;
  const char* message = gzerror(static_cast<gzFile>(gz_), &err);
  if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
    const std::string detail = err == Z_ERRNO ? std::strerror(errno) : std::string(message ? message : "read error");
    throw InputError(path_ + ": cannot read after line " + std::to_string(line_) + " (" + detail +
                     "; a truncated or corrupt gzip file?)");
  }
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<size_t>(got);
  return true;
}

bool TextLines::next(std::string_view& line) {
  size_t search_from = begin_;
  while (true) {
    const void* nl = std::memchr(buffer_.data() + search_from, '\n', end_ - search_from);
    if (nl) {
      const size_t stop = static_cast<size_t>(static_cast<const char*>(nl) - buffer_.data());
      size_t len = stop - begin_;
      if (len > 0 && buffer_[begin_ + len - 1] == '\r') --len;
      line = std::string_view(buffer_.data() + begin_, len);
      begin_ = stop + 1;
      ++line_;
      return true;
    }
    const size_t scanned = end_ - begin_;  // no newline in these bytes; fill() moves them to the front
    if (!fill()) {
      if (end_ == begin_) return false;
      size_t len = end_ - begin_;  // a last line without a final newline
      if (buffer_[begin_ + len - 1] == '\r') --len;
      line = std::string_view(buffer_.data() + begin_, len);
      begin_ = end_;
      ++line_;
      return true;
    }
    search_from = begin_ + scanned;
  }
}

size_t split_tabs(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields.size();
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

size_t split_whitespace(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields.size();
}

bool parse_int64(std::string_view text, int64_t& value) {
  if (text.empty()) return false;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool parse_double(std::string_view text, double& value) {
  if (text.empty()) return false;
  const char* begin = text.data();
  if (*begin == '+') ++begin;  // from_chars rejects a leading '+'
  const auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(value);
}

std::string quote_text(std::string_view text) {
  std::string out(1, '\'');
  if (text.size() > 40) {
    out.append(text.substr(0, 37));
    out.append("...");
  } else {
    out.append(text);
  }
  out.push_back('\'');
  return out;
}

}  // namespace dc::io::prepare
