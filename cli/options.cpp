#include "cli/options.h"

#include <string>

#include "engine/device.h"
#include "engine/parallel.h"
#include "kernels/base/error.h"

namespace dc::cli {

void apply_threads_option(const ArgParser& p) {
  if (auto t = p.value("threads")) {
    int n = 0;
    try {
      n = std::stoi(*t);
    } catch (const std::exception&) {
      n = 0;
    }
    if (n < 1) throw InputError("--threads expects a positive integer, got '" + *t + "'");
    set_num_threads(n);
  }
}

Device device_option(const ArgParser& p) {
  const std::string d = p.value("device").value_or("cpu");
  if (d != "cpu" && d != "cuda") throw InputError("--device expects cpu or cuda, got '" + d + "'");
  const Device device = d == "cuda" ? Device::CUDA : Device::CPU;
  require_device(device, "--device cuda");
  return device;
}

}  // namespace dc::cli
