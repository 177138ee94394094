// What `deepchrome explain` writes (models/explain.h computes it), into its output folder:
//
//   class_map_high.csv, class_map_low.csv        mark,b1..b100 (5 rows, the release's mark
//   class_map_high_sd.csv, class_map_low_sd.csv  order): mean and spread over the restarts
//   attribution_high.csv, attribution_low.csv    gradient x input of P(class), mean over the
//                                                split's genes of that label
//   ig_high.csv, ig_low.csv                      integrated gradients, likewise
//   <method>_genes_<class>.csv                   gene_id,mark,b1..b100 for --per-gene genes
//   attention_bins_mean.csv                      class,mark,b1..b100 (attention models)
//   attention_marks_mean.csv                     class,H3K27me3,... (mark-level attention)
//   mark_importance.csv                          method,class,H3K27me3,...: the positive part
//                                                of each map summed over bins, normalised
//   truth.csv                                    on simulated data: each method's Spearman rho
//                                                against the planted ranking, and where the
//                                                TSS-centred mark peaks
//   *.svg, report.html                           the figures, and the run's report with them
//   explain.json                                 the resolved options, timings, what was written
//                                                (written last: its presence marks a finished explain)
// Every file is written atomically.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/explain.h"

namespace dc::io {

// One method's maps for both classes (mean over genes or restarts; sd for class maps).
struct MethodMaps {
  std::string method;       // "class-map", "grad-input", "integrated-gradients"
  std::string file_prefix;  // "class_map", "attribution", "ig"
  explain::Map high, low;
  explain::Map high_sd, low_sd;  // empty when the method has no spread
};

// Per-gene maps of one method and class for the genes asked for.
struct GeneMaps {
  std::string file_prefix;  // as MethodMaps
  int cls = 1;
  std::vector<std::string> gene_ids;
  std::vector<float> maps;  // gene-major, kMapSize each
};

struct ExplainResult {
  std::string model;  // the model's name
  std::vector<MethodMaps> methods;
  std::vector<GeneMaps> genes;
  explain::AttentionMeans attention;  // available == false when not computed
  std::optional<nlohmann::json> truth;  // the data's truth.json (simulated data)
  nlohmann::json info;  // explain.json: options, timings (seconds per method), inputs
};

// mark,b1..b100: five rows in the release's mark order.
std::string map_csv(const explain::Map& map);

// The truth comparison of one method and class: Spearman's rho between its mark importance
// and the planted evidence for the class (truth.json's total effects, signed for the class),
// and where the map's TSS-centred marks (those whose planted effect peaks within 5 bins of
// the TSS) peak against where they were planted.
struct TruthComparison {
  std::string method, cls;
  double rho = 0;
  std::string mark;          // the TSS-centred mark checked ("" when none)
  int peak_bin = 0, planted_peak_bin = 0;
};
std::vector<TruthComparison> compare_with_truth(const ExplainResult& r);

// Writes every file above into `out_dir` (created as needed). `run_dir` is the explained run
// (its metrics, curves and predictions head the report).
void write_explain_outputs(const std::string& out_dir, const std::string& run_dir, const ExplainResult& r);

}  // namespace dc::io
