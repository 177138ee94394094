// The counting core without any tool: BinCounter against a brute-force count over the
// bins of the formula, on random windows (overlapping, both strands) and reads
// (straddling bins and window edges, long spans, zero length).
#include <doctest/doctest.h>

#include "kernels/base/philox.h"
#include "io/prepare/annotation.h"
#include "io/prepare/bin_counter.h"

namespace pp = dc::io::prepare;

TEST_CASE("window_start puts bin 1 at the most upstream 100 bp, as the issue's formula") {
  pp::Gene plus{"G", 0, false, 20000, 1}, minus{"G", 0, true, 20000, 1};
  // +: bin 1 = [T-5000, T-4901] 1-based = [T-5001, T-4901) 0-based.
  CHECK(pp::window_start(plus) == 20000 - 5001);
  // -: bin 100 (the lowest) = [T+5000-9999, T+5000-9900] = [T-4999, ...] 1-based.
  CHECK(pp::window_start(minus) == 20000 - 5000);
}

TEST_CASE("BinCounter equals a brute-force count over the issue's bins") {
  dc::CounterRng rng(42, 1);
  const int chroms = 3;
  std::vector<pp::Gene> genes;
  std::vector<pp::GeneWindow> windows;
  for (int i = 0; i < 60; ++i) {
    pp::Gene g;
    g.chrom = static_cast<int>(rng.below(2));  // chromosome 2 has no genes
    g.minus = rng.uniform() < 0.5;
    g.tss = 5001 + static_cast<int64_t>(rng.below(i < 10 ? 3000 : 60000));  // the first ten crowd together
    genes.push_back(g);
    windows.push_back({g.chrom, pp::window_start(g), g.minus});
  }
  pp::BinCounter counter(windows, chroms);
  struct Read {
    int chrom;
    int64_t start, end;
  };
  std::vector<Read> reads;
  for (int i = 0; i < 20000; ++i) {
    const int64_t len = i % 50 == 0 ? 0 : i % 7 == 0 ? 1 + static_cast<int64_t>(rng.below(3000)) : 36;
    const int64_t start = static_cast<int64_t>(rng.below(80000));
    reads.push_back({static_cast<int>(rng.below(chroms)), start, start + len});
  }
  size_t hits = 0;
  for (const Read& r : reads) hits += counter.add(r.chrom, r.start, r.end);

  size_t brute_hits = 0;
  for (const Read& r : reads) {
    bool hit = false;
    for (const pp::Gene& g : genes)
      hit = hit || (g.chrom == r.chrom && r.end > r.start && r.start < pp::window_start(g) + 10000 && r.end > pp::window_start(g));
    brute_hits += hit;
  }
  CHECK(hits == brute_hits);
  CHECK(hits > 1000);

  size_t differing = 0, nonzero = 0;
  std::vector<float> ours(100);
  for (size_t w = 0; w < genes.size(); ++w) {
    counter.oriented_bins(w, ours.data());
    const pp::Gene& g = genes[w];
    for (int i = 1; i <= 100; ++i) {
      // 1-based inclusive bin of the issue, then [lo-1, hi) 0-based.
      const int64_t lo = g.minus ? g.tss + 5000 - i * 100 + 1 : g.tss - 5000 + (i - 1) * 100;
      const int64_t hi = g.minus ? g.tss + 5000 - (i - 1) * 100 : g.tss - 5000 + i * 100 - 1;
      long expected = 0;
      for (const Read& r : reads) expected += r.chrom == g.chrom && r.end > r.start && r.start < hi && r.end > lo - 1;
      differing += static_cast<long>(ours[static_cast<size_t>(i - 1)]) != expected;
      nonzero += expected > 0;
    }
  }
  CHECK(differing == 0);
  CHECK(nonzero > 2000);

  counter.clear();
  counter.oriented_bins(0, ours.data());
  for (float v : ours) CHECK(v == 0.0f);
  CHECK(counter.has_windows(0));
  CHECK(!counter.has_windows(2));
  CHECK(!counter.add(2, 100, 200));
  CHECK(!counter.add(7, 100, 200));
}
