// roc_curve / pr_curve (scikit-learn's roc_curve and precision_recall_curve semantics)
// against hand-computed points, and their areas against auroc / aupr on random data.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "models/metrics.h"

namespace {

void check_points(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}

std::vector<double> as_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

double trapezoid(const dc::RocCurve& c) {
  double a = 0;
  for (size_t i = 1; i < c.fpr.size(); ++i) a += (c.fpr[i] - c.fpr[i - 1]) * (c.tpr[i] + c.tpr[i - 1]) / 2;
  return a;
}

double step_sum(const dc::PrCurve& c) {
  double a = 0;
  for (size_t i = 0; i + 1 < c.recall.size(); ++i) a += (c.recall[i] - c.recall[i + 1]) * c.precision[i];
  return a;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("roc_curve: hand-computed points, ties as one threshold") {
  // scikit-learn's docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8].
  dc::RocCurve c = dc::roc_curve({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1});
  check_points(c.fpr, {0, 0, 0.5, 0.5, 1}, "fpr");
  check_points(c.tpr, {0, 0.5, 0.5, 1, 1}, "tpr");
  CHECK(c.thresholds[0] == kInf);
  check_points({c.thresholds.begin() + 1, c.thresholds.end()}, as_double({0.8f, 0.4f, 0.35f, 0.1f}), "thresholds");

  // A positive and a negative tied at 0.7: one point that moves both rates (the diagonal
  // step that gives the tie half credit), then the other positive at 0.2.
  c = dc::roc_curve({0.7f, 0.2f, 0.7f, 0.1f}, {1, 1, 0, 0});
  check_points(c.fpr, {0, 0.5, 0.5, 1}, "fpr");
  check_points(c.tpr, {0, 0.5, 1, 1}, "tpr");
  CHECK(trapezoid(c) == doctest::Approx(0.625));

  // All scores tied: (0,0) and (1,1) only.
  c = dc::roc_curve({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1});
  check_points(c.fpr, {0, 1}, "fpr");
  check_points(c.tpr, {0, 1}, "tpr");
}

TEST_CASE("roc_curve: drop_intermediate drops the inner points of straight runs, as scikit-learn") {
  // Perfect ranking, one gene per score: tp = 1,2,3,3,3,3, fp = 0,0,0,1,2,3.
  const std::vector<float> s = {0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};
  const std::vector<int8_t> y = {1, 1, 1, 0, 0, 0};
  dc::RocCurve all = dc::roc_curve(s, y, false);
  check_points(all.fpr, {0, 0, 0, 0, 1.0 / 3, 2.0 / 3, 1}, "fpr (all)");
  check_points(all.tpr, {0, 1.0 / 3, 2.0 / 3, 1, 1, 1, 1}, "tpr (all)");
  // sklearn.metrics.roc_curve(y, s): fpr [0, 0, 0, 1], tpr [0, 1/3, 1, 1], thresholds [inf, .9, .7, .4].
  dc::RocCurve kept = dc::roc_curve(s, y);
  check_points(kept.fpr, {0, 0, 0, 1}, "fpr");
  check_points(kept.tpr, {0, 1.0 / 3, 1, 1}, "tpr");
  check_points({kept.thresholds.begin() + 1, kept.thresholds.end()}, as_double({0.9f, 0.7f, 0.4f}), "thresholds");
  CHECK(trapezoid(kept) == doctest::Approx(1.0));
}

TEST_CASE("pr_curve: hand-computed points in scikit-learn's order") {
  // precision_recall_curve([0,0,1,1], [0.1,0.4,0.35,0.8]):
  // precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0], thresholds [0.1, 0.35, 0.4, 0.8].
  dc::PrCurve c = dc::pr_curve({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1});
  check_points(c.precision, {0.5, 2.0 / 3, 0.5, 1, 1}, "precision");
  check_points(c.recall, {1, 1, 0.5, 0.5, 0}, "recall");
  check_points(c.thresholds, as_double({0.1f, 0.35f, 0.4f, 0.8f}), "thresholds");
  CHECK(step_sum(c) == doctest::Approx(5.0 / 6.0));

  // A positive and a negative tied at the top: one threshold with precision 1/2.
  c = dc::pr_curve({0.9f, 0.9f, 0.5f, 0.1f}, {1, 0, 1, 0});
  check_points(c.precision, {0.5, 2.0 / 3, 0.5, 1}, "precision");
  check_points(c.recall, {1, 1, 0.5, 0}, "recall");
  check_points(c.thresholds, as_double({0.1f, 0.5f, 0.9f}), "thresholds");
}

TEST_CASE("curve areas equal auroc and aupr on random data with many ties") {
  dc::CounterRng rng(11, 3);
  for (int trial = 0; trial < 30; ++trial) {
    const int n = 20 + trial * 13;
    std::vector<float> s(n);
    std::vector<int8_t> y(n);
    for (int i = 0; i < n; ++i) {
      s[i] = static_cast<float>(rng.below(trial % 2 ? 7 : 1000)) / 10.0f;  // coarse scores (many ties) or fine ones
      y[i] = static_cast<int8_t>(rng.below(2));
    }
    y[0] = 0;
    y[1] = 1;
    CAPTURE(trial);
    for (bool drop : {false, true}) {
      const dc::RocCurve roc = dc::roc_curve(s, y, drop);
      CHECK(trapezoid(roc) == doctest::Approx(dc::auroc(s, y)).epsilon(1e-12));
      CHECK(roc.fpr.back() == 1.0);
      CHECK(roc.tpr.back() == 1.0);
      for (size_t i = 1; i < roc.fpr.size(); ++i) {
        CHECK(roc.fpr[i] >= roc.fpr[i - 1]);
        CHECK(roc.tpr[i] >= roc.tpr[i - 1]);
        CHECK(roc.thresholds[i] < roc.thresholds[i - 1]);
      }
    }
    const dc::PrCurve pr = dc::pr_curve(s, y);
    CHECK(step_sum(pr) == doctest::Approx(dc::aupr(s, y)).epsilon(1e-12));
    CHECK(pr.precision.size() == pr.thresholds.size() + 1);
    CHECK(pr.recall.front() == 1.0);
  }
}

TEST_CASE("curves reject undefined inputs like the metrics") {
  CHECK_THROWS_AS(dc::roc_curve({0.1f, 0.2f}, {1, 1}), dc::InputError);
  CHECK_THROWS_AS(dc::pr_curve({0.1f, 0.2f}, {0, 0}), dc::InputError);
  CHECK_THROWS_AS(dc::roc_curve({0.1f}, {0, 1}), dc::InputError);
  CHECK_THROWS_AS(dc::pr_curve({std::nanf(""), 0.2f}, {0, 1}), dc::InputError);
}
