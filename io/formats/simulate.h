// Simulated cell types in the DeepChrome release format, reproducible from a seed.
//
// Each gene has a latent expression level; the label is "above the cell type's median"
// (balanced, as in the release). The five marks are drawn from that level through a noisy
// view of it, so a good model lands in the paper's AUROC range rather than at 1.0:
//   expressed  - H3K4me3 peaked around the TSS (bins ~45-55), H3K36me3 rising over the gene
//                body downstream of the TSS (bins 51..100), H3K4me1 flanking the TSS;
//   repressed  - broad H3K27me3 (Polycomb targets) and/or H3K9me3 (heterochromatin);
//   everywhere - a smooth per-gene, per-mark background, a per-gene depth factor (some genes
//                nearly empty), and overdispersed counts (negative binomial) with many zeros.
// `difficulty` in [0, 1] sets how loosely the marks follow expression: 0 is easy (DeepChrome
// test AUROC ~0.9), 1 is hard (~0.7).
//
// Every gene draws from its own counter-based RNG stream (seed, cell, gene index), so the
// output is a pure function of (seed, cell name, genes, difficulty): identical for any
// thread count.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "io/formats/dataset.h"

namespace dc::io {

struct SimulateOptions {
  int genes = 19802;
  uint64_t seed = 7;
};

// Gene-level data without writing files (for tests/benchmarks): the three splits.
// Genes are split 1/3 each as the real release (19802 -> 6601/6601/6600: train and valid
// get the extra ones), at random; gene ids are zero-padded "000001".., listed in id order
// within each split. Throws dc::InputError when genes < 3 or difficulty is outside [0, 1].
struct SimulatedCell {
  Split train, valid, test;
};
SimulatedCell simulate_cell_data(const std::string& cell, const SimulateOptions& options, double difficulty = 0.5);

// Writes root/<cell>/classification/{train,valid,test}.csv for one cell type (each file
// atomically; directories created as needed), root/<cell>/truth.json (planted_truth), then
// root/<cell>/simulated.json (generator, seed, genes, difficulty), which marks the cell type
// as simulated for `deepchrome sweep`.
void simulate_cell(const std::string& root, const std::string& cell, const SimulateOptions& options,
                   double difficulty = 0.5);


// What the simulator planted, the ground truth for `deepchrome explain`: per mark, its
// direction (which class it pushes towards), total effect, peak bin and the bins it acts
// over; the marks ranked by their evidence for each class; and the effect profile itself,
// E[mean count | high] - E[mean count | low] per mark and bin (marks in kMarkNames order).
nlohmann::json planted_truth(uint64_t seed, double difficulty);

// Whether root/<cell> holds a simulated cell type (simulated.json present).
bool is_simulated_cell(const std::string& root, const std::string& cell);

}  // namespace dc::io
