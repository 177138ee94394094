#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/base/error.h"

namespace dc {
namespace {

struct Counts {
  std::vector<size_t> order;  // indices by decreasing score
  size_t pos = 0, neg = 0;
};

Counts prepare(const std::vector<float>& scores, const std::vector<int8_t>& labels, const char* metric) {
  if (scores.size() != labels.size())
    throw InputError(std::string(metric) + ": " + std::to_string(scores.size()) + " scores but " +
                     std::to_string(labels.size()) + " labels");
  Counts c;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      throw InputError(std::string(metric) + ": label " + std::to_string(labels[i]) + " at index " +
                       std::to_string(i) + " is not 0/1");
    if (std::isnan(scores[i])) throw InputError(std::string(metric) + ": score at index " + std::to_string(i) + " is NaN");
    (labels[i] ? c.pos : c.neg)++;
  }
  if (c.pos == 0 || c.neg == 0)
    throw InputError(std::string(metric) + " is undefined: only one class present in the labels");
  c.order.resize(scores.size());
  std::iota(c.order.begin(), c.order.end(), size_t{0});
  std::stable_sort(c.order.begin(), c.order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return c;
}

}  // namespace

double auroc(const std::vector<float>& scores, const std::vector<int8_t>& labels) {
  const Counts c = prepare(scores, labels, "AUROC");
  // Walk thresholds from high to low; each group of tied scores is one ROC step, whose
  // area is a trapezoid (this is what gives ties half credit).
  double tp = 0, fp = 0, area = 0;
  for (size_t i = 0; i < c.order.size();) {
    size_t j = i;
    double dtp = 0, dfp = 0;
    while (j < c.order.size() && scores[c.order[j]] == scores[c.order[i]]) {
      (labels[c.order[j]] ? dtp : dfp) += 1;
      ++j;
    }
    area += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
    i = j;
  }
  return area / (static_cast<double>(c.pos) * static_cast<double>(c.neg));
}

double aupr(const std::vector<float>& scores, const std::vector<int8_t>& labels) {
  const Counts c = prepare(scores, labels, "AUPR");
  double tp = 0, fp = 0, ap = 0, prev_recall = 0;
  for (size_t i = 0; i < c.order.size();) {
    size_t j = i;
    while (j < c.order.size() && scores[c.order[j]] == scores[c.order[i]]) {
      (labels[c.order[j]] ? tp : fp) += 1;
      ++j;
    }
    const double recall = tp / static_cast<double>(c.pos), precision = tp / (tp + fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    i = j;
  }
  return ap;
}

}  // namespace dc

namespace dc {
namespace {

// scikit-learn's _binary_clf_curve: one entry per distinct score, from high to low, with
// the cumulative true and false positives of predicting "high" at or above it.
struct ThresholdCounts {
  std::vector<double> thresholds, tps, fps;
};

ThresholdCounts threshold_counts(const std::vector<float>& scores, const std::vector<int8_t>& labels, const char* metric) {
  const Counts c = prepare(scores, labels, metric);
  ThresholdCounts t;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < c.order.size();) {
    size_t j = i;
    const float s = scores[c.order[i]];
    while (j < c.order.size() && scores[c.order[j]] == s) {
      (labels[c.order[j]] ? tp : fp) += 1;
      ++j;
    }
    t.thresholds.push_back(s);
    t.tps.push_back(tp);
    t.fps.push_back(fp);
    i = j;
  }
  return t;
}

}  // namespace

RocCurve roc_curve(const std::vector<float>& scores, const std::vector<int8_t>& labels, bool drop_intermediate) {
  ThresholdCounts t = threshold_counts(scores, labels, "ROC curve");
  std::vector<size_t> keep;
  const size_t n = t.thresholds.size();
  for (size_t i = 0; i < n; ++i) {
    // Interior points where fp and tp both advance by the same amount as before lie on
    // the straight segment joining their neighbours.
    const bool interior = drop_intermediate && n > 2 && i > 0 && i + 1 < n;
    if (interior && t.fps[i + 1] - 2 * t.fps[i] + t.fps[i - 1] == 0 && t.tps[i + 1] - 2 * t.tps[i] + t.tps[i - 1] == 0) continue;
    keep.push_back(i);
  }
  RocCurve r;
  const double pos = t.tps.back(), neg = t.fps.back();
  r.fpr.push_back(0);
  r.tpr.push_back(0);
  r.thresholds.push_back(std::numeric_limits<double>::infinity());
  for (size_t i : keep) {
    r.fpr.push_back(t.fps[i] / neg);
    r.tpr.push_back(t.tps[i] / pos);
    r.thresholds.push_back(t.thresholds[i]);
  }
  return r;
}

PrCurve pr_curve(const std::vector<float>& scores, const std::vector<int8_t>& labels) {
  const ThresholdCounts t = threshold_counts(scores, labels, "PR curve");
  PrCurve p;
  const double pos = t.tps.back();
  for (size_t k = t.thresholds.size(); k-- > 0;) {
    p.precision.push_back(t.tps[k] / (t.tps[k] + t.fps[k]));  // never 0/0: each threshold predicts >= 1 gene
    p.recall.push_back(t.tps[k] / pos);
    p.thresholds.push_back(t.thresholds[k]);
  }
  p.precision.push_back(1);
  p.recall.push_back(0);
  return p;
}

}  // namespace dc
