// Fuzz target: the expression table reader of `prepare` (io/prepare/expression.h), then the
// column lookup a cell's labels use. Input: the file's bytes (plain or gzip). A read table
// must be consistent: one value per id and column, values finite and >= 0, ids unique.
#include <cmath>
#include <cstdlib>

#include "fuzz/fuzz_util.h"
#include "io/prepare/expression.h"
#include "kernels/base/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = dc::fuzz::write_scratch("expression.tsv", dc::fuzz::as_text(data, size));
  try {
    const dc::io::prepare::ExpressionTable t = dc::io::prepare::read_expression(path);
    if (t.ids.empty() || t.columns.empty() || t.values.size() != t.ids.size() * t.columns.size()) std::abort();
    if (t.row_of.size() != t.ids.size()) std::abort();
    for (double v : t.values)
      if (!(v >= 0) || !std::isfinite(v)) std::abort();
    for (bool given : {false, true}) {
      try {
        const size_t c = dc::io::prepare::expression_column(t, "E003", given);
        if (c >= t.columns.size()) std::abort();
      } catch (const dc::InputError&) {
      }
    }
  } catch (const dc::InputError&) {
  }
  return 0;
}
