// Training progress: a redrawn progress bar when stderr is a terminal, otherwise one line
// per epoch on stdout (logs and CI output stay readable).
#pragma once

#include <chrono>
#include <string>

#include "models/trainer.h"

namespace dc::cli {

class Progress {
 public:
  Progress(std::string label, int epochs, bool quiet);
  void batch(int epoch, int done, int total, double loss);
  void epoch(const EpochRecord& r);

 private:
  std::string label_;
  int epochs_;
  bool quiet_, tty_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace dc::cli
