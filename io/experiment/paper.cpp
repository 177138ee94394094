#include "io/experiment/paper.h"

#include "kernels/base/hash.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "kernels/base/error.h"

namespace dc::io {
namespace {

// configs/paper/deepchrome_auc.csv, embedded at configure time (see CMakeLists.txt).
const char* kPaperCsv =
#include "paper_table.inc"
    ;

std::vector<PaperCell> parse_table() {
  std::vector<PaperCell> cells;
  std::istringstream in(kPaperCsv);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line_no == 1) continue;  // header: cell,name,deepchrome_auc
    const size_t a = line.find(','), b = line.rfind(',');
    if (a == std::string::npos || a == b) throw Error("configs/paper/deepchrome_auc.csv:" + std::to_string(line_no) + ": bad row");
    PaperCell c;
    c.id = line.substr(0, a);
    c.name = line.substr(a + 1, b - a - 1);
    c.deepchrome_auroc = std::stod(line.substr(b + 1));
    cells.push_back(std::move(c));
  }
  return cells;
}

}  // namespace

const std::vector<PaperCell>& paper_cells() {
  static const std::vector<PaperCell> cells = parse_table();
  return cells;
}

const PaperCell* find_paper_cell(const std::string& id) {
  for (const auto& c : paper_cells())
    if (c.id == id) return &c;
  return nullptr;
}

const PaperSummary* paper_summary(const std::string& model) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  // AttentiveChrome (NeurIPS 2017), its comparison table over the 56 cells.
  static const PaperSummary attentive{0.8115, 0.8123, 0.7215, 0.9177};
  static const PaperSummary deepchrome{0.8008, 0.8009, nan, nan};
  static const PaperSummary lstm{0.8052, nan, nan, nan};
  if (model == "attentivechrome") return &attentive;
  if (model == "deepchrome") return &deepchrome;
  if (model == "lstm") return &lstm;
  return nullptr;
}

double stand_in_difficulty(const std::string& cell) {
  const auto& cells = paper_cells();
  if (!find_paper_cell(cell)) return 0.5;
  // Rank of this id's hash among all ids' hashes: an even spread in a scrambled order.
  const uint64_t h = name_hash(cell);
  size_t rank = 0;
  for (const auto& c : cells) rank += name_hash(c.id) < h;
  return 0.1 + 0.8 * static_cast<double>(rank) / static_cast<double>(cells.size() - 1);
}

}  // namespace dc::io
