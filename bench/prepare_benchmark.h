// `deepchrome bench --only prepare`: `deepchrome prepare` against `bedtools multicov` on
// the same realistic input (5 marks x N reads of 36 bp, sorted and indexed BAMs, over a
// human-sized annotation of 19,802 genes on hg19's chromosomes), in the same run. Not part
// of the default `deepchrome bench`: making the input takes minutes.
#pragma once

#include <string>
#include <vector>

namespace dc::bench {

// Parses the options after `--only prepare` (see its --help) and runs; returns the exit code.
int run_prepare_benchmark(const std::vector<std::string>& args);

}  // namespace dc::bench
