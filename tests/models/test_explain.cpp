// The explain methods (models/explain.h): input gradients against finite differences for
// every model of the registry, integrated gradients' completeness, class maps' recipe
// (range, normalisation, determinism, the objective going down), attention means, mark
// importance and Spearman's rho on hand-computed cases.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/explain.h"
#include "models/registry.h"
#include "models/trainer.h"
#include "test_util.h"

using namespace dc;
using namespace dc::test;
namespace ex = dc::explain;

namespace {

// n genes of count-like inputs (0..8) with alternating labels.
struct Genes {
  std::vector<float> x;
  std::vector<int8_t> labels;
  DataView view() const { return {x.data(), labels.data(), labels.size()}; }
};

Genes make_genes(size_t n, uint64_t seed) {
  Genes g;
  g.x = random_vector<float>(n * ex::kMapSize, seed, 0.0, 8.0);
  for (size_t i = 0; i < n; ++i) g.labels.push_back(static_cast<int8_t>(i % 2));
  return g;
}

// P(cls) of one gene through the model, in double.
double prob(Model& m, const float* x, int cls) {
  NoGradGuard no_grad;
  const Tensor t = Tensor::from_vector({1, kInputMarks, kInputBins}, std::vector<float>(x, x + ex::kMapSize));
  return m.class_probability(m.forward(t, false, 0).output, cls).item();
}

}  // namespace

TEST_CASE("explain: gradient x input is x times dP/dx, which matches finite differences (every model)") {
  const Genes g = make_genes(3, 11);
  for (const std::string& name : model_names()) {
    CAPTURE(name);
    auto model = create_model(model_defaults(name), 7);
    for (int cls : {0, 1}) {
      CAPTURE(cls);
      const std::vector<size_t> genes = {0, 2};
      const std::vector<float> attr =
          ex::attribute(*model, g.view(), genes, cls, ex::Method::GradientTimesInput, {});
      REQUIRE(attr.size() == 2 * ex::kMapSize);
      // Central differences of P in float at a few inputs of each gene (step 0.05 on counts).
      for (size_t j = 0; j < genes.size(); ++j) {
        std::vector<float> x(g.x.begin() + genes[j] * ex::kMapSize, g.x.begin() + (genes[j] + 1) * ex::kMapSize);
        for (int i : {0, 49, 50, 151, 333, 499}) {
          const float keep = x[i];
          const float h = 0.05f;
          x[i] = keep + h;
          const double up = prob(*model, x.data(), cls);
          x[i] = keep - h;
          const double down = prob(*model, x.data(), cls);
          x[i] = keep;
          const double numeric = keep * (up - down) / (2 * h);
          const double got = attr[j * ex::kMapSize + i];
          INFO("gene " << genes[j] << " input " << i << ": got " << got << ", finite differences " << numeric);
          CHECK(std::fabs(got - numeric) <= 2e-4 + 2e-2 * std::fabs(numeric));
        }
      }
    }
    // The parameters got no gradient, and require one again afterwards.
    for (const auto& p : model->parameters()) {
      CHECK(p.tensor.requires_grad());
      CHECK_FALSE(p.tensor.grad().defined());
    }
  }
}

TEST_CASE("explain: integrated gradients add up to P(x) - P(0) (completeness)") {
  const Genes g = make_genes(4, 21);
  for (const char* name : {"attentivechrome", "lstm", "deepchrome", "mlp"}) {
    CAPTURE(name);
    auto model = create_model(model_defaults(name), 3);
    const std::vector<size_t> genes = {0, 1, 2, 3};
    // ReLU networks are piecewise linear along the path: more steps than the default 32 keep
    // the midpoint rule within 1% there; the LSTMs are smooth.
    ex::AttributionOptions o;
    o.steps = std::string(name) == "deepchrome" || std::string(name) == "mlp" ? 256 : 32;
    for (int cls : {0, 1}) {
      const std::vector<float> attr = ex::attribute(*model, g.view(), genes, cls, ex::Method::IntegratedGradients, o);
      const std::vector<float> zero(ex::kMapSize, 0.0f);
      const double p0 = prob(*model, zero.data(), cls);
      for (size_t j = 0; j < genes.size(); ++j) {
        const double total = std::accumulate(attr.begin() + j * ex::kMapSize, attr.begin() + (j + 1) * ex::kMapSize, 0.0);
        const double delta = prob(*model, g.x.data() + j * ex::kMapSize, cls) - p0;
        INFO("class " << cls << " gene " << j << ": sum " << total << ", P(x) - P(0) " << delta);
        CHECK(std::fabs(total - delta) <= 0.01 * std::fabs(delta) + 1e-5);
      }
    }
  }
}

