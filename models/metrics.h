// Ranking metrics for a binary classifier, with scikit-learn's semantics.
//   auroc: roc_auc_score — the area under the ROC curve, tied scores handled as one
//          threshold (equivalently: the Mann-Whitney U with ties counted 1/2).
//   aupr : average_precision_score — sum over thresholds of (R_k - R_{k-1}) P_k, one
//          threshold per distinct score.
//   roc_curve: roc_curve — (fpr, tpr) at every distinct score from high to low, after a
//          first point (0, 0) at threshold +inf; tied scores are one point. With
//          drop_intermediate (scikit-learn's default) points whose both neighbours continue
//          the same step (second differences of fp and tp both zero) are dropped: the curve
//          and its trapezoid area (= auroc) are unchanged.
//   pr_curve: precision_recall_curve — thresholds are the distinct scores from LOW to high;
//          precision/recall have one more entry, the last being (recall 0, precision 1).
//          average_precision = sum_i (recall[i] - recall[i+1]) * precision[i] (= aupr).
// All throw dc::InputError when the labels hold only one class (the metric is undefined)
// or when the sizes differ. Labels are 0/1.
#pragma once

#include <cstdint>
#include <vector>

namespace dc {

double auroc(const std::vector<float>& scores, const std::vector<int8_t>& labels);
double aupr(const std::vector<float>& scores, const std::vector<int8_t>& labels);

struct RocCurve {
  std::vector<double> fpr, tpr;  // same length, from (0, 0) to (1, 1)
  std::vector<double> thresholds;  // score at which each point is reached; thresholds[0] = +inf
};
RocCurve roc_curve(const std::vector<float>& scores, const std::vector<int8_t>& labels, bool drop_intermediate = true);

struct PrCurve {
  std::vector<double> precision, recall;  // thresholds.size() + 1 entries, recall decreasing
  std::vector<double> thresholds;         // distinct scores, increasing
};
PrCurve pr_curve(const std::vector<float>& scores, const std::vector<int8_t>& labels);

}  // namespace dc
