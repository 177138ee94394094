#include "io/formats/simulate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>
#include <string_view>
#include <vector>

#include "engine/parallel.h"
#include "kernels/base/error.h"
#include "kernels/base/hash.h"
#include "kernels/base/philox.h"
#include "io/formats/atomic_file.h"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace dc::io {

namespace {

// Mark channels, in kMarkNames order.
constexpr int kK27 = 0, kK36 = 1, kK4me1 = 2, kK4me3 = 3, kK9 = 4;

// RNG streams: one per gene, plus a few per cell (split assignment, cell-wide factors).
uint64_t gene_stream(uint64_t cell_hash, uint64_t gene) { return splitmix64(cell_hash ^ splitmix64(gene + 1)); }
uint64_t cell_stream(uint64_t cell_hash, uint64_t what) { return splitmix64(cell_hash + 0xC0FFEEull * (what + 1)); }

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// Negative binomial with mean `mu` and size 1.5 (variance mu + mu^2/1.5), by inverting the
// CDF with one uniform: P(0) = (r/(r+mu))^r, P(k+1) = P(k) (k+r)/(k+1) mu/(r+mu).
// Equivalent to Poisson(mu * Gamma(r)/r), i.e. the gamma-Poisson mixture.
constexpr double kDispersion = 1.5;  // small size = strong overdispersion, many zeros

// The count draws are most of the work: four uniforms per Philox call (32 bits each,
// plenty for inverting a CDF), from a stream of their own.
class CountUniforms {
 public:
  CountUniforms(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  double next() {
    if (left_ == 0) {
      const Philox4x32 r = philox4x32(static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32),
                                      static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32),
                                      static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32));
      ++block_;
      for (int i = 0; i < 4; ++i) bits_[i] = r.v[i];
      left_ = 4;
    }
    return (static_cast<double>(bits_[--left_]) + 0.5) * (1.0 / 4294967296.0);
  }

 private:
  uint64_t seed_, stream_, block_ = 0;
  uint32_t bits_[4] = {};
  int left_ = 0;
};

// (k + r) / (k + 1) for the CDF recursion, tabulated for the common small k.
struct RatioTable {
  double v[256];
  RatioTable() {
    for (int k = 0; k < 256; ++k) v[k] = (k + kDispersion) / (k + 1);
  }
};

float negative_binomial(CountUniforms& uniforms, double mu) {
  static const RatioTable ratio;
  constexpr double r = kDispersion;
  const double u = uniforms.next();
  const double t = r / (r + mu);
  double p = t * std::sqrt(t);  // t^1.5
  double cdf = p;
  const double q = 1.0 - t;
  int k = 0;
  while (u >= cdf && k < 100000) {
    p *= (k < 256 ? ratio.v[k] : (k + r) / (k + 1)) * q;
    cdf += p;
    ++k;
    if (p < 1e-300) break;  // numerically exhausted tail
  }
  return static_cast<float>(k);
}

// exp(-d^2 / (2 s2)), taken as 0 beyond 6 standard deviations (saves most exp calls).
double bump(double d, double s2) {
  const double e = d * d / (2 * s2);
  return e > 18.0 ? 0.0 : std::exp(-e);
}

struct CellFactors {
  double mark_scale[kMarks];  // per-cell sequencing depth of each mark's experiment
};

CellFactors cell_factors(uint64_t seed, uint64_t cell_hash) {
  CounterRng rng(seed, cell_stream(cell_hash, 1));
  CellFactors f{};
  for (double& s : f.mark_scale) s = std::exp(0.25 * rng.normal());
  return f;
}

// How loosely the marks follow expression. rho is the correlation between the gene's
// true expression and the "chromatin state" the marks are drawn from.
double chromatin_correlation(double difficulty) { return 0.88 - 0.36 * difficulty; }

// A gene's own properties (drawn once per gene, in this order, from its stream).
struct GeneProps {
  double depth;
  bool polycomb, heterochromatin, bivalent;  // bivalent: silent but H3K4me3-marked (CpG island promoters)
  double tss;                                // bin index of the TSS
  double width, body, enhancer, enhancer_at;
};

