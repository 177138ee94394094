// The expression table that gives `prepare` its labels: gene ids in the first column and
// one numeric column per cell type, whitespace-separated, as the Roadmap
// `57epigenomes.RPKM.pc` (header `gene_id E000 E003 ...`), or a two-column file (gene id,
// value) with or without a header. The first line is a header when one of its value
// fields is not a number. Gene ids lose a version suffix ".N" to match the annotation.
// Wrong column counts, values that are not non-negative numbers and duplicate ids are
// dc::InputErrors naming the file and line.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace dc::io::prepare {

struct ExpressionTable {
  std::string path;
  bool has_header = false;
  std::vector<std::string> columns;  // value column names (from the header; else "2", "3", ...)
  std::vector<std::string> ids;      // version suffix stripped, in file order
  std::unordered_map<std::string, size_t> row_of;
  std::vector<double> values;        // ids.size() x columns.size(), row-major
  double value(size_t row, size_t column) const { return values[row * columns.size() + column]; }
};

ExpressionTable read_expression(const std::string& path);

// The value column for a cell: the column named `name`. A two-column table's one value
// column is used whatever its header says unless `name_given` (--expression-column).
// An unknown column is a dc::InputError listing the columns there are.
size_t expression_column(const ExpressionTable& table, const std::string& name, bool name_given);

}  // namespace dc::io::prepare
