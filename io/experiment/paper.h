// The papers' published figures, compiled into the program from configs/paper/:
//   deepchrome_auc.csv - DeepChrome's supplementary table: the 56 REMC cell types (Roadmap
//                        epigenome id, name) and DeepChrome's test AUROC on each;
//   the AttentiveChrome paper's summary over the same 56 cells (it gives no per-cell table).
#pragma once

#include <string>
#include <vector>

namespace dc::io {

struct PaperCell {
  std::string id;     // "E003"
  std::string name;   // "H1_Cell_Line"
  double deepchrome_auroc = 0;
};

// The 56 cell types in the table's order.
const std::vector<PaperCell>& paper_cells();
// nullptr when `id` is not one of them.
const PaperCell* find_paper_cell(const std::string& id);

// A model's published summary over the 56 cell types (NaN where the paper gives none).
struct PaperSummary {
  double mean, median, min, max;
};
// For "deepchrome", "attentivechrome" and "lstm"; nullptr for other models.
const PaperSummary* paper_summary(const std::string& model);

// The difficulty `deepchrome simulate` gives a stand-in for a cell type (io/formats/simulate.h):
// the paper's 56 ids (E003, E004, ...) are spread evenly over [0.1, 0.9] in an order
// scrambled by a hash of the id (unrelated to the paper's figures); any other name gets 0.5.
double stand_in_difficulty(const std::string& cell);

}  // namespace dc::io
