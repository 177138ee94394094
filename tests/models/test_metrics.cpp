// AUROC (scikit-learn roc_auc_score semantics, ties share rank) and AUPR (average
// precision) against hand-computed cases and an independent O(n^2) pair count.
#include <doctest/doctest.h>

#include <vector>

#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "models/metrics.h"

using dc::aupr;
using dc::auroc;

TEST_CASE("AUROC: hand-computed cases") {
  // sklearn docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] -> 0.75
  CHECK(auroc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}) == doctest::Approx(0.75));
  CHECK(auroc({0.9f, 0.8f, 0.2f, 0.1f}, {1, 1, 0, 0}) == doctest::Approx(1.0));
  CHECK(auroc({0.9f, 0.8f, 0.2f, 0.1f}, {0, 0, 1, 1}) == doctest::Approx(0.0));
  // All scores tied: every pair counts 1/2.
  CHECK(auroc({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}) == doctest::Approx(0.5));
  // One tie across classes: pairs (p=.7 vs n=.7) 1/2, (p=.7 vs n=.1) 1, (p=.2 vs n=.7) 0,
  // (p=.2 vs n=.1) 1 -> 2.5 / 4.
  CHECK(auroc({0.7f, 0.2f, 0.7f, 0.1f}, {1, 1, 0, 0}) == doctest::Approx(0.625));
}

TEST_CASE("AUPR: hand-computed cases (average precision)") {
  // sklearn docs example: y = [0,0,1,1], s = [0.1,0.4,0.35,0.8] -> 0.8333...
  // thresholds .8: P=1 R=.5 ; .4: P=.5 R=.5 ; .35: P=2/3 R=1 -> .5*1 + .5*2/3 = 0.8333
  CHECK(aupr({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}) == doctest::Approx(5.0 / 6.0));
  CHECK(aupr({0.9f, 0.8f, 0.2f, 0.1f}, {1, 1, 0, 0}) == doctest::Approx(1.0));
  // All tied: one threshold, P = 2/4, R = 1 -> 0.5
  CHECK(aupr({0.3f, 0.3f, 0.3f, 0.3f}, {1, 0, 1, 0}) == doctest::Approx(0.5));
  // Tie at the top between a positive and a negative: threshold .9 -> P=1/2, R=1/2;
  // threshold .5 -> P=2/3, R=1 -> .5*.5 + .5*2/3 = 0.58333
  CHECK(aupr({0.9f, 0.9f, 0.5f, 0.1f}, {1, 0, 1, 0}) == doctest::Approx(0.25 + 1.0 / 3.0));
}

TEST_CASE("AUROC equals the tie-aware pair count on random data with many ties") {
  dc::CounterRng rng(5, 9);
  for (int trial = 0; trial < 20; ++trial) {
    const int n = 50 + trial * 7;
    std::vector<float> s(n);
    std::vector<int8_t> y(n);
    for (int i = 0; i < n; ++i) {
      s[i] = static_cast<float>(rng.below(10)) / 10.0f;  // coarse scores: many ties
      y[i] = static_cast<int8_t>(rng.below(2));
    }
    y[0] = 0;
    y[1] = 1;
    double pairs = 0, wins = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        if (y[i] == 1 && y[j] == 0) {
          pairs += 1;
          wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        }
    CHECK(auroc(s, y) == doctest::Approx(wins / pairs).epsilon(1e-12));
  }
}

TEST_CASE("metrics reject undefined inputs") {
  CHECK_THROWS_AS(auroc({0.1f, 0.2f}, {1, 1}), dc::InputError);
  CHECK_THROWS_AS(aupr({0.1f, 0.2f}, {0, 0}), dc::InputError);
  CHECK_THROWS_AS(auroc({0.1f}, {0, 1}), dc::InputError);
}
