// Ranking metrics for a binary classifier, with scikit-learn's semantics.
//   auroc: roc_auc_score — the area under the ROC curve, tied scores handled as one
//          threshold (equivalently: the Mann-Whitney U with ties counted 1/2).
//   aupr : average_precision_score — sum over thresholds of (R_k - R_{k-1}) P_k, one
//          threshold per distinct score.
// Both throw dc::InputError when the labels hold only one class (the metric is undefined)
// or when the sizes differ. Labels are 0/1.
#pragma once

#include <cstdint>
#include <vector>

namespace dc {

double auroc(const std::vector<float>& scores, const std::vector<int8_t>& labels);
double aupr(const std::vector<float>& scores, const std::vector<int8_t>& labels);

}  // namespace dc
