#include "io/prepare/expression.h"

#include "kernels/base/error.h"
#include "io/prepare/annotation.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

ExpressionTable read_expression(const std::string& path) {
  ExpressionTable t;
  t.path = path;
  TextLines lines(path);
  std::string_view line;
  std::vector<std::string_view> f;
  std::vector<size_t> line_of_row;
  size_t expected = 0;
  while (lines.next(line)) {
    if (split_whitespace(line, f) == 0 || f[0][0] == '#') continue;
    if (expected == 0) {  // the first line: a header, or the first row
      if (f.size() < 2)
        throw InputError(lines.where() + "expected a gene id and at least one value column, found " +
                         std::to_string(f.size()) + " field");
      expected = f.size();
      double v;
      for (size_t c = 1; c < f.size(); ++c) t.has_header = t.has_header || !parse_double(f[c], v);
      for (size_t c = 1; c < f.size(); ++c)
        t.columns.push_back(t.has_header ? std::string(f[c]) : std::to_string(c + 1));
      if (t.has_header) continue;
    }
    if (f.size() != expected)
      throw InputError(lines.where() + "expected " + std::to_string(expected) + " columns (as the " +
                       (t.has_header ? "header" : "first line") + "), found " + std::to_string(f.size()));
    std::string id = strip_version(f[0]);
    auto [it, fresh] = t.row_of.try_emplace(id, t.ids.size());
    if (!fresh)
      throw InputError(lines.where() + "duplicate gene id " + quote_text(id) + " (also at line " +
                       std::to_string(line_of_row[it->second]) + ")");
    for (size_t c = 1; c < f.size(); ++c) {
      double v;
      if (!parse_double(f[c], v) || v < 0)
        throw InputError(lines.where() + "column " + std::to_string(c + 1) + " (" + t.columns[c - 1] +
                         "): expected a non-negative number, found " + quote_text(f[c]));
      t.values.push_back(v);
    }
    t.ids.push_back(std::move(id));
    line_of_row.push_back(lines.line_number());
  }
  if (t.ids.empty()) throw InputError(path + ": no genes in the expression table");
  return t;
}

size_t expression_column(const ExpressionTable& table, const std::string& name, bool name_given) {
  if (table.columns.size() == 1 && !name_given) return 0;
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (table.columns[c] == name) return c;
  std::string list;
  for (size_t c = 0; c < table.columns.size() && c < 12; ++c) list += (c ? ", " : "") + table.columns[c];
  if (table.columns.size() > 12) list += ", ... (" + std::to_string(table.columns.size()) + " in all)";
  throw InputError(table.path + ": no expression column " + quote_text(name) +
                   (table.has_header ? " in the header (columns: " + list + ")"
                                     : " (the table has no header line; its value columns are numbered " + list + ")") +
                   (name_given ? "" : "; name the column with --expression-column"));
}

}  // namespace dc::io::prepare
