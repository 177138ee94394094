// What a trained model learned, by the two papers' methods and two attribution methods:
//
//   class maps (DeepChrome's "class-model visualisation", SPEC.md): the input that the model
//     finds most typical of a class, optimised from random starts with the model in eval
//     mode: X ~ U(0,1) (5 x 100), minimise -log P(class | X) + lambda ||X||^2 by RMSprop,
//     then clamp to [0, 1], divide by the maximum (an all-zero map stays zero);
//   gradient x input of P(class), per gene;
//   integrated gradients of P(class) against the all-zero input, per gene (midpoint rule);
//   attention (AttentiveChrome and lstm-attn): the attention paid, averaged per class.
//
// Maps are 5 marks x 100 bins (mark-major, the data's layout). Everything runs on the model's
// device through the engine (input gradients come from autograd); the parameters get no
// gradient while explaining. Same model, data and options give the same numbers.
#pragma once

#include <cstdint>
#include <vector>

#include "models/data_view.h"
#include "models/model.h"

namespace dc::explain {

inline constexpr int kMapSize = kInputMarks * kInputBins;
using Map = std::vector<double>;  // kMapSize values, mark-major

struct ClassMapOptions {
  int restarts = 5, iterations = 1000;
  double lambda = 0.009, lr = 0.1;  // SPEC.md: lambda 0.009, RMSprop learning rate 0.1
  uint64_t seed = 1;
};

struct ClassMap {
  Map mean, sd;               // over the restarts (sd: sample standard deviation; 0 for one)
  std::vector<Map> restarts;  // each clamped and normalised
  double objective = 0;       // the last iteration's mean objective over the restarts
};

// The class maps of class 0 (low) and 1 (high), optimised together (one batch).
struct ClassMaps {
  ClassMap low, high;
};
ClassMaps class_maps(Model& model, const ClassMapOptions& options);

enum class Method { GradientTimesInput, IntegratedGradients };

struct AttributionOptions {
  int steps = 32;         // integrated gradients: points on the path from 0 to x
  int batch_size = 128;   // examples per forward/backward
};

// Attributions of P(cls) for the genes `genes` of `data` (indices into it): (genes.size(),
// 5, 100) values, gene-major. Gradient x input: x * dP/dx. Integrated gradients:
// x * mean_k dP/dx at ((k - 1/2) / steps) x, k = 1..steps; they add up to about
// P(x) - P(0) (completeness).
std::vector<float> attribute(Model& model, const DataView& data, const std::vector<size_t>& genes, int cls, Method method,
                             const AttributionOptions& options);

// The genes of `data` whose label is `cls`, in order.
std::vector<size_t> genes_of_class(const DataView& data, int cls);

// The mean of per-gene maps (as attribute returns them).
Map mean_map(const std::vector<float>& per_gene);

// The attention the model pays, averaged over the genes of each class (eval mode).
struct AttentionMeans {
  bool available = false;
  int rows = 0;                        // 5 (one distribution per mark) or 1 (one over all marks)
  std::vector<double> bins[2];         // [class] rows x 100
  std::vector<double> marks[2];        // [class] 5 values; empty without mark-level attention
};
AttentionMeans attention_means(Model& model, const DataView& data, int batch_size = 256);

// How much each mark speaks for a class in `map`: the positive part summed over the bins,
// normalised to sum to 1 (all zeros when nothing is positive).
std::vector<double> mark_importance(const Map& map);

// Spearman's rank correlation (average ranks for ties); 0 when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace dc::explain
