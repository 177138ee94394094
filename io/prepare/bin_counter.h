// Read counting over the gene windows of one mark: the heart of `prepare`.
//
// Each kept gene has a window of 100 bins of 100 bp on its chromosome, 0-based half-open
// [start, start + 10,000) (see window_start). A read covering [s, e) adds 1 to every bin
// it overlaps by at least 1 bp, in every window it reaches (windows of nearby genes may
// overlap), as `bedtools multicov` counts an alignment in every interval it overlaps.
//
// Lookup: per chromosome, the windows sorted by start (all have the same length, so their
// ends are sorted too) and a coarse grid (one entry per 4 kb) holding the first window
// that ends after the cell's start. A read costs one grid load and a short scan; memory is
// the windows' counts (genes x 100 x 4 bytes) plus the grid, whatever the number of reads.
#pragma once

#include <cstdint>
#include <vector>

#include "io/prepare/annotation.h"

namespace dc::io::prepare {

inline constexpr int kBinSize = 100;
inline constexpr int kBinsPerGene = 100;  // io::kBins
inline constexpr int64_t kFlank = 5000;   // the window spans TSS - 5 kb .. TSS + 5 kb
inline constexpr int64_t kWindowLength = int64_t{kBinSize} * kBinsPerGene;

// The 0-based start of a gene's window: bin 1 is the most upstream 100 bp. On + with
// 1-based TSS T, bin i is [T-5000+(i-1)*100, T-5000+i*100-1] (1-based, inclusive), so the
// window is [T-5001, T+4999) 0-based; on -, bin i is [T+5000-i*100+1, T+5000-(i-1)*100],
// the window [T-5000, T+5000), and bin 1 is its highest 100 bp.
inline int64_t window_start(const Gene& g) { return g.minus ? g.tss - kFlank : g.tss - kFlank - 1; }

struct GeneWindow {
  int chrom = 0;
  int64_t start = 0;  // 0-based
  bool minus = false;
};

class BinCounter {
 public:
  BinCounter(const std::vector<GeneWindow>& windows, int chroms);

  // Counts one read covering [start, end) on `chrom` (0-based half-open). Returns whether it
  // overlapped at least one bin. Reads with end <= start overlap nothing.
  bool add(int chrom, int64_t start, int64_t end) {
    if (chrom < 0 || static_cast<size_t>(chrom) >= chroms_.size() || end <= start) return false;
    const Chrom& c = chroms_[chrom];
    const uint64_t cell = static_cast<uint64_t>(start < 0 ? 0 : start) >> kGridShift;
    size_t i = cell < c.grid_cells ? grid_[c.grid_offset + cell] : c.last;
    while (i < c.last && starts_[i] + kWindowLength <= start) ++i;
    bool hit = false;
    for (; i < c.last && starts_[i] < end; ++i) {
      const int64_t ws = starts_[i];
      const int64_t r0 = (start > ws ? start : ws) - ws;
      const int64_t r1 = (end < ws + kWindowLength ? end : ws + kWindowLength) - ws;
      uint32_t* bins = counts_.data() + static_cast<size_t>(window_of_[i]) * kBinsPerGene;
      for (int64_t b = r0 / kBinSize, last = (r1 - 1) / kBinSize; b <= last; ++b) ++bins[b];
      hit = true;
    }
    return hit;
  }

  // Whether any window lies on `chrom` (reads elsewhere cannot count).
  bool has_windows(int chrom) const {
    return chrom >= 0 && static_cast<size_t>(chrom) < chroms_.size() && chroms_[chrom].first < chroms_[chrom].last;
  }

  size_t windows() const { return minus_.size(); }

  // Window w's 100 counts, strand-oriented (out[0] is bin 1, the most upstream).
  void oriented_bins(size_t w, float* out) const;

  // All counts back to zero (for the next mark).
  void clear();

 private:
  static constexpr int kGridShift = 12;  // 4 kb grid cells
  struct Chrom {
    size_t first = 0, last = 0;  // its windows in starts_/window_of_
    size_t grid_offset = 0, grid_cells = 0;
  };
  std::vector<Chrom> chroms_;
  std::vector<int64_t> starts_;      // window starts, sorted within each chromosome
  std::vector<uint32_t> window_of_;  // the window (caller's index) at each sorted position
  std::vector<uint32_t> grid_;       // per cell: first sorted position whose window ends after the cell start
  std::vector<uint8_t> minus_;       // per window
  std::vector<uint32_t> counts_;     // windows x 100, in genomic order (low coordinate first)
};

}  // namespace dc::io::prepare
