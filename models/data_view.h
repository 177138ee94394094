// A borrowed view of a data split, as the models read it: x (n, 5, 100) row-major (marks x
// bins per gene) and labels (n) of 0 (low) / 1 (high). io/ builds these from its files.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dc {

struct DataView {
  const float* x = nullptr;
  const int8_t* labels = nullptr;  // may be null (unlabelled genes: predict)
  size_t n = 0;
};

}  // namespace dc
