// The machine description shared by the benchmarks (see machine.h).
#include "bench/machine.h"

#include <cstdlib>
#include <fstream>

namespace dc::bench {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos || colon + 2 > line.size() ? line : line.substr(colon + 2);
    }
  return "unknown";
}

double load_average() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

}  // namespace dc::bench
