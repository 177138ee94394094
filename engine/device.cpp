#include "engine/device.h"

#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace dc {

bool device_available(Device device, std::string* why) {
  return device == Device::CPU || kernels::cuda::available(why);
}

void require_device(Device device, const std::string& what) {
  std::string why;
  if (!device_available(device, &why)) throw InputError(what + ": no usable CUDA device (" + why + ")");
}

}  // namespace dc
