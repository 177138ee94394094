#include "models/explain.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "kernels/base/error.h"
#include "kernels/base/hash.h"
#include "kernels/base/philox.h"
#include "models/trainer.h"

namespace dc::explain {
namespace {

// The model's parameters need no gradient while its input is explained: switched off for a
// scope (backward then stops at the input), restored after.
class FrozenParameters {
 public:
  explicit FrozenParameters(Model& model) : model_(model) {
    for (auto& p : model_.parameters()) {
      was_.push_back(p.tensor.requires_grad());
      p.tensor.set_requires_grad(false);
    }
  }
  ~FrozenParameters() {
    for (size_t i = 0; i < was_.size(); ++i) model_.parameters()[i].tensor.set_requires_grad(was_[i]);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  Model& model_;
  std::vector<bool> was_;
};

// Clamped to [0, 1] and divided by its maximum (an all-zero map stays zero).
Map normalised(const float* x) {
  Map m(x, x + kMapSize);
  double top = 0;
  for (double& v : m) {
    v = std::clamp(v, 0.0, 1.0);
    top = std::max(top, v);
  }
  if (top > 0)
    for (double& v : m) v /= top;
  return m;
}

ClassMap summarise(std::vector<Map> restarts, double objective) {
  ClassMap c;
  const size_t R = restarts.size();
  c.mean.assign(kMapSize, 0.0);
  c.sd.assign(kMapSize, 0.0);
  for (const Map& m : restarts)
    for (int i = 0; i < kMapSize; ++i) c.mean[i] += m[i] / static_cast<double>(R);
  if (R > 1) {
    for (const Map& m : restarts)
      for (int i = 0; i < kMapSize; ++i) c.sd[i] += (m[i] - c.mean[i]) * (m[i] - c.mean[i]);
    for (double& v : c.sd) v = std::sqrt(v / static_cast<double>(R - 1));
  }
  c.restarts = std::move(restarts);
  c.objective = objective;
  return c;
}

constexpr uint64_t kClassMapStream = fnv1a("explain.class_map");

}  // namespace

ClassMaps class_maps(Model& model, const ClassMapOptions& o) {
  if (o.restarts < 1 || o.iterations < 1)
    throw InputError("class maps: restarts and iterations must be >= 1, got " + std::to_string(o.restarts) + " and " +
                     std::to_string(o.iterations));
  FrozenParameters frozen(model);
  const Device device = model.device();
  // Rows 0..R-1 optimise towards class low, R..2R-1 towards high: one batch for both.
  const int R = o.restarts, B = 2 * R;
  std::vector<float> init(static_cast<size_t>(B) * kMapSize), labels(static_cast<size_t>(B));
  for (size_t i = 0; i < init.size(); ++i) init[i] = uniform01(o.seed, kClassMapStream, i);
  for (int r = 0; r < B; ++r) labels[static_cast<size_t>(r)] = r < R ? 0.0f : 1.0f;
  Tensor x = Tensor::from_vector({B, kInputMarks, kInputBins}, init, device);
  x.set_requires_grad(true);
  const Tensor y = Tensor::from_vector({B}, labels, device);
  // Each row's objective -log P(class | x_r) + lambda ||x_r||^2, summed over the rows (the
  // rows do not interact, so each gets its own gradient): B * mean NLL + lambda * sum x^2.
  const Tensor rows = Tensor::full({}, static_cast<float>(B), device);
  const Tensor lambda = Tensor::full({}, static_cast<float>(o.lambda), device);
  Rmsprop opt({{"x", x}}, RmspropOptions{o.lr, 0.99, 1e-8});
  Tensor objective;
  for (int it = 0; it < o.iterations; ++it) {
    opt.zero_grad();
    const Tensor out = model.forward(x, false, 0).output;
    objective = add(mul(model.nll(out, y), rows), mul(sum(mul(x, x)), lambda));
    objective.backward();
    opt.step();
  }
  const double last = objective.item() / B;
  if (!std::isfinite(last)) throw Error("class maps: the objective is not finite (" + std::to_string(last) + ")");
  const std::vector<float> v = x.to_vector();
  std::vector<Map> low, high;
  for (int r = 0; r < B; ++r) (r < R ? low : high).push_back(normalised(v.data() + static_cast<size_t>(r) * kMapSize));
  return {summarise(std::move(low), last), summarise(std::move(high), last)};
}

std::vector<size_t> genes_of_class(const DataView& data, int cls) {
  std::vector<size_t> genes;
  if (!data.labels) throw InputError("attributions per class need labelled genes");
  for (size_t i = 0; i < data.n; ++i)
    if (data.labels[i] == cls) genes.push_back(i);
  return genes;
}

std::vector<float> attribute(Model& model, const DataView& data, const std::vector<size_t>& genes, int cls, Method method,
                             const AttributionOptions& o) {
  if (cls != 0 && cls != 1) throw Error("attribute: class must be 0 or 1");
  if (o.batch_size < 1 || o.steps < 1) throw InputError("attributions: batch size and steps must be >= 1");
  FrozenParameters frozen(model);
  const Device device = model.device();
  const bool ig = method == Method::IntegratedGradients;
  const int steps = ig ? o.steps : 1;
  const size_t per_batch = static_cast<size_t>(std::max(1, o.batch_size / steps));
  std::vector<float> out(genes.size() * kMapSize);
  std::vector<float> batch;
  for (size_t g0 = 0; g0 < genes.size(); g0 += per_batch) {
    const size_t count = std::min(per_batch, genes.size() - g0);
    const int64_t rows = static_cast<int64_t>(count) * steps;
    // Row (j, k): gene j scaled by (k + 1/2) / steps (integrated gradients), or gene j itself.
    batch.resize(static_cast<size_t>(rows) * kMapSize);
    for (size_t j = 0; j < count; ++j) {
      const float* xg = data.x + genes[g0 + j] * kMapSize;
      for (int k = 0; k < steps; ++k) {
        const float a = ig ? (static_cast<float>(k) + 0.5f) / static_cast<float>(steps) : 1.0f;
        float* dst = batch.data() + (j * steps + k) * kMapSize;
        for (int i = 0; i < kMapSize; ++i) dst[i] = a * xg[i];
      }
    }
    Tensor x = Tensor::from_vector({rows, kInputMarks, kInputBins}, batch, device);
    x.set_requires_grad(true);
    const Tensor p = model.class_probability(model.forward(x, false, 0).output, cls);
    p.backward(Tensor::full({rows}, 1.0f, device));
    const std::vector<float> grad = x.grad().to_vector();
    for (size_t j = 0; j < count; ++j) {
      const float* xg = data.x + genes[g0 + j] * kMapSize;
      float* dst = out.data() + (g0 + j) * kMapSize;
      for (int i = 0; i < kMapSize; ++i) {
        double s = 0;  // the mean gradient along the path, in a fixed order
        for (int k = 0; k < steps; ++k) s += grad[(j * steps + k) * kMapSize + i];
        dst[i] = static_cast<float>(xg[i] * (s / steps));
      }
    }
  }
  return out;
}

Map mean_map(const std::vector<float>& per_gene) {
  Map m(kMapSize, 0.0);
  const size_t n = per_gene.size() / kMapSize;
  if (n == 0) return m;
  for (size_t g = 0; g < n; ++g)
    for (int i = 0; i < kMapSize; ++i) m[i] += per_gene[g * kMapSize + i];
  for (double& v : m) v /= static_cast<double>(n);
  return m;
}

AttentionMeans attention_means(Model& model, const DataView& data, int batch_size) {
  NoGradGuard no_grad;
  AttentionMeans a;
  if (!data.labels) throw InputError("attention per class needs labelled genes");
  size_t count[2] = {0, 0};
  Tensor x, labels;
  std::vector<size_t> index(data.n);
  std::iota(index.begin(), index.end(), size_t{0});
  for (size_t b = 0; b < data.n; b += static_cast<size_t>(batch_size)) {
    const size_t n = std::min(static_cast<size_t>(batch_size), data.n - b);
    gather_batch(data, index.data() + b, n, x, labels);
    const ModelOutput o = model.forward(model.device() == Device::CPU ? x : x.to(model.device()), false, 0);
    if (!o.bin_attention.defined()) return {};
    a.available = true;
    a.rows = static_cast<int>(o.bin_attention.size(1));
    const std::vector<float> bins = o.bin_attention.to_vector();
    const std::vector<float> marks = o.mark_attention.defined() ? o.mark_attention.to_vector() : std::vector<float>{};
    const size_t nb = static_cast<size_t>(a.rows) * kInputBins;
    for (size_t i = 0; i < n; ++i) {
      const int c = data.labels[b + i] == 1 ? 1 : 0;
      a.bins[c].resize(nb, 0.0);
      for (size_t k = 0; k < nb; ++k) a.bins[c][k] += bins[i * nb + k];
      if (!marks.empty()) {
        a.marks[c].resize(kInputMarks, 0.0);
        for (int m = 0; m < kInputMarks; ++m) a.marks[c][m] += marks[i * kInputMarks + m];
      }
      ++count[c];
    }
  }
  for (int c = 0; c < 2; ++c) {
    if (count[c] == 0) continue;
    for (double& v : a.bins[c]) v /= static_cast<double>(count[c]);
    for (double& v : a.marks[c]) v /= static_cast<double>(count[c]);
  }
  return a;
}

std::vector<double> mark_importance(const Map& map) {
  std::vector<double> imp(kInputMarks, 0.0);
  for (int m = 0; m < kInputMarks; ++m)
    for (int b = 0; b < kInputBins; ++b) imp[m] += std::max(0.0, map[static_cast<size_t>(m) * kInputBins + b]);
  const double total = std::accumulate(imp.begin(), imp.end(), 0.0);
  if (total > 0)
    for (double& v : imp) v /= total;
  return imp;
}

namespace {
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;  // ties share their mean rank
    for (size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}
}  // namespace

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2) throw Error("spearman: needs two samples of the same size >= 2");
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace dc::explain