GeneProps draw_props(CounterRng& rng) {
  GeneProps p{};
  p.depth = std::exp(0.45 * rng.normal());
  if (rng.uniform() < 0.08) p.depth *= 0.12;  // poorly mappable / low-coverage genes
  p.polycomb = rng.uniform() < 0.45;
  p.heterochromatin = rng.uniform() < 0.25;
  p.bivalent = rng.uniform() < 0.10;
  p.tss = 49.5 + std::clamp(2.0 * rng.normal(), -5.0, 5.0);
  p.width = 2.0 + 1.5 * rng.uniform();
  p.body = 8.0 + 45.0 * rng.uniform();  // gene body length in bins (the window shows up to 50)
  p.enhancer = 0.5 + 2.0 * rng.uniform();
  p.enhancer_at = 6.0 + 10.0 * rng.uniform();
  return p;
}

// The mean count of every mark and bin before depth, cell scale and background: what the
// chromatin state `act` (0 silent .. 1 highly active) plants in the window.
void planted_means(const GeneProps& p, double act, double mu[kMarks][kBins]) {
  const double rep = 1.0 - act;
  const double a_k4me3 = 0.8 + 24.0 * std::pow(act, 1.6) + (p.bivalent ? 6.0 : 0.0);
  const double a_k36 = 0.3 + 5.0 * act;
  const double a_k4me1 = p.enhancer * (0.6 + 1.8 * act);
  const double a_k27 = (p.polycomb ? 4.5 : 0.4) * std::pow(rep, 1.4) + (p.bivalent ? 2.0 : 0.0);
  const double a_k9 = (p.heterochromatin ? 3.0 : 0.3) * rep;
  const double width = p.width, body = p.body, enhancer_at = p.enhancer_at;
  for (int m = 0; m < kMarks; ++m)
    for (int b = 0; b < kBins; ++b) {
      const double t = b - p.tss;  // bins from the TSS; > 0 is downstream (strand applied)
      double v = 0;
      switch (m) {
        case kK4me3:  // +1 nucleosome peak just downstream of the TSS, a smaller -1 peak upstream
          v = 0.25 + a_k4me3 * (bump(t - 2.0, width * width) + 0.5 * bump(t + 3.0, width * width));
          break;
        case kK36:  // rises over the gene body towards the 3' end, nothing upstream
          v = 0.35 + (t > 0 && t < body ? a_k36 * std::min(1.0, t / 20.0) : 0.0);
          break;
        case kK4me1:  // flanks the TSS, depleted at the promoter itself
          v = 0.4 + a_k4me1 * (bump(t - enhancer_at, 25.0) + bump(t + enhancer_at, 25.0)) * (1.0 - 0.7 * bump(t, 4.0));
          break;
        case kK27:  // broad over the whole window, somewhat stronger near the promoter
          v = 0.4 + a_k27 * (0.6 + 0.4 * bump(t, 400.0));
          break;
        case kK9:  // broad and flat
          v = 0.35 + a_k9;
          break;
      }
      mu[m][b] = v;
    }
}

// Fills one gene's (5, 100) block of counts. `z` is the gene's latent expression.
void simulate_gene(CounterRng& rng, CountUniforms& counts, double z, double rho, const CellFactors& cell, float* x) {
  // The chromatin state: a noisy view of expression.
  const double a = rho * z + std::sqrt(1.0 - rho * rho) * rng.normal();
  const double act = sigmoid(2.2 * a);  // 0 (silent) .. 1 (highly active)
  const GeneProps p = draw_props(rng);
  double mu[kMarks][kBins];
  planted_means(p, act, mu);

  // A smooth multiplicative background per mark: log-normal knots every 10 bins,
  // linearly interpolated (real coverage varies along the window).
  double knots[kMarks][11];
  for (auto& mark : knots)
    for (double& k : mark) k = std::exp(0.35 * rng.normal());

  for (int m = 0; m < kMarks; ++m) {
    const double scale = p.depth * cell.mark_scale[m];
    for (int b = 0; b < kBins; ++b) {
      const double pos = b / 10.0;
      const int k0 = std::min(static_cast<int>(pos), 9);
      const double frac = pos - k0;
      const double wobble = knots[m][k0] * (1 - frac) + knots[m][k0 + 1] * frac;
      x[m * kBins + b] = negative_binomial(counts, mu[m][b] * scale * wobble);
    }
  }
}