TEST_CASE("explain: class maps follow the recipe: [0, 1], maximum 1, deterministic, the objective goes down") {
  for (const char* name : {"deepchrome", "attentivechrome"}) {
    CAPTURE(name);
    auto model = create_model(model_defaults(name), 5);
    ex::ClassMapOptions few;
    few.restarts = 3;
    few.iterations = 1;
    ex::ClassMapOptions o = few;
    o.iterations = 60;
    const ex::ClassMaps start = ex::class_maps(*model, few), maps = ex::class_maps(*model, o);
    CHECK(maps.high.objective < start.high.objective);
    for (const ex::ClassMap* c : {&maps.low, &maps.high}) {
      REQUIRE(c->restarts.size() == 3);
      for (const ex::Map& m : c->restarts) {
        REQUIRE(m.size() == static_cast<size_t>(ex::kMapSize));
        CHECK(*std::min_element(m.begin(), m.end()) >= 0.0);
        CHECK(*std::max_element(m.begin(), m.end()) == 1.0);
      }
      for (int i = 0; i < ex::kMapSize; ++i) {
        const double mean = (c->restarts[0][i] + c->restarts[1][i] + c->restarts[2][i]) / 3;
        CHECK(c->mean[i] == doctest::Approx(mean).epsilon(1e-12));
        CHECK(c->sd[i] >= 0.0);
      }
    }
    // The same model and options: the same maps.
    const ex::ClassMaps again = ex::class_maps(*model, o);
    CHECK(again.high.mean == maps.high.mean);
    CHECK(again.low.sd == maps.low.sd);
    // The parameters are untouched.
    auto fresh = create_model(model_defaults(name), 5);
    for (size_t i = 0; i < fresh->parameters().size(); ++i)
      CHECK(bit_identical(fresh->parameters()[i].tensor.to_vector(), model->parameters()[i].tensor.to_vector()));
  }
}

TEST_CASE("explain: attention means per class are the mean of what forward returns") {
  const Genes g = make_genes(6, 31);
  auto model = create_model(model_defaults("attentivechrome"), 2);
  const ex::AttentionMeans a = ex::attention_means(*model, g.view(), 4);  // two batches
  REQUIRE(a.available);
  CHECK(a.rows == 5);
  NoGradGuard no_grad;
  const ModelOutput o = model->forward(Tensor::from_vector({6, kInputMarks, kInputBins}, g.x), false, 0);
  const std::vector<float> bins = o.bin_attention.to_vector(), marks = o.mark_attention.to_vector();
  for (int c = 0; c < 2; ++c) {
    for (int k = 0; k < 500; k += 37) {
      double m = 0;
      for (int i = c; i < 6; i += 2) m += bins[static_cast<size_t>(i) * 500 + k] / 3;
      CHECK(a.bins[c][k] == doctest::Approx(m).epsilon(1e-6));
    }
    double beta = 0;
    for (int m = 0; m < 5; ++m) beta += a.marks[c][m];
    CHECK(beta == doctest::Approx(1.0).epsilon(1e-6));
  }
  auto cnn = create_model(model_defaults("deepchrome"), 2);
  CHECK_FALSE(ex::attention_means(*cnn, g.view()).available);
}

TEST_CASE("explain: mark importance and Spearman's rho (hand-computed)") {
  ex::Map m(500, 0.0);
  m[0] = 2;     // mark 0: +2 - 1 -> 2 (only the positive part)
  m[1] = -1;
  m[100] = 1;   // mark 1: 1 + 1 = 2
  m[199] = 1;
  m[300] = 4;   // mark 3: 4
  const std::vector<double> imp = ex::mark_importance(m);
  CHECK(imp == std::vector<double>{0.25, 0.25, 0.0, 0.5, 0.0});
  CHECK(ex::mark_importance(ex::Map(500, -1.0)) == std::vector<double>(5, 0.0));
  CHECK(ex::spearman({1, 2, 3, 4, 5}, {10, 20, 30, 40, 50}) == doctest::Approx(1.0));
  CHECK(ex::spearman({1, 2, 3, 4, 5}, {5, 4, 3, 2, 1}) == doctest::Approx(-1.0));
  // Ties share their mean rank: ranks (1.5, 1.5, 3) vs (1, 2, 3) -> rho = 0.866...
  CHECK(ex::spearman({7, 7, 9}, {1, 2, 3}) == doctest::Approx(std::sqrt(3.0) / 2).epsilon(1e-12));
  CHECK(ex::spearman({1, 1, 1}, {1, 2, 3}) == 0.0);
}
