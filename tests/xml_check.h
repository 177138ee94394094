// A small, strict XML well-formedness checker and tree for the figure tests (SVG files and
// the polyglot report.html): one root element (after an optional <!DOCTYPE>), matching
// tags, quoted and unique attributes, no raw '<' or stray '&' in text or attribute values,
// only the predefined and numeric entities, comments, valid UTF-8 without the control
// characters XML forbids. Text and attribute values come back unescaped, so tests can
// compare them with what was drawn.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace dc::test::xml {

struct Node {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<std::unique_ptr<Node>> children;
  std::string text;  // this element's own character data, concatenated, unescaped
  Node* parent = nullptr;

  std::string attr(const std::string& key) const {
    auto it = attrs.find(key);
    return it == attrs.end() ? std::string() : it->second;
  }
  // Character data of this element and all its descendants, in order.
  std::string all_text() const {
    std::string s = text;
    for (const auto& c : children) s += c->all_text();
    return s;
  }
};

struct Document {
  std::unique_ptr<Node> root;
  std::string error;  // empty when well-formed
  bool ok() const { return error.empty() && root; }
};

namespace detail {

inline bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
inline bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }
inline bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) out += static_cast<char>(cp);
  else if (cp < 0x800) { out += static_cast<char>(0xC0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3F)); }
  else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  Document run() {
    Document d;
    try {
      check_encoding();
      skip_space();
      if (starts("<?xml")) skip_past("?>");
      skip_misc();
      if (starts("<!DOCTYPE")) {
        skip_past(">");
        skip_misc();
      }
      if (!starts("<")) fail("expected the root element");
      d.root = element(nullptr);
      skip_misc();
      if (i_ != s_.size()) fail("content after the root element");
    } catch (const std::string& e) {
      d.error = e;
      d.root.reset();
    }
    return d;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    size_t line = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) line += s_[k] == '\n';
    throw "line " + std::to_string(line) + ": " + what;
  }
  bool starts(const char* p) const { return s_.compare(i_, std::char_traits<char>::length(p), p) == 0; }
  void skip_space() {
    while (i_ < s_.size() && space(s_[i_])) ++i_;
  }
  void skip_past(const char* end) {
    const size_t k = s_.find(end, i_);
    if (k == std::string::npos) fail(std::string("unterminated, expected ") + end);
    i_ = k + std::char_traits<char>::length(end);
  }
  void skip_misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) skip_past("-->");
      else return;
    }
  }
  void check_encoding() {
    for (size_t k = 0; k < s_.size();) {
      const auto c = static_cast<unsigned char>(s_[k]);
      if (c < 0x80) {
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
          i_ = k;
          fail("control character " + std::to_string(c));
        }
        ++k;
        continue;
      }
      size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool ok = n > 0 && k + n <= s_.size();
      for (size_t j = 1; ok && j < n; ++j) ok = (static_cast<unsigned char>(s_[k + j]) & 0xC0) == 0x80;
      if (!ok) {
        i_ = k;
        fail("invalid UTF-8");
      }
      k += n;
    }
  }
  std::string name() {
    if (i_ >= s_.size() || !name_start(s_[i_])) fail("expected a name");
    const size_t a = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    return s_.substr(a, i_ - a);
  }
  // Character data up to `stop` (exclusive), entities resolved; '<' is never allowed.
  std::string chars(char stop) {
    std::string out;
    while (i_ < s_.size() && s_[i_] != stop) {
      const char c = s_[i_];
      if (c == '<') fail("raw '<' in character data");
      if (c == '&') {
        const size_t semi = s_.find(';', i_);
        if (semi == std::string::npos || semi - i_ > 12) fail("'&' that starts no entity");
        const std::string ent = s_.substr(i_ + 1, semi - i_ - 1);
        if (ent == "lt") out += '<';
        else if (ent == "gt") out += '>';
        else if (ent == "amp") out += '&';
        else if (ent == "quot") out += '"';
        else if (ent == "apos") out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') {
          const bool hex = ent[1] == 'x';
          const std::string digits = ent.substr(hex ? 2 : 1);
          if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos)
            fail("bad character reference &" + ent + ";");
          append_utf8(out, static_cast<uint32_t>(std::stoul(digits, nullptr, hex ? 16 : 10)));
        } else {
          fail("unknown entity &" + ent + ";");
        }
        i_ = semi + 1;
        continue;
      }
      out += c;
      ++i_;
    }
    return out;
  }
  std::unique_ptr<Node> element(Node* parent) {
    ++i_;  // '<'
    auto node = std::make_unique<Node>();
    node->parent = parent;
    node->name = name();
    for (;;) {
      const size_t before = i_;
      skip_space();
      if (i_ >= s_.size()) fail("unterminated start tag <" + node->name);
      if (starts("/>")) {
        i_ += 2;
        return node;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      if (i_ == before) fail("attributes of <" + node->name + "> must be separated by white space");
      const std::string key = name();
      skip_space();
      if (i_ >= s_.size() || s_[i_] != '=') fail("attribute " + key + " of <" + node->name + "> has no value");
      ++i_;
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("attribute " + key + " of <" + node->name + "> is not quoted");
      const char quote = s_[i_++];
      std::string value = chars(quote);
      if (i_ >= s_.size()) fail("unterminated attribute value");
      ++i_;
      if (!node->attrs.emplace(key, value).second) fail("duplicate attribute " + key + " on <" + node->name + ">");
    }
    for (;;) {
      node->text += chars('<');
      if (i_ >= s_.size()) fail("<" + node->name + "> is never closed");
      if (starts("<!--")) {
        skip_past("-->");
      } else if (starts("<![CDATA[")) {
        const size_t k = s_.find("]]>", i_);
        if (k == std::string::npos) fail("unterminated CDATA");
        node->text += s_.substr(i_ + 9, k - i_ - 9);
        i_ = k + 3;
      } else if (starts("</")) {
        i_ += 2;
        const std::string closing = name();
        skip_space();
        if (i_ >= s_.size() || s_[i_] != '>') fail("malformed end tag </" + closing);
        ++i_;
        if (closing != node->name) fail("</" + closing + "> closes <" + node->name + ">");
        return node;
      } else {
        node->children.push_back(element(node.get()));
      }
    }
  }

  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace detail

inline Document parse(const std::string& text) { return detail::Parser(text).run(); }

// Every element under (and including) `n` for which `pred` holds, in document order.
inline void find_all(const Node& n, const std::function<bool(const Node&)>& pred, std::vector<const Node*>& out) {
  if (pred(n)) out.push_back(&n);
  for (const auto& c : n.children) find_all(*c, pred, out);
}
inline std::vector<const Node*> elements(const Node& n, const std::string& name) {
  std::vector<const Node*> out;
  find_all(n, [&](const Node& e) { return e.name == name; }, out);
  return out;
}
inline std::vector<const Node*> with_class(const Node& n, const std::string& name, const std::string& cls) {
  std::vector<const Node*> out;
  find_all(n, [&](const Node& e) { return e.name == name && e.attr("class") == cls; }, out);
  return out;
}

}  // namespace dc::test::xml