// The planted effect of expression on the marks: E[mean | high] - E[mean | low] per mark and
// bin, over genes drawn as simulate_cell_data draws them (latent z, chromatin state, gene
// properties; label = z above its median 0), before depth, cell scale and background, from a
// fixed stream of 20,000 genes.
constexpr int kTruthGenes = 20000;
constexpr uint64_t kTruthStream = 0x7472757468ull;  // "truth"

void planted_effect(uint64_t seed, double difficulty, double effect[kMarks][kBins]) {
  const double rho = chromatin_correlation(difficulty);
  double sum[2][kMarks][kBins] = {};
  int count[2] = {0, 0};
  double mu[kMarks][kBins];
  for (int g = 0; g < kTruthGenes; ++g) {
    CounterRng rng(seed, splitmix64(kTruthStream + static_cast<uint64_t>(g)));
    const double z = rng.normal();
    const double a = rho * z + std::sqrt(1.0 - rho * rho) * rng.normal();
    const int label = z > 0 ? 1 : 0;
    planted_means(draw_props(rng), sigmoid(2.2 * a), mu);
    for (int m = 0; m < kMarks; ++m)
      for (int b = 0; b < kBins; ++b) sum[label][m][b] += mu[m][b];
    ++count[label];
  }
  for (int m = 0; m < kMarks; ++m)
    for (int b = 0; b < kBins; ++b) effect[m][b] = sum[1][m][b] / count[1] - sum[0][m][b] / count[0];
}

std::string gene_id(size_t index) {  // 0-based index -> "000001"
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, index + 1);
  const size_t len = static_cast<size_t>(r.ptr - digits);
  std::string id(len < 6 ? 6 - len : 0, '0');
  id.append(digits, len);
  return id;
}

}  // namespace

SimulatedCell simulate_cell_data(const std::string& cell, const SimulateOptions& options, double difficulty) {
  if (options.genes < 3)
    throw InputError("simulate: genes must be at least 3 (one per split), got " + std::to_string(options.genes));
  if (!(difficulty >= 0.0 && difficulty <= 1.0))
    throw InputError("simulate: difficulty must be in [0, 1], got " + std::to_string(difficulty));
  const size_t n = static_cast<size_t>(options.genes);
  const uint64_t seed = options.seed;
  const uint64_t cell_hash = name_hash(cell);
  const double rho = chromatin_correlation(difficulty);
  const CellFactors factors = cell_factors(seed, cell_hash);

  // Latent expression: the first draw of each gene's stream. Label = above the median.
  std::vector<double> z(n);
  for (size_t g = 0; g < n; ++g) z[g] = CounterRng(seed, gene_stream(cell_hash, g)).normal();
  std::vector<double> sorted = z;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n / 2), sorted.end());
  double median = sorted[n / 2];
  if (n % 2 == 0) median = 0.5 * (median + *std::max_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(n / 2)));
  // floor(n/2) genes above the median: exactly balanced (one more low gene when n is odd)

  // Random split assignment: order genes by a random key, first n_train to train, ...
  const size_t n_test = n / 3, extra = n % 3;
  const size_t n_train = n_test + (extra >= 1), n_valid = n_test + (extra >= 2);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  {
    std::vector<uint64_t> key(n);
    const uint64_t s = cell_stream(cell_hash, 2);
    for (size_t g = 0; g < n; ++g)
      key[g] = (static_cast<uint64_t>(random_bits(seed, s, 2 * g)) << 32) | random_bits(seed, s, 2 * g + 1);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key[a] != key[b] ? key[a] < key[b] : a < b; });
  }
  std::vector<int8_t> split_of(n);
  for (size_t i = 0; i < n; ++i) split_of[order[i]] = i < n_train ? 0 : i < n_train + n_valid ? 1 : 2;

  SimulatedCell out;
  Split* splits[3] = {&out.train, &out.valid, &out.test};
  const size_t sizes[3] = {n_train, n_valid, n_test};
  std::vector<size_t> position(n);  // gene -> row in its split (genes in id order)
  for (int s = 0; s < 3; ++s) {
    splits[s]->gene_ids.reserve(sizes[s]);
    splits[s]->labels.reserve(sizes[s]);
    splits[s]->x.resize(sizes[s] * kValuesPerGene);
  }
  for (size_t g = 0; g < n; ++g) {
    Split& s = *splits[split_of[g]];
    position[g] = s.gene_ids.size();
    s.gene_ids.push_back(gene_id(g));
    s.labels.push_back(z[g] > median ? 1 : 0);
  }

  // Each gene from its own counter-based streams: the same values whatever thread runs it.
  parallel_chunks(static_cast<int64_t>(n), 64, [&](int64_t b, int64_t e) {
    for (int64_t g = b; g < e; ++g) {
      const size_t gi = static_cast<size_t>(g);
      CounterRng rng(seed, gene_stream(cell_hash, gi));
      const double zg = rng.normal();  // the same draw as above
      float* x = splits[split_of[gi]]->x.data() + position[gi] * kValuesPerGene;
      CountUniforms counts(seed, splitmix64(gene_stream(cell_hash, gi) ^ 0x636F756E7473ull));
      simulate_gene(rng, counts, zg, rho, factors, x);
    }
  });
  return out;
}

