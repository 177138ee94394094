#include "io/prepare/bin_counter.h"

#include <algorithm>
#include <numeric>

#include "kernels/base/error.h"

namespace dc::io::prepare {

BinCounter::BinCounter(const std::vector<GeneWindow>& windows, int chroms) : chroms_(static_cast<size_t>(chroms)) {
  if (windows.size() >= UINT32_MAX) throw Error("prepare: too many gene windows");
  std::vector<uint32_t> order(windows.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return windows[a].chrom != windows[b].chrom ? windows[a].chrom < windows[b].chrom : windows[a].start < windows[b].start;
  });
  starts_.resize(order.size());
  window_of_ = order;
  minus_.resize(windows.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const GeneWindow& w = windows[order[i]];
    if (w.chrom < 0 || w.chrom >= chroms || w.start < 0) throw Error("prepare: gene window outside its chromosome");
    starts_[i] = w.start;
    minus_[order[i]] = w.minus;
  }
  size_t i = 0;
  for (int c = 0; c < chroms; ++c) {
    Chrom& ch = chroms_[c];
    ch.first = i;
    while (i < order.size() && windows[order[i]].chrom == c) ++i;
    ch.last = i;
    if (ch.first == ch.last) continue;
    // Grid cell k starts at k << shift; its entry is the first window ending after that.
    const int64_t max_end = starts_[ch.last - 1] + kWindowLength;
    ch.grid_offset = grid_.size();
    ch.grid_cells = static_cast<size_t>(max_end >> kGridShift) + 1;
    size_t j = ch.first;
    for (size_t k = 0; k < ch.grid_cells; ++k) {
      const int64_t cell_start = static_cast<int64_t>(k) << kGridShift;
      while (j < ch.last && starts_[j] + kWindowLength <= cell_start) ++j;
      grid_.push_back(static_cast<uint32_t>(j));
    }
  }
  counts_.assign(windows.size() * kBinsPerGene, 0);
}

void BinCounter::oriented_bins(size_t w, float* out) const {
  const uint32_t* bins = counts_.data() + w * kBinsPerGene;
  for (int b = 0; b < kBinsPerGene; ++b)
    out[b] = static_cast<float>(minus_[w] ? bins[kBinsPerGene - 1 - b] : bins[b]);
}

void BinCounter::clear() { std::fill(counts_.begin(), counts_.end(), 0u); }

}  // namespace dc::io::prepare
