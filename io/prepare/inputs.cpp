#include "io/prepare/inputs.h"

#include <algorithm>
#include <filesystem>

#include "kernels/base/error.h"
#include "io/formats/dataset.h"
#include "io/prepare/text_lines.h"

namespace dc::io::prepare {

namespace {

std::string mark_list() {
  std::string s;
  for (int m = 0; m < kMarks; ++m) s += (m ? ", " : "") + std::string(kMarkNames[m]);
  return s;
}

void check_cell_name(const std::string& cell, const std::string& origin) {
  if (cell.empty() || cell == "." || cell == ".." || cell[0] == '.' ||
      cell.find_first_of("/\\ \t") != std::string::npos)
    throw InputError(origin + ": cell name " + quote_text(cell) +
                     " cannot name a folder (empty, starts with '.', or holds '/' or spaces)");
}

}  // namespace

MarkInput parse_mark_option(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
    throw InputError("prepare: --mark expects NAME=PATH (e.g. --mark H3K4me3=E003-H3K4me3.bam), got '" + text + "'");
  return {text.substr(0, eq), text.substr(eq + 1), "--mark " + text};
}

std::vector<CellInput> read_cells_file(const std::string& path) {
  TextLines lines(path);
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::vector<CellInput> cells;
  std::string_view line;
  std::vector<std::string_view> f;
  while (lines.next(line)) {
    if (split_tabs(line, f) == 1 && f[0].find_first_not_of(" \t") == std::string_view::npos) continue;
    if (f[0].size() > 0 && f[0][0] == '#') continue;
    if (f.size() == 3 && f[0] == "cell" && f[1] == "mark" && f[2] == "path") continue;  // header
    if (f.size() != 3 || f[2].empty())
      throw InputError(lines.where() + "expected 3 tab-separated fields: cell, mark, path; found " + quote_text(line));
    const std::string cell(f[0]);
    const std::string origin = path + ":" + std::to_string(lines.line_number());
    check_cell_name(cell, origin);
    std::filesystem::path file{std::string(f[2])};
    if (file.is_relative()) file = folder / file;
    auto it = std::find_if(cells.begin(), cells.end(), [&](const CellInput& c) { return c.cell == cell; });
    if (it == cells.end()) it = cells.insert(cells.end(), CellInput{cell, {}});
    it->marks.push_back({std::string(f[1]), file.string(), origin});
  }
  if (cells.empty()) throw InputError(path + ": no cells listed (expected lines: cell <TAB> mark <TAB> path)");
  return cells;
}

void order_marks(CellInput& cell) {
  check_cell_name(cell.cell, "prepare");
  std::vector<MarkInput> ordered(kMarks);
  for (const MarkInput& m : cell.marks) {
    const auto* name = std::find(kMarkNames, kMarkNames + kMarks, m.mark);
    if (name == kMarkNames + kMarks)
      throw InputError(m.origin + ": unknown mark " + quote_text(m.mark) + " (the release layout has " + mark_list() + ")");
    MarkInput& slot = ordered[static_cast<size_t>(name - kMarkNames)];
    if (!slot.mark.empty())
      throw InputError(m.origin + ": mark " + m.mark + " of cell " + cell.cell + " given twice (also " + slot.origin + ")");
    slot = m;
  }
  std::string missing;
  for (int m = 0; m < kMarks; ++m)
    if (ordered[m].mark.empty()) missing += (missing.empty() ? "" : ", ") + std::string(kMarkNames[m]);
  if (!missing.empty())
    throw InputError("prepare: cell " + cell.cell + " has no reads for " + missing + " (the release layout needs all of " +
                     mark_list() + ")");
  cell.marks = std::move(ordered);
}

}  // namespace dc::io::prepare