void simulate_cell(const std::string& root, const std::string& cell, const SimulateOptions& options, double difficulty) {
  SimulatedCell data = simulate_cell_data(cell, options, difficulty);
  const std::string dir = cell_dir(root, cell) + "/classification";
  ensure_directory(dir);
  const std::pair<const char*, Split*> files[3] = {{"train", &data.train}, {"valid", &data.valid}, {"test", &data.test}};
  for (const auto& [name, split] : files) {
    split->path = dir + "/" + name + ".csv";
    write_split_csv(split->path, *split);
  }
  const nlohmann::json marker = {{"generator", "deepchrome simulate"},
                                 {"seed", options.seed},
                                 {"genes", options.genes},
                                 {"difficulty", difficulty}};
  write_file_atomic(cell_dir(root, cell) + "/truth.json", planted_truth(options.seed, difficulty).dump(1) + "\n");
  write_file_atomic(cell_dir(root, cell) + "/simulated.json", marker.dump(2) + "\n");
}

nlohmann::json planted_truth(uint64_t seed, double difficulty) {
  double effect[kMarks][kBins];
  planted_effect(seed, difficulty, effect);
  nlohmann::json marks = nlohmann::json::array(), effects = nlohmann::json::array();
  std::vector<std::pair<double, std::string>> total;
  for (int m = 0; m < kMarks; ++m) {
    double sum = 0, peak = 0;
    int peak_bin = 0;
    for (int b = 0; b < kBins; ++b) {
      sum += effect[m][b];
      if (std::fabs(effect[m][b]) > peak) {
        peak = std::fabs(effect[m][b]);
        peak_bin = b;
      }
    }
    int first = kBins, last = -1;  // where the effect is at least a tenth of its peak
    for (int b = 0; b < kBins; ++b)
      if (std::fabs(effect[m][b]) >= 0.1 * peak) {
        first = std::min(first, b);
        last = b;
      }
    // Rounded to 1e-6 so the file reads well; the same numbers every time.
    std::vector<double> rounded(kBins);
    for (int b = 0; b < kBins; ++b) rounded[b] = std::round(effect[m][b] * 1e6) / 1e6;
    effects.push_back(rounded);
    marks.push_back({{"mark", kMarkNames[m]},
                     {"direction", sum > 0 ? "high" : "low"},
                     {"total_effect", std::round(sum * 1e4) / 1e4},
                     {"peak_bin", peak_bin + 1},
                     {"bins", {first + 1, last + 1}}});
    total.push_back({sum, kMarkNames[m]});
  }
  std::sort(total.begin(), total.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  nlohmann::json high = nlohmann::json::array(), low = nlohmann::json::array();
  for (const auto& t : total) high.push_back(t.second);
  for (auto it = total.rbegin(); it != total.rend(); ++it) low.push_back(it->second);
  return {{"generator", "deepchrome simulate"},
          {"seed", seed},
          {"difficulty", difficulty},
          {"what", "the planted effect of expression on each mark: E[mean count | high] - E[mean count | low] per bin "
                   "(bins 1..100 = TSS-5kb..TSS+5kb), before depth, cell scale and background noise"},
          {"marks", marks},
          {"ranking", {{"high", high}, {"low", low}}},
          {"effect", effects}};
}

bool is_simulated_cell(const std::string& root, const std::string& cell) {
  struct stat st {};
  return ::stat((cell_dir(root, cell) + "/simulated.json").c_str(), &st) == 0;
}

}  // namespace dc::io
