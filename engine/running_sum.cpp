#include "engine/running_sum.h"

#include <cstring>

#include "engine/dispatch.h"
#include "kernels/contract/reduce.h"
#include "kernels/cuda/runtime.h"

namespace dc {

static_assert(sizeof(double) == 2 * sizeof(float), "a double occupies two floats of a storage");

RunningSum::RunningSum(Device device) : storage_(Tensor::zeros({2}, device)) {}

double* RunningSum::sum() { return reinterpret_cast<double*>(storage_.data()); }

void RunningSum::reset() { storage_.copy_from(Tensor::zeros({2})); }

void RunningSum::add(const Tensor& scalar, double weight) {
  check_shape(scalar.numel() == 1, "RunningSum::add: expected a one-element tensor, got " + shape_str(scalar.shape()));
  check_device("RunningSum::add", scalar, storage_.device());
  DC_KERNEL(storage_.device(), accumulate_scaled)(sum(), scalar.data(), weight);
}

double RunningSum::read() const {
  double d = 0;
  if (storage_.device() == Device::CPU) std::memcpy(&d, storage_.data(), sizeof(double));
  else kernels::cuda::copy_to_host(&d, storage_.data(), sizeof(double));
  return d;
}

}  // namespace dc
